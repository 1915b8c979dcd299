"""Progress of a long experiment: a tqdm bar on a terminal, plain lines every few seconds
otherwise (a log file, CI), and an optional callback for callers with their own display."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tqdm import tqdm
from tqdm.std import EMA

#: seconds between plain progress lines
LINE_EVERY = 5.0


class Progress:
    """Counts finished runs out of `total`. `show`: a bar or lines on stderr; `callback(done,
    total)`: called after every update, in the caller's thread (raise from it to stop)."""

    def __init__(self, total: int, done: int = 0, *, show: bool = True,
                 callback: Callable[[int, int], None] | None = None, label: str = "",
                 stream=None):
        self.total, self.done, self.callback = total, done, callback
        self.stream = stream or sys.stderr
        self.bar = None
        self.lines = False
        self.label = label
        if show and total > done:
            if _is_terminal(self.stream):
                self.bar = tqdm(total=total, initial=done, unit=" runs", desc=label,
                                file=self.stream, dynamic_ncols=True, smoothing=0.3,
                                mininterval=0.5)
            else:
                self.lines = True
        # smoothed runs per second (tqdm's own moving average), for the plain lines
        self.rate_dn, self.rate_dt = EMA(0.3), EMA(0.3)
        self.last = self.last_line = time.perf_counter()

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        self.rate_dn(n)
        self.rate_dt(now - self.last)
        self.last = now
        if self.bar is not None:
            self.bar.update(n)
        elif self.lines and (now - self.last_line >= LINE_EVERY or self.done >= self.total):
            self.last_line = now
            rate = self.rate_dn() / self.rate_dt() if self.rate_dt() > 0 else 0.0
            left = (self.total - self.done) / rate if rate > 0 else None
            who = f"{self.label}: " if self.label else ""
            print(f"  {who}{self.done:,}/{self.total:,} runs "
                  f"({self.done / self.total:.0%}), {rate:,.0f} runs/s"
                  + (f", about {tqdm.format_interval(left)} left" if left else ""),
                  file=self.stream, flush=True)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
