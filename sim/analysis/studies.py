"""Parameter studies: one- and two-parameter sweeps, global sensitivity analysis (SALib) and
scenario discovery (PRIM).

A *point* fixes some parameters to given values; every other uncertain parameter is still drawn
per run. Each point is run with the same run seeds (common random numbers), so differences
between points come from the parameters, not from different random draws.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..experiments import Experiment, run_experiment
from ..experiments.limits import check_runs
from ..scenario import LoadedScenario, ScenarioError
from ..scenario.quantity import parse_number
from ..vocabulary import IN_FORCE
from . import expression
from .summary import wilson

# --------------------------------------------------------------------------- saved runs


def contributors(loaded: LoadedScenario) -> list[str]:
    return [c for c, spec in loaded.scenario.countries.items() if spec.role == "contributor"]


def point_counts(experiment: Experiment, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """From an experiment's saved runs table: the runs of every point and, per point (rows),
    how many runs [formed, in the force per contributor in `names`]."""
    t = experiment.table("runs", ["point", "formed", *(f"status.{c}" for c in names)])
    df = t.to_pandas()
    outs = pd.DataFrame({"point": df["point"], "formed": df["formed"].astype(np.int64)})
    for c in names:
        outs[c] = df[f"status.{c}"].isin(IN_FORCE).astype(np.int64)
    grouped = outs.groupby("point", sort=True)
    n = experiment.metadata["points"]
    counts = grouped.sum().reindex(range(n), fill_value=0).to_numpy(dtype=np.int64)
    runs = grouped.size().reindex(range(n), fill_value=0).to_numpy(dtype=np.int64)
    return runs, counts


def point_values(experiment: Experiment) -> pd.DataFrame:
    """The fixed values of every point (one row per point, in order), read from the saved
    runs (the `param.*` columns of each point's first run)."""
    paths = experiment.metadata["point_parameters"]
    t = experiment.table("runs", ["point", "run", *(f"param.{p}" for p in paths)])
    df = t.to_pandas()
    df = df[df["run"] == 0].sort_values("point")
    return df[[f"param.{p}" for p in paths]].set_axis(paths, axis=1).reset_index(drop=True)


# --------------------------------------------------------------------------- parameters


def numeric_path(loaded: LoadedScenario, path: str, option: str) -> str:
    if path not in loaded.bounds:
        close = difflib.get_close_matches(path, list(loaded.bounds), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ScenarioError([(loaded.path, path, f"{option}: no numeric parameter here{hint}")])
    return path


def check_value(loaded: LoadedScenario, path: str, value: float, option: str) -> float:
    """`value` as a float if it is a finite number in the parameter's range."""
    try:
        return float(loaded.bounds[path](value))
    except ValueError as e:
        raise ScenarioError([(loaded.path, path, f"{option}: {e}")]) from None


def parse_vary(loaded: LoadedScenario, text: str) -> tuple[str, list[float]]:
    """`KEY=START:STOP:STEPS` -> (KEY, the STEPS values from START to STOP)."""
    key, _, spec = text.partition("=")
    parts = spec.split(":")
    if not key.strip() or len(parts) != 3:
        raise ScenarioError([("--vary", text, "expected KEY=START:STOP:STEPS, e.g. "
                              "countries.Pakistan.domestic.opposition_strength=0:1:6")])
    path = numeric_path(loaded, key.strip(), "--vary")
    try:
        start, stop = parse_number(parts[0]), parse_number(parts[1])
    except ValueError as e:
        raise ScenarioError([("--vary", text, f"START and STOP must be finite numbers: {e}")]) \
            from None
    steps, max_steps = parts[2].strip(), 1_000  # finer than any plot shows; two stay <= 10^6
    if not steps.isdecimal():
        raise ScenarioError([("--vary", text, f"STEPS must be a whole number, got "
                              f"{steps[:20]!r}")])
    if not 2 <= int(steps) <= max_steps:
        raise ScenarioError([("--vary", text, "STEPS must be at least 2" if int(steps) < 2
                              else f"STEPS must be at most {max_steps:,}")])
    values = [float(v) for v in np.linspace(start, stop, int(steps))]
    for v in (start, stop, *values):
        check_value(loaded, path, v, "--vary")
    return path, values


def parse_param(loaded: LoadedScenario, text: str) -> tuple[str, tuple[float, float]]:
    """`KEY` (an uncertain parameter: its own range) or `KEY=LO:HI`."""
    key, sep, spec = text.partition("=")
    path = numeric_path(loaded, key.strip(), "--param")
    if sep:
        parts = spec.split(":")
        if len(parts) != 2:
            raise ScenarioError([("--param", text, "expected KEY=LO:HI with LO < HI")])
        try:
            lo, hi = parse_number(parts[0]), parse_number(parts[1])
        except ValueError as e:
            raise ScenarioError([("--param", text, f"LO and HI must be finite numbers: {e}")]) \
                from None
        if not lo < hi:
            raise ScenarioError([("--param", text, "expected KEY=LO:HI with LO < HI")])
        return path, (check_value(loaded, path, lo, "--param"),
                      check_value(loaded, path, hi, "--param"))
    dist = dict(loaded.uncertain).get(path)
    if dist is None:
        raise ScenarioError([(loaded.path, path, "--param: this parameter is fixed in the "
                              "scenario; give its range as KEY=LO:HI")])
    lo, hi = dist.support()
    return path, (float(lo), float(hi))


# --------------------------------------------------------------------------- sweeps


@dataclass
class Study:
    """The table of a study and what describes it (and the experiment it analyses)."""

    kind: str
    table: pd.DataFrame
    info: dict
    experiment: Experiment | None = field(default=None, repr=False)


def _rates(counts: np.ndarray, runs: np.ndarray, names: list[str]) -> dict[str, list]:
    out = {}
    for k, label in enumerate(["formed", *[f"in_force.{c}" for c in names]]):
        ks = counts[:, k]
        out[f"p_{label}"] = list(ks / runs)
        out[f"p_{label}_low"] = [wilson(int(x), int(n))[0] for x, n in zip(ks, runs, strict=True)]
        out[f"p_{label}_high"] = [wilson(int(x), int(n))[1] for x, n in zip(ks, runs, strict=True)]
    return out


def analyse(experiment: Experiment) -> Study:
    """The study of an experiment run for one (its metadata's `study`), from its saved runs."""
    kind = (experiment.metadata.get("study") or {}).get("kind")
    if kind == "sweep":
        return analyse_sweep(experiment)
    if kind == "sensitivity":
        return analyse_sensitivity(experiment)
    raise ValueError(f"not a parameter study: {kind!r}")


def sweep(loaded: LoadedScenario, varies: list[tuple[str, list[float]]], runs: int, seed: int,
          **kw) -> Study:
    """Every point of the grid of `varies` (one or two parameters), `runs` runs each: run as
    one experiment (`kw` goes to `run_experiment`: out, workers, executor, progress, ...),
    then analysed from its saved runs."""
    if not 1 <= len(varies) <= 2:
        raise ScenarioError([("--vary", "", "give one or two --vary options")])
    if len(varies) == 2 and varies[0][0] == varies[1][0]:
        raise ScenarioError([("--vary", varies[0][0], "the two parameters must differ")])
    size = 1
    for _, values in varies:
        size *= len(values)
    check_runs(runs, size)
    grid = list(itertools.product(*[v for _, v in varies]))
    points = [dict(zip([p for p, _ in varies], g, strict=True)) for g in grid]
    info = {"kind": "sweep", "parameters": [p for p, _ in varies],
            "contributors": contributors(loaded)}
    return analyse_sweep(run_experiment(loaded, runs, seed, points=points, study=info, **kw))


def analyse_sweep(experiment: Experiment) -> Study:
    meta = experiment.metadata
    info = meta["study"]
    names, params = info["contributors"], info["parameters"]
    runs, counts = point_counts(experiment, names)
    table = point_values(experiment)[params]
    table["runs"] = runs
    for k, v in _rates(counts, runs, names).items():
        table[k] = v
    return Study("sweep", table, {"parameters": params, "runs": meta["runs"],
                                  "seed": meta["seed"], "contributors": names}, experiment)


# --------------------------------------------------------------------------- sensitivity


def design_size(method: str, samples: int, parameters: int, second_order: bool = False) -> int:
    """Points of a Morris (samples x (D + 1)) or Sobol (samples x (D + 2), or (2D + 2) with
    second-order indices) design, known before any is drawn."""
    if method == "morris":
        return samples * (parameters + 1)
    return samples * (2 * parameters + 2 if second_order else parameters + 2)


def sensitivity(loaded: LoadedScenario, method: str, params: list[tuple[str, tuple]],
                samples: int, runs: int, seed: int, second_order: bool = False, **kw) -> Study:
    """Morris elementary effects or Sobol indices (SALib) of the formation probability and each
    contributor's deployment probability, over the given parameters and ranges: the design is
    run as one experiment (`kw` goes to `run_experiment`), then analysed from its saved runs."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    if len(params) < 2:
        raise ScenarioError([(loaded.path, "--param", "sensitivity analysis needs at least two "
                              "parameters (the scenario's uncertain ones by default)")])
    check_runs(runs, design_size(method, samples, len(params), second_order))
    names = [p for p, _ in params]
    problem = {"num_vars": len(params), "names": names, "bounds": [list(b) for _, b in params]}
    if method == "morris":
        x = morris_sample.sample(problem, samples, num_levels=4, seed=seed)
    else:
        x = sobol_sample.sample(problem, samples, calc_second_order=second_order, seed=seed)
    points = [dict(zip(names, map(float, row), strict=True)) for row in x]
    info = {"kind": "sensitivity", "method": method, "second_order": second_order,
            "parameters": names, "bounds": problem["bounds"], "samples": samples,
            "contributors": contributors(loaded)}
    return analyse_sensitivity(run_experiment(loaded, runs, seed, points=points, study=info,
                                              **kw))


def analyse_sensitivity(experiment: Experiment) -> Study:
    """SALib's analysis of a sensitivity design from the experiment's saved runs: the design's
    points are read back from the runs table, exactly as they were run."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    meta = experiment.metadata
    info = meta["study"]
    method, names, second_order = info["method"], info["parameters"], info["second_order"]
    seed = meta["seed"]
    problem = {"num_vars": len(names), "names": names, "bounds": info["bounds"]}
    x = point_values(experiment)[names].to_numpy(dtype=float)
    runs, counts = point_counts(experiment, info["contributors"])
    outputs = ["formed", *[f"in_force.{c}" for c in info["contributors"]]]
    rows = []
    for k, out in enumerate(outputs):
        y = counts[:, k] / runs
        if np.ptp(y) == 0:
            continue  # the output never moved: no index can be computed
        if method == "morris":
            r = morris_analyze.analyze(problem, x, y, num_levels=4, conf_level=0.95, seed=seed)
            for i, p in enumerate(names):
                rows.append({"output": out, "parameter": p, "mu_star": r["mu_star"][i],
                             "mu_star_conf": r["mu_star_conf"][i], "sigma": r["sigma"][i],
                             "mu": r["mu"][i]})
        else:
            r = sobol_analyze.analyze(problem, y, calc_second_order=second_order,
                                      conf_level=0.95, seed=seed)
            for i, p in enumerate(names):
                row = {"output": out, "parameter": p, "S1": r["S1"][i],
                       "S1_conf": r["S1_conf"][i], "ST": r["ST"][i], "ST_conf": r["ST_conf"][i]}
                if second_order:  # the largest interaction of this parameter with another
                    s2 = np.nan_to_num(np.asarray(r["S2"], dtype=float))
                    inter = np.maximum(s2[i, :], s2[:, i])
                    j = int(np.argmax(inter))
                    row.update({"S2_max": float(inter[j]), "S2_with": names[j]})
                rows.append(row)
    table = pd.DataFrame(rows)
    key = "mu_star" if method == "morris" else "ST"
    if not table.empty:
        table["rank"] = table.groupby("output")[key].rank(ascending=False, method="first") \
            .astype(int)
        table = table.sort_values(["output", "rank"], key=lambda s: s.map(
            {o: i for i, o in enumerate(outputs)}) if s.name == "output" else s)
    return Study("sensitivity", table.reset_index(drop=True), {
        "method": method, "index": key, "second_order": second_order,
        "parameters": names, "bounds": info["bounds"],
        "samples": info["samples"], "points": len(x), "runs_per_point": meta["runs"],
        "seed": seed, "outputs": outputs}, experiment)


# --------------------------------------------------------------------------- discovery


def outcome_mask(runs: pd.DataFrame, expr: str) -> np.ndarray:
    """Evaluate an outcome such as `formed and status.Pakistan == "deployed"` on the runs.

    The expression is our own small grammar (`sim.analysis.expression`), never Python or pandas
    code: column names as written (status.Pakistan, troops.Egypt, param.israel.threshold),
    numbers, quoted text, comparisons, `in [...]`, and/or/not and parentheses.
    """
    try:
        return expression.mask(runs, expr, expression.known_values(runs.columns, runs))
    except expression.ExpressionError as e:
        raise ScenarioError([("--outcome", "", e.format())]) from None


def check_outcome(loaded: LoadedScenario, expr: str) -> None:
    """Refuse a malformed outcome before any run: its syntax, its column names (the scenario's
    declared runs columns) and the kinds of values it compares."""
    cols = expression.runs_columns(loaded)
    try:
        expression.check(expr, cols, expression.known_values(cols))
    except expression.ExpressionError as e:
        raise ScenarioError([("--outcome", "", e.format())]) from None


def discover(runs: pd.DataFrame, expr: str, min_density: float = 0.8,
             peel_alpha: float = 0.05, min_mass: float = 0.05) -> Study:
    """PRIM (Friedman & Fisher 1999; the `prim` package): the box of sampled-parameter ranges
    in which the outcome concentrates, and the trade-off between coverage and density.

    PRIM peels the parameter space, box by box, down to `min_mass` of the runs. From that
    peeling trajectory we choose, as the EMA Workbench does, the box with the largest coverage
    among those whose density reaches `min_density` (or the densest box if none does).
    """
    import prim

    y = outcome_mask(runs, expr)
    xcols = [c for c in runs.columns if c.startswith("param.") and runs[c].nunique() > 1]
    if not xcols:
        raise ScenarioError([("--outcome", expr, "the scenario has no uncertain parameters "
                              "to search over")])
    if y.sum() == 0 or y.all():
        raise ScenarioError([("--outcome", "", expression.no_match(runs, expr, y))])
    x = runs[xcols].rename(columns=lambda c: c[len("param."):]).reset_index(drop=True)
    p = prim.Prim(x, y, threshold=None, peel_alpha=peel_alpha, mass_min=min_mass)
    box = p.find_box()
    traj = box.peeling_trajectory.reset_index(drop=True).astype(float).rename(
        columns={"res dim": "res_dim"})
    dense = traj.index[traj["density"] >= min_density]
    chosen = int(traj.loc[dense, "coverage"].idxmax()) if len(dense) else \
        int(traj["density"].idxmax())
    box.select(chosen)
    limits = box.limits.copy().rename(columns={"qp values": "qp"})
    stats = traj.iloc[chosen].to_dict()
    full = x.agg(["min", "max"]).T
    # every searched parameter, restricted or not (PRIM lists only the restricted ones)
    table = pd.DataFrame({"parameter": list(x.columns)})
    table["min"] = [float(limits.loc[p, "min"]) if p in limits.index else float(full.loc[p, "min"])
                    for p in table["parameter"]]
    table["max"] = [float(limits.loc[p, "max"]) if p in limits.index else float(full.loc[p, "max"])
                    for p in table["parameter"]]
    table["qp"] = [float(limits.loc[p, "qp"]) if p in limits.index else float("nan")
                   for p in table["parameter"]]
    table["full_min"] = [float(full.loc[r, "min"]) for r in table["parameter"]]
    table["full_max"] = [float(full.loc[r, "max"]) for r in table["parameter"]]
    table["restricted"] = (table["min"] > table["full_min"] + 1e-12) | \
        (table["max"] < table["full_max"] - 1e-12)
    # PRIM's quasi-p-value: could a restriction this tight arise by chance? (< 0.05: no)
    table["significant"] = table["restricted"] & (table["qp"] < 0.05)
    table = table.sort_values(["restricted", "qp"], ascending=[False, True]).reset_index(
        drop=True)
    return Study("discovery", table, {
        "outcome": expr, "runs": len(y), "base_rate": float(y.mean()),
        "coverage": float(stats["coverage"]), "density": float(stats["density"]),
        "mass": float(stats["mass"]), "min_density": min_density, "box_index": chosen,
        "trajectory": traj[["coverage", "density", "mass", "res_dim"]].to_dict(
            orient="records")})
