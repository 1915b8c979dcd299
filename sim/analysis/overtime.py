"""Outcomes over time across runs, from the round-by-round table (`rounds.parquet`): envelopes
(the median, the middle 50% and 90% of the runs, round by round, and a few runs drawn
thinly) of committed, approved and deployed troops, the convener's pressure, the mandate's
clarity and the convener's incentive; the share of runs in which Israel accepts the mandate on
the table; and each country's status group over time (as the EMA Workbench's `lines` and
`envelopes`).

A run that ended before the deadline (the talks collapsed, or the force is at full strength)
keeps its last values for the rounds after its end, so every round counts every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..vocabulary import COUNTRY_GROUPS
from . import fmt

#: the per-round quantities drawn as envelopes: column, label, unit
QUANTITIES = (
    ("committed_troops", "committed troops (pledged, approved or deployed)", "persons"),
    ("approved_troops", "approved troops (in the force)", "persons"),
    ("deployed_troops", "troops deployed in Gaza", "persons"),
    ("pressure", "convener's pressure on Israel", "0 to 1"),
    ("clarity", "mandate clarity", "0 to 1"),
    ("incentive", "convener's incentive to contributors", "utility, 0 to 1"),
)
TROOPS = ("committed_troops", "approved_troops", "deployed_troops")
#: per-round true/false columns drawn as the share of runs in which they hold
SHARES = (("mandate_accepted", "Israel accepts the mandate on the table", "share of runs"),)
#: quantiles of the envelopes: 90% band, 50% band, median
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: envelopes of very large experiments are computed from their first runs (a random sample:
#: run i's draws do not depend on the others), so that memory stays small
MAX_RUNS = 20_000
#: runs drawn thinly over the envelopes: runs 0 to SAMPLE - 1
SAMPLE = 20
#: a country's status at each round, in the groups of the per-country table
GROUPS = (*COUNTRY_GROUPS, "other")


@dataclass
class OverTime:
    """An experiment's rounds, summarised round by round."""

    scenario: str
    runs: int                      # runs summarised
    total_runs: int                # runs of the experiment
    rounds: np.ndarray             # round numbers 1..R
    dates: list[str]               # each round's end date
    envelope: pd.DataFrame         # quantity, round, date, runs, q5, q25, median, q75, q95, mean
    sample: dict[str, np.ndarray]  # quantity -> (SAMPLE, R) values of the first runs
    sample_formed: np.ndarray      # did each sampled run form a force?
    groups: pd.DataFrame           # country, round, date, then the share of runs per group
    target: np.ndarray = field(default_factory=lambda: np.array([]))  # each run's target
    deadline: str | None = None

    @property
    def capped(self) -> bool:
        return self.runs < self.total_runs

    def note(self) -> str:
        """Which runs the envelopes show."""
        if not self.capped:
            return f"all {fmt.runs(self.runs)}"
        return f"the first {fmt.runs(self.runs)} of {self.total_runs:,}"


def fill_forward(values: np.ndarray, run: np.ndarray, rnd: np.ndarray, n: int,
                 width: int) -> np.ndarray:
    """A (runs, rounds) matrix of one column: row i holds run i's values by round, and the
    rounds after a run ended repeat its last value (NaN before its first round)."""
    m = np.full((n, width), np.nan)
    m[run, rnd - 1] = values
    have = ~np.isnan(m)
    idx = np.where(have, np.arange(width), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out = m[np.arange(n)[:, None], idx]
    out[~np.maximum.accumulate(have, axis=1)] = np.nan
    return out


def envelope_rows(name: str, m: np.ndarray, rounds: np.ndarray, dates: list[str]) -> dict:
    """Quantiles over the runs (rows of `m`) of every round (columns): numpy's default
    (linear) quantiles of the runs that have begun."""
    with np.errstate(all="ignore"):
        present = (~np.isnan(m)).sum(axis=0)
        q = np.nanquantile(m, QUANTILES, axis=0) if m.size else np.empty((5, 0))
        mean = np.nanmean(m, axis=0) if m.size else np.empty(0)
    return {"quantity": [name] * len(rounds), "round": rounds, "date": dates,
            "runs": present, **{f"q{int(p * 100)}": q[i] for i, p in enumerate(QUANTILES)},
            "mean": mean}


def over_time(rounds: pd.DataFrame, formed: np.ndarray | None = None,
              target: np.ndarray | None = None, *, total_runs: int | None = None,
              scenario: str = "", deadline: str | None = None) -> OverTime:
    """Summarise a rounds table (one row per run and round; runs numbered 0..n-1 in the `run`
    column) round by round. `formed` and `target`: the runs table's columns, by run."""
    rounds = rounds.sort_values(["run", "round"], kind="stable")
    run = rounds["run"].to_numpy(dtype=np.int64)
    rnd = rounds["round"].to_numpy(dtype=np.int64)
    n = int(run.max()) + 1 if len(run) else 0
    width = int(rnd.max()) if len(rnd) else 0
    numbers = np.arange(1, width + 1)
    by_round = rounds.drop_duplicates("round").set_index("round")["date"].astype(str)
    dates = [by_round.get(r, "") for r in numbers]
    parts, sample = [], {}
    k = min(SAMPLE, n)
    for name, _, _ in QUANTITIES:
        m = fill_forward(rounds[name].to_numpy(dtype=float), run, rnd, n, width)
        parts.append(pd.DataFrame(envelope_rows(name, m, numbers, dates)))
        sample[name] = m[:k]
    for name, _, _ in SHARES:
        m = fill_forward(rounds[name].to_numpy(dtype=float), run, rnd, n, width)
        parts.append(pd.DataFrame(envelope_rows(name, m, numbers, dates)))
    envelope = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    groups = _status_groups(rounds, run, rnd, n, width, numbers, dates)
    return OverTime(scenario, n, total_runs or n, numbers, dates, envelope, sample,
                    np.asarray(formed[:k] if formed is not None else np.zeros(k), dtype=bool),
                    groups, np.asarray(target if target is not None else [], dtype=float),
                    deadline)


def _status_groups(rounds, run, rnd, n, width, numbers, dates) -> pd.DataFrame:
    """Per country and round: the share of runs whose country is in each group (in the force,
    vetoed by Israel, blocked at home, declined; `other`: pledged, undecided or not invited)."""
    code = {s: i for i, g in enumerate(COUNTRY_GROUPS) for s in COUNTRY_GROUPS[g]}
    other = len(COUNTRY_GROUPS)
    rows = []
    for col in [c for c in rounds.columns if c.startswith("status.")]:
        status = rounds[col].astype("category")  # the rounds table's columns already are
        words = [str(w) for w in status.cat.categories]
        codes = status.cat.codes.to_numpy()
        if len(status) == 0 or ("influencer" in words and
                                (codes == words.index("influencer")).all()):
            continue
        lookup = np.array([code.get(w, other) for w in words] + [other], dtype=float)
        g = lookup[codes]  # code -1 (missing) takes the last: other
        m = fill_forward(g, run, rnd, n, width)
        for j, r in enumerate(numbers):
            counts = np.bincount(m[:, j][~np.isnan(m[:, j])].astype(np.int64),
                                 minlength=len(GROUPS))
            rows.append({"country": col[len("status."):], "round": int(r), "date": dates[j],
                         **{grp: counts[i] / max(1, n) for i, grp in enumerate(GROUPS)}})
    return pd.DataFrame(rows, columns=["country", "round", "date", *GROUPS])


def of_folder(folder, meta: dict, scenario: str) -> OverTime | None:
    """The rounds of a results folder, summarised (None if it was run with --no-rounds)."""
    from ..experiments.store import read_first_runs

    if not meta.get("rounds"):
        return None
    total = int(meta.get("total_runs") or meta["runs"])
    cap = min(total, MAX_RUNS)
    names = ["run", "round", "date", *(q for q, _, _ in QUANTITIES), *(q for q, _, _ in SHARES)]
    first = cap if cap < total else None
    table = read_first_runs(folder / "rounds.parquet", lambda file_names: names + [
        c for c in file_names if c.startswith("status.")], first)
    runs = read_first_runs(folder / "runs.parquet", ["run", "formed", "target"],
                           first).to_pandas()
    runs = runs.sort_values("run")
    return over_time(table.to_pandas(), runs["formed"].to_numpy(), runs["target"].to_numpy(),
                     total_runs=total, scenario=scenario,
                     deadline=(meta.get("calendar") or {}).get("deadline"))


def of_experiment(experiment) -> OverTime | None:
    """The rounds of an experiment (a results folder or one held in memory), summarised."""
    meta = experiment.metadata
    if not meta.get("rounds") or meta.get("points"):
        return None
    if experiment.folder is not None:
        return of_folder(experiment.folder, meta, meta["scenario"])
    runs = experiment.table("runs", ["formed", "target"]).to_pandas()
    return over_time(experiment.rounds, runs["formed"].to_numpy(), runs["target"].to_numpy(),
                     scenario=meta["scenario"],
                     deadline=(meta.get("calendar") or {}).get("deadline"))


def tidy(ot: OverTime) -> pd.DataFrame:
    """The envelopes as one tidy table (over_time.csv), rounded for reading."""
    t = ot.envelope.copy()
    for c in ("q5", "q25", "q50", "q75", "q95", "mean"):
        t[c] = t[c].round(4)
    return t.rename(columns={"q50": "median"})


# --------------------------------------------------------------------------- plots


def _dates(ot: OverTime) -> np.ndarray:
    """The x positions of the rounds: their end dates as matplotlib date numbers."""
    import matplotlib.dates as mdates

    return np.array([mdates.datestr2num(d) if d else np.nan for d in ot.dates])


def _deadline(ax, ot: OverTime) -> None:
    import matplotlib.dates as mdates

    if ot.deadline:
        ax.axvline(mdates.datestr2num(ot.deadline), color="#333333", linewidth=0.9)


def _time_axis(ax, ot: OverTime, months: int = 3) -> None:
    """Month labels (`Mar 2026`) every `months` months, at fixed positions: a date locator
    would measure every panel again and again (seconds for a grid of panels)."""
    import datetime as dt

    import matplotlib.dates as mdates
    import matplotlib.ticker as mticker

    known = [dt.date.fromisoformat(d) for d in ot.dates if d]
    if not known:
        return
    first, last = known[0], dt.date.fromisoformat(ot.deadline) if ot.deadline else known[-1]
    ticks, y, m = [], first.year, first.month + 1
    while True:
        if m > 12:
            y, m = y + 1, m - 12
        day = dt.date(y, m, 1)
        if day > last:
            break
        ticks.append(day)
        m += months
    ax.xaxis.set_major_locator(mticker.FixedLocator([mdates.date2num(d) for d in ticks]))
    ax.xaxis.set_major_formatter(mticker.FixedFormatter([d.strftime("%b %Y") for d in ticks]))
    ax.xaxis.set_minor_locator(mticker.NullLocator())


def _quantity(ot: OverTime, name: str) -> pd.DataFrame:
    return ot.envelope[ot.envelope["quantity"] == name]


def envelopes(ot: OverTime):
    """One panel per quantity: the median (line), the middle 50% and 90% of the runs (bands)
    and the first runs drawn thinly (green: the run formed a force; grey: it did not)."""
    from . import plots

    @plots.styled
    def draw():
        fig, axes = plots.figure(15, 7.4, 2, 4)
        axes = list(axes.flat)
        xs = _dates(ot)
        troop_max = 0.0
        for ax, (name, label, unit) in zip(axes, QUANTITIES, strict=False):
            e = _quantity(ot, name)
            ax.fill_between(xs, e["q5"], e["q95"], color="#0072B2", alpha=0.15, linewidth=0)
            ax.fill_between(xs, e["q25"], e["q75"], color="#0072B2", alpha=0.35, linewidth=0)
            for row, formed in zip(ot.sample[name], ot.sample_formed, strict=True):
                ax.plot(xs, row, color=plots.FORMED_COLOUR if formed else "#777777",
                        linewidth=0.6, alpha=0.55)
            ax.plot(xs, e["q50"], color="#0072B2", linewidth=2.2)
            ax.set_title(plots.wrap(label, 34), fontsize=10.5)
            ax.set_ylabel(unit if name not in TROOPS else "troops (persons)")
            if name in TROOPS:
                troop_max = max(troop_max, float(np.nanmax(e["q95"])) if len(e) else 0.0,
                                float(np.nanmax(ot.sample[name])) if ot.sample[name].size
                                else 0.0)
                plots.thousands_axis(ax.yaxis)
            else:
                ax.set_ylim(0, 1.02)
        target = float(np.median(ot.target)) if len(ot.target) else None
        for ax, (name, _, _) in zip(axes, QUANTITIES, strict=False):
            if name in TROOPS:
                top = max(troop_max, target or 0.0) * 1.08 or 1.0
                ax.set_ylim(0, top)
                if target:
                    ax.axhline(target, color=plots.FAILED_COLOUR, linestyle="--", linewidth=1)
        ax = axes[len(QUANTITIES)]
        for name, label, unit in SHARES:
            e = _quantity(ot, name)
            ax.plot(xs, e["mean"], color="#E69F00", linewidth=2.2)
            ax.set_ylim(0, 1.02)
            plots.percent_axis(ax.yaxis)
            ax.set_title(plots.wrap(label, 34), fontsize=10.5)
            ax.set_ylabel(unit)
        for ax in axes[:len(QUANTITIES) + len(SHARES)]:
            _deadline(ax, ot)
            _time_axis(ax, ot)
            ax.grid(axis="y", color="#E5E5E5", linewidth=0.6)
            ax.tick_params(axis="x", labelsize=8.5)
        legend = axes[-1]
        legend.set_axis_off()
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = [Line2D([], [], color="#0072B2", linewidth=2.2, label="median of the runs"),
                   Patch(color="#0072B2", alpha=0.45, label="middle 50% of the runs"),
                   Patch(color="#0072B2", alpha=0.15, label="middle 90% of the runs"),
                   Line2D([], [], color=plots.FORMED_COLOUR, linewidth=0.8,
                          label="one run that formed a force"),
                   Line2D([], [], color="#777777", linewidth=0.8,
                          label="one run that did not"),
                   Line2D([], [], color="#E69F00", linewidth=2.2,
                          label="share of runs (mandate panel)"),
                   Line2D([], [], color="#333333", linewidth=0.9, label="deadline")]
        if target:
            handles.append(Line2D([], [], color=plots.FAILED_COLOUR, linestyle="--",
                                  label=f"target (median of the runs): {fmt.number(target)}"))
        legend.legend(handles=handles, loc="upper left", fontsize=9,
                      title=plots.wrap(f"Thin lines: runs 0 to {len(ot.sample_formed) - 1}. "
                                       "A run that ended early keeps its last values.", 38),
                      title_fontsize=8.5, alignment="left")
        fig.suptitle(plots.wrap(f"Over time across runs: {ot.scenario} ({ot.note()}), by "
                                "round (two weeks; dates are the round's end)", 130),
                     x=0.01, ha="left")
        plots.grid_margins(fig, top=1.0, bottom=0.5, left=0.85, right=0.15, hspace=0.5,
                           wspace=0.38)
        return fig

    return draw()


def countries_over_time(ot: OverTime):
    """Two heat maps, a row per country and a column per round: the share of runs in which
    the country is in the force, and the share in which Israel has vetoed it or it is blocked
    at home (the rest have declined, are still pledged or undecided, or were not invited)."""
    from . import plots

    @plots.styled
    def draw():
        g = ot.groups
        countries = list(dict.fromkeys(g["country"]))
        shown = [c for c in countries if (g.loc[g["country"] == c, "other"] < 1).any()]
        omitted = [c for c in countries if c not in shown]
        panels = (("in_force", "in the force", "Greens"),
                  ("blocked", "vetoed by Israel or blocked at home", "Oranges"))
        fig, axes = plots.figure(14, 0.32 * max(4, len(shown)) + 2.4, 1, 2)
        xs = _dates(ot)
        step = np.nanmedian(np.diff(xs)) if len(xs) > 1 else 14.0
        extent = (xs[0] - step, xs[-1], len(shown) - 0.5, -0.5) if len(xs) else None
        for ax, (key, label, cmap) in zip(axes, panels, strict=True):
            if not shown or not len(xs):
                plots.empty(ax, "No country is ever in the force, vetoed or blocked")
                continue
            grid = np.array([
                (g.loc[g["country"] == c, "in_force"] if key == "in_force" else
                 g.loc[g["country"] == c, "vetoed"] + g.loc[g["country"] == c,
                                                            "blocked_at_home"]).to_numpy()
                for c in shown])
            # the second panel's scale ends at its largest share (rounded up to 10%): vetoes
            # and blocks are rarer, and would not show on a scale to 100%
            top = 1.0 if key == "in_force" or not grid.size else \
                max(0.1, float(np.ceil(np.nanmax(grid) * 10) / 10))
            im = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=0, vmax=top, extent=extent,
                           interpolation="nearest")
            ax.set_yticks(range(len(shown)), shown)
            ax.set_title(f"share of runs in which the country is {label}", fontsize=10)
            _time_axis(ax, ot)
            _deadline(ax, ot)
            ax.spines[:].set_visible(False)
            fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02,
                         format=plots.mticker.PercentFormatter(1.0))
            ax.set_xlabel("date (end of round)")
        axes[1].tick_params(labelleft=False)
        note = (f" Not shown (pledged, undecided or not invited in every run and round): "
                f"{', '.join(omitted)}." if omitted else "")
        fig.suptitle(plots.wrap(f"Each country over time: {ot.scenario} ({ot.note()}).{note}",
                                140), x=0.01, ha="left")
        plots.grid_margins(fig, top=0.75, bottom=0.6, left=1.3, right=0.9, wspace=0.12)
        return fig

    return draw()


def compare_envelopes(items: list[tuple[str, OverTime | None]]):
    """The envelopes of several experiments overlaid, one colour each: the median (line) and
    the middle 50% of the runs (band). Experiments without a rounds table are named in the
    legend."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from . import plots

    @plots.styled
    def draw():
        fig, axes = plots.figure(15, 7.4, 2, 4)
        axes = list(axes.flat)
        handles = []
        top = [1.0]
        for i, (name, ot) in enumerate(items):
            colour = plots.OKABE_ITO[i % len(plots.OKABE_ITO)]
            if ot is None:
                handles.append(Patch(facecolor="white", edgecolor=colour,
                                     label=f"{fmt.clip(name, 40)}: no rounds table "
                                           "(run with --no-rounds)"))
                continue
            xs = _dates(ot)
            for ax, (q, _, _) in zip(axes, QUANTITIES, strict=False):
                e = _quantity(ot, q)
                ax.fill_between(xs, e["q25"], e["q75"], color=colour, alpha=0.2, linewidth=0)
                ax.plot(xs, e["q50"], color=colour, linewidth=2)
                for edge in ("q5", "q95"):
                    ax.plot(xs, e[edge], color=colour, linewidth=0.8, linestyle="--")
                if q in TROOPS and len(e):
                    top[0] = max(top[0], float(np.nanmax(e["q95"])))
            for ax, (q, _, _) in zip(axes[len(QUANTITIES):], SHARES, strict=False):
                e = _quantity(ot, q)
                ax.plot(xs, e["mean"], color=colour, linewidth=2)
            for ax in axes[:len(QUANTITIES) + len(SHARES)]:
                _deadline(ax, ot)
            handles.append(Line2D([], [], color=colour, linewidth=2,
                                  label=f"{fmt.clip(name, 40)} ({ot.note()})"))
        for ax, (q, label, unit) in zip(axes, [*QUANTITIES, *SHARES], strict=False):
            ax.set_title(plots.wrap(label, 34), fontsize=10.5)
            ax.set_ylabel("troops (persons)" if q in TROOPS else unit)
            if q in TROOPS:
                plots.thousands_axis(ax.yaxis)
                ax.set_ylim(0, top[0] * 1.08)
            else:
                ax.set_ylim(0, 1.02)
            if q == "mandate_accepted":
                plots.percent_axis(ax.yaxis)
            known = next((o for _, o in items if o is not None), None)
            if known is not None:
                _time_axis(ax, known)
            ax.grid(axis="y", color="#E5E5E5", linewidth=0.6)
            ax.tick_params(axis="x", labelsize=8.5)
        legend = axes[-1]
        legend.set_axis_off()
        legend.legend(handles=handles, loc="upper left", fontsize=9,
                      title=plots.wrap("Thick lines: median of the runs; bands: middle 50% "
                                       "of the runs; dashed: 5% and 95% of the runs (mandate "
                                       "panel: share of runs)", 38),
                      title_fontsize=8.5, alignment="left")
        fig.suptitle("Over time across runs, by scenario", x=0.01, ha="left")
        plots.grid_margins(fig, top=0.75, bottom=0.5, left=0.85, right=0.15, hspace=0.5,
                           wspace=0.38)
        return fig

    return draw()


__all__ = ["MAX_RUNS", "QUANTITIES", "SAMPLE", "SHARES", "OverTime", "compare_envelopes",
           "countries_over_time", "envelopes", "fill_forward", "of_experiment", "of_folder",
           "over_time", "tidy"]
