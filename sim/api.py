"""The Python API (for notebooks and scripts): the experiments, results folders, presentation and
traces of the command line.

    from sim import load_scenario, run_experiment
    experiment = run_experiment(load_scenario("scenarios/baseline.yaml"), runs=500, seed=1)
    experiment.runs      # one row per run;  experiment.rounds: one row per run and round

`run_experiment` is the one entry point for running experiments (the EMA Workbench's
`perform_experiments`); `present` draws a results folder's summary, plots and report from its
saved tables; `trace` and `trace_result` tell one run round by round; `over_time`,
`feature_scores` and `compare_table` give the analyses as tables, and the `plot_*` functions
as matplotlib figures (nothing written).
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


# --------------------------------------------------------------------------- analysis and plots
#
# Each takes an experiment (from `run_experiment`, in memory or in a results folder) or a
# results folder's path, reads its saved tables and returns a pandas table or a matplotlib
# figure; nothing is written (`fig.savefig("name.png")` writes one). The figures are made
# without pyplot: in a notebook they show as the cell's result.


def _experiment(result) -> Experiment:
    if isinstance(result, Experiment):
        return result
    return load_result(result)


def summary_of(result) -> dict:
    """The summary of an experiment (as summary.json), computed from its runs if need be."""
    from .analysis.present import context_of
    from .analysis.summary import Accumulator

    exp = _experiment(result)
    if exp.summary is None:
        meta = exp.metadata
        if meta.get("points"):
            raise ResultError("a parameter study's experiment has no single summary: see "
                              "its report (sim.present(folder))")
        exp.summary = json_ready(Accumulator(meta.get("counterfactual_runs")).add(
            exp.runs).result(context_of(meta)))
    return exp.summary


def json_ready(summary: dict) -> dict:
    import json

    return json.loads(json.dumps(summary, default=str))


def over_time(result):
    """The envelopes of the per-round quantities (one row per quantity and round: the 5%,
    25%, 50%, 75% and 95% quantiles over the runs, and the mean), as over_time.csv; None if
    the experiment kept no rounds table (`rounds=False`, `--no-rounds`)."""
    from .analysis import overtime

    ot = overtime.of_experiment(_experiment(result))
    return None if ot is None else overtime.tidy(ot)


def feature_scores(result):
    """The extra-trees feature scores of the uncertain parameters for whether the force forms
    and whether each country is in the force (one row per outcome and parameter, ranked), as
    feature_scores.csv."""
    from .analysis import features

    return features.tidy(_scores(_experiment(result)))


def _scores(exp: Experiment):
    from .analysis import features

    meta = exp.metadata
    if exp.folder is not None:
        return features.of_folder(exp.folder, meta)
    total = int(meta.get("total_runs") or meta["runs"])
    return features.score(exp.runs.head(features.MAX_RUNS), meta["seed"], total_runs=total)


def plot_formation(result):
    """The probability that the force has formed, by date (band: 95% interval)."""
    from .analysis import plots

    return plots.formation_over_time(summary_of(result))


def _over_time(result):
    """An experiment's rounds, summarised over time (its rounds table is needed)."""
    from .analysis import overtime

    ot = overtime.of_experiment(_experiment(result))
    if ot is None:
        raise ResultError("this experiment kept no rounds table (run with rounds=True, "
                          "without --no-rounds)")
    return ot


def plot_over_time(result):
    """Committed, approved and deployed troops, the convener's pressure, clarity and
    incentive, and Israel's acceptance of the mandate, round by round: envelopes over the
    runs (needs the rounds table)."""
    from .analysis import overtime

    return overtime.envelopes(_over_time(result))


def plot_countries_over_time(result):
    """For each country and round, the share of runs in which it is in the force, and in
    which Israel has vetoed it or it is blocked at home (needs the rounds table)."""
    from .analysis import overtime

    return overtime.countries_over_time(_over_time(result))


def plot_feature_scores(result):
    """The heat map of feature scores: which uncertain parameters go with each outcome."""
    from .analysis import features

    exp = _experiment(result)
    return features.plot(_scores(exp), summary_of(exp)["scenario"])


def plot_country_status(result):
    """Each country's final status, as shares of the runs."""
    from .analysis import plots

    return plots.country_status(summary_of(result))


def compare_table(results):
    """Each measure of every experiment and its difference from the first one's, in
    percentage points with its 95% interval (one row per measure and scenario), as
    comparison.csv."""
    from .analysis import compare

    exps = [_experiment(r) for r in results]
    for e in exps:
        summary_of(e)
    return compare.table(exps)


def plot_compare(results):
    """The forest plot of the differences from the first experiment (percentage points, 95%
    intervals; filled marks exceed Monte Carlo noise)."""
    from .analysis import compare

    return compare.plot_forest(compare_table(results))


__all__ = ["Experiment", "compare_table", "feature_scores", "load_result", "open_result",
           "over_time", "plot_compare", "plot_countries_over_time", "plot_country_status",
           "plot_feature_scores", "plot_formation", "plot_over_time", "present",
           "run_experiment", "summary_of", "trace", "trace_result"]
