"""Setting experiments side by side: which differences exceed Monte Carlo noise, and which do not.

Every scenario is compared with the first one named. A difference of two probabilities is
given in percentage points (pp) with a 95% interval (Newcombe's hybrid score method); it
"exceeds Monte Carlo noise" when that interval excludes zero. The interval treats the two
experiments as independent samples. Runs with the same master seed share their per-run seeds
(common random numbers), which makes the samples positively correlated, so the interval is
conservative.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..experiments import files
from ..experiments.store import Experiment
from ..vocabulary import COUNTRY_GROUP_LABELS, MILESTONES, REASON_LABELS, REASONS
from . import fmt
from .summary import newcombe

#: the columns of comparison.csv (one row per measure and scenario)
COLUMNS = ["measure", "section", "scenario", "reference", "runs", "successes", "probability",
           "ci_low", "ci_high", "difference_pp", "difference_ci_low_pp",
           "difference_ci_high_pp", "exceeds_noise"]
SECTIONS = {"headline": "Whether and when the force forms",
            "outcome": "How the runs ended", "country": "Who is in the force",
            "veto": "Who is vetoed by Israel"}
MILESTONE_LABELS = dict(MILESTONES)


def _formed_by(s: dict, date: str) -> int:
    k = 0
    for c in s["formation_curve"]:
        if c["date"] <= date:
            k = c["runs"]
    return k


def measures(s: dict, dates: list[str], countries: list[str]) -> list[tuple[str, str, int, int]]:
    """(measure, section, successes, runs) of every compared probability of one summary."""
    n = s["runs"]
    out = [("formed by the deadline", "headline", s["formation"][0]["runs"], n)]
    for d in dates:
        out.append((f"formed by {d}", "headline", _formed_by(s, d), n))
    for name in ("entry", "full_strength"):
        m = s["milestones"].get(name)
        out.append((f"{MILESTONE_LABELS[name]} by the deadline", "headline",
                    m["runs"] if m else 0, n))
    reasons = {r["reason"]: r["runs"] for r in s["reasons"]}
    for r in REASONS[1:]:
        out.append((f"fails: {REASON_LABELS[r]}", "outcome", reasons.get(r, 0), n))
    by_country = {c["country"]: c for c in s["countries"]}
    for c in countries:
        row = by_country.get(c)
        out.append((f"{c} {COUNTRY_GROUP_LABELS['in_force']}", "country",
                    row["in_force"]["runs"] if row else 0, n))
    for c in countries:
        row = by_country.get(c)
        out.append((f"{c} {COUNTRY_GROUP_LABELS['vetoed']}", "veto",
                    row["vetoed"]["runs"] if row else 0, n))
    return out


def _countries(results: list[Experiment]) -> list[str]:
    countries: list[str] = []
    for r in results:
        countries += [c["country"] for c in r.summary["countries"]
                      if c["country"] not in countries]
    return countries


def table(results: list[Experiment]) -> pd.DataFrame:
    """The comparison as one tidy table: one row per measure and scenario, numbers as numbers
    (shares rounded to 4 decimals, differences in percentage points to 2)."""
    from .summary import wilson

    first = results[0].summary
    dates = [f["date"] for f in first["formation"][1:]]
    countries = _countries(results)
    names = _names(results)
    per = [measures(r.summary, dates, countries) for r in results]
    rows = []
    for i, (measure, section, k0, n0) in enumerate(per[0]):
        for j, (name, m) in enumerate(zip(names, per, strict=True)):
            _, _, k, n = m[i]
            lo, hi = wilson(k, n)
            row = {"measure": measure, "section": section, "scenario": name,
                   "reference": names[0], "runs": n, "successes": k,
                   "probability": round(k / n, 4), "ci_low": round(lo, 4),
                   "ci_high": round(hi, 4), "difference_pp": np.nan,
                   "difference_ci_low_pp": np.nan, "difference_ci_high_pp": np.nan,
                   "exceeds_noise": pd.NA}
            if j:
                d, dlo, dhi = newcombe(k, n, k0, n0)
                row.update({"difference_pp": round(d * 100, 2),
                            "difference_ci_low_pp": round(dlo * 100, 2),
                            "difference_ci_high_pp": round(dhi * 100, 2),
                            "exceeds_noise": bool(dlo > 0 or dhi < 0)})
            rows.append(row)
    t = pd.DataFrame(rows, columns=COLUMNS)
    t["exceeds_noise"] = t["exceeds_noise"].astype("boolean")
    return t


def _names(results: list[Experiment]) -> list[str]:
    names, seen = [], {}
    for r in results:
        n = r.summary["scenario"]
        seen[n] = seen.get(n, 0) + 1
        names.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return names


def _colours(k: int) -> list[str]:
    from . import plots

    return [plots.OKABE_ITO[i % len(plots.OKABE_ITO)] for i in range(k)]


def forest_measures(t: pd.DataFrame) -> list[str]:
    """The measures of the forest plot, in order: the headline measures, the failure reasons
    and each country in the force (reasons and countries only where some scenario has any)."""
    out = []
    for measure, rows in t.groupby("measure", sort=False):
        section = rows["section"].iloc[0]
        if section == "veto":
            continue
        if section != "headline" and not (rows["successes"] > 0).any():
            continue
        out.append(measure)
    return out


def plot_forest(t: pd.DataFrame):
    """Each scenario's difference from the reference, in percentage points with its 95%
    interval, one row per measure; filled marks exceed Monte Carlo noise, hollow ones do
    not; the zero line is drawn."""
    from matplotlib.lines import Line2D

    from . import plots

    @plots.styled
    def draw():
        shown = forest_measures(t)
        others = [n for n in dict.fromkeys(t["scenario"]) if n != t["reference"].iloc[0]]
        k = len(others)
        fig, ax = plots.figure(10, 0.3 * len(shown) * max(1, 0.6 * k) + 2.4)
        y0 = np.arange(len(shown))[::-1].astype(float)
        step = 0.6 / max(1, k)
        colours = _colours(k + 1)[1:]
        for i, (name, colour) in enumerate(zip(others, colours, strict=True)):
            rows = t[t["scenario"] == name].set_index("measure").loc[shown]
            y = y0 + (k - 1) / 2 * step - i * step
            d = rows["difference_pp"].to_numpy(dtype=float)
            lo = rows["difference_ci_low_pp"].to_numpy(dtype=float)
            hi = rows["difference_ci_high_pp"].to_numpy(dtype=float)
            noise = rows["exceeds_noise"].fillna(False).to_numpy(dtype=bool)
            ax.hlines(y, lo, hi, color=colour, linewidth=np.where(noise, 2.2, 1.1))
            ax.scatter(d[noise], y[noise], color=colour, s=38, zorder=3)
            ax.scatter(d[~noise], y[~noise], facecolors="white", edgecolors=colour, s=30,
                       zorder=3, linewidths=1.2)
        ax.axvline(0, color="#000000", linewidth=1.2, zorder=1)
        sections = [t.set_index("measure").loc[m, "section"] for m in shown]
        sections = [s.iloc[0] if hasattr(s, "iloc") else s for s in sections]
        for j in range(1, len(shown)):
            if sections[j] != sections[j - 1]:
                ax.axhline(y0[j] + 0.5, color="#BBBBBB", linewidth=0.8, linestyle=":")
        ax.set_yticks(y0, shown)
        ax.set_ylim(-0.7, len(shown) - 0.3)
        lim = np.nanmax(np.abs(t[["difference_ci_low_pp", "difference_ci_high_pp"]]
                               .to_numpy(dtype=float))) if k else 1.0
        lim = max(1.0, float(lim) * 1.08) if np.isfinite(lim) else 1.0
        ax.set_xlim(-lim, lim)
        ax.xaxis.set_major_formatter(plots.mticker.FuncFormatter(
            lambda v, _: f"{v:+.0f} pp" if v else "0"))
        ax.set_xlabel(plots.wrap(f"difference from {t['reference'].iloc[0]} in percentage "
                                 "points (lines: 95% Newcombe interval)", 90))
        ax.grid(axis="x", color="#E5E5E5", linewidth=0.6)
        handles = [Line2D([], [], color=c, marker="o", linewidth=2, label=fmt.clip(n, 40))
                   for n, c in zip(others, colours, strict=True)]
        handles += [Line2D([], [], color="#555555", marker="o", linewidth=2.2,
                           label="filled: exceeds Monte Carlo noise"),
                    Line2D([], [], color="#555555", marker="o", markerfacecolor="white",
                           linewidth=1.1, label="hollow: within Monte Carlo noise")]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
        n = ", ".join(f"{fmt.clip(s, 30)}: {fmt.runs(int(r))}" for s, r in
                      t.drop_duplicates("scenario")[["scenario", "runs"]].itertuples(
                          index=False))
        fig.suptitle(plots.wrap(f"What changed, compared with {t['reference'].iloc[0]} "
                                f"({n})", 100), x=0.01, ha="left")
        fig.tight_layout()
        return fig

    return draw()


def plot_formation(results, names):
    from . import plots

    @plots.styled
    def draw():
        fig, ax = plots.figure(8, 0.6 * len(results) + 1.8)
        rows = [r.summary["formation"][0] for r in results]
        labels = [f"{fmt.clip(n, 40)} ({fmt.runs(r.summary['runs'])})"
                  for n, r in zip(names, results, strict=True)]
        plots.bar_ci(ax, labels, rows, _colours(len(results)))
        ax.set_xlabel("probability that the force forms by the deadline (bars: 95% interval)")
        ax.set_title("Formation probability by scenario")
        fig.tight_layout()
        return fig

    return draw()


def plot_countries(results, names):
    from . import plots

    @plots.styled
    def draw():
        countries = _countries(results)
        k = len(results)
        fig, ax = plots.figure(10, 0.32 * len(countries) * k + 2.2)
        height = 0.8 / k
        base = np.arange(len(countries))[::-1]
        zero = {"probability": 0.0, "ci_low": 0.0, "ci_high": 0.0}
        for i, (r, name, colour) in enumerate(zip(results, names, _colours(k), strict=True)):
            by = {c["country"]: c["in_force"] for c in r.summary["countries"]}
            vals = [by.get(c, zero) for c in countries]
            p = np.array([v["probability"] for v in vals])
            err = np.array([[v["probability"] - v["ci_low"] for v in vals],
                            [v["ci_high"] - v["probability"] for v in vals]])
            y = base + (k - 1 - i) * height - 0.4 + height / 2
            ax.barh(y, p, height=height, color=colour, edgecolor="#333333", linewidth=0.4,
                    label=f"{fmt.clip(name, 40)} ({fmt.runs(r.summary['runs'])})")
            ax.errorbar(p, y, xerr=err, fmt="none", ecolor="#000000", capsize=2,
                        linewidth=0.8)
        ax.set_yticks(base, countries)
        ax.set_xlim(0, 1)
        plots.percent_axis(ax.xaxis)
        ax.set_xlabel("probability the country is in the force at the end (bars: 95% "
                      "interval)")
        ax.set_title("In the force at the end: probability per country, by scenario")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
        fig.tight_layout()
        return fig

    return draw()


def plot_curves(results, names):
    from . import plots

    @plots.styled
    def draw():
        fig, ax = plots.figure(9.5, 4.6)
        for r, name, colour in zip(results, names, _colours(len(results)), strict=True):
            plots.formation_over_time(r.summary, ax=ax, colour=colour,
                                      label=f"{fmt.clip(name, 40)} "
                                            f"({fmt.runs(r.summary['runs'])})")
        deadlines = sorted({r.summary["deadline"] for r in results})
        for d in deadlines:
            plots.deadline_line(ax, {"deadline": d})
        plots.time_axes(ax)
        ax.set_title("Probability the force has formed, by date")
        ax.legend(loc="upper left", fontsize=9)
        fig.tight_layout()
        return fig

    return draw()


def plot_sizes(results, names):
    from . import plots
    from .present import formed_troops

    @plots.styled
    def draw():
        fig, ax = plots.figure(9, 0.7 * len(results) + 1.9)
        data = [formed_troops(r.runs_file) for r in results]
        positions = np.arange(len(results))[::-1]
        colours = _colours(len(results))
        shown = [(d, p, c) for d, p, c in zip(data, positions, colours, strict=True) if len(d)]
        if shown:
            bp = ax.boxplot([d for d, _, _ in shown], positions=[p for _, p, _ in shown],
                            orientation="horizontal", widths=0.5, patch_artist=True,
                            whis=(5, 95), showfliers=False)
            for patch, (_, _, colour) in zip(bp["boxes"], shown, strict=True):
                patch.set_facecolor(colour)
                patch.set_alpha(0.8)
        ax.set_yticks(positions, [f"{fmt.clip(n, 40)} ({fmt.runs(len(d), 'force')})"
                                  for n, d in zip(names, data, strict=True)])
        plots.thousands_axis(ax.xaxis)
        ax.set_xlabel("troops in the force when it formed (persons; box: quartiles; "
                      "whiskers: 5% to 95%)")
        ax.set_title("Force size when a force forms, by scenario")
        fig.tight_layout()
        return fig

    return draw()


def compare(results: list[Experiment], out: str | Path = "results") -> Path:
    """Write a comparison folder (plots, table, report) and return its path."""
    from . import overtime, plots

    names = _names(results)
    key = hashlib.sha256("|".join(str(r.folder.resolve()) for r in results).encode())
    root = files.check_root(out)
    final = root / "compare" / f"{files.safe_name('-vs-'.join(names))}-{key.hexdigest()[:8]}"
    # derived entirely from its (kept) results folders: an older copy is replaced
    with files.derived_folder(final) as staging:
        t = table(results)
        t.to_csv(staging / "comparison.csv", index=False)
        over = [(n, overtime.of_experiment(r)) for n, r in zip(names, results, strict=True)]
        figs = {"differences": plot_forest(t),
                "formation": plot_formation(results, names),
                "formation_over_time": plot_curves(results, names),
                "over_time": overtime.compare_envelopes(over),
                "countries": plot_countries(results, names),
                "force_size": plot_sizes(results, names)}
        for name, fig in figs.items():
            plots.save(fig, staging, name)
        files.write_json(staging / "comparison.json", {
            "scenarios": names, "folders": [str(r.folder) for r in results],
            "table": t.astype(object).where(t.notna(), None).to_dict(orient="records")})
        _report(staging, results, names, t, [n for n, o in over if o is None])
    return final


def headline(t: pd.DataFrame) -> pd.DataFrame:
    """The rows the console and the top of the report show: the headline measures, and every
    other measure where some difference exceeds Monte Carlo noise."""
    noisy = set(t.loc[t["exceeds_noise"].fillna(False).astype(bool), "measure"])
    keep = t["section"].eq("headline") | t["measure"].isin(noisy)
    return t[keep]


def _report(folder: Path, results, names, t: pd.DataFrame, no_rounds: list[str]) -> None:
    from . import html

    def cell(r):
        text = f"{fmt.share(r['probability'])} {fmt.interval(r['ci_low'], r['ci_high'])}"
        return text

    def diff(r):
        if pd.isna(r["difference_pp"]):
            return ""
        return (f"{r['difference_pp']:+.1f} pp [{r['difference_ci_low_pp']:+.1f}, "
                f"{r['difference_ci_high_pp']:+.1f}]")

    def rows_of(sub: pd.DataFrame):
        out = []
        for measure, g in sub.groupby("measure", sort=False):
            g = g.set_index("scenario")
            row = [{"text": measure}]
            row += [{"text": cell(g.loc[n])} for n in names]
            for n in names[1:]:
                r = g.loc[n]
                row.append({"text": diff(r), "noise": bool(r["exceeds_noise"])})
            out.append(row)
        return out

    header = ["measure", *names, *[f"{n} − {names[0]}" for n in names[1:]]]
    top = headline(t)
    context = {
        "title": "ISF comparison: " + " vs ".join(names), "names": names,
        "reference": names[0], "header": header, "top_rows": rows_of(top),
        "all_rows": rows_of(t), "hidden": t["measure"].nunique() - top["measure"].nunique(),
        "no_rounds": no_rounds,
        "figures": {name: html.figure(folder / f"{name}.svg") for name in (
            "differences", "formation", "formation_over_time", "over_time", "countries",
            "force_size")},
        "sources": [[n, f"{r.summary['runs']:,}", r.metadata.get("seed", ""),
                     r.summary["deadline"], str(r.folder)]
                    for n, r in zip(names, results, strict=True)],
        "sections": SECTIONS,
    }
    files.write_text(folder / "report.html", html.render("compare.html", **context))


__all__ = ["COLUMNS", "compare", "forest_measures", "headline", "measures", "plot_forest",
           "table"]
