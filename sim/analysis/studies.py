"""Parameter studies: one- and two-parameter sweeps, global sensitivity analysis (SALib) and
scenario discovery (PRIM).

A *point* fixes some parameters to given values; every other uncertain parameter is still drawn
per run. Each point is run with the same run seeds (common random numbers), so differences
between points come from the parameters, not from different random draws.
"""

from __future__ import annotations

import difflib
import itertools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..experiments import Experiment, run_experiment
from ..experiments.limits import check_runs
from ..scenario import LoadedScenario, ScenarioError
from ..scenario.quantity import WholeRange, parse_number
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
    """`KEY=START:STOP:POINTS` -> (KEY, POINTS values evenly spaced from START to STOP, both
    included). (POINTS was called STEPS before; the form is the same.)"""
    key, _, spec = text.partition("=")
    parts = spec.split(":")
    if not key.strip() or len(parts) != 3:
        raise ScenarioError([("--vary", text, "expected KEY=START:STOP:POINTS (POINTS values "
                              "from START to STOP, both included), e.g. "
                              "countries.Pakistan.domestic.opposition_strength=0:1:6")])
    path = numeric_path(loaded, key.strip(), "--vary")
    try:
        start, stop = parse_number(parts[0]), parse_number(parts[1])
    except ValueError as e:
        raise ScenarioError([("--vary", text, f"START and STOP must be finite numbers: {e}")]) \
            from None
    count, most = parts[2].strip(), 1_000  # finer than any plot shows; two stay <= 10^6
    if not count.isdecimal():
        raise ScenarioError([("--vary", text, f"POINTS (how many values) must be a whole "
                              f"number, got {count[:20]!r}")])
    if not 2 <= int(count) <= most:
        raise ScenarioError([("--vary", text, "POINTS must be at least 2" if int(count) < 2
                              else f"POINTS must be at most {most:,}")])
    values = [float(v) for v in np.linspace(start, stop, int(count))]
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
    #: discovery: the restricted parameters of every run and its outcome (for the pairs plot)
    frame: pd.DataFrame | None = field(default=None, repr=False)


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


def whole_numbers(loaded: LoadedScenario, params: list[tuple[str, tuple]]) -> list[str]:
    """The parameters of `params` that take whole numbers only (a count of rounds or of
    contributors): a design draws each over its range's whole numbers (`design`)."""
    return [p for p, _ in params if isinstance(loaded.bounds[p], WholeRange)]


def design(loaded: LoadedScenario, method: str, params: list[tuple[str, tuple]], samples: int,
           seed: int, second_order: bool = False) -> tuple[list[dict], dict]:
    """SALib's design over `params` (path, (LO, HI)): its points, each a mapping of path to
    value, and the study's description (`info`, kept in the results folder).

    A whole-number parameter (`whole_numbers`) is drawn over [LO, HI + 1) and rounded down, as
    the EMA Workbench does for its `IntegerParameter`: each whole number from LO to HI has an
    equal share of the interval, which a Sobol design fills evenly; Morris's four levels fall on
    at most four of them. The points hold the whole numbers, which are what is run and what the
    analysis reads back. Sobol's estimators read only the outputs, in the design's order.
    Morris's read, of the inputs, which one changed at each step and in which direction: a step
    spans two of the four levels, and two levels two apart always round to different whole
    numbers (LO..HI has at least two: LO < HI), so every step keeps its direction (tested); the
    size of the step is another than the design's, which `_whole_number_effects` accounts for."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    names = [p for p, _ in params]
    whole = set(whole_numbers(loaded, params))
    bounds = [[float(lo), float(hi)] for _, (lo, hi) in params]
    drawn = [[lo, hi + 1.0] if p in whole else [lo, hi] for p, (lo, hi) in zip(
        names, bounds, strict=True)]
    problem = {"num_vars": len(params), "names": names, "bounds": drawn}
    if method == "morris":
        x = morris_sample.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)
    else:
        x = sobol_sample.sample(problem, samples, calc_second_order=second_order, seed=seed)
    for j, p in enumerate(names):
        if p in whole:  # a level meant to fall on a whole number may come out a hair below it
            x[:, j] = np.minimum(np.floor(x[:, j] + WHOLE_TOLERANCE), bounds[j][1])
    points = [dict(zip(names, map(float, row), strict=True)) for row in x]
    info = {"kind": "sensitivity", "method": method, "second_order": second_order,
            "parameters": names, "bounds": bounds, "whole_numbers": sorted(whole),
            "samples": samples, "contributors": contributors(loaded)}
    return points, info


#: Morris's grid: levels per parameter
MORRIS_LEVELS = 4
#: a design's value this close below a whole number is rounded up to it, not down (SALib's
#: levels are `LO + i * (HI - LO) / 3`, which floating point may leave just below)
WHOLE_TOLERANCE = 1e-9


def check_params(loaded: LoadedScenario, params: list[tuple[str, tuple]]) -> None:
    """A sensitivity design's parameters: at least two, each once."""
    if len(params) < 2:
        raise ScenarioError([(loaded.path, "--param", "sensitivity analysis needs at least two "
                              "parameters (the scenario's uncertain ones by default)")])
    twice = sorted(p for p, n in Counter(p for p, _ in params).items() if n > 1)
    if twice:
        raise ScenarioError([(loaded.path, "--param", f"{', '.join(twice)}: given more than "
                              "once (a design varies each parameter once)")])


def sensitivity(loaded: LoadedScenario, method: str, params: list[tuple[str, tuple]],
                samples: int, runs: int, seed: int, second_order: bool = False, **kw) -> Study:
    """Morris elementary effects or Sobol indices (SALib) of the formation probability and each
    contributor's deployment probability, over the given parameters and ranges (`design`): the
    design is run as one experiment (`kw` goes to `run_experiment`), then analysed from its
    saved runs."""
    check_params(loaded, params)
    check_runs(runs, design_size(method, samples, len(params), second_order))
    points, info = design(loaded, method, params, samples, seed, second_order)
    return analyse_sensitivity(run_experiment(loaded, runs, seed, points=points, study=info,
                                              **kw))


def analyse_sensitivity(experiment: Experiment) -> Study:
    """SALib's analysis of a sensitivity design from the experiment's saved runs: the design's
    points are read back from the runs table, exactly as they were run."""
    from SALib.analyze import morris as morris_analyze

    meta = experiment.metadata
    info = meta["study"]
    method, names, second_order = info["method"], info["parameters"], info["second_order"]
    seed = meta["seed"]
    problem = {"num_vars": len(names), "names": names, "bounds": info["bounds"]}
    x = point_values(experiment)[names].to_numpy(dtype=float)
    whole = set(info.get("whole_numbers", []))
    runs, counts = point_counts(experiment, info["contributors"])
    outputs = ["formed", *[f"in_force.{c}" for c in info["contributors"]]]
    rows = []
    rough: dict[str, str] = {}
    for k, out in enumerate(outputs):
        y = counts[:, k] / runs
        if np.ptp(y) == 0:
            continue  # the output never moved: no index can be computed
        if method == "morris":
            r = morris_analyze.analyze(problem, x, y, num_levels=MORRIS_LEVELS, conf_level=0.95,
                                       seed=seed)
            for i, p in enumerate(names):
                if p in whole:
                    _whole_number_effects(r, i, x, y, info["bounds"][i], seed)
                rows.append({"output": out, "parameter": p, "mu_star": r["mu_star"][i],
                             "mu_star_conf": r["mu_star_conf"][i], "sigma": r["sigma"][i],
                             "mu": r["mu"][i]})
        else:
            r, constant = _sobol_analyze(problem, y, second_order, seed)
            if constant:
                rough[out] = _rarely_moving(y)
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
        "whole_numbers": info.get("whole_numbers", []),
        "samples": info["samples"], "points": len(x), "runs_per_point": meta["runs"],
        "seed": seed, "outputs": outputs, "rough": rough}, experiment)


#: what SALib's Sobol estimators warn when the output does not vary in the design's A and B
#: matrices, which they all read (or in a bootstrap resample of them)
_SALIB_CONSTANT = "Constant values encountered"


def _sobol_analyze(problem: dict, y: np.ndarray, second_order: bool, seed: int):
    """SALib's Sobol analysis, and whether the output is constant in the rows every estimator
    reads (the design's A and B matrices): SALib then sets each estimate to 0 and warns, a
    Python warning with a path into SALib that the command line would show. The study says it
    in words instead (`rough`): that one warning is filtered here, every other passes."""
    import warnings

    from SALib.analyze import sobol as sobol_analyze

    # SALib's rows per base sample: A, AB_1..AB_D, (BA_1..BA_D,) B
    step = problem["num_vars"] * (2 if second_order else 1) + 2
    a_and_b = np.r_[y[0::step], y[step - 1::step]]
    constant = bool(np.ptp(a_and_b) <= np.finfo(float).eps)  # SALib's own test
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_SALIB_CONSTANT, category=UserWarning)
        r = sobol_analyze.analyze(problem, y, calc_second_order=second_order, conf_level=0.95,
                                  seed=seed)
    return r, constant


def _whole_number_effects(r, i: int, x: np.ndarray, y: np.ndarray, bounds, seed: int) -> None:
    """Morris's statistics of whole-number parameter `i`, from its actual steps (in `r`, in
    place of SALib's).

    SALib divides each step's change of the output by the design's step, two of the grid's
    four levels (2/3 of the range). Rounded down to whole numbers, a parameter's step is
    another: with two values, every step spans the whole range, and SALib's mu* would be 1.5
    times that of a continuous parameter of the same effect. Here each elementary effect is
    divided by the step the runs took (its share of the range LO..HI), so a whole-number and
    a continuous parameter of the same linear effect get the same mu* (tested). mu, mu* and
    sigma are computed as SALib computes them, and mu*'s interval by the same bootstrap (100
    resamples, 95%), from a generator of its own seeded with the study's seed and the
    parameter's place."""
    from scipy.stats import norm

    d = x.shape[1]
    xt = x.reshape(-1, d + 1, d)  # trajectories of d + 1 points, one parameter moved a step
    yt = y.reshape(-1, d + 1)
    dx = np.diff(xt[:, :, i], axis=1)
    step = dx != 0  # exactly one step per trajectory moves it
    span = bounds[1] - bounds[0]
    ee = np.diff(yt, axis=1)[step] / (dx[step] / span)
    rng = np.random.default_rng([seed, i])
    resampled = np.abs(ee[rng.integers(len(ee), size=(100, len(ee)))]).mean(axis=1)
    r["mu"][i] = float(ee.mean())
    r["mu_star"][i] = float(np.abs(ee).mean())
    r["sigma"][i] = float(ee.std(ddof=1)) if len(ee) > 1 else float("nan")
    r["mu_star_conf"][i] = float(norm.ppf(0.975) * resampled.std(ddof=1))


def _rarely_moving(y: np.ndarray) -> str:
    """Why an output's Sobol indices are rough: at how few points it left its usual value."""
    values, counts = np.unique(y, return_counts=True)
    usual = values[int(np.argmax(counts))]
    moved = int(len(y) - counts.max())
    return (f"its probability differs from its usual value ({usual:.0%}) at only {moved:,} of "
            f"{len(y):,} points, none of them among the design's base samples (its A and B "
            "matrices), which every estimator reads: SALib sets those estimates to 0, so its "
            "indices and intervals are rough; more runs a point (--runs) or base samples "
            "(--samples) sharpen them")


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


#: a restriction is significant when its quasi-p-value is below this
SIGNIFICANT = 0.05
#: how the default box is chosen (said in the output and the docs)
DEFAULT_RULE = ("the densest box whose restrictions are all significant (quasi-p < 0.05): "
                "each box of the peeling trajectory with its non-significant restrictions "
                "dropped, the least significant first, until every one left is significant; "
                "ties go to the wider box")


def _key(name: str) -> str:
    return name[len("param."):] if name.startswith("param.") else name


def discover(runs: pd.DataFrame, expr: str, min_density: float | None = None,
             box: int | None = None, drop=(), peel_alpha: float = 0.05,
             min_mass: float = 0.05) -> Study:
    """PRIM (Friedman & Fisher 1999; the `prim` package, its peeling computed column by column:
    `sim.analysis.peeling`): the box of sampled-parameter ranges
    in which the outcome concentrates, and the trade-off between coverage and density.

    PRIM peels the parameter space, box by box, down to `min_mass` of the runs: its peeling
    trajectory. Every box on it is listed with its coverage, density, mass, the parameters it
    restricts and how many of those restrictions are significant (quasi-p < 0.05; Bryant &
    Lempert 2010). The box shown is:
    - `box`: that box of the trajectory, as it is (0 is the whole space);
    - else, with `min_density`: the widest box whose density reaches it (or the densest box if
      none does), as the EMA Workbench chooses;
    - else DEFAULT_RULE: every box is pruned of its non-significant restrictions and the
      densest pruned box is shown (the whole space if no box keeps a significant one).
    `drop` then removes the restrictions on those parameters (as PRIM's `drop_restriction`):
    the box widens, and its coverage, density and quasi-p-values are computed again.
    """
    from .peeling import Prim

    y = outcome_mask(runs, expr)
    xcols = [c for c in runs.columns if c.startswith("param.") and runs[c].nunique() > 1]
    if not xcols:
        raise ScenarioError([("--outcome", expr, "the scenario has no uncertain parameters "
                              "to search over")])
    if y.sum() == 0 or y.all():
        raise ScenarioError([("--outcome", "", expression.no_match(runs, expr, y))])
    x = runs[xcols].rename(columns=_key).reset_index(drop=True)
    names = list(x.columns)
    p = Prim(x, y, threshold=None, peel_alpha=peel_alpha, mass_min=min_mass)
    boxes = _trajectory(p.find_box(), names)
    space = _Space(x.to_numpy(dtype=float), np.asarray(y, dtype=bool), names)
    points = []
    for i, (lo, hi) in enumerate(boxes):
        ev = space.evaluate(lo, hi)
        qp = ev["qp"]
        points.append({"box": i, "coverage": ev["coverage"], "density": ev["density"],
                       "mass": ev["mass"], "restricted": len(qp),
                       "significant": int(sum(v < SIGNIFICANT for v in qp.values())),
                       "all_significant": bool(qp) and all(v < SIGNIFICANT
                                                           for v in qp.values())})
    auto: list[str] = []
    if box is not None:
        if not 0 <= box < len(points):
            raise ScenarioError([("--box", str(box), f"the peeling trajectory has boxes 0 to "
                                  f"{len(points) - 1}")])
        chosen, rule = box, f"box {box} of the peeling trajectory, chosen with --box"
    elif min_density is not None:
        dense = [q for q in points if q["density"] >= min_density]
        if dense:
            chosen = max(dense, key=lambda q: (q["coverage"], -q["box"]))["box"]
            rule = (f"the widest box whose density reaches {min_density:.0%} "
                    "(--min-density)")
        else:
            chosen = max(points, key=lambda q: (q["density"], -q["box"]))["box"]
            rule = (f"the densest box (no box reaches a density of {min_density:.0%}, "
                    "--min-density)")
    else:
        pruned = {}
        for q, (lo, hi) in zip(points, boxes, strict=True):  # each box, significant only
            plo, phi, dropped_here = space.prune(lo, hi)
            ev = space.evaluate(plo, phi)
            pruned[q["box"]] = dropped_here
            q.update({"pruned_density": ev["density"], "pruned_coverage": ev["coverage"],
                      "pruned_mass": ev["mass"], "pruned_restricted": len(ev["qp"])})
        clean = [q for q in points if q["pruned_restricted"] > 0]
        if clean:
            best = max(clean, key=lambda q: (round(q["pruned_density"], 12),
                                             round(q["pruned_coverage"], 12),
                                             -q["pruned_restricted"], -q["box"]))
            chosen, auto, rule = best["box"], pruned[best["box"]], DEFAULT_RULE
        else:
            chosen = 0
            rule = ("the whole space: no box on the peeling trajectory keeps a significant "
                    "restriction (the outcome may not depend on the sampled parameters, or "
                    "more runs are needed); choose a box with --box")
    lo, hi = boxes[chosen]
    lo, hi = lo.copy(), hi.copy()
    for name in auto:
        space.release(lo, hi, name)
    dropped = []
    for key in drop:
        name = _key(key.strip())
        now = space.restricted(lo, hi)
        if name not in now:
            raise ScenarioError([("--drop", key, f"box {chosen} does not restrict this "
                                  "parameter" + (" (it was dropped as not significant)"
                                                 if name in auto else "")
                                  + "; its restrictions: " + (", ".join(now) or "none"))])
        if name not in dropped:
            space.release(lo, hi, name)
            dropped.append(name)
    ev = space.evaluate(lo, hi)
    qp = ev["qp"]
    table = pd.DataFrame({"parameter": names, "min": lo.astype(float), "max": hi.astype(float),
                          "qp": [qp.get(n, float("nan")) for n in names],
                          "full_min": space.lo.astype(float),
                          "full_max": space.hi.astype(float)})
    table["restricted"] = table["parameter"].isin(list(qp))
    # PRIM's quasi-p-value: could a restriction this tight arise by chance? (< 0.05: no)
    table["significant"] = table["restricted"] & (table["qp"] < SIGNIFICANT)
    table = table.sort_values(["restricted", "qp"], ascending=[False, True]).reset_index(
        drop=True)
    shown = list(table.loc[table["restricted"], "parameter"])
    frame = x[shown].copy()
    frame["outcome"] = y
    return Study("discovery", table, {
        "outcome": expr, "runs": len(y), "base_rate": float(y.mean()),
        "coverage": ev["coverage"], "density": ev["density"], "mass": ev["mass"],
        "min_density": min_density, "box_index": chosen, "rule": rule, "pruned": auto,
        "dropped": dropped, "trajectory": points}, frame=frame)


def _trajectory(pbox, names: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The limits (lower, upper arrays in the order of `names`) of every box on a PrimBox's
    peeling trajectory. The `prim` package (pinned, 1.0.0) keeps them in `_box_lims`, one
    record array per box with a `min` and a `max` row per parameter."""
    out = []
    for lims in pbox._box_lims[:len(pbox.peeling_trajectory)]:
        out.append((np.array([float(lims[n][0]) for n in names]),
                    np.array([float(lims[n][1]) for n in names])))
    return out


class _Space:
    """The sampled parameters of the runs (x) and the outcome (y), for evaluating boxes."""

    def __init__(self, x: np.ndarray, y: np.ndarray, names: list[str]):
        self.x, self.y, self.names = x, y, names
        self.lo, self.hi = x.min(axis=0), x.max(axis=0)
        self.index = {n: i for i, n in enumerate(names)}

    def dims(self, lo, hi) -> np.ndarray:
        return np.flatnonzero((lo > self.lo) | (hi < self.hi))

    def restricted(self, lo, hi) -> list[str]:
        return [self.names[i] for i in self.dims(lo, hi)]

    def release(self, lo, hi, name: str) -> None:
        """Drop the box's restriction on `name` (in place)."""
        i = self.index[name]
        lo[i], hi[i] = self.lo[i], self.hi[i]

    def evaluate(self, lo, hi) -> dict:
        """Coverage, density and mass of the box, and the quasi-p-value of each restriction:
        the one-sided binomial probability of the box's outcome count, were the outcome as
        frequent as in the box without that restriction (Bryant & Lempert 2010; as PRIM)."""
        from scipy.stats import binom

        dims = self.dims(lo, hi)
        inside_dim = (self.x[:, dims] >= lo[dims]) & (self.x[:, dims] <= hi[dims])
        inside = inside_dim.all(axis=1)
        t, h = int(inside.sum()), int(self.y[inside].sum())
        qp = {}
        if len(dims):
            outside = (~inside_dim).sum(axis=1)
            # in the box but for restriction j: no other restriction fails
            without = (outside == 0)[:, None] | ((outside == 1)[:, None] & ~inside_dim)
            tj = without.sum(axis=0)
            hj = (without & self.y[:, None]).sum(axis=0)
            values = binom.sf(h - 1, t, hj / np.maximum(tj, 1))
            qp = {self.names[d]: float(v) for d, v in zip(dims, values, strict=True)}
        total = int(self.y.sum())
        return {"coverage": h / total if total else float("nan"),
                "density": h / t if t else float("nan"), "mass": t / len(self.y),
                "qp": qp}

    def prune(self, lo, hi) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The box with its non-significant restrictions dropped, the least significant
        first, until every one left is significant; and the parameters dropped."""
        lo, hi = lo.copy(), hi.copy()
        dropped = []
        while True:
            qp = self.evaluate(lo, hi)["qp"]
            weak = {n: v for n, v in qp.items() if v >= SIGNIFICANT}
            if not weak:
                return lo, hi, dropped
            name = max(weak, key=lambda n: (weak[n], n))
            self.release(lo, hi, name)
            dropped.append(name)
