"""The command line: `python run.py [run|trace|validate|schema] ...`.

Bad input never shows a traceback: the message names the file, the key and the problem, and
the command exits with status 2 having written nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors also exit 2, with the usage line
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="run.py",
        description="Simulate how the International Stabilization Force for Gaza gets formed. "
        "With no command, runs scenarios/baseline.yaml and prints the outcome summary.",
    )
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    r = sub.add_parser("run", help="run a scenario many times and print the outcome summary")
    r.add_argument("scenario", help="scenario file (YAML)")
    r.add_argument("--runs", type=_positive, help="number of runs (default: the scenario's)")
    r.add_argument("--seed", type=_seed, help="master seed (default: the scenario's)")

    t = sub.add_parser("trace", help="tell one run round by round")
    t.add_argument("scenario", help="scenario file (YAML)")
    t.add_argument("--seed", type=_seed, default=1, help="the run's seed (default 1)")
    t.add_argument("--json", action="store_true", help="machine-readable events instead")

    v = sub.add_parser("validate", help="check scenario files and report every problem")
    v.add_argument("files", nargs="+", help="scenario files")

    sub.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
    return p


def cmd_run(args) -> int:
    from .experiment import run_experiment
    from .summary import render

    loaded = load_scenario(args.scenario)
    runs = args.runs or loaded.scenario.runs
    seed = loaded.scenario.seed if args.seed is None else args.seed
    t0 = time.perf_counter()

    def progress(done, total):
        print(f"\r  {done:,}/{total:,} runs", end="", file=sys.stderr, flush=True)

    df = run_experiment(loaded, runs, seed, progress=progress if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    wall = time.perf_counter() - t0
    print(render(df, loaded.name, loaded.scenario.calendar.milestones))
    print(f"\n{runs:,} runs, master seed {seed}, in {wall:.1f} s "
          f"({runs / wall:,.0f} runs/s). Trace one: python run.py trace {args.scenario} "
          f"--seed {int(df['seed'].iloc[0])}")
    return 0


def cmd_trace(args) -> int:
    from .trace import as_json, as_text, trace_run

    loaded = load_scenario(args.scenario)
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


def cmd_schema(args) -> int:
    from .schema import Scenario

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
                "schema": cmd_schema}
    try:
        return handlers[args.command](args)
    except ScenarioError as e:
        print(e.format(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
