"""Setting experiments side by side: which differences are real and which are Monte Carlo noise.

Every scenario is compared with the first one named. A difference of two probabilities gets a
95% interval (Newcombe's hybrid score method); it "exceeds Monte Carlo noise" when that interval
excludes zero. The interval treats the two experiments as independent samples. Runs with the
same master seed share their per-run seeds (common random numbers), which makes the samples
positively correlated, so the interval is conservative.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..experiments import files
from ..experiments.store import Experiment
from ..vocabulary import REASON_LABELS, REASONS
from . import plots, report
from .present import formed_troops
from .summary import newcombe


def _formed_by(s: dict, date: str) -> int:
    k = 0
    for c in s["formation_curve"]:
        if c["date"] <= date:
            k = c["runs"]
    return k


def metrics(s: dict, dates: list[str], countries: list[str]) -> dict[str, tuple[int, int]]:
    """(successes, runs) of every compared probability."""
    n = s["runs"]
    out = {"P(formed by the deadline)": (s["formation"][0]["runs"], n)}
    for d in dates:
        out[f"P(formed by {d})"] = (_formed_by(s, d), n)
    reasons = {r["reason"]: r["runs"] for r in s["reasons"]}
    for r in REASONS[1:]:
        out[f"P(fails: {REASON_LABELS[r]})"] = (reasons.get(r, 0), n)
    by_country = {c["country"]: c for c in s["countries"]}
    for c in countries:
        row = by_country.get(c)
        out[f"P({c} in the force)"] = (row["in_force"]["runs"] if row else 0, n)
    for c in countries:
        row = by_country.get(c)
        out[f"P({c} vetoed by Israel)"] = (row["vetoed"]["runs"] if row else 0, n)
    return out


def table(results: list[Experiment]) -> pd.DataFrame:
    first = results[0].summary
    dates = [f["date"] for f in first["formation"][1:]]
    countries = []
    for r in results:
        countries += [c["country"] for c in r.summary["countries"]
                      if c["country"] not in countries]
    names = _names(results)
    per = [metrics(r.summary, dates, countries) for r in results]
    rows = []
    for metric in per[0]:
        row = {"metric": metric}
        k0, n0 = per[0][metric]
        for name, m in zip(names, per, strict=True):
            k, n = m[metric]
            row[name] = k / n
        for name, m in zip(names[1:], per[1:], strict=True):
            k, n = m[metric]
            d, lo, hi = newcombe(k, n, k0, n0)
            row[f"{name} - {names[0]}"] = d
            row[f"{name} 95% interval"] = f"[{lo:+.3f}, {hi:+.3f}]"
            row[f"{name} exceeds noise"] = "yes" if lo > 0 or hi < 0 else "no"
        rows.append(row)
    return pd.DataFrame(rows)


def _names(results: list[Experiment]) -> list[str]:
    names, seen = [], {}
    for r in results:
        n = r.summary["scenario"]
        seen[n] = seen.get(n, 0) + 1
        names.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return names


def _colours(k: int) -> list[str]:
    return [plots.OKABE_ITO[i % len(plots.OKABE_ITO)] for i in range(k)]


def plot_formation(results, names):
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(results) + 1.6))
    rows = [r.summary["formation"][0] for r in results]
    plots.bar_ci(ax, names, rows, _colours(len(results)))
    ax.set_xlabel("probability that the force forms by the deadline (bars: 95% interval)")
    ax.set_title("Formation probability by scenario")
    fig.tight_layout()
    return fig


def plot_countries(results, names):
    countries = []
    for r in results:
        countries += [c["country"] for c in r.summary["countries"]
                      if c["country"] not in countries]
    k = len(results)
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(countries) * k + 2))
    height = 0.8 / k
    base = np.arange(len(countries))[::-1]
    for i, (r, name, colour) in enumerate(zip(results, names, _colours(k), strict=True)):
        by = {c["country"]: c["in_force"] for c in r.summary["countries"]}
        zero = {"probability": 0.0, "ci_low": 0.0, "ci_high": 0.0}
        vals = [by.get(c, zero) for c in countries]
        p = np.array([v["probability"] for v in vals])
        err = np.array([[v["probability"] - v["ci_low"] for v in vals],
                        [v["ci_high"] - v["probability"] for v in vals]])
        y = base + (k - 1 - i) * height - 0.4 + height / 2
        ax.barh(y, p, height=height, color=colour, label=name, edgecolor="#333333",
                linewidth=0.4)
        ax.errorbar(p, y, xerr=err, fmt="none", ecolor="#000000", capsize=2, linewidth=0.8)
    ax.set_yticks(base, countries)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plots.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("probability the country is in the force at the end (bars: 95% interval)")
    ax.set_title("In the force at the end: probability per country, by scenario")
    ax.legend(loc="lower right", frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def plot_curves(results, names):
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for r, name, colour in zip(results, names, _colours(len(results)), strict=True):
        plots.formation_over_time(r.summary, ax=ax, colour=colour, label=name)
    plots.time_axes(ax)
    ax.set_title("Probability the force has formed, by date")
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def plot_sizes(results, names):
    fig, ax = plt.subplots(figsize=(8, 0.7 * len(results) + 1.8))
    data = [formed_troops(r.runs_file) for r in results]
    positions = np.arange(len(results))[::-1]
    shown = [(d, p) for d, p in zip(data, positions, strict=True) if len(d)]
    if shown:
        bp = ax.boxplot([d for d, _ in shown], positions=[p for _, p in shown],
                        orientation="horizontal",
                        widths=0.5, patch_artist=True, whis=(5, 95), showfliers=False)
        colours = [c for (d, _), c in zip(zip(data, positions, strict=True),
                                          _colours(len(results)), strict=True) if len(d)]
        for patch, colour in zip(bp["boxes"], colours, strict=True):
            patch.set_facecolor(colour)
            patch.set_alpha(0.8)
    ax.set_yticks(positions, [f"{n} ({len(d):,} forces)" for n, d in
                              zip(names, data, strict=True)])
    ax.set_xlabel("troops in the force when it formed (box: quartiles; whiskers: 5%-95%)")
    ax.set_title("Force size when a force forms, by scenario")
    fig.tight_layout()
    return fig


def compare(results: list[Experiment], out: str | Path = "results") -> Path:
    """Write a comparison folder (plots, table, report) and return its path."""
    names = _names(results)
    key = hashlib.sha256("|".join(str(r.folder.resolve()) for r in results).encode())
    root = files.check_root(out)
    final = root / "compare" / f"{files.safe_name('-vs-'.join(names))}-{key.hexdigest()[:8]}"
    # derived entirely from its (kept) results folders: an older copy is replaced
    with files.derived_folder(final) as staging:
        t = table(results)
        t.to_csv(staging / "comparison.csv", index=False)
        figs = {"formation": plot_formation(results, names),
                "countries": plot_countries(results, names),
                "formation_over_time": plot_curves(results, names),
                "force_size": plot_sizes(results, names)}
        for name, fig in figs.items():
            plots.save(fig, staging, name)
        files.write_json(staging / "comparison.json", {
            "scenarios": names, "folders": [str(r.folder) for r in results],
            "table": t.to_dict(orient="records")})
        _report(staging, results, names, t)
    return final


def _report(folder: Path, results, names, t: pd.DataFrame) -> None:
    ref = names[0]
    header = ["metric", *names]
    rows = []
    for _, r in t.iterrows():
        cells = [r["metric"], *[report.pct(r[n]) for n in names]]
        for n in names[1:]:
            real = r[f"{n} exceeds noise"] == "yes"
            mark = "<span class='yes'>yes</span>" if real else "no"
            cells[1 + names.index(n)] += (f"<br><small>{r[f'{n} - {ref}']:+.1%} "
                                          f"{report.esc(r[f'{n} 95% interval'])} real: "
                                          f"{mark}</small>")
        rows.append(cells)
    body = [
        f"<h1>Comparison: {' vs '.join(map(report.esc, names))}</h1>",
        f"<p class='key'>Each scenario is compared with <b>{report.esc(ref)}</b>. A difference "
        "is marked <span class='yes'>yes</span> when its 95% interval (Newcombe) excludes "
        "zero, that is, when it is larger than the Monte Carlo noise of the runs.</p>",
        report.table(header, rows, raw_cols=range(1, len(names) + 1)),
        report.svg(folder / "formation.svg"), report.svg(folder / "formation_over_time.svg"),
        report.svg(folder / "countries.svg"), report.svg(folder / "force_size.svg"),
        "<h2>Sources</h2>",
        report.table(["scenario", "runs", "seed", "results folder"],
                     [[n, f"{r.summary['runs']:,}", r.metadata.get("seed", ""), str(r.folder)]
                      for n, r in zip(names, results, strict=True)]),
    ]
    files.write_text(folder / "report.html", report.page("ISF comparison", "\n".join(body)))
