"""Limits on the size of an experiment, checked before anything runs, and the error that
reports a setting beyond them (bad input: exit status 2)."""

from __future__ import annotations

import numbers

#: most runs in one experiment (points x runs per point): 10^8 runs take days on a laptop
MAX_RUNS = 100_000_000
#: most points of a sweep or a sensitivity design
MAX_POINTS = 10_000_000
#: most workers (threads) one experiment may ask for
MAX_WORKERS = 256
#: largest master seed (seeds are stored as 64-bit integers)
MAX_SEED = 2**63 - 1


class ExperimentError(ValueError):
    """Settings of an experiment that cannot be run (too many runs, bad points, ...)."""


def whole(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_runs(runs, points: int = 1, what: str = "--runs") -> int:
    if not whole(runs) or runs < 1:
        raise ExperimentError(f"{what} {runs!r}: expected a whole number of at least 1")
    runs = int(runs)
    if points > MAX_POINTS:
        raise ExperimentError(f"{points:,} points: more than the limit of {MAX_POINTS:,} "
                              "points per study")
    total = runs * points
    if total > MAX_RUNS:
        detail = f"{points:,} points x {runs:,} runs = {total:,} runs" if points > 1 else \
            f"{what} {runs:,}"
        raise ExperimentError(f"{detail}: more than the limit of {MAX_RUNS:,} runs per "
                              "experiment")
    return runs


def check_seed(seed, what: str = "--seed") -> int:
    if not whole(seed) or not 0 <= seed <= MAX_SEED:
        raise ExperimentError(f"{what} {seed!r}: expected a whole number from 0 to "
                              f"{MAX_SEED:,}")
    return int(seed)
