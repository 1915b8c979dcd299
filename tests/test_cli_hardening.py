"""Hostile command-line values for the batch commands: scenario names that are not folder
names, results roots that cannot take results, and sizes beyond the limits. Each ends with a
message naming the option and the problem, exit 2, and nothing written."""

from __future__ import annotations

import contextlib
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.experiments.files import MAX_NAME, check_root, safe_name

from .conftest import ROOT

BASELINE = str(ROOT / "scenarios" / "baseline.yaml")
SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_name_becomes_a_safe_folder_name(name):
    folder = safe_name(name)
    assert SAFE.fullmatch(folder), folder
    assert len(folder) <= MAX_NAME and ".." not in folder
    assert folder not in (".", "..") and os.sep not in folder


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=300), st.text(min_size=1, max_size=300))
def test_different_names_stay_apart_when_cut_or_replaced(a, b):
    if a != b and safe_name(a) == safe_name(b):
        # the same folder name only where both are short, ASCII-clean and merely spelled
        # differently (say 'a b' and 'a_b'); never for names that had to be cut or emptied
        assert len(safe_name(a)) < MAX_NAME and not safe_name(a).startswith("scenario-")


@pytest.mark.parametrize("name", ["..", ".", "../../escaped", "/etc/passwd", "a/../../b",
                                  "CON", "x" * 10_000, "غزة", "-rf"])
def test_a_hostile_scenario_name_stays_inside_out(tmp_path, name, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["run", BASELINE, "--set", f"name={name!r}" if name != "-rf" else "name=-rf",
                 "--runs", "5", "--workers", "1", "--out", str(out), "--no-progress"]) == 0
    assert list(tmp_path.iterdir()) == [out]  # nothing beside (or above) the results root
    assert not (tmp_path.parent / "escaped").exists()
    (scenario_dir,) = out.iterdir()
    assert SAFE.fullmatch(scenario_dir.name) and len(scenario_dir.name) <= MAX_NAME
    (folder,) = scenario_dir.iterdir()
    assert (folder / "report.html").exists()


def test_compare_of_long_names(tmp_path, summaries_only):
    args = ["--runs", "5", "--workers", "1", "--out", str(tmp_path), "--no-progress"]
    long = "y" * 1000
    assert main(["compare", BASELINE, BASELINE, "--set", f"name={long}", *args]) == 0
    (folder,) = (tmp_path / "compare").iterdir()
    assert len(folder.name) <= MAX_NAME + 9
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["compare", safe_name(long)])


@pytest.mark.parametrize("target, problem", [
    ("file", "is a file, not a folder"), ("/", "system folder"), ("/usr", "system folder"),
    ("/proc/isf", "system folder"), ("/etc/isf", "system folder"), ("", "empty"),
    ("under-file", "is a file"),
])
def test_bad_out_is_refused_before_anything_runs(tmp_path, target, problem, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    out = {"file": str(a_file), "under-file": str(a_file / "sub")}.get(target, target)
    for cmd in (["run", BASELINE], ["sweep", BASELINE, "--vary", "convener.pressure=0:1:2"],
                ["compare", BASELINE, BASELINE], ["discover", BASELINE, "--outcome", "formed"]):
        assert main([*cmd, "--runs", "5", "--workers", "1", "--out", out,
                     "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "--out" in err and problem in err and "Traceback" not in err, err
    assert a_file.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [a_file]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["run", BASELINE, "--runs", "5", "--out", str(locked / "r")]) == 2
        assert "permission denied" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_check_root_creates_nothing(tmp_path):
    check_root(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("args, problem", [
    (["run", BASELINE, "--runs", "1000000000000"], "--runs: must be at most 100,000,000"),
    (["run", BASELINE, "--workers", "1000000"], "--workers: must be at most 256"),
    (["run", BASELINE, "--seed", "-1"], "--seed: must be at least 0"),
    (["run", BASELINE, "--seed", "1" + "0" * 40], "--seed: must be at most"),
    (["sweep", BASELINE, "--vary", "convener.pressure=0:1:1000000000"],
     "1,000,000,000 points is more than the limit"),
    (["sweep", BASELINE, "--vary", "convener.pressure=0:1:100000", "--vary",
      "israel.threshold=0:1:100000"], "10,000,000,000 points: more than the limit"),
    (["sweep", BASELINE, "--vary", "convener.pressure=0:1:100000", "--runs", "10000"],
     "100,000 points x 10,000 runs = 1,000,000,000 runs: more than the limit"),
    (["sensitivity", BASELINE, "--samples", "100000000"], "more than the limit of"),
])
def test_sizes_beyond_the_limits_are_refused_at_once(tmp_path, args, problem, capsys):
    with pytest.raises(SystemExit) if "must be" in problem else contextlib.nullcontext():
        code = main([*args, "--out", str(tmp_path), "--no-progress"])
        assert code == 2
    err = capsys.readouterr().err
    assert problem in err and "Traceback" not in err, err
    assert not list(tmp_path.iterdir())


def test_workers_beyond_the_cores_warn(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert main(["run", BASELINE, "--runs", "10", "--workers", "2", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert "Warning: --workers 2 is more than the 1 cores" in capsys.readouterr().err


def test_a_scenario_name_in_every_place_it_names_a_folder(tmp_path, summaries_only):
    """Studies and discoveries name their folders after the scenario too."""
    out = tmp_path / "out"
    args = ["--set", "name=../..", "--workers", "1", "--out", str(out), "--no-progress"]
    assert main(["sweep", BASELINE, "--vary", "convener.pressure=0:0.5:2", "--runs", "4",
                 *args]) == 0
    assert main(["discover", BASELINE, "--outcome", "formed", "--runs", "300", *args]) == 0
    assert list(tmp_path.iterdir()) == [out]
    assert [p.name for p in out.iterdir()] == [safe_name("../..")]
    kinds = sorted(p.name.split("-")[0] for p in (out / safe_name("../..")).iterdir())
    assert kinds == ["discovery", "seed20251221", "sweep"]
