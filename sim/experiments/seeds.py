"""Seeds: one master seed per experiment; run i's seed is derived from it and its index alone."""

from __future__ import annotations

import numpy as np


def run_seed(master: int, index: int) -> int:
    """The seed of run `index` of an experiment with master seed `master` (a 63-bit int),
    from `numpy.random.SeedSequence(master, spawn_key=(index,))`: a run's result depends only
    on the master seed and its index, never on how runs are grouped or ordered."""
    words = np.random.SeedSequence(master, spawn_key=(index,)).generate_state(2, np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1]))
