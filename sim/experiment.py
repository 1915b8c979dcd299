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


def run_experiment(scenario, runs: int | None = None, seed: int | None = None, *,
                   workers: int = 1, chunk: int | None = None, executor=None,
                   out: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Run `runs` replications of a scenario (a path or a loaded scenario); one row per run.

    Defaults are the scenario's own `runs` and `seed`. The rows are exactly those the command
    line writes to runs.parquet for the same scenario and seed; with `out` the results folder
    is written (or reused) as `python run.py run` does.
    """
    import pyarrow as pa

    from .runner import ScenarioSpec, chunk_ranges, default_chunk_size, run_chunk, run_tasks
    from .scenario import load_scenario

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    runs = loaded.scenario.runs if runs is None else runs
    seed = loaded.scenario.seed if seed is None else seed
    if out is not None:
        from .results import run_scenario

        res = run_scenario(loaded, runs=runs, seed=seed, out=out, workers=workers, chunk=chunk,
                           executor=executor, progress=progress, log=lambda *a: None)
        return pd.read_parquet(res.runs_file)
    spec = ScenarioSpec.of(loaded)
    ranges = chunk_ranges(runs, chunk or default_chunk_size(runs))
    tables: list = [None] * len(ranges)
    run_tasks(run_chunk, [(spec, seed, a, b) for a, b in ranges], tables.__setitem__,
              workers=workers, executor=executor)
    return pa.concat_tables(tables).to_pandas()  # in run order, whatever order they finished
