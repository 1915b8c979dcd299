"""The Python API (for notebooks and scripts): run experiments and present their results exactly
as the command line does.

    from sim import load_scenario, run_experiment, summarise
    runs = run_experiment(load_scenario("scenarios/baseline.yaml"), runs=500, seed=1)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .analysis.present import present
from .experiments.runner import ScenarioSpec, chunk_ranges, default_chunk_size, run_chunk, run_tasks
from .experiments.store import Result, load_result, run_to_folder
from .scenario import LoadedScenario, load_scenario


def run_experiment(scenario, runs: int | None = None, seed: int | None = None, *,
                   workers: int = 1, chunk: int | None = None, executor=None,
                   out: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Run `runs` replications of a scenario (a path or a loaded scenario); one row per run.

    Defaults are the scenario's own `runs` and `seed`. The rows are exactly those the command
    line writes to runs.parquet for the same scenario and seed; with `out` the results folder
    is written (or reused) as `python run.py run` does.
    """
    import pyarrow as pa

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    runs = loaded.scenario.runs if runs is None else runs
    seed = loaded.scenario.seed if seed is None else seed
    if out is not None:
        res = run_scenario(loaded, runs=runs, seed=seed, out=out, workers=workers, chunk=chunk,
                           executor=executor, progress=progress, log=lambda *a: None)
        return pd.read_parquet(res.runs_file)
    spec = ScenarioSpec.of(loaded)
    ranges = chunk_ranges(runs, chunk or default_chunk_size(runs))
    tables: list = [None] * len(ranges)
    run_tasks(run_chunk, [(spec, seed, a, b) for a, b in ranges], tables.__setitem__,
              workers=workers, executor=executor)
    return pa.concat_tables(tables).to_pandas()  # in run order, whatever order they finished


def run_scenario(loaded: LoadedScenario, **kw) -> Result:
    """Run an experiment into its results folder (or reuse it) and present it: summary, plots
    and report (see `experiments.store.run_to_folder` for the options)."""
    result = run_to_folder(loaded, **kw)
    if result.summary is None:  # a reused folder keeps its presentation untouched
        result.summary = present(result.folder)
    return result


def open_result(folder: str | Path) -> Result:
    """A complete results folder, presented (its summary, plots and report written if missing)."""
    result = load_result(folder)
    if result.summary is None:
        result.summary = present(result.folder)
    return result
