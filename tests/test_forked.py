"""Work done in a process of its own (`sim.forked.call_apart`): what it returns and raises comes
back whole, Ctrl-C and the command's end reach it once, a death is told, and the command line
computes its runs that way (the same files as in-process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim import forked
from sim.analysis.present import context_of, summarise_file
from sim.experiments import run_experiment

from .conftest import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="processes are forked on Linux only")

BASELINE = ROOT / "scenarios" / "baseline.yaml"


def _script(body: str) -> subprocess.CompletedProcess:
    """`body` run by a fresh Python (one thread: `call_apart` forks there, as in a command)."""
    return subprocess.run([sys.executable, "-c", body], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_the_call_is_computed_elsewhere_and_its_value_comes_back():
    p = _script("import os\nfrom sim import forked\n"
                "def pid_and(x, y=0):\n    return os.getpid(), x + y, [x] * 3\n"
                "print(os.getpid(), *forked.call_apart(pid_and, 4, y=5))")
    assert p.returncode == 0, p.stderr
    command, child, total, listed = p.stdout.split(" ", 3)
    assert child != command and total == "9" and listed.strip() == "[4, 4, 4]"


def test_without_a_fork_the_call_is_made_here(monkeypatch):
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    assert forked.call_apart(os.getpid) == os.getpid()


@pytest.mark.parametrize("error", [
    "ScenarioError([('s.yaml', 'runs', 'expected a whole number')])",
    "files.StorageError('/x/runs.parquet', 'No space left on device')",
    "ValueError('plain')",
    "type('Odd', (Exception,), {'__init__': lambda self, a, b: Exception.__init__(self)})(1, 2)",
])
def test_what_the_call_raises_is_raised_here_whole(error):
    """The command line turns these into its messages and exit codes, so each must arrive as
    itself (type and attributes); one that cannot be sent still says what it was."""
    p = _script("import pickle, sys\nfrom sim import forked\nfrom sim.experiments import files\n"
                "from sim.scenario import ScenarioError\n"
                f"def fail():\n    raise {error}\n"
                "try:\n    forked.call_apart(fail)\nexcept BaseException as e:\n"
                "    print(type(e).__name__, getattr(e, 'problems', None),"
                " getattr(e, 'path', None), str(e).splitlines()[0])\n")
    assert p.returncode == 0, p.stderr
    kind, _, rest = p.stdout.partition(" ")
    expected = {"Scen": ("ScenarioError", "[('s.yaml', 'runs', 'expected a whole number')]"),
                "file": ("StorageError", "/x/runs.parquet"),
                "Valu": ("ValueError", "plain"),
                "type": ("RuntimeError", "Odd")}[error[:4]]
    assert kind == expected[0] and expected[1] in rest


def test_a_process_that_dies_is_told_as_a_worker_that_died():
    p = _script("import os, signal\nfrom sim import forked\n"
                "def die():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
                "try:\n    forked.call_apart(die)\nexcept forked.ChildDied as e:\n"
                "    from concurrent.futures.process import BrokenProcessPool\n"
                "    print(isinstance(e, BrokenProcessPool), e)\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("True ") and "exit code -9" in p.stdout


_INTERRUPT = """
import os, pathlib, sys, time
from sim import forked
marks = pathlib.Path(sys.argv[1])
def work():
    (marks / 'started').write_text(str(os.getpid()))
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        (marks / 'interrupted').write_text(str(len(list(marks.iterdir()))))
        time.sleep(1)  # cleaning up takes a while: the command waits for it
        (marks / 'cleaned').write_text('')
        raise
try:
    forked.call_apart(work)
except KeyboardInterrupt:
    print('interrupted', (marks / 'cleaned').exists(), flush=True)
"""


@pytest.mark.parametrize("who", ["command", "group"])
def test_ctrl_c_reaches_the_process_once_and_the_command_waits_for_its_cleanup(tmp_path, who):
    """Ctrl-C at a terminal (the whole group) or sent to the command alone: the process is
    interrupted once (its cleanup is not cut short by a second KeyboardInterrupt), the command
    raises KeyboardInterrupt only after the cleanup, and nothing is left running."""
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPT, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int((tmp_path / "started").read_text())
    if who == "group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert out.strip() == "interrupted True", err
    assert (tmp_path / "interrupted").read_text() == "1"  # interrupted once: no later mark
    assert not Path(f"/proc/{child}").exists()


def test_the_process_ends_when_the_command_is_killed(tmp_path):
    """Killed (SIGKILL: the command can do nothing), the command's process apart is
    interrupted as by Ctrl-C and ends; it does not compute on for nobody."""
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPT, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int((tmp_path / "started").read_text())
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while not (tmp_path / "cleaned").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "cleaned").exists()
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists()


_RUN = """
import os, sys
from sim import cli, forked
from sim.analysis import present
def unread(*a, **k):
    raise AssertionError("runs.parquet was read again for the summary")
present.summarise_file = unread  # the summary must be the one added up as the runs were written
apart = forked.call_apart
def watched(func, *args, **kwargs):
    print("apart", os.getpid(), flush=True)
    return apart(func, *args, **kwargs)
forked.call_apart = watched
real = cli._run_adding_up
def where(*args, **kwargs):
    print("runs in", os.getpid(), flush=True)
    return real(*args, **kwargs)
cli._run_adding_up = where
cli.APART_RUNS = 1  # this small experiment too
sys.exit(cli.main(sys.argv[1:]))
"""


def test_the_command_line_computes_its_runs_apart_with_the_same_files(tmp_path, baseline):
    """`run` computes a large experiment's runs in a process of its own (which ends, and takes
    the memory the runs leave behind with it; `cli.APART_RUNS`, lowered here) and adds them
    up there: the files are those of the runs
    computed here, and the summary is the one added up there (runs.parquet is not read for
    it) and equal to the file's."""
    args = ["run", str(BASELINE), "--runs", "700", "--seed", "9", "--workers", "2",
            "--chunk-size", "90", "--out", str(tmp_path / "cli"), "--no-progress",
            "--no-feature-scores"]
    p = subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = dict(line.rsplit(" ", 1) for line in p.stdout.splitlines()
                 if line.startswith(("apart", "runs in")))
    assert lines["runs in"] != lines["apart"]  # computed in another process than the command
    (folder,) = (tmp_path / "cli" / "baseline").iterdir()
    here = run_experiment(baseline, 700, 9, workers=1, chunk=90, out=tmp_path / "here",
                          log=lambda *_: None)
    for name in ("runs.parquet", "rounds.parquet"):
        assert (folder / name).read_bytes() == (here.folder / name).read_bytes(), name
    meta = json.loads((folder / "metadata.json").read_text())
    assert json.loads((folder / "summary.json").read_text()) == \
        summarise_file(folder / "runs.parquet", context_of(meta))
