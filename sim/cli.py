"""The command line: `python run.py [run|trace|validate|schema] ...`.

Bad input never shows a traceback: the message names the file, the key and the problem, and
the command exits with status 2 having written nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors also exit 2, with the usage line
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def _whole(minimum: int):
    """An argparse type: a whole number of at least `minimum`."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {v}")
        return v
    return parse


_positive, _seed = _whole(1), _whole(0)


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
    r.add_argument("--chunk-size", type=_positive, help="runs per chunk (does not change results)")

    c = sub.add_parser("compare", help="set scenarios (files) or results (folders) side by side")
    c.add_argument("items", nargs="+", help="scenario files and/or result folders; the first is "
                   "the reference")
    _batch_options(c)

    sw = sub.add_parser("sweep", help="run every point of a one- or two-parameter grid")
    sw.add_argument("scenario", help="scenario file (YAML)")
    sw.add_argument("--vary", action="append", required=True, metavar="KEY=START:STOP:STEPS",
                    help="a parameter and its grid (once or twice)")
    _batch_options(sw, runs_help="runs per point (default 200)")

    se = sub.add_parser("sensitivity", help="global sensitivity analysis with SALib")
    se.add_argument("scenario", help="scenario file (YAML)")
    se.add_argument("--method", choices=["morris", "sobol"], default="morris")
    se.add_argument("--param", action="append", default=[], metavar="KEY[=LO:HI]",
                    help="a parameter to study (default: every uncertain parameter)")
    se.add_argument("--samples", type=_positive, help="Morris trajectories (default 20) or "
                    "Sobol base samples (default 128)")
    se.add_argument("--second-order", action="store_true", help="Sobol: also estimate "
                    "second-order (interaction) indices; N(2D+2) points instead of N(D+2)")
    _batch_options(se, runs_help="runs per point (default 10)")

    di = sub.add_parser("discover", help="which parameter ranges lead to an outcome (PRIM)")
    di.add_argument("scenario", help="scenario file (YAML)")
    di.add_argument("--outcome", required=True, help="e.g. 'formed and status.Pakistan == "
                    "\"deployed\"': columns of runs.parquet, numbers, quoted text, == != < <= > "
                    ">=, in [...], and, or, not, parentheses (README, \"Security\")")
    di.add_argument("--min-density", type=_share, default=0.8, help="share of the box's runs "
                    "that must show the outcome (default 0.8); the widest such box is chosen")
    _batch_options(di, runs_help="runs (default: the scenario's)")

    t = sub.add_parser("trace", help="tell one run round by round")
    t.add_argument("scenario", help="scenario file (YAML)")
    _set_option(t)
    t.add_argument("--seed", type=_seed, default=1, help="the run's seed (default 1)")
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
    p.add_argument("--runs", type=_positive, help=runs_help)
    p.add_argument("--seed", type=_seed, help="master seed (default: the scenario's)")
    p.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                   help="worker processes (default: the number of cores)")
    p.add_argument("--out", default="results", help="results root folder (default: results)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or lines")


def _run_one_scenario(loaded, args, chunk=None):
    from .api import run_scenario
    from .experiments.runner import ScenarioSpec
    from .experiments.store import run_id, slug

    runs = args.runs or loaded.scenario.runs
    seed = loaded.scenario.seed if args.seed is None else args.seed
    print(f"Running '{loaded.name}': {runs:,} runs, master seed {seed}, "
          + (f"Dask scheduler {args.scheduler}" if args.scheduler else
             f"{args.workers} worker(s)"), file=sys.stderr)
    try:
        return run_scenario(loaded, runs=runs, seed=seed, out=args.out, workers=args.workers,
                            chunk=chunk, executor=_executor(args), overrides=loaded.overrides,
                            progress=not args.no_progress,
                            command=" ".join(["python run.py", *sys.argv[1:]]),
                            log=lambda m: print(m, file=sys.stderr))
    except KeyboardInterrupt:
        rid = run_id(ScenarioSpec.of(loaded), seed, runs)
        partial = Path(args.out) / slug(loaded.name) / f"{rid}.partial"
        print(f"\ninterrupted: finished chunks are kept in {partial}; rerun the same command "
              "to resume", file=sys.stderr)
        raise


_CLIENTS: list = []


def _executor(args):
    """A Dask client's executor when --scheduler is given, else None (local processes).

    The client lives until the command ends (`main` closes it)."""
    if not getattr(args, "scheduler", None):
        return None
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs Dask: pip install -e '.[dask]'") from None
    try:
        client = Client(args.scheduler, timeout=10)
    except OSError as e:
        raise UsageError(f"--scheduler {args.scheduler}: cannot connect ({e})") from None
    _CLIENTS.append(client)
    return client.get_executor()


class UsageError(Exception):
    """A command-line problem other than a scenario file (exit 2)."""


def _study_args(args):
    loaded = load_scenario(args.scenario, args.overrides)
    seed = loaded.scenario.seed if args.seed is None else args.seed
    kw = dict(workers=args.workers, executor=_executor(args), progress=not args.no_progress)
    return loaded, seed, kw


def cmd_sweep(args) -> int:
    from .analysis.studies import parse_vary, sweep
    from .analysis.study_report import write_study

    loaded, seed, kw = _study_args(args)
    varies = [parse_vary(loaded, v) for v in args.vary]
    runs = args.runs or 200
    points = 1
    for _, v in varies:
        points *= len(v)
    print(f"Sweep of '{loaded.name}': {points} points x {runs:,} runs, master seed {seed}",
          file=sys.stderr)
    study = sweep(loaded, varies, runs, seed, **kw)
    folder = write_study(study, loaded, args.out, {"seed": seed})
    cols = [p for p, _ in varies]
    show = study.table[[*cols, "p_formed", "p_formed_low", "p_formed_high"]]
    print(show.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"\nSweep: {folder}/ (open report.html in a browser)")
    return 0


def cmd_sensitivity(args) -> int:
    from .analysis.studies import parse_param, sensitivity
    from .analysis.study_report import write_study

    loaded, seed, kw = _study_args(args)
    params = [parse_param(loaded, p) for p in args.param] or \
        [(p, tuple(map(float, d.support()))) for p, d in loaded.uncertain]
    samples = args.samples or (20 if args.method == "morris" else 128)
    runs = args.runs or 10
    d = len(params)
    points = samples * (d + 1) if args.method == "morris" else \
        samples * (2 * d + 2 if args.second_order else d + 2)
    print(f"{args.method.capitalize()} analysis of '{loaded.name}': {d} parameters, "
          f"{points:,} points x {runs} runs", file=sys.stderr)
    study = sensitivity(loaded, args.method, params, samples, runs, seed,
                        second_order=args.second_order and args.method == "sobol", **kw)
    folder = write_study(study, loaded, args.out, {"seed": seed})
    key = study.info["index"]
    formed = study.table[study.table["output"] == "formed"]
    print(f"What drives whether a force forms (ranked by {key}, 95% interval):")
    for _, r in formed.iterrows():
        print(f"  {r['rank']:>2}. {r['parameter']:<55} {r[key]:.3f} ± {r[f'{key}_conf']:.3f}")
    print(f"\nSensitivity analysis: {folder}/ (open report.html in a browser)")
    return 0


def cmd_discover(args) -> int:
    import pandas as pd

    from .analysis.studies import check_outcome, discover
    from .analysis.study_report import write_study

    loaded = load_scenario(args.scenario, args.overrides)
    check_outcome(loaded, args.outcome)  # a bad outcome is refused before any run is made
    res = _run_one_scenario(loaded, args)
    study = discover(pd.read_parquet(res.runs_file), args.outcome, min_density=args.min_density)
    folder = write_study(study, loaded, args.out, {"results": str(res.folder)})
    i = study.info
    print(f"Outcome '{i['outcome']}': {i['base_rate']:.1%} of {i['runs']:,} runs.")
    print(f"PRIM box: density {i['density']:.1%}, coverage {i['coverage']:.1%}, mass "
          f"{i['mass']:.1%}. It holds when:")
    t = study.table
    for _, r in t[t["significant"]].iterrows():
        print(f"  {r['parameter']:<55} {r['min']:.4g} to {r['max']:.4g} "
              f"(sampled {r['full_min']:.4g} to {r['full_max']:.4g}; qp {r['qp']:.1g})")
    weak = t[t["restricted"] & ~t["significant"]]
    if len(weak):
        print(f"  ({len(weak)} further restrictions are not significant, qp >= 0.05: "
              + ", ".join(weak["parameter"]) + ")")
    print(f"\nDiscovery: {folder}/ (open report.html in a browser)")
    return 0


def cmd_run(args) -> int:
    from .analysis.summary import render

    res = _run_one_scenario(load_scenario(args.scenario, args.overrides), args,
                            chunk=args.chunk_size)
    s, meta = res.summary, res.metadata
    print(render(s))
    rate = f" ({meta['runs_per_s']:,.0f} runs/s)" if meta.get("runs_per_s") else ""
    print(f"\n{s['runs']:,} runs, master seed {meta['seed']}, in {meta['wall_s']:.1f} s{rate}.")
    print(f"Results: {res.folder}/ (open report.html in a browser)")
    print(f"Tell one run: python run.py trace {meta['scenario_file']} --seed <a seed from "
          "runs.parquet>")
    return 0


def cmd_compare(args) -> int:
    from .analysis.compare import compare
    from .api import open_result as load_result

    if len(args.items) < 2:
        print("error: compare needs at least two scenario files or result folders",
              file=sys.stderr)
        return 2
    results = []
    for item in args.items:
        p = Path(item)
        results.append(load_result(p) if p.is_dir() else
                       _run_one_scenario(load_scenario(item, args.overrides), args))
    folder = compare(results, args.out)
    import pandas as pd

    t = pd.read_csv(folder / "comparison.csv")
    ref = results[0].summary["scenario"]
    print(f"Compared with '{ref}' (differences marked * exceed Monte Carlo noise):")
    for _, row in t.head(3 + len(results[0].summary["formation"])).iterrows():
        cells = []
        for col in t.columns:
            if col.endswith(" exceeds noise"):
                name = col[: -len(" exceeds noise")]
                cells.append(f"{name} {row[f'{name} - {ref}']:+.1%}"
                             + ("*" if row[col] == "yes" else ""))
        print(f"  {row['metric']:<34} {row[ref]:6.1%}   " + "   ".join(cells))
    print(f"\nComparison: {folder}/ (open report.html in a browser)")
    return 0


def cmd_trace(args) -> int:
    from .trace import as_json, as_text, trace_run

    loaded = load_scenario(args.scenario, args.overrides)
    t = trace_run(loaded, args.seed)
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run", str(BASELINE.relative_to(Path.cwd()))
                                  if BASELINE.is_relative_to(Path.cwd()) else str(BASELINE)])
    handlers = {"run": cmd_run, "trace": cmd_trace, "validate": cmd_validate,
                "schema": cmd_schema, "compare": cmd_compare, "sweep": cmd_sweep,
                "sensitivity": cmd_sensitivity, "discover": cmd_discover,
                "explore": cmd_explore}
    from .experiments.store import ResultError

    try:
        return handlers[args.command](args)
    except ScenarioError as e:
        print(e.format(), file=sys.stderr)
        return 2
    except (ResultError, UsageError) as e:
        print(str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        while _CLIENTS:
            _CLIENTS.pop().close()
