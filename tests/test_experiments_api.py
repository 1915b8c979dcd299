"""The one entry point from Python: tables, points, limits, progress, scripts and notebooks,
and tracing a run by its index or from a results folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim import run_experiment, trace, trace_result
from sim.cli import main
from sim.experiments import ExperimentError, compute_chunk, run_seed
from sim.experiments.limits import MAX_RUNS, MAX_WORKERS
from sim.model import outcome_fields, round_fields
from sim.scenario import ScenarioError
from sim.tracing import trace_run

from .conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.yaml"
OPPOSITION = "countries.Pakistan.domestic.opposition_strength"
PRESSURE = "convener.pressure"  # fixed in the baseline: a point may still set it


def test_tables_follow_the_declared_columns(baseline):
    res = run_experiment(baseline, runs=25, seed=3)
    assert list(res.runs.columns) == ["run", "seed", *(f"param.{p}" for p, _ in
                                                       baseline.uncertain),
                                      *(n for n, _ in outcome_fields(baseline))]
    assert list(res.rounds.columns) == ["run", *(n for n, _ in round_fields(baseline))]
    assert res.runs["seed"].tolist() == [run_seed(3, i) for i in range(25)]
    assert res.folder is None and res.metadata["total_runs"] == 25


def test_a_model_record_that_disagrees_with_its_declaration_is_an_error(baseline,
                                                                       monkeypatch):
    import sim.experiments.tables as tables

    def wrong(loaded):
        return [*outcome_fields(loaded), ("not_in_the_record", "int")]

    monkeypatch.setattr(tables, "outcome_fields", wrong)
    with pytest.raises(RuntimeError, match="missing \\['not_in_the_record'\\]"):
        compute_chunk(baseline, 1, 0, 3)


def test_points_run_with_the_same_seeds(baseline):
    points = [{OPPOSITION: 0.1, PRESSURE: 0.0}, {OPPOSITION: 0.9, PRESSURE: 0.8}]
    res = run_experiment(baseline, runs=30, seed=4, points=points, chunk=7, rounds=30)
    runs = res.runs
    assert list(runs.columns[:3]) == ["point", "run", "seed"]
    assert len(runs) == 60 and runs["point"].tolist() == [0] * 30 + [1] * 30
    assert runs["run"].tolist() == list(range(30)) * 2
    assert (runs[runs["point"] == 0]["seed"].to_numpy() ==
            runs[runs["point"] == 1]["seed"].to_numpy()).all()
    assert runs.groupby("point")[f"param.{PRESSURE}"].first().tolist() == [0.0, 0.8]
    assert runs.groupby("point")[f"param.{OPPOSITION}"].first().tolist() == [0.1, 0.9]
    # the other uncertain parameters are drawn exactly as without points
    plain = run_experiment(baseline, runs=30, seed=4).runs
    other = [f"param.{p}" for p, _ in baseline.uncertain if p not in (OPPOSITION, PRESSURE)]
    pd.testing.assert_frame_equal(runs[runs["point"] == 1][other].reset_index(drop=True),
                                  plain[other])
    assert set(res.rounds["point"]) == {0, 1}
    # chunks that cross a point's boundary give the same rows
    pd.testing.assert_frame_equal(run_experiment(baseline, runs=30, seed=4, points=points,
                                                 chunk=60, workers=2).runs, runs)


@pytest.mark.parametrize("points, problem", [
    ([], "empty list"),
    ([{}], "at least one parameter"),
    ([{OPPOSITION: 0.1}, {PRESSURE: 0.2}], "the same parameters"),
    ([{OPPOSITION: float("nan")}], "finite number"),
    ([{OPPOSITION: float("inf")}], "finite number"),
    ([{OPPOSITION: "0.5"}], "finite number"),
    ([{OPPOSITION: 1.5}], "1.5"),
    ([{"countries.Pakistn.domestic.opposition_strength": 0.5}], "no numeric parameter"),
])
def test_bad_points_are_refused(baseline, points, problem):
    with pytest.raises((ExperimentError, ScenarioError)) as e:
        run_experiment(baseline, runs=2, seed=1, points=points)
    text = e.value.format() if isinstance(e.value, ScenarioError) else str(e.value)
    assert problem in text


def test_limits(baseline):
    logs: list[str] = []
    for kw, problem in [(dict(runs=MAX_RUNS + 1), "limit of 100,000,000 runs"),
                        (dict(runs=10**6, points=[{PRESSURE: 0.1}] * 101),
                         "101 points x 1,000,000 runs"),
                        (dict(runs=0), "at least 1"),
                        (dict(runs=5, seed=-1), "--seed -1"),
                        (dict(runs=5, seed=2**64), "--seed"),
                        (dict(runs=5, workers=MAX_WORKERS + 1), "at most 256"),
                        (dict(runs=5, chunk=0), "--chunk-size")]:
        with pytest.raises(ExperimentError, match=problem):
            run_experiment(baseline, log=logs.append, **kw)
    assert not logs


def test_workers_beyond_the_cores_get_a_warning(baseline, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    logs: list[str] = []
    res = run_experiment(baseline, runs=10, seed=1, workers=2, log=logs.append)
    assert any("more than the 1 cores" in m for m in logs)
    pd.testing.assert_frame_equal(res.runs, run_experiment(baseline, runs=10, seed=1).runs)


def test_progress_callback_and_stopping(baseline):
    seen: list[tuple[int, int]] = []
    run_experiment(baseline, runs=120, seed=1, chunk=25, on_progress=lambda d, t:
                   seen.append((d, t)))
    assert seen == [(25, 120), (50, 120), (75, 120), (100, 120), (120, 120)]

    class Stop(Exception):
        pass

    def stop(done, total):
        if done >= 50:
            raise Stop

    with pytest.raises(Stop):
        run_experiment(baseline, runs=10_000, seed=1, chunk=25, on_progress=stop)


def _python(code: str, tmp_path, as_file: bool):
    """Run code as a plain script file (no `if __name__` guard) or as `python -c`."""
    if as_file:
        script = tmp_path / "example.py"
        script.write_text(code)
        cmd = [sys.executable, str(script)]
    else:
        cmd = [sys.executable, "-c", code]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("as_file, guarded_with_a_thread", [(True, False), (False, False),
                                                            (True, True)],
                         ids=["script", "notebook-like", "guarded-script-with-a-thread"])
def test_several_workers_from_a_script_or_a_notebook(tmp_path, as_file, guarded_with_a_thread):
    """Several workers from a plain script (even unguarded), without a main file (as in a
    notebook) or beside other threads: each gives the same tables as one worker, and starts
    no process."""
    code = textwrap.dedent("""
        from sim import load_scenario, run_experiment
        scenario = load_scenario("scenarios/baseline.yaml")
        a = run_experiment(scenario, runs=120, seed=1, workers=2, chunk=20)
        b = run_experiment(scenario, runs=120, seed=1)
        assert a.runs.equals(b.runs) and a.rounds.equals(b.rounds)
        import multiprocessing
        print("rows", len(a.runs), "processes", len(multiprocessing.active_children()))
    """)
    if guarded_with_a_thread:
        code = ("import threading, time\nif __name__ == '__main__':\n"
                "    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
                + textwrap.indent(code, "    "))
    p = _python(code, tmp_path, as_file)
    assert p.returncode == 0, p.stderr
    assert "rows 120 processes 0\n" in p.stdout
    assert "Traceback" not in p.stderr and "bootstrapping" not in p.stderr


def test_trace_by_run_index(baseline):
    t = trace(baseline, run=3, seed=11)
    ref = trace_run(baseline, run_seed(11, 3))
    assert t["events"] == ref["events"] and t["outcome"] == ref["outcome"]
    assert t["run"] == 3 and t["master_seed"] == 11 and t["seed"] == run_seed(11, 3)
    by_seed = trace(baseline, run_seed=run_seed(11, 3))
    assert by_seed["outcome"] == ref["outcome"]
    default = trace(baseline)  # run 0 of the scenario's own master seed
    assert default["seed"] == run_seed(baseline.scenario.seed, 0)


def _outcome_row(folder, run, point=None):
    filters = [("run", "=", run)] + ([("point", "=", point)] if point is not None else [])
    (row,) = pq.read_table(folder / "runs.parquet", filters=filters).to_pylist()
    return row


def test_trace_a_run_of_a_results_folder(tmp_path, capsys):
    assert main(["run", str(BASELINE), "--runs", "20", "--seed", "7", "--set",
                 f"{OPPOSITION}=0.95", "--workers", "1", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    (folder,) = (tmp_path / "baseline").iterdir()
    capsys.readouterr()
    for run in (0, 13):
        t = trace_result(folder, run)
        row = _outcome_row(folder, run)
        assert t["seed"] == row["seed"] and t["overrides"] == [f"{OPPOSITION}=0.95"]
        assert {k: row[k] for k in t["outcome"]} == t["outcome"]
        for p, d in t["sampled"].items():
            assert row[f"param.{p}"] == d["value"]
    assert main(["trace", "--results", str(folder), "--run", "13", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == trace_result(folder, 13)["outcome"]
    for args, problem in [(["--run", "20"], "holds runs 0 to 19"),
                          (["--run", "1", "--seed", "3"], "give only --run"),
                          (["--point", "0"], "has no points")]:
        assert main(["trace", "--results", str(folder), *args]) == 2
        err = capsys.readouterr().err
        assert problem in err and "Traceback" not in err
    assert main(["trace", str(BASELINE), "--run", "2", "--run-seed", "5"]) == 2
    assert "--run-seed" in capsys.readouterr().err


def test_trace_a_point_of_a_sweep(tmp_path, capsys):
    assert main(["sweep", str(BASELINE), "--vary", f"{PRESSURE}=0:0.8:3", "--runs", "6",
                 "--workers", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    (folder,) = (tmp_path / "baseline").iterdir()
    t = trace_result(folder, run=4, point=2)
    row = _outcome_row(folder, 4, point=2)
    assert t["fixed"] == {PRESSURE: 0.8} == {PRESSURE: row[f"param.{PRESSURE}"]}
    assert {k: row[k] for k in t["outcome"]} == t["outcome"]
    capsys.readouterr()
    assert main(["trace", "--results", str(folder), "--run", "4"]) == 2
    assert "say which with --point" in capsys.readouterr().err
    assert main(["trace", "--results", str(folder), "--run", "4", "--point", "2"]) == 0
    assert "the point's fixed value" in capsys.readouterr().out
