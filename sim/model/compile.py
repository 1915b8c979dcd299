"""`python -m sim.model.compile SCENARIO`: compile the fast path (`sim.model.fast`) into
numba's disk cache, once, about a minute, so that later commands start at once.

A command that finds the kernel not compiled computes a small experiment with the Mesa model
instead (the same results) and starts this in the background (`fast.compile_in_background`).
One process compiles at a time (a file lock in numba's cache folder); the scenario only gives
the shapes of the arrays, the compiled code serves every scenario.
"""

from __future__ import annotations

import sys
from pathlib import Path


def lock_file() -> Path:
    """The lock held while the kernel compiles: in numba's cache folder for this copy of the
    package (its `sim/model/__pycache__`, or the one under NUMBA_CACHE_DIR), a folder of the
    user's own, never a shared one such as /tmp."""
    from . import fast

    try:
        folder = Path(fast._block._cache._cache_path)
    except AttributeError:  # another numba (pinned below 0.70)
        folder = Path(fast.__file__).resolve().parent / "__pycache__"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "fast.compile.lock"


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
