"""The experiment runner: reproducibility, interruption and resumption, outputs, compare, API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mesa
import pandas as pd
import pytest

from sim import run_experiment
from sim.api import run_scenario
from sim.cli import main
from sim.experiments.store import load_result
from sim.scenario import load_scenario

from .conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.yaml"
REPRODUCIBLE = ("runs.parquet", "summary.json", "summary.csv", "formation_over_time.svg",
                "country_status.png")


def _run(tmp, loaded, **kw):
    return run_scenario(loaded, out=tmp, progress=False, log=lambda *a: None, **kw)


def test_identical_for_any_workers_and_chunk_size(tmp_path, baseline):
    settings = [dict(workers=1, chunk=37), dict(workers=2, chunk=100),
                dict(workers=2, chunk=7), dict(workers=1)]
    folders = [_run(tmp_path / f"r{i}", baseline, runs=250, seed=4, **kw).folder
               for i, kw in enumerate(settings)]
    for name in REPRODUCIBLE:
        blobs = {(f / name).read_bytes() for f in folders}
        assert len(blobs) == 1, name
    runs = pd.read_parquet(folders[0] / "runs.parquet")
    assert list(runs["run"]) == list(range(250)) and runs["seed"].is_unique


def test_api_gives_the_command_line_results(tmp_path, baseline):
    assert main(["run", str(BASELINE), "--runs", "120", "--seed", "9", "--workers", "2",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    (folder,) = (tmp_path / "baseline").iterdir()
    cli = pd.read_parquet(folder / "runs.parquet")
    api = run_experiment(baseline, runs=120, seed=9)
    pd.testing.assert_frame_equal(api, cli)
    pd.testing.assert_frame_equal(run_experiment(baseline, runs=120, seed=9, workers=2,
                                                 chunk=11), cli)
    from sim.analysis.summary import summarise

    saved = json.loads((folder / "summary.json").read_text())
    assert json.loads(json.dumps(summarise(api, baseline, 9), default=str)) == saved


def test_results_folder_contents(tmp_path, baseline):
    res = _run(tmp_path, baseline, runs=60, seed=1)
    f = res.folder
    for name in ("runs.parquet", "summary.json", "summary.csv", "metadata.json", "report.html"):
        assert (f / name).stat().st_size > 0, name
    for plot in ("outcome_breakdown", "country_status", "force_size", "formation_over_time",
                 "top_compositions"):
        assert (f / f"{plot}.png").stat().st_size > 5000
        assert (f / f"{plot}.svg").read_text().count("<path") > 5
    meta = json.loads((f / "metadata.json").read_text())
    assert meta["seed"] == 1 and meta["runs"] == 60
    assert meta["scenario_sha256"] and "baseline.yaml" in meta["scenario_file"]
    assert meta["versions"]["mesa"] == "3.3.1"
    assert any("name: baseline" in t for t in meta["scenario_texts"].values())
    assert meta["resolved_scenario"]["countries"]["Pakistan"]["relations_with_israel"] is False
    runs = pd.read_parquet(f / "runs.parquet")
    assert {"param.israel.threat.Pakistan", "status.Pakistan", "troops.Pakistan",
            "role.Pakistan", "reason", "date"} <= set(runs.columns)
    html = (f / "report.html").read_text()
    assert html.count("<svg") == 5 and "Provenance" in html and "Pakistan" in html
    assert not list(tmp_path.rglob("*.partial"))


def test_rerun_reuses_and_never_overwrites(tmp_path, baseline):
    first = _run(tmp_path, baseline, runs=40, seed=2)
    stamp = {p.name: p.stat().st_mtime_ns for p in first.folder.iterdir()}
    again = _run(tmp_path, baseline, runs=40, seed=2)
    assert again.reused and again.folder == first.folder
    assert {p.name: p.stat().st_mtime_ns for p in again.folder.iterdir()} == stamp
    other = _run(tmp_path, baseline, runs=40, seed=3)
    assert other.folder != first.folder and len(list((tmp_path / "baseline").iterdir())) == 2


def _start(tmp_path, runs):
    cmd = [sys.executable, str(ROOT / "run.py"), "run", str(BASELINE), "--runs", str(runs),
           "--seed", "5", "--workers", "1", "--chunk-size", "50", "--out", str(tmp_path),
           "--no-progress"]
    return cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


def _wait_for_chunks(tmp_path, n, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        chunks = list(tmp_path.rglob("chunks/*.parquet"))
        if len(chunks) >= n:
            return chunks
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    raise AssertionError("no chunks written")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_leaves_nothing_complete_and_resumes(tmp_path, sig, baseline):
    cmd, proc = _start(tmp_path, 4000)
    _wait_for_chunks(tmp_path, 3, proc)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "rerun the same command to resume" in proc.stderr.read().decode()
    folders = list((tmp_path / "baseline").iterdir())
    assert len(folders) == 1 and folders[0].name.endswith(".partial")
    assert not (folders[0] / "metadata.json").exists()
    assert not (folders[0] / "runs.parquet").exists()
    with pytest.raises(Exception, match="not a complete results folder"):
        load_result(folders[0])
    done_before = len(list(folders[0].glob("chunks/*.parquet")))
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "Resuming the unfinished run" in p.stderr
    (final,) = (tmp_path / "baseline").iterdir()
    assert not final.name.endswith(".partial")
    assert json.loads((final / "metadata.json").read_text())["runs_resumed"] == 50 * done_before
    clean = _run(tmp_path / "clean", baseline, runs=4000, seed=5, chunk=50)
    assert (clean.folder / "runs.parquet").read_bytes() == (final / "runs.parquet").read_bytes()


def test_partial_with_other_settings_starts_clean(tmp_path, baseline):
    cmd, proc = _start(tmp_path, 2000)
    _wait_for_chunks(tmp_path, 2, proc)
    proc.kill()
    proc.wait()
    res = run_scenario(baseline, runs=2000, seed=5, chunk=80, out=tmp_path, progress=False,
                       log=lambda m: logs.append(m))
    assert any("Starting again" in m for m in logs)
    assert res.metadata["runs_resumed"] == 0


logs: list[str] = []


def test_progress_lines_when_not_a_terminal(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "run.py"), "run", str(BASELINE), "--runs",
                        "200", "--workers", "1", "--out", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0
    assert "200/200 runs (100%)" in p.stderr and "runs/s" in p.stderr


def test_compare_files_and_folders(tmp_path, capsys):
    hard = ROOT / "scenarios" / "israel_hard_line.yaml"
    args = ["--runs", "150", "--seed", "3", "--workers", "1", "--out", str(tmp_path),
            "--no-progress"]
    assert main(["compare", str(BASELINE), str(hard), *args]) == 0
    out = capsys.readouterr().out
    assert "israel_hard_line" in out and "*" in out  # the hard line's effect is real
    (cmp_dir,) = (tmp_path / "compare").iterdir()
    table = pd.read_csv(cmp_dir / "comparison.csv").set_index("metric")
    row = table.loc["P(formed by the deadline)"]
    assert row["israel_hard_line"] == 0.0
    assert row["israel_hard_line exceeds noise"] == "yes"
    assert table.loc["P(Egypt rejected by Israel)", "israel_hard_line exceeds noise"] == "no"
    for name in ("formation", "countries", "formation_over_time", "force_size"):
        assert (cmp_dir / f"{name}.png").stat().st_size > 5000
    assert (cmp_dir / "report.html").read_text().count("<svg") == 4
    folders = sorted(p for p in tmp_path.iterdir() if p.name != "compare")
    results = [next(f.iterdir()) for f in folders]
    assert main(["compare", *map(str, results), "--out", str(tmp_path / "again")]) == 0
    (cmp2,) = (tmp_path / "again" / "compare").iterdir()
    t2 = pd.read_csv(cmp2 / "comparison.csv").set_index("metric")
    pd.testing.assert_frame_equal(t2.sort_index(axis=1), table.sort_index(axis=1))


def test_compare_rejects_an_unfinished_folder(tmp_path, capsys):
    bad = tmp_path / "x.partial"
    bad.mkdir()
    assert main(["compare", str(bad), str(BASELINE), "--out", str(tmp_path)]) == 2
    assert "not a complete results folder" in capsys.readouterr().err


def test_models_are_released(baseline):
    from sim.model import run_one

    before = len(mesa.Agent._ids)
    for s in range(50):
        run_one(baseline, s)
    assert len(mesa.Agent._ids) == before


def test_results_independent_of_current_directory(tmp_path, baseline):
    os.chdir(tmp_path)
    try:
        loaded = load_scenario(Path(os.path.relpath(BASELINE, tmp_path)))
        res = _run(tmp_path, loaded, runs=30, seed=1)
        ref = _run(tmp_path / "b", baseline, runs=30, seed=1)
        assert (res.folder / "runs.parquet").read_bytes() == \
            (ref.folder / "runs.parquet").read_bytes()
    finally:
        os.chdir(ROOT)
