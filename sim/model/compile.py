"""`python -m sim.model.compile SCENARIO`: compile the fast path (`sim.model.fast`) into
numba's disk cache, once, about a minute, so that later commands start at once.

A command that finds the kernel not compiled computes a small experiment with the Mesa model
instead (the same results) and starts this in the background (`fast.compile_in_background`).
One process compiles at a time (a file lock beside numba's cache); the scenario only gives the
shapes of the arrays, the compiled code serves every scenario.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def lock_file() -> Path:
    """The lock held while the kernel compiles (in the temporary folder, per user and per
    copy of this package, so that two copies never wait for each other)."""
    import getpass
    import hashlib

    here = hashlib.sha256(str(Path(__file__).resolve()).encode()).hexdigest()[:12]
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (a container without one): any name
        user = "user"
    return Path(tempfile.gettempdir()) / f"isf-sim-compile-{user}-{here}.lock"


def main(argv: list[str]) -> int:
    import fcntl

    import numpy as np

    from ..scenario import load_scenario
    from . import fast

    with open(lock_file(), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another process is compiling it
        if not fast.compiled_on_disk():
            fast.simulate_block(load_scenario(argv[0]), np.arange(2, dtype=np.int64),
                                counterfactuals=True, rounds=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
