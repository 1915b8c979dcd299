"""Benchmark of the explorer's batch: the time from a click on "Run batch" to the odds.

    python benchmarks/explorer_batch.py             # 1,000 runs, 7 timed repeats
    python benchmarks/explorer_batch.py --runs 300 --repeats 11

The page's batch is `sim.explorer.logic.run_batch`: the runs through `run_experiment` (the
compiled fast path, on threads of the server's process), then the summary the page shows. This
times it in-process, after a warm-up (the server warms the compiled kernel up as it starts), and
prints the median of the repeats. Target (issue 11, this 2-core machine): a batch of 1,000 runs
in under 1 s, so that the odds can follow a slider.

For comparison it also times, each as a median of the same repeats:
- a slider move with "Run a batch whenever a setting changes" on: the overrides, loading and
  validating the changed scenario, and the batch;
- the batch inside Solara's intrusive cancel tracer (`use_thread(intrusive_cancel=True)`, its
  default, which traces every line of Python the thread runs; the page turns it off);
- the batch with counterfactual replays of its failed runs (what `run.py run` does; the page
  shows no counterfactual shares and skips them);
- drawing the three plots of a batch as PNG (off by default on the page, drawn in a thread
  after the odds are shown).
The browser's own part (the websocket round trip and rendering) is not included: the browser
test drives the page, and is never timed.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.explorer import files  # noqa: E402
from sim.explorer import logic as explorer  # noqa: E402

TARGET_S = 1.0


def timed(fn, repeats: int) -> tuple[float, float, float]:
    """Median, fastest and slowest wall time of `repeats` calls of `fn(i)`."""
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times)


def line(what: str, t: tuple[float, float, float]) -> str:
    median, low, high = t
    return f"{what}: median {median:.3f} s (fastest {low:.3f}, slowest {high:.3f})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=1000, help="runs per batch (default 1,000)")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats (default 7)")
    p.add_argument("--seed", type=int, default=1, help="master seed (default 1)")
    args = p.parse_args(argv)
    runs, repeats = args.runs, max(1, args.repeats)

    folders = files.Folders.of(None)
    base = explorer.load(folders, "baseline.yaml")
    mandate = list(base.scenario.mandate)
    pakistan = "israel.threat.Pakistan"

    t0 = time.perf_counter()
    explorer.warm_up(folders, log=lambda message: print(message, file=sys.stderr))
    warm = time.perf_counter() - t0
    for _ in range(2):  # after the kernel, let the caches of a batch settle too
        explorer.run_batch(base, runs, args.seed)

    batch = timed(lambda i: explorer.run_batch(base, runs, args.seed + i), repeats)

    def slider(i):  # Pakistan's threat range moved by one more step each time
        settings = {pakistan: {"range": (0.2 + 0.01 * (i + 1), 0.5 + 0.01 * (i + 1))}}
        sets = explorer.overrides(base, settings, mandate)
        loaded = explorer.load(folders, "baseline.yaml", sets)
        explorer.run_batch(loaded, runs, args.seed, settings=sets)

    follow = timed(slider, repeats)

    def traced(i):
        import solara.util

        with solara.util.cancel_guard(threading.Event()):
            explorer.run_batch(base, runs, args.seed + i)

    try:
        intrusive = timed(traced, repeats)
    except ImportError:  # without the explorer's extra
        intrusive = None

    def with_counterfactuals(i):
        from sim.analysis.summary import summarise
        from sim.experiments import run_experiment

        e = run_experiment(base, runs, args.seed + i, rounds=False, workers=1,
                           log=lambda message: None)
        summarise(e.runs, base, args.seed + i,
                  counterfactual_runs=e.metadata["counterfactual_runs"])

    counterfactual = timed(with_counterfactuals, repeats)

    summary = explorer.run_batch(base, runs, args.seed).summary

    def draw(i):
        import matplotlib.pyplot as plt

        from sim.analysis import plots

        for fig in (plots.country_status(summary), plots.outcome_breakdown(summary),
                    plots.formation_over_time(summary)):
            fig.savefig(io.BytesIO(), format="png")
            plt.close(fig)

    plotting = timed(draw, repeats)

    median = batch[0]
    print(f"machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}; baseline "
          f"scenario; one core, in-process; {repeats} timed repeats after a warm-up "
          f"({warm:.1f} s, the compiled kernel loaded)")
    print(line(f"explorer batch of {runs:,} runs, click to odds", batch)
          + f"; target under {TARGET_S:.0f} s: " + ("met" if median < TARGET_S else "MISSED"))
    print(line("  a slider move to odds (overrides, load and check the scenario, batch)",
               follow))
    if intrusive is not None:
        print(line("  for comparison, inside Solara's intrusive cancel tracer", intrusive))
    print(line("  for comparison, with counterfactual replays (as run.py run)", counterfactual))
    print(line("  for comparison, drawing its three plots as PNG", plotting))
    return 0


if __name__ == "__main__":
    sys.exit(main())
