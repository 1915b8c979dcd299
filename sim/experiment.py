"""Running a scenario many times: per-run seeds and the table of runs.

One master seed per experiment; the seed of run i is derived from it with
`numpy.random.SeedSequence(master, spawn_key=(i,))`, so a run's result depends only on the
master seed and its index, never on how runs are grouped or ordered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .model import run_one
from .scenario import LoadedScenario


def run_seed(master: int, index: int) -> int:
    """The seed of run `index` of an experiment with master seed `master` (a 63-bit int)."""
    words = np.random.SeedSequence(master, spawn_key=(index,)).generate_state(2, np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1]))


def run_rows(loaded: LoadedScenario, master: int, indices) -> list[dict]:
    """Run the given replications; one flat row each (index, seed, sampled inputs, outcome)."""
    rows = []
    for i in indices:
        seed = run_seed(master, i)
        out, drawn, _ = run_one(loaded, seed)
        row = {"run": i, "seed": seed}
        row.update({f"param.{k}": v for k, v in drawn.items()})
        row.update(out)
        rows.append(row)
    return rows


def run_experiment(loaded: LoadedScenario, runs: int | None = None,
                   seed: int | None = None, progress=None) -> pd.DataFrame:
    """Run `runs` replications (default: the scenario's own `runs` and `seed`)."""
    runs = loaded.scenario.runs if runs is None else runs
    seed = loaded.scenario.seed if seed is None else seed
    rows: list[dict] = []
    step = max(1, min(1000, runs // 20 or 1))
    for start in range(0, runs, step):
        rows.extend(run_rows(loaded, seed, range(start, min(runs, start + step))))
        if progress:
            progress(len(rows), runs)
    return pd.DataFrame(rows)
