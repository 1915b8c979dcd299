"""The README's examples work as written."""

from __future__ import annotations

import os
import re
import shlex

from sim.cli import build_parser

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_python_quick_start_runs():
    (block,) = re.findall(r"```python\n(.*?)```", README, re.S)
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        namespace: dict = {}
        exec(block, namespace)  # noqa: S102 - our own README
    finally:
        os.chdir(here)
    assert len(namespace["runs"]) == 500
    assert namespace["summary"]["runs"] == 500


def test_every_run_py_command_in_the_readme_parses():
    parser = build_parser()
    commands = re.findall(r"^(?:\$ )?(?:\.venv/bin/)?python run\.py([^\n#]*)", README, re.M)
    assert len(commands) >= 15
    for line in commands:
        args = shlex.split(line.replace("<run id>", "x").split(">")[0].split("|")[0])
        parser.parse_args(args)  # exits (fails the test) on an unknown command or option
