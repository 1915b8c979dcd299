"""Parameter studies: one- and two-parameter sweeps, global sensitivity analysis (SALib) and
scenario discovery (PRIM).

A *point* fixes some parameters to given values; every other uncertain parameter is still drawn
per run. Each point is run with the same run seeds (common random numbers), so differences
between points come from the parameters, not from different random draws.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..experiments.runner import Progress, ScenarioSpec, loaded_of, run_tasks
from ..experiments.seeds import run_seed
from ..model import simulate
from ..scenario import LoadedScenario, ScenarioError
from ..scenario.quantity import parse_number
from ..vocabulary import IN_FORCE
from . import expression
from .summary import wilson

# --------------------------------------------------------------------------- evaluation


def contributors(loaded: LoadedScenario) -> list[str]:
    return [c for c, spec in loaded.scenario.countries.items() if spec.role == "contributor"]


def point_task(spec: ScenarioSpec, master: int, runs: int, points: list[dict]) -> np.ndarray:
    """Run each point `runs` times; return counts [formed, deployed per contributor] per point."""
    loaded = loaded_of(spec)
    names = contributors(loaded)
    out = np.zeros((len(points), 1 + len(names)), dtype=np.int64)
    seeds = [run_seed(master, i) for i in range(runs)]
    for j, fixed in enumerate(points):
        for seed in seeds:
            o = simulate(loaded, seed, fixed=fixed).outcome
            out[j, 0] += o["formed"]
            for k, c in enumerate(names, 1):
                out[j, k] += o[f"status.{c}"] in IN_FORCE
    return out


def evaluate(loaded: LoadedScenario, points: list[dict], runs: int, seed: int, *,
             workers: int = 1, executor=None, progress: bool = True) -> np.ndarray:
    """Counts for every point (rows) of [formed, deployed per contributor] out of `runs`."""
    spec = ScenarioSpec.of(loaded)
    per_task = max(1, 400 // max(1, runs))
    batches = [points[i:i + per_task] for i in range(0, len(points), per_task)]
    bar = Progress(len(points) * runs) if progress else None
    results: list[np.ndarray | None] = [None] * len(batches)

    def keep(i, counts):
        results[i] = counts
        if bar:
            bar.update(len(batches[i]) * runs)

    try:
        run_tasks(point_task, [(spec, seed, runs, b) for b in batches], keep, workers=workers,
                  executor=executor)
    finally:
        if bar:
            bar.close()
    return np.vstack(results) if results else np.zeros((0, 1 + len(contributors(loaded))))


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
    """The table of a study and what describes it."""

    kind: str
    table: pd.DataFrame
    info: dict


def _rates(counts: np.ndarray, runs: int, names: list[str]) -> dict[str, list]:
    out = {}
    for k, label in enumerate(["formed", *[f"deployed.{c}" for c in names]]):
        ks = counts[:, k]
        out[f"p_{label}"] = list(ks / runs)
        out[f"p_{label}_low"] = [wilson(int(x), runs)[0] for x in ks]
        out[f"p_{label}_high"] = [wilson(int(x), runs)[1] for x in ks]
    return out


def sweep(loaded: LoadedScenario, varies: list[tuple[str, list[float]]], runs: int, seed: int,
          **kw) -> Study:
    """Every point of the grid of `varies` (one or two parameters), `runs` runs each."""
    if not 1 <= len(varies) <= 2:
        raise ScenarioError([("--vary", "", "give one or two --vary options")])
    if len(varies) == 2 and varies[0][0] == varies[1][0]:
        raise ScenarioError([("--vary", varies[0][0], "the two parameters must differ")])
    grid = list(itertools.product(*[v for _, v in varies]))
    points = [dict(zip([p for p, _ in varies], g, strict=True)) for g in grid]
    counts = evaluate(loaded, points, runs, seed, **kw)
    names = contributors(loaded)
    table = pd.DataFrame({p: [g[i] for g in grid] for i, (p, _) in enumerate(varies)})
    table["runs"] = runs
    for k, v in _rates(counts, runs, names).items():
        table[k] = v
    return Study("sweep", table, {"parameters": [p for p, _ in varies], "runs": runs,
                                  "seed": seed, "contributors": names})


# --------------------------------------------------------------------------- sensitivity


def sensitivity(loaded: LoadedScenario, method: str, params: list[tuple[str, tuple]],
                samples: int, runs: int, seed: int, second_order: bool = False, **kw) -> Study:
    """Morris elementary effects or Sobol indices (SALib) of the formation probability and each
    contributor's deployment probability, over the given parameters and ranges."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    if len(params) < 2:
        raise ScenarioError([(loaded.path, "--param", "sensitivity analysis needs at least two "
                              "parameters (the scenario's uncertain ones by default)")])
    names = [p for p, _ in params]
    problem = {"num_vars": len(params), "names": names, "bounds": [list(b) for _, b in params]}
    if method == "morris":
        x = morris_sample.sample(problem, samples, num_levels=4, seed=seed)
    else:
        x = sobol_sample.sample(problem, samples, calc_second_order=second_order, seed=seed)
    points = [dict(zip(names, map(float, row), strict=True)) for row in x]
    counts = evaluate(loaded, points, runs, seed, **kw)
    outputs = ["formed", *[f"deployed.{c}" for c in contributors(loaded)]]
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
        "parameters": names, "bounds": problem["bounds"],
        "samples": samples, "points": len(points), "runs_per_point": runs, "seed": seed,
        "outputs": outputs})


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
