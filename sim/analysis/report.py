"""One self-contained HTML page per experiment (`report.html`): tables and plots, no server.
The page is the template `templates/experiment.html`; this module gathers what it shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..experiments import files
from ..vocabulary import COUNTRY_GROUP_LABELS, COUNTRY_GROUPS, MILESTONE_MEANINGS, REASON_LABELS
from . import fmt, html

#: the plots of an experiment's page, by file name (without .svg)
FIGURES = ("formation_over_time", "over_time", "countries_over_time", "feature_scores",
           "milestones_over_time", "outcome_breakdown", "counterfactuals", "country_status",
           "top_compositions", "force_size")
#: the column of the per-country table that makes each row add up to 100%
OTHER = "pledged, undecided or not invited"


def other_share(c: dict) -> float:
    """The share of runs in which a country ended in no group of COUNTRY_GROUPS (pledged and
    awaiting approval, invited but undecided, or not invited)."""
    grouped = {s for members in COUNTRY_GROUPS.values() for s in members}
    return sum(v for s, v in c["status_shares"].items() if s not in grouped)


def cell(x: dict) -> str:
    return f"{fmt.share(x['probability'])} {fmt.interval(x['ci_low'], x['ci_high'])}"


def formation_label(f: dict, deadline: str) -> str:
    """`formed by the deadline (2026-12-20)` or `formed by 2026-06-30`."""
    return f"formed by the deadline ({deadline})" if f["label"] == "formed by the deadline" \
        else f["label"]


def drivers_context(fs, meta: dict, s: dict, top: int = 5, folder: Path | None = None) -> dict:
    """What the page says about the feature scores (`fs`: a FeatureScores, or None when they
    were not computed: `--no-feature-scores`, and `report` of `folder` adds them)."""
    from . import features

    if fs is None:
        import shlex

        return {"reason": "feature scores were not computed", "not_computed": True,
                "folder": shlex.quote(str(folder)), "max_runs": features.MAX_RUNS}
    if fs.reason:
        return {"reason": fs.reason, "not_computed": False}
    rng = meta.get("uncertain_parameters") or {}  # path -> "uniform(0.2, 0.4)"
    equal = fs.equal_share
    formed = [{"label": fmt.param(p), "path": p, "score": v, "times": v / equal,
               "range": rng.get(p), "out": v > fs.noise.get("formed", np.inf)}
              for p, v in fs.ranked("formed").head(top).items()]
    in_force = {c["country"]: c["in_force"]["probability"] for c in s["countries"]}
    countries = []
    for outcome in fs.scores.columns:
        if outcome == "formed":
            continue
        r = fs.ranked(outcome)
        name = outcome[len("in_force."):]
        noise = fs.noise.get(outcome, np.inf)

        def mark(i, r=r, noise=noise):
            return fmt.share(r.iloc[i]) + ("*" if r.iloc[i] > noise else "")

        countries.append([name, fmt.share(in_force.get(name, float("nan"))),
                          fmt.param(r.index[0]), mark(0),
                          fmt.param(r.index[1]) if len(r) > 1 else "",
                          mark(1) if len(r) > 1 else "",
                          f"{len(fs.standing_out(outcome)):,}"])
    runs_note = fmt.runs(fs.runs) if fs.runs == fs.total_runs else \
        f"the first {fmt.runs(fs.runs)} of {fs.total_runs:,}"
    return {"reason": None, "not_computed": False, "parameters": len(fs.scores),
            "trees": f"{features.TREES_FORMED} trees for formation, {features.TREES} per country, "
                     f"each at most {features.MAX_DEPTH} levels deep",
            "runs_note": runs_note, "equal_share": equal, "formed": formed,
            "probes": features.PROBES, "noise_formed": fs.noise.get("formed"),
            "standing_out_formed": len(fs.standing_out("formed")),
            "countries": countries,
            "skipped": [(features.outcome_label(k), v) for k, v in fs.skipped.items()]}


def experiment_report(folder: Path, s: dict, meta: dict, over_time=None,
                      feature_scores=None) -> Path:
    """Write `report.html` for one experiment from its summary, metadata and plots (and its
    curves over time and feature scores, if computed)."""
    deadline = s["deadline"]
    formation_rows = [[formation_label(f, deadline), fmt.share(f["probability"]),
                       fmt.interval(f["ci_low"], f["ci_high"]), f"{f['runs']:,}"]
                      for f in s["formation"]]
    dates = [x["date"] for x in s["milestones"]["formed"]["by_date"]]
    milestone_rows = [[m["label"], fmt.share(m["probability"]),
                       fmt.interval(m["ci_low"], m["ci_high"]),
                       m["quantiles"].get("50%", "") if m["quantiles"] else "",
                       *[fmt.share(x["probability"]) for x in m["by_date"]]]
                      for m in s["milestones"].values()]
    cf = s["counterfactuals"]
    from .summary import lift_label

    lift_rows = [[lift_label(x["lift"]), fmt.share(x["probability"]),
                  fmt.interval(x["ci_low"], x["ci_high"]), f"{x['tried']:,}"]
                 for x in cf["lifts"]]
    country_rows = [[c["country"], *[cell(c[g]) for g in COUNTRY_GROUPS],
                     fmt.share(other_share(c))] for c in s["countries"]]
    size_rows = [[t.replace("_", " "), *[fmt.number(v.get(k, 0)) for k in
                                         ("5%", "25%", "50%", "75%", "95%", "mean")]]
                 for t, v in s["force_size"].items() if v]
    context = {
        "title": f"ISF formation: {s['scenario']}", "s": s, "meta": meta,
        "figures": {name: html.figure(folder / f"{name}.svg") for name in FIGURES},
        "formation_rows": formation_rows,
        "over_time": None if over_time is None else {"note": over_time.note(),
                                                     "sample": len(over_time.sample_formed)},
        "drivers": drivers_context(feature_scores, meta, s, folder=folder),
        "milestone_meanings": [{"label": m["label"], "meaning": MILESTONE_MEANINGS[k]}
                               for k, m in s["milestones"].items()],
        "milestone_header": ["milestone", "by the deadline", "95% interval",
                             "median date when reached", *[f"by {d}" for d in dates]],
        "milestone_rows": milestone_rows,
        "reason_rows": [[REASON_LABELS.get(r["reason"], r["reason"]),
                         fmt.share(r["probability"]), fmt.interval(r["ci_low"], r["ci_high"])]
                        for r in s["reasons"]],
        "lift_rows": lift_rows,
        "lift_limit": cf["limit"] if cf.get("limit") and cf["limit"] < s["runs"] else None,
        "country_header": ["country", *[COUNTRY_GROUP_LABELS[g] for g in COUNTRY_GROUPS],
                           OTHER],
        "country_rows": country_rows,
        "composition_rows": [[fmt.composition(c["composition"]), fmt.share(c["probability"]),
                              fmt.interval(c["ci_low"], c["ci_high"])]
                             for c in s["compositions"]],
        "size_rows": size_rows,
        "mandate_rows": [[fmt.mandate(m["mandate"]), fmt.share(m["share_of_runs"]),
                          fmt.share(m["share_of_forces"])] for m in s["mandates"]],
        "provenance_rows": provenance_rows(meta),
    }
    path = folder / "report.html"
    files.write_text(path, html.render("experiment.html", **context))
    return path


def provenance_rows(meta: dict) -> list[list[str]]:
    return [["scenario file", meta.get("scenario_file", "")],
            ["scenario SHA-256", meta.get("scenario_sha256", "")],
            ["runs", f"{meta.get('runs', 0):,}"], ["master seed", meta.get("seed", "")],
            ["overrides", "; ".join(meta.get("overrides", [])) or "none"],
            ["round-by-round table", "kept (rounds.parquet)" if meta.get("rounds")
             else "not kept (--no-rounds)"],
            ["workers", meta.get("workers", "")],
            ["wall time", f"{meta.get('wall_s', 0):.1f} s"],
            ["git revision", meta.get("git_revision") or "unknown"],
            ["packages", ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())]]


__all__ = ["FIGURES", "experiment_report", "other_share", "provenance_rows"]
