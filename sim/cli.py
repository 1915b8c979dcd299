"""The command line: `python run.py [run|compare|sweep|sensitivity|discover|report|trace|...]`.

Bad input never shows a traceback: the message names the file, the key or the option and the
problem, and the command exits with status 2 having written nothing. A failure of the
environment (a full disk, a worker killed) exits with status 1, keeping what can be resumed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

#: Arrow's buffers from the C library's allocator rather than Arrow's bundled mimalloc, unless
#: the user chose otherwise (read by pyarrow when it first allocates, after this module is
#: imported): mimalloc kept about 70 MB more resident in the run phase of a large experiment,
#: and was no faster (200,000 baseline runs, 2 workers, two pairs: run phase 11.6 and 13.0 s
#: against 12.8 and 13.7 s; peak 603 and 622 MB against 635 and 655 MB)
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

# ruff: noqa: E402 - the imports below come after the allocator's setting
from . import _lazy, forked
from .analysis import fmt
from .experiments.limits import MAX_RUNS, MAX_SEED, MAX_WORKERS
from .scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors also exit 2, with the usage line
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def _whole(minimum: int, maximum: int | None = None):
    """An argparse type: a whole number from `minimum` to `maximum`."""
    def parse(text: str) -> int:
        try:
            v = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {v}")
        if maximum is not None and v > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {v:,}")
        return v
    return parse


_positive, _index = _whole(1), _whole(0)
_runs, _seed, _count = _whole(1, MAX_RUNS), _whole(0, MAX_SEED), _whole(0, MAX_RUNS)
_workers = _whole(1, MAX_WORKERS)


def _share(text: str) -> float:
    """An argparse type: a share in [0, 1] (finite)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got '{text}'") \
            from None
    if not 0 <= v <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="run.py",
        description="Simulate how the International Stabilization Force for Gaza gets formed. "
        "With no command, runs scenarios/baseline.yaml (its own runs and seed), writes the "
        "results folder and prints the outcome summary.",
    )
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    r = sub.add_parser("run", help="run a scenario many times; write and summarise the results")
    r.add_argument("scenario", help="scenario file (YAML)")
    _batch_options(r)
    r.add_argument("--chunk-size", type=_runs, help="runs per chunk (does not change results)")
    r.add_argument("--no-feature-scores", action="store_true",
                   help="leave out the feature scores (which parameters matter), the slowest "
                   "part of the report (4,000 runs on 2 cores: 4.3-4.6 s instead of 6.5-8.2 s); "
                   "`report FOLDER` adds them later")

    rp = sub.add_parser("report", help="rebuild the summary, plots and report of a saved "
                        "results folder (from its tables; nothing is run again)")
    rp.add_argument("folder", help="a results folder (of run, sweep or sensitivity)")
    rp.add_argument("--workers", type=_workers, default=min(os.cpu_count() or 1, MAX_WORKERS),
                    help="processes drawing the plots and report side by side (default: the "
                    "number of cores)")

    c = sub.add_parser("compare", help="set scenarios (files) or results (folders) side by side")
    c.add_argument("items", nargs="+", help="scenario files and/or result folders; the first is "
                   "the reference")
    _batch_options(c)

    sw = sub.add_parser("sweep", help="run every point of a one- or two-parameter grid")
    sw.add_argument("scenario", help="scenario file (YAML)")
    sw.add_argument("--vary", action="append", required=True, metavar="KEY=START:STOP:POINTS",
                    help="a parameter and its grid: POINTS values evenly spaced from START to "
                    "STOP, both included (e.g. 0:1:6 is 0, 0.2, ..., 1); once or twice")
    _batch_options(sw, runs_help="runs per point (default 200)")

    se = sub.add_parser("sensitivity", help="global sensitivity analysis with SALib")
    se.add_argument("scenario", help="scenario file (YAML)")
    se.add_argument("--method", choices=["morris", "sobol"], default="morris")
    se.add_argument("--param", action="append", default=[], metavar="KEY[=LO:HI]",
                    help="a parameter to study (default: every uncertain parameter)")
    se.add_argument("--samples", type=_runs, help="Morris trajectories (default 20) or "
                    "Sobol base samples (default 128)")
    se.add_argument("--second-order", action="store_true", help="Sobol: also estimate "
                    "second-order (interaction) indices; N(2D+2) points instead of N(D+2)")
    _batch_options(se, runs_help="runs per point (default 10)")

    di = sub.add_parser("discover", help="which parameter ranges lead to an outcome (PRIM)")
    di.add_argument("scenario", help="scenario file (YAML)")
    di.add_argument("--outcome", required=True, help="e.g. 'formed and status.Pakistan == "
                    "\"deployed\"': columns of runs.parquet, numbers, quoted text, == != < <= > "
                    ">=, in [...], and, or, not, parentheses (README, \"Security\")")
    di.add_argument("--box", type=_index, help="show this box of the peeling trajectory "
                    "(0 is the whole space; the trajectory is printed). Default: the densest "
                    "box whose restrictions are all significant (quasi-p < 0.05)")
    di.add_argument("--drop", action="append", default=[], metavar="KEY",
                    help="drop the box's restriction on this parameter (repeatable), e.g. "
                    "--drop convener.max_pressure")
    di.add_argument("--min-density", type=_share, default=None, help="instead of the default, "
                    "the widest box in which at least this share of the runs shows the "
                    "outcome (as the EMA Workbench chooses)")
    _batch_options(di, runs_help="runs (default: the scenario's)")

    t = sub.add_parser("trace", help="tell one run round by round")
    t.add_argument("scenario", nargs="?", help="scenario file (YAML); or give --results")
    t.add_argument("--results", metavar="FOLDER", help="trace a run of this saved results "
                   "folder, exactly as it ran (its scenario, overrides and master seed)")
    _set_option(t)
    t.add_argument("--run", type=_index, help="the run's index in its experiment (default 0; "
                   "the 'run' column of runs.parquet)")
    t.add_argument("--point", type=_index, help="with --results of a sweep or sensitivity "
                   "analysis: the point (the 'point' column of runs.parquet)")
    t.add_argument("--seed", type=_seed, help="master seed of the experiment (default: the "
                   "scenario's)")
    t.add_argument("--run-seed", type=_seed, help="a run's own seed, as in the 'seed' column "
                   "of runs.parquet (instead of --run and --seed)")
    t.add_argument("--json", action="store_true", help="machine-readable events instead")

    v = sub.add_parser("validate", help="check scenario files and report every problem")
    v.add_argument("files", nargs="+", help="scenario files")

    sub.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")

    e = sub.add_parser("explore", help="open the interactive explorer in the browser")
    e.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                   "127.0.0.1; the explorer has no authentication: see README, \"Security\")")
    e.add_argument("--port", type=_positive, default=8765, help="port (default 8765)")
    e.add_argument("--no-open", action="store_true", help="do not open a browser window")
    e.add_argument("--user-folder", metavar="PATH", help="the one folder, besides the "
                   "project's scenarios/, where the page may read scenario files and save new "
                   "ones (default: scenarios/); it must exist")
    return p


def _set_option(p) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a scenario value, e.g. countries.Pakistan.domestic."
                   "opposition_strength=0.8 (repeatable; VALUE is YAML)")


def _batch_options(p, runs_help="number of runs (default: the scenario's)") -> None:
    _set_option(p)
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed cluster "
                   "(e.g. tcp://127.0.0.1:8786; needs the 'dask' extra)")
    p.add_argument("--runs", type=_runs, help=runs_help)
    p.add_argument("--seed", type=_seed, help="master seed (default: the scenario's)")
    p.add_argument("--workers", type=_workers, default=min(os.cpu_count() or 1, MAX_WORKERS),
                   help=f"worker threads for the runs, and processes (at most one per core) "
                   f"for the plots and report (default: the number of cores; at most "
                   f"{MAX_WORKERS})")
    p.add_argument("--out", default="results", help="results root folder (default: results)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    p.add_argument("--round-runs", type=_count, default=None, metavar="N",
                   help="keep the round-by-round records (rounds.parquet) of the first N runs "
                   "(of each point of a study); default 10,000 for a run, none for a study")
    p.add_argument("--no-rounds", action="store_true", help="keep no round-by-round records "
                   "(the same as --round-runs 0)")
    p.add_argument("--counterfactual-runs", type=_count, default=None, metavar="N",
                   help="replay the first N runs with each blocker lifted, to say what would "
                   "have formed the force (default 10,000; 0: none; ignored by sweep and "
                   "sensitivity, whose points are not replayed)")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _round_runs(args) -> bool | int:
    if args.no_rounds or args.round_runs == 0:
        return False
    return True if args.round_runs is None else args.round_runs


def _experiment_options(args) -> dict:
    """What every batch command passes to `run_experiment` from its options."""
    return dict(out=args.out, workers=args.workers, executor=_executor(args),
                progress=not args.no_progress, rounds=_round_runs(args), log=_log,
                command=" ".join(["python run.py", *sys.argv[1:]]), engine="auto")


def _check_out(args) -> None:
    from .experiments.files import check_root

    check_root(args.out)  # before anything runs


def _run_and_present(loaded, args, chunk=None, on_summary=None):
    """Run (or reuse) an experiment into its results folder, and present it (`on_summary`:
    called with the summary as soon as it is computed, before the plots are drawn)."""
    from .analysis.present import EAGER_RUNS, Presenter, present
    from .analysis.summary import Accumulator
    from .experiments.runner import counterfactual_runs

    runs = args.runs or loaded.scenario.runs
    seed = loaded.scenario.seed if args.seed is None else args.seed
    _log(f"Running '{_short(loaded.name)}': {runs:,} runs, master seed {seed}, "
         + (f"Dask scheduler {args.scheduler}" if args.scheduler else
            f"{args.workers} worker(s)"))
    # the summary is added up as the runs are written (`present` checks that it holds them
    # all, with the counterfactual runs the folder says, or reads the file)
    acc = Accumulator(counterfactual_runs(args.counterfactual_runs))
    # the drawing libraries are imported by the presenter while the runs are computed (for a
    # large experiment, as it draws: `EAGER_RUNS`)
    options = dict(chunk=chunk, **_experiment_options(args),
                   counterfactuals=args.counterfactual_runs)
    with Presenter.start(eager=runs < EAGER_RUNS) or contextlib.nullcontext() as presenter:
        if options["executor"] is None and runs >= APART_RUNS:  # in a process that ends
            result, acc = forked.call_apart(_run_adding_up, loaded, runs, seed, acc, options)
        else:  # a Dask client lives here; a small experiment leaves little behind
            result, acc = _run_adding_up(loaded, runs, seed, acc, options)
        if result.summary is None:  # a reused folder keeps its presentation untouched
            result.summary = present(result.folder, verified=True, on_summary=on_summary,
                                     workers=args.workers, presenter=presenter,
                                     accumulated=acc, feature_scores=not getattr(
                                         args, "no_feature_scores", False))
        elif on_summary is not None:
            on_summary(result.summary)
    return result


#: experiments of at least this many runs are computed in a process of their own, which ends
#: once they are written (`forked.call_apart`), so that the memory the runs leave behind is not
#: held beside the drawing: a million runs, peak 456 and 465 MB against 616 MB (two pairs,
#: with the other changes of that day); 100,000 runs, 462 and 465 against 559 and 565 MB.
#: Smaller ones leave little, and the fork and its answer cost `python run.py` (300 runs)
#: about 0.05 s before its summary (four pairs: 0.77-0.94 s against 0.72-0.92 s)
APART_RUNS = 20_000


def _run_adding_up(loaded, runs: int, seed: int, acc, options: dict):
    """`run_experiment`, its runs added up into `acc` as they are written: (result, acc)."""
    from .experiments import run_experiment

    return run_experiment(loaded, runs, seed, **options, on_rows=acc.add), acc


def _short(name: str, width: int = 60) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"


_CLIENTS: list = []


def _executor(args):
    """A Dask client's executor when --scheduler is given, else None (local processes).

    The client lives until the command ends (`main` closes it); every experiment of the
    command (compare runs several) shares it."""
    if not getattr(args, "scheduler", None):
        return None
    if getattr(args, "dask_executor", None) is not None:
        return args.dask_executor
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs Dask: pip install -e '.[dask]'") from None
    try:
        client = Client(args.scheduler, timeout=10)
    except Exception as e:  # noqa: BLE001 - Dask raises many kinds for a bad address
        raise UsageError(f"--scheduler {args.scheduler}: cannot connect "
                         f"({type(e).__name__}: {e})") from None
    _CLIENTS.append(client)
    args.dask_executor = client.get_executor()
    return args.dask_executor


class UsageError(Exception):
    """A command-line problem other than a scenario file (exit 2)."""


def _study_args(args):
    loaded = load_scenario(args.scenario, args.overrides)
    seed = loaded.scenario.seed if args.seed is None else args.seed
    return loaded, seed


def _grid_points(varies: list[str]) -> int:
    """How many points the --vary options ask for, read before any grid is made (a grid of
    10^9 points would exhaust memory before it could be refused)."""
    import re

    from .experiments.limits import MAX_POINTS

    total = 1
    for text in varies:
        m = re.search(r":\s*(\d+)\s*$", text)
        if m:
            steps = int(m[1]) if len(m[1]) < 12 else MAX_POINTS + 1
            if steps > MAX_POINTS:
                raise UsageError(f"--vary {text}: {steps:,} points is more than the limit of "
                                 f"{MAX_POINTS:,}")
            total *= steps
    return total


def cmd_sweep(args) -> int:
    from .analysis.studies import parse_vary, sweep
    from .analysis.study_report import present_study
    from .experiments.limits import check_runs

    loaded, seed = _study_args(args)
    runs = args.runs or 200
    check_runs(runs, _grid_points(args.vary))
    _check_out(args)
    varies = [parse_vary(loaded, v) for v in args.vary]
    points = 1
    for _, v in varies:
        points *= len(v)
    _log(f"Sweep of '{_short(loaded.name)}': {points} points x {runs:,} runs, master seed "
         f"{seed}")
    study = sweep(loaded, varies, runs, seed, **_experiment_options(args))
    folder = study.experiment.folder
    study = present_study(folder, study.experiment.metadata)
    cols = [p for p, _ in varies]
    show = study.table[[*cols, "p_formed", "p_formed_low", "p_formed_high"]].copy()
    for c in cols:
        show[c] = show[c].map(lambda x: fmt.number(x, 4))
    for c in ("p_formed", "p_formed_low", "p_formed_high"):
        show[c] = show[c].map(fmt.share)
    print(f"Probability that the force forms by the deadline, per point ({runs:,} runs each; "
          "95% Wilson interval):")
    print(show.rename(columns={"p_formed": "P(formed)", "p_formed_low": "95% low",
                               "p_formed_high": "95% high"}).to_string(index=False))
    print(f"\nSweep: {folder}/ (open report.html in a browser)")
    return 0


def cmd_sensitivity(args) -> int:
    from .analysis.studies import check_params, design_size, parse_param, sensitivity
    from .analysis.study_report import present_study
    from .experiments.limits import check_runs

    loaded, seed = _study_args(args)
    params = [parse_param(loaded, p) for p in args.param] or \
        [(p, tuple(map(float, d.support()))) for p, d in loaded.uncertain]
    check_params(loaded, params)  # refused before anything is said or run
    samples = args.samples or (20 if args.method == "morris" else 128)
    runs = args.runs or 10
    d = len(params)
    second = args.second_order and args.method == "sobol"
    points = design_size(args.method, samples, d, second)
    check_runs(runs, points)  # refused before SALib draws the design
    _check_out(args)
    _log(f"{args.method.capitalize()} analysis of '{_short(loaded.name)}': {d} parameters, "
         f"{points:,} points x {runs} runs")
    study = sensitivity(loaded, args.method, params, samples, runs, seed, second_order=second,
                        **_experiment_options(args))
    folder = study.experiment.folder
    study = present_study(folder, study.experiment.metadata)
    key = study.info["index"]
    formed = study.table[study.table["output"] == "formed"] if len(study.table) else \
        study.table
    name = "mu*" if key == "mu_star" else "ST"
    if formed.empty:
        print(f"Whether a force forms did not change across the design's {study.info['points']:,}"
              f" points: no {name} to rank the parameters by.")
    else:
        print(f"What drives whether a force forms (ranked by {name}, with its 95% interval, "
              "clipped at 0):")
    for _, r in formed.iterrows():
        lo = max(0.0, r[key] - r[f"{key}_conf"])
        print(f"  {r['rank']:>2}. {r['parameter']:<55} {r[key]:.3f} "
              f"({lo:.3f} to {r[key] + r[f'{key}_conf']:.3f})")
    for out, why in study.info.get("rough", {}).items():
        print(f"\nRough estimates for {out}: {why}.")
    print(f"\nSensitivity analysis: {folder}/ (open report.html in a browser)")
    return 0


def cmd_discover(args) -> int:
    from .analysis.studies import check_outcome, discover
    from .analysis.study_report import write_discovery

    loaded = load_scenario(args.scenario, args.overrides)
    check_outcome(loaded, args.outcome)  # a bad outcome is refused before any run is made
    if args.box is not None and args.min_density is not None:
        raise UsageError("--box and --min-density both choose the box: give one of them")
    _check_out(args)
    res = _run_and_present(loaded, args)
    study = discover(res.runs, args.outcome, min_density=args.min_density, box=args.box,
                     drop=args.drop)
    folder = write_discovery(study, res, args.out)
    i = study.info
    print(f"Outcome '{i['outcome']}': {i['base_rate']:.1%} of {i['runs']:,} runs.")
    print("\nPRIM's peeling trajectory. Coverage: share of the outcome's runs inside the box; "
          "density: share of the box's runs with the outcome; mass: share of all runs in the "
          "box; restrictions: how many are significant (quasi-p < 0.05) of how many."
          + (" Significant only: the box with its non-significant restrictions dropped."
             if "pruned_density" in i["trajectory"][0] else ""))
    pruned = "pruned_density" in i["trajectory"][0]
    print(f"  {'box':>4} {'coverage':>9} {'density':>8} {'mass':>7} {'restrictions':>12}"
          + (f"   {'significant only: density':>26} {'coverage':>9} {'restrictions':>12}"
             if pruned else ""))
    for q in i["trajectory"]:
        mark = "  <- chosen" if q["box"] == i["box_index"] else ""
        extra = (f"   {q['pruned_density']:>26.1%} {q['pruned_coverage']:>9.1%} "
                 f"{q['pruned_restricted']:>12}" if pruned else "")
        print(f"  {q['box']:>4} {q['coverage']:>9.1%} {q['density']:>8.1%} {q['mass']:>7.1%} "
              f"{q['significant']:>6} of {q['restricted']:<3}{extra}{mark}")
    print(f"\nChosen: box {i['box_index']}, {i['rule']}.")
    if i["pruned"]:
        print(f"  Dropped as not significant: {', '.join(i['pruned'])}.")
    if i["dropped"]:
        print(f"  Dropped with --drop: {', '.join(i['dropped'])}.")
    print(f"PRIM box: density {i['density']:.1%}, coverage {i['coverage']:.1%}, mass "
          f"{i['mass']:.1%}. It holds when:")
    t = study.table
    for _, r in t[t["significant"]].iterrows():
        print(f"  {r['parameter']:<55} {fmt.span(r['min'], r['max'])} "
              f"(sampled {fmt.span(r['full_min'], r['full_max'])}; qp {r['qp']:.1g})")
    weak = t[t["restricted"] & ~t["significant"]]
    if len(weak):
        print(f"  ({fmt.runs(len(weak), 'further restriction')} not significant, qp >= 0.05: "
              + ", ".join(weak["parameter"]) + "; drop with --drop KEY)")
    if not t["restricted"].any():
        print("  (no restriction: the box is the whole sampled space)")
    print("Another box: --box N (a row above); drop a restriction: --drop KEY.")
    print(f"\nDiscovery: {folder}/ (open report.html in a browser)")
    return 0


def _print_summary(s: dict, drawing: bool = True, feature_scores: bool = True) -> None:
    """Print the summary at once (the plots and report are drawn after it)."""
    from .analysis.summary import render

    print(render(s), flush=True)
    if drawing:
        scores = ", the feature scores" if feature_scores else ""
        _log(f"Drawing the plots, the curves over time{scores} and the report ...")


def _print_run(res, summary: bool = True) -> None:
    s, meta = res.summary, res.metadata
    if summary:
        _print_summary(s, drawing=False)
    rate = f" ({meta['runs_per_s']:,.0f} runs/s)" if meta.get("runs_per_s") else ""
    print(f"\n{s['runs']:,} runs, master seed {meta['seed']}, in {meta['wall_s']:.1f} s{rate}.")
    print(f"Results: {res.folder}/ (open report.html in a browser)")
    print(f"Tell one run: python run.py trace --results {res.folder} --run N")


def cmd_run(args) -> int:
    loaded = load_scenario(args.scenario, args.overrides)
    _check_out(args)
    shown = []

    def show(summary):
        shown.append(True)
        _print_summary(summary, feature_scores=not args.no_feature_scores)

    res = _run_and_present(loaded, args, chunk=args.chunk_size, on_summary=show)
    _print_run(res, summary=not shown)
    return 0


def cmd_report(args) -> int:
    from .analysis.present import Presenter, present
    from .experiments import load_result

    # the presenter imports pandas, matplotlib and Jinja2 while the folder's checksums are
    # verified (scikit-learn when it scores: the number of runs is not known yet)
    with Presenter.start() or contextlib.nullcontext() as presenter:
        res = load_result(args.folder)
        study = res.metadata.get("study")
        presented = present(res.folder, verified=True,
                            on_summary=None if study else _print_summary,
                            workers=args.workers, presenter=presenter)
    if study:
        print(f"{res.metadata['study']['kind'].capitalize()} rebuilt from {res.folder}/"
              "runs.parquet: open report.html in a browser")
        return 0
    res.summary = presented
    _print_run(res, summary=False)
    return 0


def cmd_compare(args) -> int:
    from .analysis.compare import compare
    from .api import open_result

    if len(args.items) < 2:
        print("error: compare needs at least two scenario files or result folders",
              file=sys.stderr)
        return 2
    _check_out(args)
    # every input is checked before anything runs
    loaded = {item: load_scenario(item, args.overrides) for item in args.items
              if not Path(item).is_dir()}
    results = []
    for item in args.items:
        if item in loaded:
            results.append(_run_and_present(loaded[item], args))
        else:
            res = open_result(item)
            if res.metadata.get("study"):
                raise UsageError(f"{item}: a parameter study's folder; compare takes results "
                                 "of `run` (or scenario files)")
            results.append(res)
    folder = compare(results, args.out)

    from .analysis.compare import headline, table

    t = headline(table(results))  # as in comparison.csv
    ref = t["reference"].iloc[0]
    deadlines = {r.summary["scenario"]: r.summary["deadline"] for r in results}
    print(f"Compared with '{ref}' (differences in percentage points; * exceeds Monte Carlo "
          "noise: its 95% interval excludes zero)")
    others = [n for n in dict.fromkeys(t["scenario"]) if n != ref]

    def line(measure, g):
        g = g.set_index("scenario")
        label = measure
        if measure == "formed by the deadline":
            label = f"formed by the deadline ({', '.join(sorted(set(deadlines.values())))})"
        cells = [f"{_short(name, 30)} {g.loc[name, 'probability']:6.1%} "
                 f"({g.loc[name, 'difference_pp']:+.1f} pp"
                 + ("*" if g.loc[name, "exceeds_noise"] else "") + ")" for name in others]
        print(f"  {_short(label, 50):<50} {g.loc[ref, 'probability']:6.1%}   "
              + "   ".join(cells))

    groups = list(t.groupby("measure", sort=False))
    for measure, g in groups:
        if g["section"].iloc[0] == "headline":
            line(measure, g)
    rest = [(m, g) for m, g in groups if g["section"].iloc[0] != "headline"]
    rest.sort(key=lambda mg: -mg[1]["difference_pp"].abs().max())
    if rest:
        print("Other measures whose difference exceeds Monte Carlo noise, largest first:")
        for measure, g in rest[:10]:
            line(measure, g)
        if len(rest) > 10:
            print(f"  ... and {len(rest) - 10} more (report.html, comparison.csv)")
    print(f"\nComparison: {folder}/ (open report.html in a browser)")
    return 0


def cmd_trace(args) -> int:
    from .api import trace, trace_result
    from .tracing import as_json, as_text

    if args.results:
        if args.scenario or args.overrides or args.seed is not None or \
                args.run_seed is not None:
            raise UsageError("trace --results FOLDER takes the scenario, overrides and seeds "
                             "from the folder: give only --run (and --point)")
        t = trace_result(args.results, args.run or 0, args.point)
    else:
        if not args.scenario:
            raise UsageError("trace: give a scenario file, or --results FOLDER")
        if args.point is not None:
            raise UsageError("--point goes with --results FOLDER")
        if args.run_seed is not None and (args.run is not None or args.seed is not None):
            raise UsageError("--run-seed is a run's own seed: give it alone, or --run and "
                             "--seed instead")
        loaded = load_scenario(args.scenario, args.overrides)
        t = trace(loaded, args.run or 0, args.seed, run_seed=args.run_seed)
    if t.get("warning"):
        _log(f"Warning: {t['warning']}")
    sys.stdout.write(as_json(t) + "\n" if args.json else as_text(t))
    return 0


def cmd_validate(args) -> int:
    problems = []
    for f in args.files:
        try:
            loaded = load_scenario(f)
        except ScenarioError as e:
            problems.append(e.format())
            continue
        print(f"{f}: valid ('{loaded.name}', {len(loaded.scenario.countries)} countries, "
              f"{len(loaded.uncertain)} uncertain parameters, {len(loaded.scenario.events)} "
              "events)")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    return 0


def cmd_explore(args) -> int:
    import importlib.util
    import subprocess

    if importlib.util.find_spec("solara") is None:
        raise UsageError("the explorer needs its extra: pip install -e '.[explore]'")
    from .explorer import files, webassets

    try:
        folders = files.Folders.of(args.user_folder)
    except files.FileRefused as e:
        raise UsageError(f"--user-folder: {e}") from None
    if webassets.missing():
        try:
            webassets.main([])
        except (RuntimeError, subprocess.CalledProcessError) as e:
            raise UsageError(f"browser assets missing ({', '.join(webassets.missing())}) and "
                             f"could not be fetched: {e}") from None
    warning = host_warning(args.host, args.port)
    if warning:
        print(warning, file=sys.stderr)
    app = Path(__file__).resolve().parent / "explorer" / "app.py"
    print(f"ISF explorer on http://{args.host}:{args.port}/ (Ctrl-C to stop); it reads "
          f"scenario files from {folders.describe()} and saves to "
          f"{folders.shown(folders.user)}", file=sys.stderr)
    # `solara run`, through a launcher that makes Solara's asset proxy read-only (serve.py)
    cmd = [sys.executable, "-m", "sim.explorer.serve", "run", str(app), "--host", args.host,
           "--port", str(args.port), "--production", "--no-check-version",
           "--no-open" if args.no_open else "--open"]
    # the server replaces this process (it does not run as a child): stopping `run.py explore`
    # (Ctrl-C, or a signal to its process id) stops the server, never leaving it orphaned
    os.chdir(Path(__file__).resolve().parent.parent)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, explorer_environment(folders))
    return 0  # reached only when execve is replaced (tests)


def explorer_environment(folders) -> dict[str, str]:
    """The Solara server's environment: the user folder for the page, and quiet: no usage
    data sent to Solara's telemetry service, and not the cookie warning Solara prints for
    every session on http (the page sets no cookie that matters: it has no login)."""
    from .explorer import files

    env = dict(os.environ)
    env[files.USER_FOLDER_ENV] = str(folders.user)
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    venv = env.get("VIRTUAL_ENV")
    if venv and Path(venv).resolve() != Path(sys.prefix).resolve():
        # inherited from another environment than the one running the server: IPython would
        # warn about it for every session
        del env["VIRTUAL_ENV"]
    quiet = "ignore:Cookies with samesite=none require https:UserWarning"
    env["PYTHONWARNINGS"] = ",".join(w for w in (env.get("PYTHONWARNINGS"), quiet) if w)
    return env


def host_warning(host: str, port: int) -> str | None:
    """A warning when the explorer would listen beyond this machine: it has no login, so
    anyone who can reach the address can use it (and read and write scenario files in its
    folders)."""
    import ipaddress
    import socket

    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            addresses = {ipaddress.ip_address(a[4][0].split("%")[0])
                         for a in socket.getaddrinfo(host, port)}
        except (OSError, ValueError):
            addresses = set()
    if addresses and all(a.is_loopback for a in addresses):
        return None
    return (f"WARNING: --host {host} makes the explorer reachable from other machines. It has "
            "no authentication: anyone who can reach this address can run the model, read the "
            "scenario files in its folders and save new ones there. Use it only on a trusted "
            "network, or keep the default 127.0.0.1.")


def cmd_schema(args) -> int:
    from .scenario.schema import Scenario

    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ISF formation scenario"
    print(json.dumps(schema, indent=2))
    return 0


def main(argv=None) -> int:
    _lazy.defer_submodule("numpy.f2py")  # 0.1-0.2 s off every command (see there)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run", str(BASELINE.relative_to(Path.cwd()))
                                  if BASELINE.is_relative_to(Path.cwd()) else str(BASELINE)])
    handlers = {"run": cmd_run, "trace": cmd_trace, "validate": cmd_validate,
                "schema": cmd_schema, "compare": cmd_compare, "sweep": cmd_sweep,
                "sensitivity": cmd_sensitivity, "discover": cmd_discover,
                "report": cmd_report, "explore": cmd_explore}
    from concurrent.futures.process import BrokenProcessPool

    from .experiments import ExperimentError, ResultError, RootError, StorageError

    try:
        return handlers[args.command](args)
    except ScenarioError as e:
        print(e.format(), file=sys.stderr)
        return 2
    except (ResultError, UsageError, RootError, ExperimentError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except StorageError as e:
        print(f"error: cannot write or read {e.path}: {e.problem}", file=sys.stderr)
        return 1
    except BrokenProcessPool:
        print("error: a worker process died (out of memory, or killed); the finished chunks "
              "are kept: rerun the same command to resume", file=sys.stderr)
        return 1
    except OSError as e:  # the environment (a lost scheduler, a full disk, ...)
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    finally:
        while _CLIENTS:
            _CLIENTS.pop().close()
