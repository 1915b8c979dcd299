"""Writing parameter studies (sweeps, sensitivity analyses, scenario discovery) to folders:
a table (CSV), a JSON description, plots (PNG and SVG) and one HTML report."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from ..experiments import Experiment, files, load_result
from . import plots, report
from .studies import Study, analyse

PCT = matplotlib.ticker.PercentFormatter(1.0)


def _short(path: str) -> str:
    """A readable label for a parameter path."""
    return path.replace("countries.", "").replace(".domestic.", " domestic ").replace(
        "convener.", "US ").replace("israel.threat.", "Israel's threat score of ").replace(
        "israel.", "Israel ").replace("environment.", "").replace("_", " ").replace(".", " ")


def _countries_moving(study: Study) -> list[str]:
    t = study.table
    return [c for c in study.info["contributors"] if t[f"p_in_force.{c}"].max() > 0]


def sweep_plots(study: Study) -> dict:
    t, params = study.table, study.info["parameters"]
    figs = {}
    if len(params) == 1:
        p = params[0]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
        a1.fill_between(t[p], t["p_formed_low"], t["p_formed_high"], color="#0072B2", alpha=0.2)
        a1.plot(t[p], t["p_formed"], color="#0072B2", marker="o", linewidth=2)
        a1.set_title("Probability the force forms")
        for i, c in enumerate(_countries_moving(study)):
            colour = plots.OKABE_ITO[i % len(plots.OKABE_ITO)]
            a2.fill_between(t[p], t[f"p_in_force.{c}_low"], t[f"p_in_force.{c}_high"],
                            color=colour, alpha=0.15)
            a2.plot(t[p], t[f"p_in_force.{c}"], color=colour, marker="o", label=c)
        a2.set_title("Probability each country is in the force")
        a2.legend(frameon=False, fontsize=8, ncol=2)
        for a in (a1, a2):
            a.set_xlabel(_short(p))
            a.set_ylim(0, 1)
            a.yaxis.set_major_formatter(PCT)
            a.set_ylabel("probability (band: 95% interval)")
            a.grid(color="#DDDDDD", linewidth=0.6)
        fig.suptitle(f"Sweep of {_short(p)} ({study.info['runs']:,} runs per point)")
        fig.tight_layout()
        figs["sweep"] = fig
    else:
        outputs = ["formed", *[f"in_force.{c}" for c in _countries_moving(study)][:5]]
        cols = min(3, len(outputs))
        rows = -(-len(outputs) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.4 * rows), squeeze=False)
        px, py = params
        xs, ys = sorted(t[px].unique()), sorted(t[py].unique())
        for ax, out in zip(axes.flat, outputs, strict=False):
            grid = t.pivot(index=py, columns=px, values=f"p_{out}").loc[ys, xs].to_numpy()
            im = ax.imshow(grid, origin="lower", cmap="viridis", vmin=0, vmax=1, aspect="auto")
            ax.set_xticks(range(len(xs)), [f"{v:.3g}" for v in xs], rotation=45)
            ax.set_yticks(range(len(ys)), [f"{v:.3g}" for v in ys])
            ax.set_xlabel(_short(px))
            ax.set_ylabel(_short(py))
            ax.set_title("P(force forms)" if out == "formed" else f"P({out[9:]} in the force)")
            if grid.size <= 100:
                for (i, j), v in np.ndenumerate(grid):
                    ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7,
                            color="white" if v < 0.6 else "black")
            fig.colorbar(im, ax=ax, format=PCT, fraction=0.046)
        for ax in list(axes.flat)[len(outputs):]:
            ax.set_axis_off()
        fig.suptitle(f"Sweep of {_short(px)} and {_short(py)} "
                     f"({study.info['runs']:,} runs per point)")
        fig.tight_layout()
        figs["sweep"] = fig
    return figs


def sensitivity_plots(study: Study) -> dict:
    t, key = study.table, study.info["index"]
    figs = {}
    formed = t[t["output"] == "formed"].sort_values(key)
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * max(2, len(formed)) + 1.8))
    if formed.empty:
        ax.text(0.5, 0.5, "The formation probability never changed", ha="center",
                transform=ax.transAxes)
        ax.set_axis_off()
    else:
        y = np.arange(len(formed))
        ax.barh(y, formed[key], xerr=formed[f"{key}_conf"], color="#0072B2", capsize=3,
                label=key)
        if key == "ST":
            ax.scatter(formed["S1"], y, color="#E69F00", zorder=3, label="S1 (first order)")
            ax.legend(frameon=False)
        ax.set_yticks(y, [_short(p) for p in formed["parameter"]])
        ax.set_xlabel({"mu_star": "mu* (mean absolute elementary effect on the probability; "
                                  "bars: 95% interval)",
                       "ST": "total-order Sobol index (bars: 95% interval)"}[key])
    ax.set_title("What drives whether a force forms")
    fig.tight_layout()
    figs["drivers_formation"] = fig
    pivot = t.pivot(index="parameter", columns="output", values=key)
    if not pivot.empty:
        pivot = pivot.loc[:, [o for o in study.info["outputs"] if o in pivot.columns]]
        pivot = pivot.loc[pivot.max(axis=1).sort_values().index]
        norm = pivot / pivot.max(axis=0).replace(0, np.nan)
        fig, ax = plt.subplots(figsize=(1.0 * len(pivot.columns) + 4,
                                        0.45 * len(pivot) + 2.2))
        im = ax.imshow(norm.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1,
                       aspect="auto", origin="lower")
        ax.set_xticks(range(len(pivot.columns)), ["force forms" if c == "formed" else
                                                  f"{c[9:]} in the force" for c in pivot.columns],
                      rotation=40, ha="right")
        ax.set_yticks(range(len(pivot)), [_short(p) for p in pivot.index])
        for (i, j), v in np.ndenumerate(pivot.to_numpy(dtype=float)):
            if v == v:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if norm.iloc[i, j] < 0.6 else "black")
        fig.colorbar(im, ax=ax, label=f"{key}, relative to the largest in the column")
        ax.set_title("Which parameters drive each outcome")
        fig.tight_layout()
        figs["drivers_by_outcome"] = fig
    return figs


def discovery_plots(study: Study) -> dict:
    info, t = study.info, study.table
    traj = info["trajectory"]
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    cov = [r["coverage"] for r in traj]
    den = [r["density"] for r in traj]
    sc = ax.scatter(cov, den, c=[r["res_dim"] for r in traj], cmap="viridis", zorder=2)
    ax.plot(cov, den, color="#999999", linewidth=0.8, zorder=1)
    i = info["box_index"]
    ax.scatter([cov[i]], [den[i]], s=160, facecolors="none", edgecolors="#D55E00",
               linewidths=2, zorder=3, label="chosen box")
    ax.set_xlabel("coverage (share of the outcome's runs inside the box)")
    ax.set_ylabel("density (share of the box's runs with the outcome)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    fig.colorbar(sc, ax=ax, label="parameters restricted")
    ax.legend(frameon=False, loc="lower left")
    ax.set_title("PRIM peeling trajectory: coverage against density")
    fig.tight_layout()
    figs = {"trajectory": fig}
    restricted = t[t["restricted"]].sort_values("qp", ascending=False)
    fig, ax = plt.subplots(figsize=(9, 0.6 * max(1, len(restricted)) + 1.8))
    for k, (_, r) in enumerate(restricted.iterrows()):
        span = r["full_max"] - r["full_min"] or 1
        lo, hi = (r["min"] - r["full_min"]) / span, (r["max"] - r["full_min"]) / span
        ax.barh(k, 1, color="#EEEEEE", edgecolor="#999999")
        ax.barh(k, hi - lo, left=lo, color="#009E73" if r["significant"] else "#BBBBBB")
        ax.text(1.01, k, f"{r['min']:.3g} to {r['max']:.3g} (of {r['full_min']:.3g} to "
                f"{r['full_max']:.3g})", va="center", fontsize=8)
    ax.set_yticks(range(len(restricted)), [_short(p) for p in restricted["parameter"]])
    ax.set_xlim(0, 1)
    ax.set_xlabel("position within the sampled range (green: the box, significant; grey: "
                  "not significant, qp >= 0.05)")
    ax.set_title("Where the outcome concentrates")
    fig.tight_layout()
    figs["box"] = fig
    return figs


def _write_files(study: Study, folder: Path, scenario: str, overrides: list[str],
                 meta: dict) -> None:
    """The study's table (CSV), description (JSON), plots and report, each written whole."""
    with files.writing(folder / f"{study.kind}.csv") as tmp:
        study.table.to_csv(tmp, index=False)
    files.write_json(folder / f"{study.kind}.json",
                     {"scenario": scenario, "overrides": overrides, **study.info, **meta})
    figs = {"sweep": sweep_plots, "sensitivity": sensitivity_plots,
            "discovery": discovery_plots}[study.kind](study)
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
    info, t = study.info, study.table
    parts = [f"<h1>{study.kind.capitalize()}: scenario '{report.esc(scenario)}'</h1>"]
    if overrides:
        parts.append("<p>Overrides: <code>" + report.esc("; ".join(overrides))
                     + "</code></p>")
    if study.kind == "sweep":
        fixed = " and ".join(map(_short, info["parameters"]))
        parts.append(f"<p class='key'>Each point fixes {fixed} and runs the scenario "
                     f"{info['runs']:,} times with the same seeds, the "
                     "other uncertain parameters drawn as usual. Bands and intervals: 95% "
                     "(Wilson).</p>")
        rows = [[*(f"{r[p]:.4g}" for p in info["parameters"]), report.pct(r["p_formed"]),
                 f"[{r['p_formed_low']:.1%}, {r['p_formed_high']:.1%}]"] for _, r in t.iterrows()]
        parts.append(report.table([*map(_short, info["parameters"]), "P(force forms)",
                                   "95% interval"], rows))
    elif study.kind == "sensitivity":
        key = info["index"]
        parts.append(f"<p class='key'>{info['method'].capitalize()} analysis (SALib) of "
                     f"{len(info['parameters'])} parameters: {info['points']:,} points, "
                     f"{info['runs_per_point']:,} runs each. Parameters are ranked by "
                     f"<b>{'mu*' if key == 'mu_star' else 'the total-order index ST'}</b>; "
                     "the interval is the 95% bootstrap interval.</p>")
        formed = t[t["output"] == "formed"]
        parts.append("<h2>What drives whether a force forms</h2>")
        parts.append(report.table(
            ["rank", "parameter", "range", key, "95% interval", *(["S1"] if key == "ST" else
                                                                   ["sigma"])],
            [[r["rank"], _short(r["parameter"]), "{:.3g} to {:.3g}".format(
                *info["bounds"][info["parameters"].index(r["parameter"])]),
              f"{r[key]:.3f}", f"± {r[f'{key}_conf']:.3f}",
              f"{r['S1']:.3f}" if key == "ST" else f"{r['sigma']:.3f}"]
             for _, r in formed.iterrows()]))
    else:
        parts.append(f"<p class='key'>Outcome <code>{report.esc(info['outcome'])}</code> holds "
                     f"in {info['base_rate']:.1%} of {info['runs']:,} runs. Inside the box "
                     f"below it holds in <b>{info['density']:.1%}</b> of runs (density); the box "
                     f"holds <b>{info['coverage']:.1%}</b> of all runs with the outcome "
                     f"(coverage) and {info['mass']:.1%} of all runs (mass).</p>")
        restricted = t[t["restricted"]].sort_values("qp")
        parts.append(report.table(["parameter", "box: from", "to", "sampled from", "to",
                                   "quasi-p", "significant"],
                                  [[_short(r["parameter"]), f"{r['min']:.4g}", f"{r['max']:.4g}",
                                    f"{r['full_min']:.4g}", f"{r['full_max']:.4g}",
                                    f"{r['qp']:.2g}", "yes" if r["significant"] else "no"]
                                   for _, r in restricted.iterrows()]))
        parts.append("<p class='note'>The quasi-p-value (a binomial test of the box's density "
                     "against the box without that restriction) says whether a restriction "
                     "could be chance; those at 0.05 or above are not significant.</p>")
    parts += [report.svg(folder / f"{f}.svg") for f in figs]
    note = f"The full table is in {study.kind}.csv beside this page."
    if study.kind != "discovery":
        note += (" Every run is in runs.parquet (its <code>point</code> column and the point's "
                 "values in the <code>param.*</code> columns); <code>python run.py report "
                 "FOLDER</code> rebuilds this page from them.")
    parts.append(f"<p class='note'>{note}</p>")
    files.write_text(folder / "report.html", report.page(f"ISF {study.kind}: {scenario}",
                                                         "\n".join(parts)))
