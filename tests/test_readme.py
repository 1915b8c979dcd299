"""The README's examples work as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

from sim.cli import build_parser

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
