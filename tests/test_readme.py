"""The README's examples work as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from sim.cli import build_parser, main

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_python_quick_start_runs_as_a_plain_script(tmp_path):
    """As a user would: the block saved as a script (no `if __name__` guard) and run."""
    (block,) = re.findall(r"```python\n(.*?)```", README, re.S)
    assert 'out="results"' in block and 'fig.savefig("over_time.png")' in block
    block = block.replace('out="results"', f"out={str(tmp_path / 'results')!r}").replace(
        'fig.savefig("over_time.png")', f"fig.savefig({str(tmp_path / 'over_time.png')!r})")
    script = tmp_path / "quick_start.py"
    script.write_text(block + "\nprint(len(runs), summary['runs'], len(story['events']) > 0, "
                      "sorted(rounds['run'].unique()) == list(range(500)), "
                      "saved['events'] == story['events'], type(fig).__name__, "
                      "drivers['outcome'].iloc[0])\n")
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[-7:] == ["500", "500", "True", "True", "True", "Plot", "formed"]
    assert (tmp_path / "over_time.png").stat().st_size > 10_000


def test_every_run_py_command_in_the_readme_parses():
    parser = build_parser()
    commands = re.findall(r"^(?:\$ )?(?:\.venv/bin/)?python run\.py([^\n#]*)", README, re.M)
    assert len(commands) >= 15
    for line in commands:
        args = shlex.split(line.replace("<experiment id>", "x").split(">")[0].split("|")[0])
        parser.parse_args(args)  # exits (fails the test) on an unknown command or option


#: the README's commands, cut to a test's size: the same work of a smaller kind (runs per
#: point, base samples), written into the test's folder, without the feature scores' forests.
#: `discover` keeps enough runs for the box its `--drop` example names to restrict that
#: parameter (with 600 runs the box is another, and the command refuses the drop, rightly)
_RUNS = {"run": "60", "compare": "60", "sweep": "4", "sensitivity": "1", "discover": "1500"}
_EXPERIMENTS = set(_RUNS)


def _readme_commands() -> list[list[str]]:
    """Every `python run.py ...` line of the README that runs from the shipped files alone (not
    those of a saved folder, the explorer's server or a file the README only imagines); the
    bare command is the empty list."""
    out = []
    for line in re.findall(r"^(?:\$ )?(?:\.venv/bin/)?python run\.py([^\n#]*)", README, re.M):
        args = shlex.split(line.split(">")[0].split("|")[0])
        if "<experiment id>" in line or "--results" in args or \
                (args and args[0] == "explore") or "bad.yaml" in args:
            continue
        out.append(args)
    return out


def _small(args: list[str], out: str) -> list[str]:
    command, small, rest = args[0], [], iter(args)
    for a in rest:
        if a in ("--runs", "--samples", "--out", "--workers"):
            next(rest, None)  # the option's value: replaced below
            continue
        small.append(a)
    if command == "validate":
        return [command, *(str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("scenarios/*.yaml")))]
    if command in _EXPERIMENTS:
        small += ["--runs", _RUNS[command], "--out", out, "--workers", "2", "--no-progress"]
    if command == "sensitivity":
        small += ["--samples", "2"]
    if command == "run":
        small += ["--no-feature-scores"]
    return small


@pytest.mark.parametrize("args", _readme_commands(), ids=lambda a: " ".join(a)[:60] or "(none)")
def test_every_run_py_command_in_the_readme_runs(args, tmp_path, monkeypatch, capsys):
    """As an analyst copies them, cut to a test's size (`_small`): each one succeeds. The
    README's own `sensitivity --method morris` (every uncertain parameter) once stopped on a
    whole-number parameter drawn as 2.47, which a parse of the command cannot see. The bare
    command, as it is (the baseline's 300 runs), from a folder of its own: its `results/`."""
    if not args:
        monkeypatch.chdir(tmp_path)
        assert main([]) == 0, capsys.readouterr().err
        assert any((tmp_path / "results" / "baseline").iterdir())
        return
    monkeypatch.chdir(ROOT)
    assert main(_small(args, str(tmp_path))) == 0, capsys.readouterr().err
