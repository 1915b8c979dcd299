"""`python -m sim.model.compile SCENARIO`: compile the fast path's kernel once, about a minute,
ahead of time (`sim.model.ahead`) or, where that cannot be done, into numba's disk cache, so
that later commands start at once.

A command that finds the kernel not compiled computes a small experiment with the Mesa model
instead (the same results) and starts this in the background (`compile_in_background`).
One process compiles at a time (a file lock beside the compiled kernel); the scenario only
gives the types of the arguments, the compiled code serves every scenario.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path


def lock_file() -> Path:
    """The lock held while the kernel compiles: in the compiled kernel's folder for this copy
    of the package (`sim.model.ahead.folder`), a folder of the user's own, never a shared one
    such as /tmp."""
    from . import ahead

    folder = ahead.folder()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "fast.compile.lock"


@contextlib.contextmanager
def holding_lock():
    """Hold the compile lock (waiting for a process that holds it); without a folder of our
    own, or file locks (Windows), go on without it."""
    try:
        import fcntl

        lock = open(lock_file(), "a")  # noqa: SIM115 (held across the yield)
    except (ImportError, OSError):
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def compile_in_background(scenario_file: str) -> bool:
    """Start compiling the kernel (ahead of time, or into numba's disk cache) in a process of
    its own, which outlives this command (`python -m sim.model.compile SCENARIO`), unless one
    is at it already; True if started. Where processes cannot hold a file lock (Windows), nothing is
    started."""
    import subprocess

    try:
        import fcntl
    except ImportError:
        return False
    try:
        with open(lock_file(), "a") as lock:
            if not _take(lock):
                return False  # another process is compiling
            fcntl.flock(lock, fcntl.LOCK_UN)  # only a look: the process started takes it
    except OSError:  # no cache folder of our own (a read-only install): numba cannot cache
        return False
    subprocess.Popen([sys.executable, "-m", "sim.model.compile", scenario_file],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                     cwd=Path(__file__).resolve().parents[2])
    return True


def _take(lock) -> bool:
    """Take the lock at once if no other process holds it."""
    import fcntl

    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def main(argv: list[str]) -> int:
    import fcntl

    import numpy as np

    from ..scenario import load_scenario
    from . import fast

    with open(lock_file(), "a") as lock:
        if not _take(lock):
            return 0  # another process is compiling it
        fcntl.flock(lock, fcntl.LOCK_UN)  # only a look: `fast.kernel` takes it to build
    if not fast.compiled_on_disk():  # builds it, taking the lock (`fast.kernel`)
        fast.simulate_block(load_scenario(argv[0]), np.arange(2, dtype=np.int64),
                            counterfactuals=True, rounds=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
