"""Seeds: one master seed per experiment; run i's seed is derived from it and its index alone,
so a run's result never depends on how runs are grouped or ordered (see `sim.rng`)."""

from __future__ import annotations

from ..rng import run_seed, run_seeds

__all__ = ["run_seed", "run_seeds"]
