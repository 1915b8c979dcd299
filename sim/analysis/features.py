"""What the answer hinges on: feature scoring of the sampled uncertain parameters (the `param.*`
columns of the runs table) for whether the force forms and whether each country is in the
force, with extra-trees (Geurts, Ernst & Wehenkel 2006), as the EMA Workbench's
`get_ex_feature_scores` does.

A parameter's score is its share of the forest's impurity decrease: the scores of one outcome
add up to 1, so a parameter that mattered no more than any other would score 1/k (k
parameters); the report draws that line. Scores rank; they are not effects, and they come from
the same runs as everything else (`sensitivity` runs designs made for the purpose). The forest's
random state comes from the experiment's master seed, so the scores are the same on every
machine and for any number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..vocabulary import IN_FORCE
from . import fmt

#: trees per forest: more for whether the force forms (the headline), fewer for each country;
#: enough for a stable ranking of the leading parameters, few enough that scoring every outcome
#: of a 300-run report takes well under a second
TREES_FORMED = 50
TREES = 15
#: how deep a tree grows: its first eight levels of splits (up to 256 leaves). Trees grown until
#: every leaf is pure spend their deepest splits on a handful of runs, where any column, the
#: random ones included, separates them as well as another: half the fitting time for that
#: noise. Measured on the first 5,000 of 20,000 baseline runs (261 parameters, 16 outcomes),
#: against forests of 400 fully grown trees per outcome, mean of 8 forest seeds: the scores in
#: 2.20 s instead of 4.00 s, and as close or closer to the converged forests' (parameters that
#: stand out from noise: Jaccard index 0.33 against 0.29; leading five in common 0.71 against
#: 0.70; rank correlation of their top 20, 0.72 against 0.69)
MAX_DEPTH = 8
#: random columns scored with the parameters, as a yardstick: a parameter "stands out from
#: noise" when it scores above every one of them
PROBES = 50
#: an outcome is scored only if at least this many runs fall on each side of it
MIN_CASES = 10
#: scoring reads at most this many runs (the first ones: run i's draws do not depend on the
#: others, so they are a random sample)
MAX_RUNS = 5_000


@dataclass
class FeatureScores:
    """Scores (parameter x outcome), the outcomes skipped and why, and what was scored."""

    scores: pd.DataFrame                 # index: parameter paths; columns: outcomes
    skipped: dict[str, str] = field(default_factory=dict)
    #: per outcome, the largest score of a random column (scaled as the parameters' scores)
    noise: dict[str, float] = field(default_factory=dict)
    runs: int = 0
    total_runs: int = 0
    reason: str | None = None            # why nothing was scored, if nothing was

    @property
    def equal_share(self) -> float:
        return 1.0 / len(self.scores) if len(self.scores) else float("nan")

    def ranked(self, outcome: str = "formed") -> pd.Series:
        """One outcome's scores, highest first (ties in parameter order)."""
        if outcome not in self.scores.columns:
            return pd.Series(dtype=float)
        s = self.scores[outcome]
        # a stable sort of the negated scores: ties keep parameter order
        return s.iloc[np.argsort(-s.to_numpy(dtype=float), kind="stable")]

    def standing_out(self, outcome: str) -> pd.Series:
        """The parameters that score above every random column, highest first."""
        r = self.ranked(outcome)
        return r[r > self.noise.get(outcome, np.inf)]


def outcome_label(outcome: str) -> str:
    return "force forms" if outcome == "formed" else \
        f"{outcome[len('in_force.'):]} in the force"


def outcomes(runs: pd.DataFrame) -> dict[str, np.ndarray]:
    """The outcomes scored: `formed`, and `in_force.<country>` for every country that is not
    only consulted."""
    out = {"formed": runs["formed"].to_numpy(dtype=bool)}
    for col in runs.columns:
        if col.startswith("status."):
            status = runs[col].astype(str)
            if (status == "influencer").all():
                continue
            out[f"in_force.{col[len('status.'):]}"] = status.isin(IN_FORCE).to_numpy()
    return out


def random_state(seed: int) -> int:
    """A forest's random state (0 to 2^32 - 1) from an experiment's master seed."""
    return int(np.random.SeedSequence(int(seed), spawn_key=(0x5C0,)).generate_state(1)[0])


def score(runs: pd.DataFrame, seed: int, *, trees: int = TREES,
          trees_formed: int = TREES_FORMED, probes: int = PROBES,
          min_cases: int = MIN_CASES, total_runs: int | None = None,
          max_depth: int | None = MAX_DEPTH) -> FeatureScores:
    """Extra-trees feature scores of every sampled parameter that varies, for each outcome of
    `outcomes(runs)` that varies enough (at least `min_cases` runs on each side), from trees
    at most `max_depth` levels deep (None: grown until their leaves are pure).

    `probes` columns of uniform random numbers (drawn from the seed) are scored with the
    parameters; the scores are then rescaled so that the parameters' add up to 1, and the
    largest probe's score, rescaled alike, is the outcome's noise level."""
    params = [c for c in runs.columns if c.startswith("param.") and runs[c].nunique() > 1]
    n = len(runs)
    total = total_runs or n
    if not params:
        return FeatureScores(pd.DataFrame(), runs=n, total_runs=total, reason=(
            "the scenario has no uncertain parameters (every run draws the same values), so "
            "nothing can be scored"))
    targets = outcomes(runs)
    skipped = {}
    for name, y in targets.items():
        k = int(y.sum())
        if min(k, n - k) < min_cases:
            skipped[name] = (f"never holds in the {fmt.runs(n)}" if k == 0 else
                             f"holds in every one of the {fmt.runs(n)}" if k == n else
                             f"holds in {k:,} of {fmt.runs(n)}: fewer than {min_cases} runs "
                             "on one side to score")
    if len(skipped) == len(targets):  # nothing to score: scikit-learn is not even imported
        return FeatureScores(pd.DataFrame(), skipped, {}, n, total, "no outcome varies "
                             "enough across the runs to be scored")
    state = random_state(seed)
    noise_columns = np.random.default_rng(state).random((n, probes))
    x = np.hstack([runs[params].to_numpy(dtype=np.float64), noise_columns]).astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError("feature scoring: a sampled parameter is not a finite number")
    import sklearn
    from sklearn.ensemble import ExtraTreesClassifier

    columns, noise = {}, {}
    k_params = len(params)
    # the inputs are checked here (finite numbers): skipping sklearn's checks for every tree
    # saves a tenth of the time
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for name, y in targets.items():
            if name in skipped:
                continue
            forest = ExtraTreesClassifier(
                n_estimators=trees_formed if name == "formed" else trees,
                max_features="sqrt", max_depth=max_depth, random_state=state, n_jobs=1)
            imp = forest.fit(x, y).feature_importances_
            real = imp[:k_params].sum()
            scale = 1.0 / real if real > 0 else 0.0
            columns[name] = imp[:k_params] * scale
            noise[name] = float(imp[k_params:].max() * scale) if probes else float("inf")
    scores = pd.DataFrame(columns, index=[p[len("param."):] for p in params])
    reason = None if columns else "no outcome varies enough across the runs to be scored"
    return FeatureScores(scores, skipped, noise, n, total, reason)


def of_folder(folder, meta: dict) -> FeatureScores:
    """Feature scores of a results folder's runs (its first MAX_RUNS)."""
    from ..experiments.store import read_first_runs

    total = int(meta.get("total_runs") or meta["runs"])
    cap = min(total, MAX_RUNS)
    t = read_first_runs(folder / "runs.parquet", lambda names: [
        "run", "formed", *(c for c in names if c.startswith(("param.", "status.")))],
        cap if cap < total else None)
    return score(t.to_pandas().sort_values("run"), meta["seed"], total_runs=total)


def tidy(fs: FeatureScores) -> pd.DataFrame:
    """The scores as one tidy table (feature_scores.csv): outcome, rank, parameter, score."""
    rows = []
    for outcome in fs.scores.columns:
        for rank, (p, v) in enumerate(fs.ranked(outcome).items(), 1):
            rows.append({"outcome": outcome, "rank": rank, "parameter": p,
                         "score": round(float(v), 4),
                         "times_equal_share": round(float(v) / fs.equal_share, 2),
                         "noise_level": round(fs.noise[outcome], 4),
                         "stands_out": bool(v > fs.noise[outcome])})
    return pd.DataFrame(rows, columns=["outcome", "rank", "parameter", "score",
                                       "times_equal_share", "noise_level", "stands_out"])


def leading(fs: FeatureScores, rows: int = 20) -> list[str]:
    """The parameters a plot shows (at most `rows`): every outcome's leader, the leaders for
    formation, then every outcome's second; in the order of their formation scores."""
    chosen: list[str] = []

    def add(names):
        for p in names:
            if p not in chosen and len(chosen) < rows:
                chosen.append(p)

    columns = list(fs.scores.columns)
    add(fs.ranked(o).index[0] for o in columns)
    if "formed" in columns:
        add(fs.ranked("formed").index[:8])
    add(fs.ranked(o).index[1] for o in columns if len(fs.scores) > 1)
    if "formed" in columns:
        add(fs.ranked("formed").index)
    key = fs.scores["formed"] if "formed" in columns else fs.scores.max(axis=1)
    return sorted(chosen, key=lambda p: (-key[p], p))


def plot(fs: FeatureScores, scenario: str):
    """A heat map: the leading parameters (rows) by outcome (columns); each cell the
    parameter's score as a share of the outcome's total, coloured relative to the largest in
    its column."""
    from . import plots

    @plots.styled
    def draw():
        if fs.scores.empty:
            fig, ax = plots.figure(8, 2.2)
            plots.empty(ax, plots.wrap(fs.reason or "nothing to score", 70))
            ax.set_title(plots.wrap(f"What the answer hinges on: {scenario}", 80))
            return fig
        shown = leading(fs)
        table = fs.scores.loc[shown]
        values = table.to_numpy(dtype=float)
        relative = values / np.where(values.max(axis=0) > 0, values.max(axis=0), 1)
        cols = list(table.columns)
        fig, ax = plots.figure(max(7.5, 0.62 * len(cols) + 5.5), 0.36 * len(shown) + 2.9)
        import matplotlib
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        out = values > np.array([fs.noise.get(c, np.inf) for c in cols])[None, :]
        cmap = matplotlib.colormaps["viridis"]
        rgba = cmap(relative)
        rgba[~out, :3] = rgba[~out, :3] * 0.25 + 0.75  # within noise: faded
        # one vector rectangle per cell (imshow resampled a picture of the cells at the
        # figure's size: a third of the figure's drawing time, and blurred in the SVG)
        rows, ncols = values.shape
        ax.pcolormesh(np.arange(ncols + 1) - 0.5, np.arange(rows + 1) - 0.5, rgba,
                      shading="flat", edgecolors="none", antialiased=False)
        ax.set_xlim(-0.5, ncols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)  # the first row at the top, as a table reads
        im = ScalarMappable(norm=Normalize(0, 1), cmap=cmap)
        ax.set_xticks(range(len(cols)), [outcome_label(c) for c in cols], rotation=40,
                      ha="right")
        ax.set_yticks(range(len(shown)), [fmt.clip(fmt.param(p), 48) for p in shown])
        for (i, j), v in np.ndenumerate(values):  # numbers only where they stand out
            if out[i, j]:
                ax.text(j, i, f"{v:.0%}" if v >= 0.095 else f"{v:.1%}", ha="center",
                        va="center", fontsize=7.5, fontweight="bold",
                        color="white" if relative[i, j] < 0.6 else "black")
        ax.spines[:].set_visible(False)
        fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02,
                     label="score relative to the largest in its column")
        k = len(fs.scores)
        used = f"{fmt.runs(fs.runs)}" + (f" (the first of {fs.total_runs:,})"
                                         if fs.runs < fs.total_runs else "")
        ax.set_title(plots.wrap(
            f"What the answer hinges on: {scenario} ({used}). Extra-trees feature scores of "
            f"{k} uncertain parameters (each column adds up to 100%; a parameter that "
            f"mattered no more than any other would score {fs.equal_share:.1%}). Numbers "
            f"and full colour: the scores that stand out from noise (above every one of "
            f"{PROBES} random columns scored alongside); faded: within it. Rows: the top "
            f"{len(shown)} parameters.", 95),
            fontsize=10.5)
        fig.tight_layout()
        return fig

    return draw()


__all__ = ["MAX_DEPTH", "MAX_RUNS", "MIN_CASES", "PROBES", "TREES", "TREES_FORMED",
           "FeatureScores", "leading", "of_folder", "outcome_label", "outcomes", "plot",
           "random_state", "score", "tidy"]
