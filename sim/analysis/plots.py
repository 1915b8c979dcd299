"""Outcome plots, drawn from a saved summary (and the saved runs); never from the model.

Colours are the Okabe-Ito palette, safe for colour-blind readers. Each plot is written as PNG
(for slides) and SVG (for the report), without timestamps so that the files are reproducible.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..experiments import files  # noqa: E402
from ..vocabulary import REASON_LABELS, STATUS_LABELS  # noqa: E402

plt.rcParams.update({
    "svg.hashsalt": "isf-sim", "font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100,
})

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000", "#999999"]
STATUS_COLOURS = {  # final status: colour (Okabe-Ito and Tol's muted palette, told apart in
    # colour-blind vision; neighbours in the stacked bars differ in lightness too)
    "deployed": "#009E73", "approved": "#56B4E9", "pledged": "#F0E442", "suspended": "#CC79A7",
    "vetoed": "#D55E00", "blocked_at_home": "#882255", "declined_mandate": "#E69F00",
    "conditions_unmet": "#0072B2", "unwilling": "#999999", "invited": "#DDDDDD",
    "not_invited": "#F7F7F7",
}
STATUS_STYLE = {s: (STATUS_LABELS[s], c) for s, c in STATUS_COLOURS.items()}


def bar_ci(ax, labels, rows, colours):
    y = np.arange(len(labels))[::-1]
    p = np.array([r["probability"] for r in rows])
    err = np.array([[r["probability"] - r["ci_low"] for r in rows],
                    [r["ci_high"] - r["probability"] for r in rows]])
    ax.barh(y, p, color=colours, edgecolor="#333333", linewidth=0.5)
    ax.errorbar(p, y, xerr=err, fmt="none", ecolor="#000000", capsize=3, linewidth=1)
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    for yi, pi, hi in zip(y, p, err[1] + p, strict=True):
        ax.text(min(hi + 0.01, 0.9), yi, f"{pi:.0%}", va="center", fontsize=9)


def outcome_breakdown(s: dict):
    rows = s["reasons"]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.6))
    colours = ["#009E73" if r["reason"] == "formed" else "#D55E00" for r in rows]
    bar_ci(ax, [REASON_LABELS.get(r["reason"], r["reason"]) for r in rows], rows, colours)
    ax.set_xlabel("share of runs (bars: 95% Wilson interval)")
    ax.set_title(f"How the runs ended: {s['scenario']} ({s['runs']:,} runs)")
    fig.tight_layout()
    return fig


def country_status(s: dict):
    countries = s["countries"]
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(countries) + 2.2))
    y = np.arange(len(countries))[::-1]
    left = np.zeros(len(countries))
    for status, (label, colour) in STATUS_STYLE.items():
        share = np.array([c["status_shares"].get(status, 0.0) for c in countries])
        if not share.any():
            continue
        ax.barh(y, share, left=left, color=colour, edgecolor="#555555", linewidth=0.4,
                label=label)
        left += share
    ax.set_yticks(y, [c["country"] for c in countries])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("share of runs")
    ax.set_title(f"Each country's final status: {s['scenario']}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16 - 0.3 / max(1, len(countries))),
              ncol=3, frameon=False, fontsize=8.5)
    fig.tight_layout()
    return fig


def force_size(s: dict, troops: np.ndarray):
    fig, ax = plt.subplots(figsize=(7.5, 4))
    if len(troops) == 0:
        ax.text(0.5, 0.5, "No force formed in any run", ha="center", va="center",
                transform=ax.transAxes, fontsize=12)
        ax.set_axis_off()
    else:
        bins = np.histogram_bin_edges(troops, bins=min(30, max(5, len(np.unique(troops)))))
        weights = np.full(len(troops), 1.0 / s["runs"])
        ax.hist(troops, bins=bins, weights=weights, color="#0072B2", edgecolor="white")
        med = float(np.median(troops))
        ax.axvline(med, color="#000000", linestyle="--", linewidth=1)
        ax.text(med, ax.get_ylim()[1] * 0.95, f"  median {med:,.0f}", va="top", fontsize=9)
        ax.set_xlabel("troops in the force when it formed (persons)")
        ax.set_ylabel("share of all runs")
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1))
    ax.set_title(f"Force size when a force forms: {s['scenario']}")
    fig.tight_layout()
    return fig


def _curve_xy(s: dict, curve: list | None = None):
    start = dt.date.fromisoformat(s["start"])
    end = dt.date.fromisoformat(s["deadline"])
    from .summary import wilson  # noqa: PLC0415

    xs, p, lo, hi = [start], [0.0], [0.0], [wilson(0, s["runs"])[1]]
    for c in s["formation_curve"] if curve is None else curve:
        xs.append(dt.date.fromisoformat(c["date"]))
        p.append(c["probability"])
        lo.append(c["ci_low"])
        hi.append(c["ci_high"])
    xs.append(end)
    p.append(p[-1])
    lo.append(lo[-1])
    hi.append(hi[-1])
    return xs, p, lo, hi


def formation_over_time(s: dict, ax=None, colour="#0072B2", label=None):
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(8, 4.2))
    xs, p, lo, hi = _curve_xy(s)
    ax.fill_between(xs, lo, hi, step="post", color=colour, alpha=0.2, linewidth=0)
    ax.step(xs, p, where="post", color=colour, linewidth=2, label=label)
    if own:
        for m in s["formation"][1:]:
            d = dt.date.fromisoformat(m["date"])
            ax.axvline(d, color="#999999", linestyle=":", linewidth=1)
            ax.text(d, 0.98, f" {m['date']}", fontsize=8, va="top", color="#555555")
        ax.set_title(f"Probability the force has formed, by date: {s['scenario']}")
        time_axes(ax)
        fig.tight_layout()
        return fig
    return None


#: how each milestone is drawn over time
MILESTONE_STYLE = {"first_phase": ("#56B4E9", ":"), "formed": ("#0072B2", "-"),
                   "entry": ("#E69F00", "--"), "full_strength": ("#009E73", "-.")}


def milestones_over_time(s: dict):
    """The four milestones of the force over time: first phase approved, formed, first troops
    in Gaza, full strength (a curve is left out when it coincides with the formed curve)."""
    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    formed = s["milestones"]["formed"]["curve"]
    for name, m in s["milestones"].items():
        if name == "first_phase" and m["curve"] == formed:
            continue  # an unphased force: the first phase is the whole force
        colour, style = MILESTONE_STYLE[name]
        xs, p, lo, hi = _curve_xy(s, m["curve"])
        ax.fill_between(xs, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
        ax.step(xs, p, where="post", color=colour, linestyle=style, linewidth=2,
                label=f"{m['label']} ({m['probability']:.0%})")
    deadline = dt.date.fromisoformat(s["deadline"])
    ax.axvline(deadline, color="#333333", linewidth=1)
    ax.text(deadline, 0.98, "deadline ", fontsize=8, va="top", ha="right", color="#333333")
    ax.set_title(f"Milestones of the force, by date: {s['scenario']} ({s['runs']:,} runs)")
    time_axes(ax)
    ax.set_ylabel("share of runs (band: 95% interval)")
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def counterfactuals(s: dict):
    """For the failed runs: the share each single lifted blocker would have turned into a
    force, with its 95% interval."""
    from .summary import lift_label  # noqa: PLC0415

    cf = s["counterfactuals"]
    rows = [x for x in cf["lifts"] if x["runs"] > 0][:10] or cf["lifts"][:10]
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * max(1, len(rows)) + 1.8))
    if not rows:
        ax.text(0.5, 0.5, "No failed run to replay", ha="center", va="center",
                transform=ax.transAxes, fontsize=12)
        ax.set_axis_off()
    else:
        bar_ci(ax, [lift_label(x["lift"]) for x in rows], rows, ["#0072B2"] * len(rows))
        ax.set_xlim(0, min(1, max(x["ci_high"] for x in rows) * 1.2 + 0.05))
        ax.set_xlabel(f"share of the {cf['failed_runs']:,} failed runs that the same run, with "
                      "this one change, turns into a force")
    ax.set_title(f"What would have formed the force: {s['scenario']}")
    fig.tight_layout()
    return fig


def time_axes(ax):
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel("probability formed (band: 95% interval)")
    ax.set_xlabel("date")
    ax.xaxis.set_major_locator(mdates.MonthLocator(interval=2))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)


def top_compositions(s: dict):
    rows = s["compositions"][:8]
    fig, ax = plt.subplots(figsize=(8.5, 0.5 * max(1, len(rows)) + 1.6))
    if not rows:
        ax.text(0.5, 0.5, "No force formed in any run", ha="center", va="center",
                transform=ax.transAxes, fontsize=12)
        ax.set_axis_off()
    else:
        labels = [r["composition"].replace("+", ", ") for r in rows]
        bar_ci(ax, labels, rows, ["#009E73"] * len(rows))
        ax.set_xlim(0, max(r["ci_high"] for r in rows) * 1.15 + 0.02)
        ax.set_xlabel("share of runs in which a force with exactly these troop contributors "
                      "formed")
    ax.set_title(f"Most frequent force compositions: {s['scenario']}")
    fig.tight_layout()
    return fig


def save(fig, folder: Path, name: str) -> list[Path]:
    """Write a figure as PNG and SVG (each whole or not at all) and close it."""
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    try:
        with files.writing(png) as tmp:
            fig.savefig(tmp, format="png", dpi=150, metadata={"Software": None})
        with files.writing(svg) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None, "Creator": None})
    finally:
        plt.close(fig)
    return [png, svg]


PLOTS = ("outcome_breakdown", "country_status", "formation_over_time", "milestones_over_time",
         "counterfactuals", "force_size", "top_compositions")


def write_all(s: dict, troops: np.ndarray, folder: Path) -> list[Path]:
    """Write every outcome plot of one experiment into `folder`."""
    figs = {
        "outcome_breakdown": outcome_breakdown(s),
        "country_status": country_status(s),
        "formation_over_time": formation_over_time(s),
        "milestones_over_time": milestones_over_time(s),
        "counterfactuals": counterfactuals(s),
        "force_size": force_size(s, troops),
        "top_compositions": top_compositions(s),
    }
    out = []
    for name in PLOTS:
        out += save(figs[name], folder, name)
    return out
