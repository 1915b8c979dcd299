"""What a batch of runs says: probabilities with Wilson intervals, reasons, statuses, sizes.

Analysis reads the table of runs; it never re-runs the model.
"""

from __future__ import annotations

import math

import pandas as pd

from .model import FINAL_STATUSES, REASONS


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def _prob_row(label: str, k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"outcome": label, "runs": k, "probability": k / n if n else float("nan"),
            "ci_low": lo, "ci_high": hi}


def countries(runs: pd.DataFrame) -> list[str]:
    return [c[len("status."):] for c in runs.columns if c.startswith("status.")]


def formation(runs: pd.DataFrame, milestones=()) -> pd.DataFrame:
    """P(force forms) by the deadline and by each milestone date, with intervals."""
    n = len(runs)
    rows = [_prob_row("formed by the deadline", int(runs["formed"].sum()), n)]
    dates = pd.to_datetime(runs["date"])
    for m in milestones:
        k = int((runs["formed"] & (dates <= pd.Timestamp(m))).sum())
        rows.append(_prob_row(f"formed by {m}", k, n))
    return pd.DataFrame(rows)


def reasons(runs: pd.DataFrame) -> pd.DataFrame:
    n = len(runs)
    counts = runs["reason"].value_counts()
    return pd.DataFrame([_prob_row(r, int(counts.get(r, 0)), n) for r in REASONS
                         if counts.get(r, 0) > 0]).rename(columns={"outcome": "reason"})


def country_status(runs: pd.DataFrame) -> pd.DataFrame:
    """Per country, the share of runs ending in each final status."""
    n = len(runs)
    rows = []
    for c in countries(runs):
        counts = runs[f"status.{c}"].value_counts()
        row = {"country": c}
        for s in FINAL_STATUSES:
            row[s] = counts.get(s, 0) / n
        rows.append(row)
    df = pd.DataFrame(rows).set_index("country")
    return df.loc[:, (df > 0).any(axis=0)]


def country_probabilities(runs: pd.DataFrame) -> pd.DataFrame:
    """Per country: P(deployed), P(vetoed by Israel), P(blocked at home), P(declined), with CIs."""
    n = len(runs)
    groups = {"deployed": ("deployed",), "vetoed": ("vetoed",),
              "blocked_at_home": ("blocked_at_home",),
              "declined": ("declined_mandate", "unwilling")}
    rows = []
    for c in countries(runs):
        col = runs[f"status.{c}"]
        if (col == "influencer").all():
            continue
        row = {"country": c}
        for g, members in groups.items():
            k = int(col.isin(members).sum())
            lo, hi = wilson(k, n)
            row[g], row[f"{g}_ci"] = k / n, f"[{lo:.2f}, {hi:.2f}]"
        rows.append(row)
    return pd.DataFrame(rows).set_index("country")


def compositions(runs: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    formed = runs[runs["formed"]]
    counts = formed["composition"].value_counts().head(top)
    return pd.DataFrame({"composition": counts.index.str.replace("+", ", "),
                         "runs": counts.values, "share_of_all_runs": counts.values / len(runs)})


def force_size(runs: pd.DataFrame) -> pd.DataFrame:
    formed = runs[runs["formed"]]
    cols = ["force_troops", "force_police_trainers", "force_logistics", "force_funding"]
    if formed.empty:
        return pd.DataFrame(index=["5%", "50%", "95%"], columns=cols)
    q = formed[cols].quantile([0.05, 0.5, 0.95])
    q.index = ["5%", "50%", "95%"]
    return q


def formation_dates(runs: pd.DataFrame) -> pd.Series:
    d = pd.to_datetime(runs.loc[runs["formed"], "date"])
    if d.empty:
        return pd.Series(dtype="datetime64[ns]")
    return d.quantile([0.1, 0.5, 0.9]).dt.date.rename(lambda q: f"{int(q * 100)}%")


def render(runs: pd.DataFrame, name: str, milestones=()) -> str:
    """The key tables as plain text for the terminal."""
    n = len(runs)
    out = [f"Scenario '{name}': {n:,} runs", ""]
    f = formation(runs, milestones)
    out.append("Probability that the force forms (95% Wilson interval)")
    for _, r in f.iterrows():
        out.append(f"  {r['outcome']:<28} {r['probability']:6.1%}   "
                   f"[{r['ci_low']:.1%}, {r['ci_high']:.1%}]   ({r['runs']:,} runs)")
    dates = formation_dates(runs)
    if not dates.empty:
        out.append("  formation date, 10% / 50% / 90%: " + " / ".join(map(str, dates.values)))
    out += ["", "Outcome and failure reasons"]
    for _, r in reasons(runs).iterrows():
        out.append(f"  {r['reason']:<28} {r['probability']:6.1%}   "
                   f"[{r['ci_low']:.1%}, {r['ci_high']:.1%}]")
    out += ["", "Per country (share of runs)"]
    cp = country_probabilities(runs)
    out.append(f"  {'country':<12} {'deployed':>9} {'vetoed':>9} {'blocked':>9} {'declined':>9}")
    for c, r in cp.iterrows():
        out.append(f"  {c:<12} {r['deployed']:9.1%} {r['vetoed']:9.1%} "
                   f"{r['blocked_at_home']:9.1%} {r['declined']:9.1%}")
    comp = compositions(runs)
    if not comp.empty:
        out += ["", "Most frequent force compositions (troop and logistics contributors)"]
        for _, r in comp.iterrows():
            out.append(f"  {r['share_of_all_runs']:6.1%}  {r['composition']}")
        size = force_size(runs)
        out += ["", "Force size when formed: troops 5% / 50% / 95%: "
                + " / ".join(f"{v:,.0f}" for v in size["force_troops"].values)]
    return "\n".join(out)
