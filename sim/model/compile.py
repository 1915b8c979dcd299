"""`python -m sim.model.compile SCENARIO`: compile the fast path's kernel once, about a minute,
ahead of time (`sim.model.ahead`) or, where that cannot be done, into numba's disk cache, so
that later commands start at once.

A command that finds the kernel not compiled computes a small experiment with the Mesa model
instead (the same results) and starts this in the background (`compile_in_background`).
One process compiles at a time (a file lock beside the compiled kernel); the scenario only
gives the types of the arguments, the compiled code serves every scenario.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .ahead import lock_file, take_lock


def compile_in_background(scenario_file: str) -> bool:
    """Start compiling the kernel (ahead of time, or into numba's disk cache) in a process of
    its own, which outlives this command (`python -m sim.model.compile SCENARIO`), unless one
    is at it already; True if started. Where processes cannot hold a file lock (Windows), nothing is
    started."""
    import subprocess

    try:
        if _compiling_elsewhere():
            return False
    except ImportError:  # no file locks
        return False
    except OSError:  # no cache folder of our own (a read-only install): numba cannot cache
        return False
    subprocess.Popen([sys.executable, "-m", "sim.model.compile", scenario_file],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                     cwd=Path(__file__).resolve().parents[2])
    return True


def _compiling_elsewhere() -> bool:
    """Whether another process holds the compile lock: only a look, the lock is let go at once
    (the process that compiles takes it: `fast.kernel`). ImportError without file locks
    (Windows), OSError without a folder of our own."""
    import fcntl

    with open(lock_file(), "a") as lock:
        if not take_lock(lock):
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def main(argv: list[str]) -> int:
    import numpy as np

    from ..scenario import load_scenario
    from . import fast

    if _compiling_elsewhere():
        return 0
    if not fast.compiled_on_disk():  # builds it, taking the lock (`fast.kernel`)
        fast.simulate_block(load_scenario(argv[0]), np.arange(2, dtype=np.int64),
                            counterfactuals=True, rounds=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
