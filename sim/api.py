"""The Python API (for notebooks and scripts): the experiments, results folders, presentation and
traces of the command line.

    from sim import load_scenario, run_experiment
    experiment = run_experiment(load_scenario("scenarios/baseline.yaml"), runs=500, seed=1)
    experiment.runs      # one row per run;  experiment.rounds: one row per run and round

`run_experiment` is the one entry point for running experiments (the EMA Workbench's
`perform_experiments`); `present` draws a results folder's summary, plots and report from its
saved tables; `trace` and `trace_result` tell one run round by round.
"""

from __future__ import annotations

from pathlib import Path

from .analysis.present import present
from .experiments import Experiment, ResultError, load_result, run_experiment
from .experiments.limits import MAX_RUNS, check_seed
from .experiments.seeds import run_seed as seed_of_run
from .experiments.store import code_fingerprint, scenario_of
from .scenario import LoadedScenario, load_scenario
from .tracing import trace_run


def open_result(folder: str | Path) -> Experiment:
    """A complete results folder, verified against its checksums, and presented (its summary,
    plots and report written if missing)."""
    result = load_result(folder)
    if result.summary is None and not result.metadata.get("study"):
        result.summary = present(result.folder)
    return result


def trace(scenario: LoadedScenario | str | Path, run: int = 0, seed: int | None = None, *,
          run_seed: int | None = None, fixed: dict | None = None) -> dict:
    """Tell run `run` of the experiment with master seed `seed` (default: the scenario's), or
    the run whose own seed is `run_seed` (as stored in runs.parquet), round by round."""
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    if run_seed is not None:
        t = trace_run(loaded, check_seed(run_seed, "--run-seed"), fixed=fixed)
        t.update({"run": None, "master_seed": None})
        return t
    master = check_seed(loaded.scenario.seed if seed is None else seed)
    if not 0 <= run < MAX_RUNS:
        raise ResultError(f"--run {run}: expected a run index from 0 to {MAX_RUNS - 1:,}")
    t = trace_run(loaded, seed_of_run(master, run), fixed=fixed)
    t.update({"run": run, "master_seed": master})
    return t


def trace_result(folder: str | Path, run: int = 0, point: int | None = None) -> dict:
    """Tell run `run` (of point `point`, for a sweep or sensitivity analysis) of a saved results
    folder, exactly as it ran: the scenario, overrides and master seed come from its
    metadata.json, the fixed values of the point from its runs.parquet."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    result = load_result(folder)
    meta = result.metadata
    loaded = scenario_of(meta, result.folder)
    runs, points = meta["runs"], meta.get("points")
    if not 0 <= run < runs:
        raise ResultError(f"--run {run}: {result.folder} holds runs 0 to {runs - 1:,}")
    fixed = None
    if points:
        if point is None:
            raise ResultError(f"{result.folder} holds {points:,} points: say which with "
                              f"--point (0 to {points - 1:,})")
        if not 0 <= point < points:
            raise ResultError(f"--point {point}: {result.folder} holds points 0 to "
                              f"{points - 1:,}")
        cols = [f"param.{p}" for p in meta["point_parameters"]]
        t = pq.read_table(result.runs_file, columns=["point", "run", *cols],
                          filters=[("point", "=", point), ("run", "=", run)])
        row = t.filter(pc.equal(t["run"], run)).to_pylist()[0]
        fixed = {p: row[f"param.{p}"] for p in meta["point_parameters"]}
    elif point is not None:
        raise ResultError(f"--point: {result.folder} has no points (it is not a sweep or a "
                          "sensitivity analysis)")
    # the saved run was replayed with its blockers lifted only if it is among the first
    # `counterfactual_runs` (none for the points of a study): the trace tells it the same way
    replayed = run < (meta.get("counterfactual_runs") or 0) and not points
    t = trace_run(loaded, seed_of_run(meta["seed"], run), fixed=fixed,
                  counterfactuals=replayed)
    t.update({"run": run, "master_seed": meta["seed"], "point": point,
              "results": str(result.folder)})
    if meta.get("code_sha256") != code_fingerprint():
        t["warning"] = ("the model's code has changed since these results were made; this "
                        "trace may differ from the saved run")
    return t


__all__ = ["Experiment", "load_result", "open_result", "present", "run_experiment", "trace",
           "trace_result"]
