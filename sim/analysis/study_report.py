"""Writing parameter studies (sweeps, sensitivity analyses, scenario discovery) to folders:
a table (CSV), a JSON description, plots (PNG and SVG) and one HTML report (the template
`templates/study.html`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..experiments import Experiment, files, load_result
from . import fmt
from .studies import Study, analyse

_short = fmt.param


def _countries_moving(study: Study) -> list[str]:
    t = study.table
    return [c for c in study.info["contributors"] if t[f"p_in_force.{c}"].max() > 0]


def _countries_still(study: Study) -> list[str]:
    return [c for c in study.info["contributors"] if c not in _countries_moving(study)]


def _runs_note(study: Study) -> str:
    return f"{fmt.runs(study.info['runs'])} per point"


def sweep_plots(study: Study, scenario: str = "") -> dict:
    from . import plots

    t, params = study.table, study.info["parameters"]
    moving, still = _countries_moving(study), _countries_still(study)
    omitted = (f" Never in the force at any point (not drawn): {', '.join(still)}."
               if still else "")

    @plots.styled
    def one():
        p = params[0]
        outputs = ["formed", *[f"in_force.{c}" for c in moving]]
        cols = min(4, len(outputs))
        rows = -(-len(outputs) // cols)
        fig, axes = plots.figure(3.6 * cols + 0.6, 2.7 * rows + 1.5, rows, cols,
                                 squeeze=False)
        for ax, out in zip(axes.flat, outputs, strict=False):
            colour = "#0072B2" if out == "formed" else "#009E73"
            ax.fill_between(t[p], t[f"p_{out}_low"], t[f"p_{out}_high"], color=colour,
                            alpha=0.2, linewidth=0)
            ax.plot(t[p], t[f"p_{out}"], color=colour, marker="o", markersize=3.5,
                    linewidth=1.8)
            ax.set_title("the force forms" if out == "formed" else f"{out[9:]} in the force",
                         fontsize=10)
            ax.set_ylim(0, 1)
            ax.set_xlim(float(t[p].min()), float(t[p].max()))
            plots.percent_axis(ax.yaxis)
            ax.grid(color="#E5E5E5", linewidth=0.6)
        for k, ax in enumerate(axes.flat):
            if k >= len(outputs):
                ax.set_axis_off()
                continue
            if k % cols:
                ax.tick_params(labelleft=False)
            else:
                ax.set_ylabel("probability (band: 95%)")
            if k + cols < len(outputs):
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel(plots.wrap(_short(p), 40))
        fig.suptitle(plots.wrap(f"Sweep of {_short(p)}: {scenario} ({_runs_note(study)}, "
                                f"{len(t)} points).{omitted}", 120), x=0.01, ha="left")
        plots.grid_margins(fig, top=0.95, bottom=0.75, left=0.85, right=0.2, hspace=0.3,
                           wspace=0.08)
        return fig

    @plots.styled
    def two():
        outputs = ["formed", *[f"in_force.{c}" for c in moving]]
        cols = min(4, len(outputs))
        rows = -(-len(outputs) // cols)
        fig, axes = plots.figure(4.2 * cols + 1.6, 3.7 * rows + 1.6, rows, cols,
                                 squeeze=False)
        px, py = params
        xs, ys = sorted(t[px].unique()), sorted(t[py].unique())
        im = None
        for ax, out in zip(axes.flat, outputs, strict=False):
            grid = t.pivot(index=py, columns=px, values=f"p_{out}").loc[ys, xs].to_numpy()
            im = ax.imshow(grid, origin="lower", cmap="viridis", vmin=0, vmax=1, aspect="auto")
            step_x = max(1, len(xs) // 8)
            step_y = max(1, len(ys) // 8)
            ax.set_xticks(range(0, len(xs), step_x), [fmt.number(v) for v in xs[::step_x]],
                          rotation=45)
            ax.set_yticks(range(0, len(ys), step_y), [fmt.number(v) for v in ys[::step_y]])
            ax.set_title("P(the force forms)" if out == "formed" else
                         f"P({out[9:]} in the force)", fontsize=10)
            if grid.size <= 100:
                for (i, j), v in np.ndenumerate(grid):
                    ax.text(j, i, fmt.share(v, 0), ha="center", va="center", fontsize=7,
                            color="white" if v < 0.6 else "black")
        for k, ax in enumerate(axes.flat):
            if k >= len(outputs):
                ax.set_axis_off()
                continue
            if k % cols == 0:
                ax.set_ylabel(plots.wrap(_short(py), 40))
            if k + cols >= len(outputs):
                ax.set_xlabel(plots.wrap(_short(px), 40))
        fig.suptitle(plots.wrap(f"Sweep of {_short(px)} and {_short(py)}: {scenario} "
                                f"({_runs_note(study)}, {len(t)} points).{omitted}", 120),
                     x=0.01, ha="left")
        plots.grid_margins(fig, top=1.0, bottom=1.0, left=1.0, right=1.3, hspace=0.45,
                           wspace=0.3)
        if im is not None:
            w, h = fig.get_size_inches()
            cax = fig.add_axes((1 - 1.0 / w, 0.25, 0.18 / w, 0.5))
            fig.colorbar(im, cax=cax, format=plots.mticker.PercentFormatter(1.0),
                         label="probability")
        return fig

    return {"sweep": one() if len(params) == 1 else two()}


def sensitivity_plots(study: Study, scenario: str = "") -> dict:
    from . import plots

    t, key = study.table, study.info["index"]
    name = "mu*" if key == "mu_star" else "ST"
    info = study.info
    n = f"{info['points']:,} points x {fmt.runs(info['runs_per_point'])}"
    figs = {}

    @plots.styled
    def drivers():
        formed = t[t["output"] == "formed"].sort_values(key) if len(t) else t
        fig, ax = plots.figure(9.5, 0.45 * max(2, len(formed)) + 2.0)
        if formed.empty:
            plots.empty(ax, "The formation probability never changed")
        else:
            y = np.arange(len(formed))
            value = formed[key].to_numpy(dtype=float)
            conf = formed[f"{key}_conf"].to_numpy(dtype=float)
            # mu* and ST cannot be negative: the interval is clipped at 0
            lower = np.minimum(conf, np.clip(value, 0, None))
            ax.barh(y, value, color="#0072B2", label=name)
            ax.errorbar(value, y, xerr=[lower, conf], fmt="none", ecolor="#000000",
                        capsize=3, linewidth=1)
            if key == "ST":
                ax.scatter(formed["S1"], y, color="#E69F00", zorder=3,
                           label="S1 (first order)")
                ax.legend(loc="lower right")
            ax.set_yticks(y, [plots.wrap(_short(p), 45) for p in formed["parameter"]])
            ax.set_xlim(left=0)
            label = {"mu_star": "mu* (mean absolute elementary effect: change of the "
                                "probability for a step across the parameter's whole range; "
                                "bars: 95% interval, clipped at 0)",
                     "ST": "total-order Sobol index (0 to 1; bars: 95% interval, clipped at "
                           "0)"}[key]
            ax.set_xlabel(plots.wrap(label, 85))
        ax.set_title(plots.wrap(f"What drives whether a force forms: {scenario} ({n})", 80))
        fig.tight_layout()
        return fig

    figs["drivers_formation"] = drivers()

    @plots.styled
    def mu_sigma():
        formed = t[t["output"] == "formed"] if len(t) else t  # no output moved: no columns
        fig, ax = plots.figure(8.5, 6)
        if formed.empty:
            plots.empty(ax, "The formation probability never changed")
        else:
            ax.scatter(formed["mu_star"], formed["sigma"], color="#0072B2", zorder=3)
            top = max(float(formed["mu_star"].max()), float(formed["sigma"].max()), 1e-9)
            ax.plot([0, top * 1.05], [0, top * 1.05], color="#999999", linestyle="--",
                    linewidth=1, label="sigma = mu*")
            lead = formed.sort_values("mu_star", ascending=False).head(8)
            for _, r in lead.iterrows():
                ax.annotate(fmt.clip(_short(r["parameter"]), 40), (r["mu_star"], r["sigma"]),
                            xytext=(4, 3), textcoords="offset points", fontsize=8)
            ax.set_xlim(left=0)
            ax.set_ylim(bottom=0)
            ax.set_xlabel("mu* (importance: mean absolute elementary effect)")
            ax.set_ylabel("sigma (spread of the effects: interactions or non-linearity)")
            ax.legend(loc="upper left")
        ax.set_title(plots.wrap(f"Morris mu* against sigma, whether a force forms: "
                                f"{scenario} ({n})", 80))
        fig.tight_layout()
        return fig

    if key == "mu_star":
        figs["mu_sigma"] = mu_sigma()
    pivot = t.pivot(index="parameter", columns="output", values=key) if len(t) else None
    if pivot is not None and not pivot.empty:
        pivot = pivot.loc[:, [o for o in info["outputs"] if o in pivot.columns]]
        pivot = pivot.loc[pivot.max(axis=1).sort_values().index]
        norm = pivot / pivot.max(axis=0).replace(0, np.nan)
        still = [o[9:] for o in info["outputs"] if o not in pivot.columns]

        @plots.styled
        def heat():
            fig, ax = plots.figure(0.8 * len(pivot.columns) + 6, 0.45 * len(pivot) + 2.6)
            im = ax.imshow(norm.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1,
                           aspect="auto", origin="lower")
            ax.set_xticks(range(len(pivot.columns)),
                          ["force forms" if c == "formed" else f"{c[9:]} in the force"
                           for c in pivot.columns], rotation=40, ha="right")
            ax.set_yticks(range(len(pivot)), [plots.wrap(_short(p), 45) for p in pivot.index])
            for (i, j), v in np.ndenumerate(pivot.to_numpy(dtype=float)):
                if v == v:
                    ax.text(j, i, fmt.number(v, 2), ha="center", va="center", fontsize=7,
                            color="white" if norm.iloc[i, j] < 0.6 else "black")
            fig.colorbar(im, ax=ax, label=f"{name}, relative to the largest in the column")
            note = (f" Not shown (never changed): {', '.join(still)}." if still else "")
            ax.set_title(plots.wrap(f"Which parameters drive each outcome: {scenario} "
                                    f"({n}).{note}", 90))
            fig.tight_layout()
            return fig

        figs["drivers_by_outcome"] = heat()
    return figs


def discovery_plots(study: Study, scenario: str = "") -> dict:
    from . import plots

    info, t = study.info, study.table
    traj = info["trajectory"]
    n = fmt.runs(info["runs"])

    @plots.styled
    def trajectory():
        fig, ax = plots.figure(7.5, 5.2)
        cov = [r["coverage"] for r in traj]
        den = [r["density"] for r in traj]
        clean = [r["all_significant"] for r in traj]
        ax.plot(cov, den, color="#999999", linewidth=0.8, zorder=1)
        ax.scatter([c for c, k in zip(cov, clean, strict=True) if k],
                   [d for d, k in zip(den, clean, strict=True) if k], color="#009E73",
                   zorder=2, label="a box as peeled, every restriction significant")
        ax.scatter([c for c, k in zip(cov, clean, strict=True) if not k],
                   [d for d, k in zip(den, clean, strict=True) if not k],
                   facecolors="white", edgecolors="#777777", zorder=2,
                   label="a box as peeled, some restriction not significant")
        if "pruned_density" in traj[0]:
            kept = [r for r in traj if r["pruned_restricted"]]
            ax.scatter([r["pruned_coverage"] for r in kept],
                       [r["pruned_density"] for r in kept], marker="s", s=22,
                       color="#56B4E9", zorder=2,
                       label="a box with its non-significant restrictions dropped")
        i = info["box_index"]
        ax.scatter([info["coverage"]], [info["density"]], s=180, facecolors="none",
                   edgecolors="#D55E00", linewidths=2, zorder=3,
                   label=f"shown: box {i}" + (", pruned" if info.get("pruned") else "")
                   + (", with --drop" if info.get("dropped") else ""))
        for r in traj[::max(1, len(traj) // 8)]:
            ax.annotate(str(r["box"]), (r["coverage"], r["density"]), xytext=(3, 3),
                        textcoords="offset points", fontsize=7, color="#555555")
        ax.set_xlabel("coverage (share of the outcome's runs inside the box)")
        ax.set_ylabel("density (share of the box's runs with the outcome)")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        plots.percent_axis(ax.xaxis)
        plots.percent_axis(ax.yaxis)
        ax.legend(loc="lower left", fontsize=8)
        ax.set_title(plots.wrap(f"PRIM peeling trajectory: {scenario} ({n})", 70))
        fig.tight_layout()
        return fig

    restricted = t[t["restricted"]].sort_values("qp", ascending=False)

    @plots.styled
    def box():
        fig, ax = plots.figure(10.5, 0.6 * max(1, len(restricted)) + 2.0)
        if restricted.empty:
            plots.empty(ax, "No restriction: the box is the whole sampled space")
        for k, (_, r) in enumerate(restricted.iterrows()):
            span = r["full_max"] - r["full_min"] or 1
            lo, hi = (r["min"] - r["full_min"]) / span, (r["max"] - r["full_min"]) / span
            ax.barh(k, 1, color="#EEEEEE", edgecolor="#999999")
            ax.barh(k, hi - lo, left=lo, color="#009E73" if r["significant"] else "#BBBBBB")
            ax.text(1.01, k, f"{fmt.span(r['min'], r['max'])} (of "
                    f"{fmt.span(r['full_min'], r['full_max'])}); qp {r['qp']:.1g}",
                    va="center", fontsize=8)
        if len(restricted):
            ax.set_yticks(range(len(restricted)),
                          [plots.wrap(_short(p), 45) for p in restricted["parameter"]])
            ax.set_xlim(0, 1)
            ax.set_xlabel("position within the sampled range (green: the box, significant; "
                          "grey: not significant, qp >= 0.05)")
        ax.set_title(plots.wrap(f"Where the outcome concentrates (box {info['box_index']}): "
                                f"{scenario} ({n})", 80))
        fig.tight_layout()
        return fig

    figs = {"trajectory": trajectory(), "box": box()}
    if study.frame is not None and len(restricted):
        figs["pairs"] = pairs_plot(study, scenario)
    return figs


#: the pairs plot shows at most this many restricted parameters (the most significant)
PAIRS = 5
#: and at most this many runs (the first ones)
PAIRS_RUNS = 3000


def pairs_plot(study: Study, scenario: str = ""):
    """Pairs scatter plots of the box's restricted parameters (as PRIM's
    `show_pairs_scatter`): each run a dot (orange: the outcome holds; grey: it does not), the
    box's limits as a rectangle; on the diagonal, the parameter's distribution in both."""
    from . import plots

    t = study.table
    shown = list(t[t["restricted"]].sort_values("qp")["parameter"])[:PAIRS]
    frame = study.frame.iloc[:PAIRS_RUNS]
    y = frame["outcome"].to_numpy(dtype=bool)
    lim = t.set_index("parameter")

    @plots.styled
    def draw():
        k = len(shown)
        size = 2.6 * k + 1.2 if k > 1 else 5
        fig, axes = plots.figure(size, size, k, k, squeeze=False)
        for i, py in enumerate(shown):
            for j, px in enumerate(shown):
                ax = axes[i, j]
                if i == j:
                    bins = np.linspace(lim.loc[px, "full_min"], lim.loc[px, "full_max"], 21)
                    ax.hist(frame.loc[~y, px], bins=bins, color="#BBBBBB", density=True,
                            histtype="stepfilled")
                    ax.hist(frame.loc[y, px], bins=bins, color="#E69F00", density=True,
                            histtype="step", linewidth=1.8)
                    ax.axvspan(lim.loc[px, "min"], lim.loc[px, "max"], color="#009E73",
                               alpha=0.12)
                    ax.set_yticks([])
                elif i > j:
                    ax.scatter(frame.loc[~y, px], frame.loc[~y, py], s=3, color="#AAAAAA",
                               alpha=0.5, linewidths=0, rasterized=True)
                    ax.scatter(frame.loc[y, px], frame.loc[y, py], s=4, color="#E69F00",
                               alpha=0.8, linewidths=0, rasterized=True)
                    x0, x1 = lim.loc[px, "min"], lim.loc[px, "max"]
                    y0, y1 = lim.loc[py, "min"], lim.loc[py, "max"]
                    ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], color="#000000",
                            linewidth=1.3)
                else:
                    ax.set_axis_off()
                    continue
                if i == k - 1:
                    ax.set_xlabel(plots.wrap(_short(px), 28), fontsize=8.5)
                else:
                    ax.set_xticklabels([])
                if j == 0 and i > 0:
                    ax.set_ylabel(plots.wrap(_short(py), 28), fontsize=8.5)
                ax.tick_params(labelsize=7.5)
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker="o", linestyle="", color="#E69F00",
                          label="a run with the outcome"),
                   Line2D([], [], marker="o", linestyle="", color="#AAAAAA",
                          label="a run without it"),
                   Line2D([], [], color="#000000", label="the box")]
        fig.legend(handles=handles, loc="upper right", fontsize=9)
        more = len(t[t["restricted"]]) - len(shown)
        note = f" (the {k} most significant of {k + more})" if more else ""
        runs = f"the first {len(frame):,} runs" if len(frame) < len(study.frame) else \
            fmt.runs(len(frame))
        fig.suptitle(plots.wrap(f"The box's restricted parameters in pairs{note}: {scenario} "
                                f"({runs})", 90 if k > 2 else 60), x=0.01, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        return fig

    return draw()


def _table_csv(study: Study):
    """The study's table as written to its CSV: numbers rounded for reading."""
    t = study.table.copy()
    for c in t.columns:
        if t[c].dtype.kind == "f":
            t[c] = t[c].round(6 if c in study.info.get("parameters", []) else 4)
    return t


def _write_files(study: Study, folder: Path, scenario: str, overrides: list[str],
                 meta: dict) -> None:
    """The study's table (CSV), description (JSON), plots and report, each written whole."""
    from . import plots

    with files.writing(folder / f"{study.kind}.csv") as tmp:
        _table_csv(study).to_csv(tmp, index=False)
    files.write_json(folder / f"{study.kind}.json",
                     {"scenario": scenario, "overrides": overrides, **study.info, **meta})
    figs = {"sweep": sweep_plots, "sensitivity": sensitivity_plots,
            "discovery": discovery_plots}[study.kind](study, fmt.display_name(scenario))
    for name, fig in figs.items():
        plots.save(fig, folder, name)
    _report(folder, study, scenario, overrides, list(figs), meta)


def present_study(folder: str | Path, meta: dict | None = None) -> Study:
    """Analyse a sweep's or sensitivity analysis's saved runs and write the study's files into
    its results folder (beside runs.parquet); return the study."""
    experiment = load_result(folder) if meta is None else Experiment(meta, Path(folder), True)
    study = analyse(experiment)
    m = experiment.metadata
    _write_files(study, experiment.folder, m["scenario"], m.get("overrides", []),
                 {"seed": m["seed"], "results": str(experiment.folder)})
    return study


def write_discovery(study: Study, experiment: Experiment, out: str | Path) -> Path:
    """Write a discovery's folder `<out>/<scenario>/discovery-<hash>/` (derived from the
    experiment's saved runs, so an older copy is replaced) and return it."""
    m = experiment.metadata
    meta = {"seed": m["seed"], "results": str(experiment.folder)}
    key = json.dumps({"scenario": m["scenario_sha256"], "info": {
        k: v for k, v in study.info.items() if k != "trajectory"}, **meta},
        sort_keys=True, default=str)
    h = hashlib.sha256(key.encode()).hexdigest()[:10]
    final = files.check_root(out) / files.safe_name(m["scenario"]) / f"discovery-{h}"
    with files.derived_folder(final) as staging:
        _write_files(study, staging, m["scenario"], m.get("overrides", []), meta)
    return final


def _report(folder: Path, study: Study, scenario: str, overrides: list[str], figs: list[str],
            meta: dict) -> None:
    from . import html

    info, t = study.info, study.table
    context = {"title": f"ISF {study.kind}: {scenario}", "kind": study.kind,
               "scenario": scenario, "overrides": overrides, "info": info,
               "figures": [html.figure(folder / f"{f}.svg") for f in figs]}
    if study.kind == "sweep":
        params = info["parameters"]
        context["fixed"] = " and ".join(map(_short, params))
        context["header"] = [*map(_short, params), "P(the force forms)", "95% interval"]
        context["rows"] = [[*(fmt.number(r[p], 4) for p in params), fmt.share(r["p_formed"]),
                            fmt.interval(r["p_formed_low"], r["p_formed_high"])]
                           for _, r in t.iterrows()]
    elif study.kind == "sensitivity":
        key = info["index"]
        formed = t[t["output"] == "formed"] if len(t) else t
        context["index_name"] = "mu*" if key == "mu_star" else "the total-order index ST"
        context["header"] = ["rank", "parameter", "range", "mu*" if key == "mu_star" else "ST",
                             "95% interval", "S1" if key == "ST" else "sigma"]
        context["rows"] = [
            [r["rank"], _short(r["parameter"]),
             fmt.span(*info["bounds"][info["parameters"].index(r["parameter"])]),
             fmt.number(r[key], 3),
             f"{fmt.number(max(0.0, r[key] - r[f'{key}_conf']), 3)} to "
             f"{fmt.number(r[key] + r[f'{key}_conf'], 3)}",
             fmt.number(r["S1"] if key == "ST" else r["sigma"], 3)]
            for _, r in formed.iterrows()]
    else:
        restricted = t[t["restricted"]].sort_values("qp")
        context["header"] = ["parameter", "box: from", "to", "sampled from", "to", "quasi-p",
                             "significant"]
        context["rows"] = [[_short(r["parameter"]), fmt.number(r["min"], 4),
                            fmt.number(r["max"], 4), fmt.number(r["full_min"], 4),
                            fmt.number(r["full_max"], 4), f"{r['qp']:.2g}",
                            "yes" if r["significant"] else "no"]
                           for _, r in restricted.iterrows()]
        pruned = "pruned_density" in info["trajectory"][0]
        context["trajectory_header"] = [
            "box", "coverage", "density", "mass", "restrictions significant",
            *(["significant only: density", "coverage", "restrictions"] if pruned else []),
            ""]
        context["trajectory"] = [
            [q["box"], fmt.share(q["coverage"]), fmt.share(q["density"]), fmt.share(q["mass"]),
             f"{q['significant']} of {q['restricted']}",
             *([fmt.share(q["pruned_density"]), fmt.share(q["pruned_coverage"]),
                q["pruned_restricted"]] if pruned else []),
             "chosen" if q["box"] == info["box_index"] else ""]
            for q in info["trajectory"]]
    files.write_text(folder / "report.html", html.render("study.html", **context))
