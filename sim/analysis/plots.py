"""Outcome plots, drawn from a saved summary (and the saved runs); never from the model.

Every function returns a matplotlib figure and writes nothing (`save` writes one as PNG, for
slides, and SVG, for the report, without timestamps, so that the files are reproducible).
Figures are made without pyplot and drawn in this module's own style (`styled`), so that
neither the backend nor the settings of a notebook that calls them change. Colours are the
Okabe-Ito palette, told apart in colour-blind vision. Every plot is titled with the scenario
and the number of runs, and its axes say their units.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import textwrap
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.figure import Figure

from ..experiments import files
from ..vocabulary import REASON_LABELS, STATUS_LABELS
from . import fmt

STYLE = {
    "svg.hashsalt": "isf-sim", "svg.fonttype": "none", "font.size": 10, "axes.titlesize": 11.5,
    "axes.titleweight": "bold", "figure.titlesize": 12.5, "figure.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100,
    "legend.frameon": False, "axes.titlelocation": "left",
    # each figure lays itself out (fixed margins or one `tight_layout`), whatever a user's
    # matplotlibrc asks for
    "figure.autolayout": False, "figure.constrained_layout.use": False,
}

#: black, orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple, grey
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000", "#999999"]
#: each final status: (colour, hatch). The eight colours are Okabe-Ito's; the three states
#: without a decision are greys; neighbours in the stacked bars differ in lightness, and the
#: two reds (vetoed, declined over the mandate) are kept apart and one is hatched.
STATUS_STYLE = {
    "deployed": ("#009E73", ""), "approved": ("#56B4E9", ""), "pledged": ("#F0E442", ""),
    "suspended": ("#CC79A7", "//"), "vetoed": ("#D55E00", ""), "blocked_at_home": ("#000000", ""),
    "declined_mandate": ("#E69F00", "\\\\"), "conditions_unmet": ("#0072B2", ""),
    "unwilling": ("#999999", ""), "invited": ("#CFCFCF", ""), "not_invited": ("#F4F4F4", ""),
}
STATUS_COLOURS = {s: c for s, (c, _) in STATUS_STYLE.items()}
FORMED_COLOUR, FAILED_COLOUR = "#009E73", "#D55E00"


class Plot(Figure):
    """A figure that shows itself in a notebook (as PNG) without pyplot."""

    def _repr_png_(self):
        buf = io.BytesIO()
        with matplotlib.rc_context(STYLE):
            self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()


def styled(draw):
    """Draw in this module's style, whatever the caller's matplotlib settings."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)
    return wrapper


def figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kw):
    """(figure, axes) without pyplot."""
    fig = Plot(figsize=(width, height))
    return fig, fig.subplots(nrows, ncols, **kw)


def grid_margins(fig, top: float = 0.9, bottom: float = 0.55, left: float = 0.8,
                 right: float = 0.2, hspace: float = 0.5, wspace: float = 0.3) -> None:
    """Fixed margins (in inches) for a grid of panels: much faster than `tight_layout`, which
    measures every label of every panel (seconds for a grid of 16)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h,
                        bottom=bottom / h, hspace=hspace, wspace=wspace)


def title(s: dict, what: str) -> str:
    """`what: scenario (n runs)`, wrapped if long."""
    return wrap(f"{what}: {s['scenario']} ({fmt.runs(s['runs'])})", 80)


def wrap(text: str, width: int = 90) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def percent_axis(axis, decimals: int = 0) -> None:
    axis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=decimals))


def thousands_axis(axis) -> None:
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: fmt.number(v)))


def empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=12)
    ax.set_axis_off()


def bar_ci(ax, labels, rows, colours, xmax: float = 1.0):
    """Horizontal bars of shares with their 95% intervals, each labelled with its share
    (`<0.5%` rather than `0%` for a share that rounds to zero)."""
    y = np.arange(len(labels))[::-1]
    p = np.array([r["probability"] for r in rows])
    err = np.array([[r["probability"] - r["ci_low"] for r in rows],
                    [r["ci_high"] - r["probability"] for r in rows]])
    ax.barh(y, p, color=colours, edgecolor="#333333", linewidth=0.5)
    ax.errorbar(p, y, xerr=err, fmt="none", ecolor="#000000", capsize=3, linewidth=1)
    ax.set_yticks(y, labels)
    ax.set_xlim(0, xmax)
    percent_axis(ax.xaxis)
    for yi, pi, hi in zip(y, p, err[1] + p, strict=True):
        ax.text(min(hi + 0.01 * xmax, 0.9 * xmax), yi, bar_label(pi), va="center",
                fontsize=9)


def bar_label(p: float) -> str:
    """A bar's share: whole percent from 10% up, one decimal below (`2.7%`); a share above 0
    that would round to zero is `<0.05%`, never `0%`."""
    return fmt.share(p, 0 if p >= 0.095 else 1)


@styled
def outcome_breakdown(s: dict):
    rows = s["reasons"]
    fig, ax = figure(8, 0.45 * len(rows) + 1.7)
    colours = [FORMED_COLOUR if r["reason"] == "formed" else FAILED_COLOUR for r in rows]
    bar_ci(ax, [REASON_LABELS.get(r["reason"], r["reason"]) for r in rows], rows, colours)
    ax.set_xlabel("share of runs (bars: 95% Wilson interval)")
    ax.set_title(title(s, "How the runs ended"))
    fig.tight_layout()
    return fig


@styled
def country_status(s: dict):
    """Each country's final status, stacked to 100% of the runs; the legend beside the bars,
    in the order of the stack."""
    countries = s["countries"]
    fig, ax = figure(10.5, 0.42 * max(4, len(countries)) + 1.8)
    y = np.arange(len(countries))[::-1]
    left = np.zeros(len(countries))
    for status, (colour, hatch) in STATUS_STYLE.items():
        shares = np.array([c["status_shares"].get(status, 0.0) for c in countries])
        if not shares.any():
            continue
        ax.barh(y, shares, left=left, color=colour, hatch=hatch, edgecolor="#555555",
                linewidth=0.4, label=STATUS_LABELS[status])
        left += shares
    ax.set_yticks(y, [c["country"] for c in countries])
    ax.set_xlim(0, 1)
    percent_axis(ax.xaxis)
    ax.set_xlabel("share of runs, by the country's status at the end of the run")
    ax.set_title(title(s, "Each country's final status"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, title="status",
              alignment="left")
    fig.tight_layout()
    return fig


@styled
def force_size(s: dict, troops: np.ndarray, target: np.ndarray | None = None):
    """Troops in the force when it formed: a histogram of the formed runs, with the median
    and the target (the median target of the runs, if it is uncertain) as labelled lines."""
    fig, ax = figure(8, 4.2)
    formed = len(troops)
    if formed == 0:
        empty(ax, "No force formed in any run")
    else:
        bins = np.histogram_bin_edges(troops, bins=min(30, max(5, len(np.unique(troops)))))
        weights = np.full(formed, 1.0 / s["runs"])
        ax.hist(troops, bins=bins, weights=weights, color="#56B4E9", edgecolor="white")
        med = float(np.median(troops))
        ax.axvline(med, color="#000000", linestyle="--", linewidth=1.4,
                   label=f"median {fmt.number(med)}")
        if target is not None and len(target):
            t = float(np.median(target))
            varies = float(np.ptp(target)) > 0
            ax.axvline(t, color=FAILED_COLOUR, linewidth=1.8,
                       label=(f"target: median {fmt.number(t)} (runs: "
                              f"{fmt.span(np.min(target), np.max(target))})" if varies
                              else f"target {fmt.number(t)}"))
        ax.set_xlabel("troops in the force when it formed (persons)")
        ax.set_ylabel("share of all runs")
        percent_axis(ax.yaxis, 1)
        thousands_axis(ax.xaxis)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    ax.set_title(title(s, f"Force size when a force forms ({fmt.runs(formed, 'force')})"))
    fig.tight_layout()
    return fig


def _curve_xy(s: dict, curve: list | None = None):
    start = dt.date.fromisoformat(s["start"])
    end = dt.date.fromisoformat(s["deadline"])
    from .summary import wilson

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


def deadline_line(ax, s: dict) -> None:
    d = dt.date.fromisoformat(s["deadline"])
    ax.axvline(d, color="#333333", linewidth=1)
    ax.text(d, 0.98, f"deadline {s['deadline']} ", fontsize=8, va="top", ha="right",
            color="#333333", transform=ax.get_xaxis_transform())


@styled
def formation_over_time(s: dict, ax=None, colour="#0072B2", label=None):
    """The probability that the force has formed, by date (band: 95% interval), with the
    milestone dates and the deadline. With `ax`, draws one curve into it (for comparisons)."""
    own = ax is None
    if own:
        fig, ax = figure(8.5, 4.4)
    xs, p, lo, hi = _curve_xy(s)
    ax.fill_between(xs, lo, hi, step="post", color=colour, alpha=0.2, linewidth=0)
    ax.step(xs, p, where="post", color=colour, linewidth=2, label=label)
    if not own:
        return None
    for m in s["formation"][1:]:
        d = dt.date.fromisoformat(m["date"])
        ax.axvline(d, color="#999999", linestyle=":", linewidth=1)
        ax.text(d, 0.9, f" {m['date']}: {fmt.share(m['probability'], 0)}", fontsize=8,
                va="top", color="#555555", transform=ax.get_xaxis_transform())
    deadline_line(ax, s)
    ax.set_title(title(s, "Probability the force has formed, by date"))
    time_axes(ax)
    fig.tight_layout()
    return fig


#: how each milestone is drawn over time
MILESTONE_STYLE = {"first_phase": ("#56B4E9", ":"), "formed": ("#0072B2", "-"),
                   "entry": ("#E69F00", "--"), "full_strength": ("#009E73", "-.")}


@styled
def milestones_over_time(s: dict):
    """The four milestones of the force over time: first phase approved, formed, first troops
    in Gaza, full strength (a curve is left out when it coincides with the formed curve)."""
    fig, ax = figure(9.5, 4.6)
    formed = s["milestones"]["formed"]["curve"]
    for name, m in s["milestones"].items():
        if name == "first_phase" and m["curve"] == formed:
            continue  # an unphased force: the first phase is the whole force
        colour, style = MILESTONE_STYLE[name]
        xs, p, lo, hi = _curve_xy(s, m["curve"])
        ax.fill_between(xs, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
        ax.step(xs, p, where="post", color=colour, linestyle=style, linewidth=2,
                label=f"{m['label']} ({fmt.share(m['probability'], 0)})")
    deadline_line(ax, s)
    ax.set_title(title(s, "Milestones of the force, by date"))
    time_axes(ax, "share of runs that reached it (band: 95% interval)")
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    return fig


@styled
def counterfactuals(s: dict):
    """For the failed runs: the share each single lifted blocker would have turned into a
    force, with its 95% interval."""
    from .summary import lift_label

    cf = s["counterfactuals"]
    rows = [x for x in cf["lifts"] if x["runs"] > 0][:10] or cf["lifts"][:10]
    fig, ax = figure(9, 0.45 * max(1, len(rows)) + 1.9)
    if not rows:
        empty(ax, "No failed run to replay")
    else:
        xmax = min(1, max(x["ci_high"] for x in rows) * 1.2 + 0.05)
        bar_ci(ax, [lift_label(x["lift"]) for x in rows], rows, ["#0072B2"] * len(rows),
               xmax)
        ax.set_xlabel(wrap(f"share of the {fmt.runs(cf['failed_runs'])} that failed which "
                           "the same run, with this one change, turns into a force (bars: "
                           "95% interval)", 80))
    ax.set_title(title(s, "What would have formed the force"))
    fig.tight_layout()
    return fig


def time_axes(ax, ylabel: str = "probability formed (band: 95% interval)"):
    ax.set_ylim(0, 1)
    percent_axis(ax.yaxis)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("date (end of round)")
    date_axis(ax)
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)


def date_axis(ax, interval: int = 2):
    ax.xaxis.set_major_locator(mdates.MonthLocator(interval=interval))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))


@styled
def top_compositions(s: dict):
    rows = s["compositions"][:8]
    # a state's name and "Other xN" are never cut across lines
    labels = [textwrap.fill(", ".join(part.replace(" ", "\u00a0") for part in
                                      fmt.composition(r["composition"]).split(", ")), 42)
              for r in rows]
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, ax = figure(9.5, 0.32 * max(2, lines) + 0.25 * len(rows) + 1.9)
    if not rows:
        empty(ax, "No force formed in any run")
    else:
        xmax = max(r["ci_high"] for r in rows) * 1.15 + 0.02
        bar_ci(ax, labels, rows, [FORMED_COLOUR] * len(rows), min(1.0, xmax))
        ax.set_xlabel(wrap("share of runs in which a force with exactly these troop and "
                           "logistics contributors formed (bars: 95% interval)", 70))
    ax.set_title(title(s, "Most frequent force compositions"))
    fig.tight_layout()
    return fig


#: zlib's level for the PNGs: 1 writes them in 15% less time than Pillow's default (6), for
#: files 12% larger (the nine plots of a 4,000-run report: 1.5 against 1.8 s, 979 against
#: 877 KB)
PNG_COMPRESSION = 1


def save(fig, folder: Path, name: str, dpi: int | None = None) -> list[Path]:
    """Write a figure as PNG and SVG (each whole or not at all) and release it. The PNG has
    150 dots per inch, or 100 for a figure wider than 12 inches (still 1,200 pixels or more
    across, and much faster to draw)."""
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    if dpi is None:
        dpi = 100 if fig.get_size_inches()[0] > 12 else 150
    try:
        with matplotlib.rc_context(STYLE):
            settled(fig)
            with files.writing(png) as tmp:
                fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None},
                            pil_kwargs={"compress_level": PNG_COMPRESSION})
            with files.writing(svg) as tmp:
                fig.savefig(tmp, format="svg", metadata={"Date": None, "Creator": None})
    finally:
        close(fig)
    return [png, svg]


def settled(fig) -> None:
    """Forget a figure's finished layout: `tight_layout` leaves a placeholder layout engine
    behind, and with any engine matplotlib draws the whole figure once more, without
    painting, before each file it saves (measuring every text again: the seven outcome plots
    of a 4,000-run report took 10-20% longer). The figure is laid out already, so the files
    are the same, byte for byte (tests/test_plots.py). A figure whose engine lays it out
    when drawn (constrained layout) keeps it."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        with matplotlib.rc_context(STYLE):  # None means "no engine" only with these settings
            fig.set_layout_engine(None)


def close(fig) -> None:
    """Release a figure: one made with pyplot is closed there; one made here without pyplot
    is released with the last reference to it (clearing it first cost 0.05-0.12 s a figure,
    a tenth of the drawing, for nothing)."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


PLOTS = ("outcome_breakdown", "country_status", "formation_over_time", "milestones_over_time",
         "counterfactuals", "force_size", "top_compositions")
#: each plot's cost, in seconds on the baseline's 300-run report (drawn and saved as PNG and
#: SVG), so that plots drawn side by side can start with the longest
COST = {"country_status": 0.8, "outcome_breakdown": 0.55, "milestones_over_time": 0.37,
        "force_size": 0.32, "formation_over_time": 0.28, "top_compositions": 0.28,
        "counterfactuals": 0.23}


def to_draw(s: dict) -> list[str]:
    """The outcome plots of a summary, the longest to draw first; those with nothing to show
    (no failed run replayed, no force formed) are left out, as the report leaves out their
    sections."""
    empty = set()
    if not s["counterfactuals"]["lifts"]:
        empty.add("counterfactuals")
    if not s["compositions"]:
        empty |= {"force_size", "top_compositions"}
    return sorted((n for n in PLOTS if n not in empty), key=lambda n: -COST[n])


def draw_one(name: str, s: dict, troops: np.ndarray | None = None,
             target: np.ndarray | None = None):
    """One outcome plot of a summary, by name (`force_size` needs the troops of the runs
    that formed a force, and every run's target)."""
    if name == "force_size":
        return force_size(s, troops, target)
    drawers = {"outcome_breakdown": outcome_breakdown, "country_status": country_status,
               "formation_over_time": formation_over_time,
               "milestones_over_time": milestones_over_time,
               "counterfactuals": counterfactuals, "top_compositions": top_compositions}
    if name not in drawers:
        raise ValueError(f"no outcome plot named {name!r}")
    return drawers[name](s)


def write_all(s: dict, troops: np.ndarray, folder: Path,
              target: np.ndarray | None = None) -> list[Path]:
    """Write every outcome plot of one experiment into `folder` (those of `to_draw`)."""
    out = []
    for name in to_draw(s):
        out += save(draw_one(name, s, troops, target), folder, name)
    return out
