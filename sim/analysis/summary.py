"""What a batch of runs says: probabilities with Wilson intervals, reasons, statuses, sizes.

`Accumulator` reads the table of runs in batches (so memory does not grow with the number of
runs) and produces a plain, JSON-ready summary; `summarise(runs)` does the same for a whole
table (a DataFrame or an Arrow table).
Analysis reads saved runs; it never re-runs the model.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..experiments.tables import from_numpy, to_numpy
from ..vocabulary import CONTRIBUTION_TYPES as FORCE_TYPES
from ..vocabulary import (
    COUNTRY_GROUP_LABELS,
    COUNTRY_GROUPS,
    COUNTS,
    MILESTONES,
    REASON_LABELS,
    REASONS,
)
from ..vocabulary import STATUSES as FINAL_STATUSES

if TYPE_CHECKING:
    import pandas as pd

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


def _arrow(runs):
    """An Arrow table (or record batch) of runs, from a DataFrame if need be."""
    if isinstance(runs, (pa.Table, pa.RecordBatch)):
        return runs
    return pa.Table.from_pandas(runs, preserve_index=False)


def _as(col, kind: pa.DataType):
    """A column of a table the summary is given (a user's DataFrame: float32, say) as `kind`."""
    return col if col.type == kind else pc.cast(col, kind)


def _bools(col) -> np.ndarray:
    """True/false values, a null false (as `bool(None)`)."""
    return to_numpy(_as(col, pa.bool_()), fill=False)


def _floats(col) -> np.ndarray:
    """Numbers as floats, a null NaN."""
    return to_numpy(_as(col, pa.float64()), fill=np.nan)


def _counts(col, nulls: bool = True) -> dict:
    """How often each value of a column occurs, as text (dates, codes decoded); nulls under
    None, or left out."""
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    vc = pc.value_counts(col)
    out = dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(),
                   strict=True))
    if not nulls:
        out.pop(None, None)
    return out


class Accumulator:
    """Adds up batches of the runs table into the summary."""

    COLUMNS = ("run", "formed", "reason", "composition", "mandate", "lifts_tried",
               "lifts_formed",
               *(f"{m}_date" for m, _ in MILESTONES), *COUNTS,
               *(f"force_{t}" for t in FORCE_TYPES))

    def __init__(self, counterfactual_runs: int | None = None):
        """`counterfactual_runs`: the runs (by index) that were replayed with blockers lifted;
        counterfactual shares are of the failed runs among them (None: every run)."""
        self.limit = counterfactual_runs
        self.n = 0
        self.formed = 0
        self.dates: dict[str, Counter] = {m: Counter() for m, _ in MILESTONES}
        self.reasons: Counter = Counter()
        self.status: dict[str, Counter] = {}
        self.compositions: Counter = Counter()
        self.mandates: Counter = Counter()
        self.mandates_formed: Counter = Counter()
        self.force: dict[str, list[np.ndarray]] = {t: [] for t in FORCE_TYPES}
        self.totals: Counter = Counter()
        self.lifts_tried: Counter = Counter()
        self.lifts_formed: Counter = Counter()
        self.failed = 0
        self.tried_runs = 0

    @staticmethod
    def columns(names) -> list[str]:
        """The columns of a runs table the summary needs."""
        return [c for c in names if c in Accumulator.COLUMNS or c.startswith("status.")]

    def add(self, runs) -> Accumulator:
        """Add a batch of runs: an Arrow table or record batch, or a DataFrame. The counting is
        done by Arrow in compiled code (no Python object per run: a tenth of the time of
        counting a DataFrame's values)."""
        t = _arrow(runs)
        names = set(t.schema.names)
        formed = _bools(t.column("formed"))
        n = len(formed)
        self.n += n
        self.formed += int(formed.sum())
        mask = from_numpy(formed, pa.bool_())
        for m, _ in MILESTONES:
            self.dates[m].update(_counts(t.column(f"{m}_date"), nulls=False))
        self.reasons.update(_counts(t.column("reason")))
        for col in t.schema.names:
            if col.startswith("status."):
                self.status.setdefault(col[7:], Counter()).update(_counts(t.column(col)))
        self.compositions.update(_counts(pc.filter(t.column("composition"), mask)))
        mandate = t.column("mandate")
        self.mandates.update(_counts(mandate))
        self.mandates_formed.update(_counts(pc.filter(mandate, mask)))
        for ft in FORCE_TYPES:
            self.force[ft].append(_floats(pc.filter(t.column(f"force_{ft}"), mask)))
        for k in COUNTS:
            if k in names:
                self.totals[k] += int(pc.sum(t.column(k)).as_py() or 0)
        eligible = ~formed
        if self.limit is not None and "run" in names:
            eligible &= to_numpy(_as(t.column("run"), pa.int64())) < self.limit
        self.failed += int(eligible.sum())
        if "lifts_tried" in names:
            tried = t.column("lifts_tried")
            # the runs replayed (few): a text that is not empty (a null is left out; no Python
            # scalar such as "", which would make pyarrow import pandas)
            some = pc.cast(pc.binary_length(tried), pa.bool_())
            for tr, works in zip(pc.filter(tried, some).to_pylist(),
                                 pc.filter(t.column("lifts_formed"), some).to_pylist(),
                                 strict=True):
                self.tried_runs += 1
                self.lifts_tried.update(tr.split("+"))
                if works:
                    self.lifts_formed.update(works.split("+"))
        return self

    def _curve(self, dates: Counter, n: int) -> list[dict]:
        curve, k = [], 0
        for d in sorted(dates):
            k += dates[d]
            curve.append({"date": d, **prob(k, n)})
        return curve

    def result(self, context: dict | None = None) -> dict:
        ctx = context or {}
        n = self.n
        milestones = [str(m) for m in ctx.get("milestones", [])]
        formation = [{"label": "formed by the deadline", "date": ctx.get("deadline"),
                      **prob(self.formed, n)}]
        for m in milestones:
            k = sum(c for d, c in self.dates["formed"].items() if d <= m)
            formation.append({"label": f"formed by {m}", "date": m, **prob(k, n)})
        by_milestone = {m: {"label": label, **prob(sum(self.dates[m].values()), n),
                            "curve": self._curve(self.dates[m], n),
                            "by_date": [{"date": d, **prob(sum(
                                c for x, c in self.dates[m].items() if x <= d), n)}
                                for d in milestones],
                            "quantiles": _date_quantiles(self.dates[m])}
                        for m, label in MILESTONES}
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
        lifts = [{"lift": lift, "tried": self.lifts_tried[lift],
                  **prob(self.lifts_formed.get(lift, 0), self.failed)}
                 for lift in sorted(self.lifts_tried, key=lambda x: (
                     -self.lifts_formed.get(x, 0), -self.lifts_tried[x], x))]
        return {
            "scenario": ctx.get("scenario"),
            "runs": n,
            "seed": ctx.get("seed"),
            "start": ctx.get("start"),
            "deadline": ctx.get("deadline"),
            "formation": formation,
            "formation_curve": by_milestone["formed"]["curve"],
            "formation_date_quantiles": by_milestone["formed"]["quantiles"],
            "milestones": by_milestone,
            "reasons": [{"reason": r, **prob(self.reasons[r], n)} for r in REASONS
                        if self.reasons.get(r)],
            "counterfactuals": {"failed_runs": self.failed, "replayed_runs": self.tried_runs,
                                "limit": self.limit,
                                "lifts": lifts},
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


def summarise(runs, scenario=None, seed: int | None = None,
              milestones=(), counterfactual_runs: int | None = None) -> dict:
    """The summary of a runs table (a DataFrame or an Arrow table), exactly as the command
    line computes it (`counterfactual_runs`: as the experiment's metadata says)."""
    ctx = context_of(scenario, seed) if scenario is not None else {"milestones": milestones}
    return Accumulator(counterfactual_runs).add(runs).result(ctx)


# --------------------------------------------------------------------------- table views


def countries_table(s: dict) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for c in s["countries"]:
        row = {"country": c["country"]}
        for g in COUNTRY_GROUPS:
            row[g] = c[g]["probability"]
            row[f"{g}_ci"] = f"[{c[g]['ci_low']:.2f}, {c[g]['ci_high']:.2f}]"
        rows.append(row)
    return pd.DataFrame(rows).set_index("country") if rows else pd.DataFrame()


def flat_rows(s: dict) -> list[dict]:
    """The summary as one long table (summary.csv): metric, value, its 95% interval and runs
    (numbers), and the date of the date quantiles."""
    rows = []

    def add(metric, x):
        rows.append({"metric": metric, "value": x["probability"], "ci_low": x["ci_low"],
                     "ci_high": x["ci_high"], "runs": x["runs"], "date": None})

    for f in s["formation"]:
        add(f["label"], f)
    for name, m in s["milestones"].items():
        if name != "formed":
            add(f"{name.replace('_', ' ')} by the deadline", m)
            for d in m["by_date"]:
                add(f"{name.replace('_', ' ')} by {d['date']}", d)
    for r in s["reasons"]:
        add(f"outcome: {r['reason']}", r)
    for lift in s["counterfactuals"]["lifts"]:
        add(f"failures formed with {lift['lift']} lifted", lift)
    for c in s["countries"]:
        for g in COUNTRY_GROUPS:
            add(f"{c['country']}: {g}", c[g])
    for comp in s["compositions"]:
        add(f"composition: {comp['composition'].replace('+', ', ')}", comp)
    for t, q in s["force_size"].items():
        for label, v in q.items():
            rows.append({"metric": f"force size when formed: {t} {label}", "value": v,
                         "ci_low": None, "ci_high": None, "runs": None, "date": None})
    for name, m in s["milestones"].items():
        for label, d in m["quantiles"].items():
            rows.append({"metric": f"{name.replace('_', ' ')} date {label}", "value": None,
                         "ci_low": None, "ci_high": None, "runs": None, "date": d})
    return rows


def _runs(k: int) -> str:
    return f"{k:,} run" + ("" if k == 1 else "s")


def _share(p: float) -> str:
    from .fmt import share

    return share(p)


def render(s: dict) -> str:
    """The key tables as plain text for the terminal."""
    out = [f"Scenario '{s['scenario']}': {_runs(s['runs'])}, deadline {s.get('deadline')}", ""]
    out.append("Probability that the force forms (approved troops reach the target under a "
               "mandate Israel accepts), 95% Wilson interval")
    for f in s["formation"]:
        label = f"formed by the deadline ({f['date']})" if \
            f["label"] == "formed by the deadline" and f["date"] else f["label"]
        out.append(f"  {label:<36} {f['probability']:6.1%}   "
                   f"[{f['ci_low']:.1%}, {f['ci_high']:.1%}]   ({_runs(f['runs'])})")
    q = s["formation_date_quantiles"]
    if q:
        out.append("  formation date, 10% / 50% / 90% of forces: " + " / ".join(q.values()))
    out += ["", f"Milestones by the deadline ({s.get('deadline')})"]
    for m in s["milestones"].values():
        when = f"   median date {m['quantiles']['50%']}" if m["quantiles"] else ""
        out.append(f"  {m['label']:<36} {m['probability']:6.1%}   [{m['ci_low']:.1%}, "
                   f"{m['ci_high']:.1%}]{when}")
    out += ["", "Outcome and failure reasons"]
    for r in s["reasons"]:
        out.append(f"  {REASON_LABELS.get(r['reason'], r['reason']):<44} "
                   f"{r['probability']:6.1%}   [{r['ci_low']:.1%}, {r['ci_high']:.1%}]")
    cf = s["counterfactuals"]
    if cf["lifts"]:
        among = f" among the first {cf['limit']:,}" if cf.get("limit") and \
            cf["limit"] < s["runs"] else ""
        out += ["", f"What would have formed the force: of {_runs(cf['failed_runs'])} that "
                f"failed{among}, the share a single lifted blocker turns into a force (same "
                "draws)"]
        for lift in cf["lifts"][:6]:
            out.append(f"  {lift_label(lift['lift']):<44} {lift['probability']:6.1%}   "
                       f"(tried in {_runs(lift['tried'])})")
    out += ["", "Per country (share of runs, status at the end; each row adds up to 100%)"]
    head = [COUNTRY_GROUP_LABELS[g].split(",")[0] for g in COUNTRY_GROUPS] + ["other"]
    out.append(f"  {'country':<12} " + " ".join(f"{h:>16}" for h in head))
    grouped = {st for members in COUNTRY_GROUPS.values() for st in members}
    for c in s["countries"]:
        other = sum(v for st, v in c["status_shares"].items() if st not in grouped)
        out.append(f"  {c['country']:<12} " + " ".join(f"{c[g]['probability']:16.1%}"
                                                      for g in COUNTRY_GROUPS)
                   + f" {other:16.1%}")
    out.append("  (declined: over the mandate, not willing, or conditions unmet; other: "
               "pledged and awaiting approval, undecided, or not invited)")
    if s["compositions"]:
        out += ["", "Most frequent force compositions (troop and logistics contributors)"]
        for comp in s["compositions"][:5]:
            out.append(f"  {_share(comp['probability']):>6}  "
                       f"{comp['composition'].replace('+', ', ')}")
    if s["force_size"].get("troops"):
        t = s["force_size"]["troops"]
        out += ["", f"Force size when formed: troops 5% / 50% / 95%: {t['5%']:,.0f} / "
                f"{t['50%']:,.0f} / {t['95%']:,.0f}"]
    return "\n".join(out)


def lift_label(lift: str) -> str:
    """A counterfactual lift in words: `veto:Pakistan` -> "no Israeli veto of Pakistan"."""
    kind, _, name = lift.partition(":")
    return {"veto": f"no Israeli veto of {name}", "domestic": f"no domestic block in {name}",
            "task": f"{name.replace('_', ' ')} off the table",
            "target": "a target 25% smaller"}.get(kind, lift)
