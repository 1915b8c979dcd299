"""One self-contained HTML page per experiment or comparison: tables and plots, no server."""

from __future__ import annotations

import html
from pathlib import Path

from ..experiments import files
from ..vocabulary import COUNTRY_GROUP_LABELS, COUNTRY_GROUPS, MILESTONE_MEANINGS, REASON_LABELS

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:2px solid #0072B2;
padding-bottom:.2em}table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#f0f4f8}
td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.92em}
.key{font-size:1.25em;background:#f0f4f8;padding:.8em 1em;border-left:4px solid #0072B2}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}.yes{color:#D55E00;font-weight:bold}
code{background:#f4f4f4;padding:0 .2em}
"""


def esc(x) -> str:
    return html.escape(str(x))


def pct(p) -> str:
    return "" if p is None or p != p else f"{p:.1%}"


def table(header: list[str], rows: list[list], raw_cols=()) -> str:
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for r in rows:
        cells = [v if i in raw_cols else esc(v) for i, v in enumerate(r)]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "\n".join(out) + "</table>"


def svg(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.find("<svg")
    return f"<figure>{text[start:]}</figure>" if start >= 0 else ""


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n{body}\n"
            "</body></html>\n")


def ci(x: dict) -> str:
    return f"[{x['ci_low']:.1%}, {x['ci_high']:.1%}]"


def experiment_report(folder: Path, s: dict, meta: dict) -> Path:
    """Write `report.html` for one experiment from its summary, metadata and plots."""
    first = s["formation"][0]
    parts = [
        f"<h1>Scenario '{esc(s['scenario'])}'</h1>",
        f"<p class='note'>{esc(meta.get('description', ''))}</p>",
        f"<p class='key'>In <b>{pct(first['probability'])}</b> of {s['runs']:,} runs a force "
        f"of the target size formed by the deadline ({esc(s['deadline'])}); 95% interval "
        f"{ci(first)}.</p>",
        "<p class='note'>Each run draws the scenario's uncertain parameters once and plays out "
        "the negotiation round by round. Percentages are shares of runs; the intervals show "
        "Monte Carlo noise only (more runs narrow them), not whether the assumptions are "
        "right. <code>python run.py trace --results FOLDER --run N</code> tells run N of these "
        "results (the <code>run</code> column of <code>runs.parquet</code>) round by round.</p>",
        "<h2>Will a force form, and when?</h2>",
        table(["", "probability", "95% interval", "runs"],
              [[f["label"], pct(f["probability"]), ci(f), f"{f['runs']:,}"]
               for f in s["formation"]]),
    ]
    q = s["formation_date_quantiles"]
    if q:
        parts.append(f"<p>When a force forms, it does so by {esc(q.get('10%'))} in 10% of "
                     f"those runs, by {esc(q.get('50%'))} in half, by {esc(q.get('90%'))} in "
                     "90%.</p>")
    parts.append(svg(folder / "formation_over_time.svg"))
    parts += ["<h2>Commitment, entry and full strength</h2>",
              "<p class='note'>Four dates of the force: "
              + "; ".join(f"<b>{esc(m['label'])}</b>: {esc(MILESTONE_MEANINGS[k])}"
                          for k, m in s["milestones"].items()) + ".</p>",
              table(["milestone", "by the deadline", "95% interval", "median date when reached",
                     *[f"by {d}" for d in (x["date"] for x in s["milestones"]["formed"]
                                           ["by_date"])]],
                    [[m["label"], pct(m["probability"]), ci(m),
                      m["quantiles"].get("50%", "") if m["quantiles"] else "",
                      *[pct(x["probability"]) for x in m["by_date"]]]
                     for m in s["milestones"].values()]),
              svg(folder / "milestones_over_time.svg")]
    parts += ["<h2>How the runs ended</h2>",
              "<p class='note'>A failed run is given the reason that kept the most troops "
              "out: the talks collapsed; the target exceeded what every invited state could "
              "send; Israel refused the mandate although enough troops were approved; or the "
              "status holding the most troops at the deadline (vetoed by Israel, blocked at "
              "home, declined over the mandate, conditions unmet, still awaiting approval, or "
              "not willing).</p>",
              table(["outcome", "share of runs", "95% interval"],
                    [[REASON_LABELS.get(r["reason"], r["reason"]), pct(r["probability"]),
                      ci(r)] for r in s["reasons"]]),
              svg(folder / "outcome_breakdown.svg")]
    cf = s["counterfactuals"]
    if cf["lifts"]:
        from .summary import lift_label

        parts += ["<h2>What would have formed the force</h2>",
                  f"<p class='note'>Each of the {cf['failed_runs']:,} failed runs"
                  + (f" among the first {cf['limit']:,}" if cf.get("limit") and
                     cf["limit"] < s["runs"] else "") + " (collapses "
                  "aside) was replayed with the same random draws and one blocker lifted at a "
                  "time: an Israeli veto of one state, one state's domestic politics, one "
                  "disputed task (off the table: neither proposed nor demanded), or a target "
                  "25% smaller. The share is of all failed runs.</p>",
                  table(["lift", "share of failed runs that form", "95% interval",
                         "runs in which it was tried"],
                        [[lift_label(x["lift"]), pct(x["probability"]), ci(x),
                          f"{x['tried']:,}"] for x in cf["lifts"]]),
                  svg(folder / "counterfactuals.svg")]
    parts += [
              "<h2>Who takes part</h2>",
              table(["country", *[COUNTRY_GROUP_LABELS[g] for g in COUNTRY_GROUPS]],
                    [[c["country"], *[f"{pct(c[g]['probability'])} {ci(c[g])}"
                                      for g in COUNTRY_GROUPS]] for c in s["countries"]]),
              "<p class='note'>Status at the end of each run. The columns do not add up to "
              "100%: a state may also be pledged and awaiting approval, invited but undecided, "
              "or not invited at all (see the plot).</p>",
              svg(folder / "country_status.svg")]
    if s["compositions"]:
        parts += ["<h2>Force composition and size</h2>",
                  table(["troop contributors", "share of runs", "95% interval"],
                        [[c["composition"].replace("+", ", "), pct(c["probability"]), ci(c)]
                         for c in s["compositions"]]),
                  svg(folder / "top_compositions.svg")]
        size_rows = [[t.replace("_", " "), *[f"{v.get(k, 0):,.0f}" for k in
                                             ("5%", "25%", "50%", "75%", "95%", "mean")]]
                     for t, v in s["force_size"].items() if v]
        parts += [table(["when formed", "5%", "25%", "median", "75%", "95%", "mean"],
                        size_rows),
                  "<p class='note'>Persons, except funding (USD million).</p>",
                  svg(folder / "force_size.svg")]
    parts += ["<h2>Final mandates</h2>",
              table(["mandate (tasks)", "share of runs", "share of formed forces"],
                    [[m["mandate"].replace("+", ", ") or "(no tasks)", pct(m["share_of_runs"]),
                      pct(m["share_of_forces"])] for m in s["mandates"]])]
    parts += _provenance(meta)
    path = folder / "report.html"
    files.write_text(path, page(f"ISF formation: {s['scenario']}", "\n".join(parts)))
    return path


def _provenance(meta: dict) -> list[str]:
    rows = [["scenario file", meta.get("scenario_file", "")],
            ["scenario SHA-256", meta.get("scenario_sha256", "")],
            ["runs", f"{meta.get('runs', 0):,}"], ["master seed", meta.get("seed", "")],
            ["overrides", "; ".join(meta.get("overrides", [])) or "none"],
            ["workers", meta.get("workers", "")], ["wall time", f"{meta.get('wall_s', 0):.1f} s"],
            ["git revision", meta.get("git_revision") or "unknown"],
            ["packages", ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())]]
    return ["<h2>Provenance</h2>", table(["", ""], rows),
            "<p class='note'>Files beside this page: runs.parquet (one row per run: seed, "
            "sampled parameters, outcome), summary.json and summary.csv, metadata.json, and "
            "each plot as PNG and SVG.</p>"]


__all__ = ["experiment_report", "page", "table", "svg", "esc", "pct", "ci"]
