"""What a batch of runs says: probabilities with Wilson intervals, reasons, statuses, sizes.

`Accumulator` reads the table of runs in batches (so memory does not grow with the number of
runs) and produces a plain, JSON-ready summary; `summarise(runs)` does the same for a DataFrame.
Analysis reads saved runs; it never re-runs the model.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from ..vocabulary import CONTRIBUTION_TYPES as FORCE_TYPES
from ..vocabulary import COUNTRY_GROUPS, REASONS
from ..vocabulary import STATUSES as FINAL_STATUSES

Z95 = 1.959963984540054
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
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


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """p1 - p2 and its 95% interval (Newcombe 1998, method 10, from Wilson intervals)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), \
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def prob(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"runs": int(k), "probability": k / n if n else float("nan"),
            "ci_low": lo, "ci_high": hi}


class Accumulator:
    """Adds up batches of the runs table into the summary."""

    COLUMNS = ("formed", "reason", "date", "composition", "mandate", "vetoes", "withdrawals",
               "domestic_blocks", *(f"force_{t}" for t in FORCE_TYPES))

    def __init__(self):
        self.n = 0
        self.formed = 0
        self.dates: Counter = Counter()
        self.reasons: Counter = Counter()
        self.status: dict[str, Counter] = {}
        self.compositions: Counter = Counter()
        self.mandates: Counter = Counter()
        self.mandates_formed: Counter = Counter()
        self.force: dict[str, list[np.ndarray]] = {t: [] for t in FORCE_TYPES}
        self.totals: Counter = Counter()

    @staticmethod
    def columns(names) -> list[str]:
        """The columns of a runs table the summary needs."""
        return [c for c in names if c in Accumulator.COLUMNS or c.startswith("status.")]

    def add(self, df: pd.DataFrame) -> Accumulator:
        formed = df["formed"].to_numpy(dtype=bool)
        self.n += len(df)
        self.formed += int(formed.sum())
        self.dates.update(df.loc[formed, "date"].astype(str))
        self.reasons.update(df["reason"])
        for col in df.columns:
            if col.startswith("status."):
                self.status.setdefault(col[7:], Counter()).update(df[col])
        self.compositions.update(df.loc[formed, "composition"])
        self.mandates.update(df["mandate"])
        self.mandates_formed.update(df.loc[formed, "mandate"])
        for t in FORCE_TYPES:
            self.force[t].append(df.loc[formed, f"force_{t}"].to_numpy(dtype=float))
        for k in ("vetoes", "withdrawals", "domestic_blocks"):
            self.totals[k] += int(df[k].sum())
        return self

    def result(self, context: dict | None = None) -> dict:
        ctx = context or {}
        n = self.n
        milestones = [str(m) for m in ctx.get("milestones", [])]
        formation = [{"label": "formed by the deadline", "date": ctx.get("deadline"),
                      **prob(self.formed, n)}]
        for m in milestones:
            k = sum(c for d, c in self.dates.items() if d <= m)
            formation.append({"label": f"formed by {m}", "date": m, **prob(k, n)})
        curve, k = [], 0
        for d in sorted(self.dates):
            k += self.dates[d]
            curve.append({"date": d, **prob(k, n)})
        sizes = {t: np.concatenate(v) if v else np.array([]) for t, v in self.force.items()}
        force_size = {
            t: ({f"{int(q * 100)}%": float(np.quantile(v, q)) for q in QUANTILES}
                | {"mean": float(v.mean())}) if len(v) else {}
            for t, v in sizes.items()
        }
        countries = []
        for c, counts in self.status.items():
            if counts.get("influencer", 0) == n:
                continue
            row = {"country": c}
            for g, members in COUNTRY_GROUPS.items():
                row[g] = prob(sum(counts.get(s, 0) for s in members), n)
            row["status_shares"] = {s: counts.get(s, 0) / n for s in FINAL_STATUSES
                                    if counts.get(s, 0)}
            countries.append(row)
        return {
            "scenario": ctx.get("scenario"),
            "runs": n,
            "seed": ctx.get("seed"),
            "start": ctx.get("start"),
            "deadline": ctx.get("deadline"),
            "formation": formation,
            "formation_curve": curve,
            "formation_date_quantiles": _date_quantiles(self.dates),
            "reasons": [{"reason": r, **prob(self.reasons[r], n)} for r in REASONS
                        if self.reasons.get(r)],
            "countries": countries,
            "compositions": [{"composition": c, **prob(k, n)}
                             for c, k in _top(self.compositions, 10)],
            "mandates": [{"mandate": m, "share_of_runs": k / n,
                          "share_of_forces": self.mandates_formed.get(m, 0) / max(1, self.formed)}
                         for m, k in _top(self.mandates, 10)],
            "force_size": force_size,
            "means": {k: v / n for k, v in self.totals.items()} if n else {},
        }


def _top(counter: Counter, k: int):
    # most frequent first; ties in alphabetical order, so the result never depends on run order
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def _date_quantiles(dates: Counter) -> dict:
    total = sum(dates.values())
    if not total:
        return {}
    out, k, ordered = {}, 0, sorted(dates)
    targets = {"10%": 0.1, "50%": 0.5, "90%": 0.9}
    for d in ordered:
        k += dates[d]
        for label, q in targets.items():
            if label not in out and k >= q * total:
                out[label] = d
    return out


def context_of(loaded, seed: int | None = None) -> dict:
    """What the summary needs to know about the scenario."""
    import datetime as dt

    cal = loaded.scenario.calendar
    deadline = cal.start + dt.timedelta(days=cal.round_days * cal.rounds)
    return {"scenario": loaded.name, "seed": seed, "start": str(cal.start),
            "deadline": str(deadline), "milestones": [str(m) for m in cal.milestones]}


def summarise(runs: pd.DataFrame, scenario=None, seed: int | None = None,
              milestones=()) -> dict:
    """The summary of a runs table (a DataFrame), exactly as the command line computes it."""
    ctx = context_of(scenario, seed) if scenario is not None else {"milestones": milestones}
    return Accumulator().add(runs).result(ctx)


# --------------------------------------------------------------------------- table views


def countries_table(s: dict) -> pd.DataFrame:
    rows = []
    for c in s["countries"]:
        row = {"country": c["country"]}
        for g in COUNTRY_GROUPS:
            row[g] = c[g]["probability"]
            row[f"{g}_ci"] = f"[{c[g]['ci_low']:.2f}, {c[g]['ci_high']:.2f}]"
        rows.append(row)
    return pd.DataFrame(rows).set_index("country") if rows else pd.DataFrame()


def flat_rows(s: dict) -> list[dict]:
    """The summary as one long table (summary.csv): metric, value and interval."""
    rows = []
    for f in s["formation"]:
        rows.append({"metric": f["label"], "value": f["probability"], "ci_low": f["ci_low"],
                     "ci_high": f["ci_high"], "runs": f["runs"]})
    for r in s["reasons"]:
        rows.append({"metric": f"outcome: {r['reason']}", "value": r["probability"],
                     "ci_low": r["ci_low"], "ci_high": r["ci_high"], "runs": r["runs"]})
    for c in s["countries"]:
        for g in COUNTRY_GROUPS:
            x = c[g]
            rows.append({"metric": f"{c['country']}: {g}", "value": x["probability"],
                         "ci_low": x["ci_low"], "ci_high": x["ci_high"], "runs": x["runs"]})
    for comp in s["compositions"]:
        rows.append({"metric": f"composition: {comp['composition'].replace('+', ', ')}",
                     "value": comp["probability"], "ci_low": comp["ci_low"],
                     "ci_high": comp["ci_high"], "runs": comp["runs"]})
    for t, q in s["force_size"].items():
        for label, v in q.items():
            rows.append({"metric": f"force size when formed: {t} {label}", "value": v,
                         "ci_low": None, "ci_high": None, "runs": None})
    for label, d in s["formation_date_quantiles"].items():
        rows.append({"metric": f"formation date {label}", "value": d, "ci_low": None,
                     "ci_high": None, "runs": None})
    return rows


def render(s: dict) -> str:
    """The key tables as plain text for the terminal."""
    out = [f"Scenario '{s['scenario']}': {s['runs']:,} runs", ""]
    out.append("Probability that the force forms (95% Wilson interval)")
    for f in s["formation"]:
        out.append(f"  {f['label']:<28} {f['probability']:6.1%}   "
                   f"[{f['ci_low']:.1%}, {f['ci_high']:.1%}]   ({f['runs']:,} runs)")
    q = s["formation_date_quantiles"]
    if q:
        out.append("  formation date, 10% / 50% / 90%: " + " / ".join(q.values()))
    out += ["", "Outcome and failure reasons"]
    for r in s["reasons"]:
        out.append(f"  {r['reason']:<28} {r['probability']:6.1%}   "
                   f"[{r['ci_low']:.1%}, {r['ci_high']:.1%}]")
    out += ["", "Per country (share of runs)"]
    out.append(f"  {'country':<12} {'deployed':>9} {'vetoed':>9} {'blocked':>9} {'declined':>9}")
    for c in s["countries"]:
        out.append(f"  {c['country']:<12} {c['deployed']['probability']:9.1%} "
                   f"{c['vetoed']['probability']:9.1%} {c['blocked_at_home']['probability']:9.1%}"
                   f" {c['declined']['probability']:9.1%}")
    if s["compositions"]:
        out += ["", "Most frequent force compositions (troop and logistics contributors)"]
        for comp in s["compositions"][:5]:
            out.append(f"  {comp['probability']:6.1%}  {comp['composition'].replace('+', ', ')}")
    if s["force_size"].get("troops"):
        t = s["force_size"]["troops"]
        out += ["", f"Force size when formed: troops 5% / 50% / 95%: {t['5%']:,.0f} / "
                f"{t['50%']:,.0f} / {t['95%']:,.0f}"]
    return "\n".join(out)
