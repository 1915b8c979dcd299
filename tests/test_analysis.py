"""Overrides, sweeps, sensitivity analysis, scenario discovery and the Dask back end."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim.analysis.studies import (
    _sobol_analyze,
    _whole_number_effects,
    design,
    discover,
    outcome_mask,
    parse_param,
    parse_vary,
    sensitivity,
    sweep,
    whole_numbers,
)
from sim.api import run_experiment
from sim.cli import main
from sim.experiments.runner import check_points
from sim.scenario import ScenarioError, from_mapping, load_scenario

from .conftest import ROOT, world

BASELINE = ROOT / "scenarios" / "baseline.yaml"
OPPOSITION = "countries.Pakistan.domestic.opposition_strength"


# ----------------------------------------------------------------------------- overrides


def test_override_reaches_the_model():
    loaded = load_scenario(BASELINE, [f"{OPPOSITION}=0.95", "israel.threat.Turkey=0.1",
                                      "convener.pressure={value: 0.7, source: test}",
                                      "israel.threat.Iran=0.4",
                                      "countries.Pakistan.stances.police_training=-1"])
    tree = loaded.tree
    assert tree["countries"]["Pakistan"]["domestic"]["opposition_strength"] == 0.95
    assert tree["israel"]["threat"]["Turkey"] == 0.1 and tree["israel"]["threat"]["Iran"] == 0.4
    assert tree["convener"]["pressure"] == 0.7
    assert OPPOSITION not in dict(loaded.uncertain)  # the distribution was replaced
    assert loaded.overrides[0] == f"{OPPOSITION}=0.95"
    base = load_scenario(BASELINE)
    assert base.tree["countries"]["Pakistan"]["domestic"]["opposition_strength"] != 0.95


def test_override_recorded_in_results_and_trace(tmp_path, capsys):
    args = ["--set", f"{OPPOSITION}=0.9", "--runs", "30", "--workers", "1", "--out",
            str(tmp_path), "--no-progress"]
    assert main(["run", str(BASELINE), *args]) == 0
    (folder,) = (tmp_path / "baseline").iterdir()
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["overrides"] == [f"{OPPOSITION}=0.9"]
    assert f"{OPPOSITION}=0.9" in (folder / "report.html").read_text()
    runs = pd.read_parquet(folder / "runs.parquet")
    assert f"param.{OPPOSITION}" not in runs.columns  # no longer uncertain
    assert main(["run", str(BASELINE), *args[2:]]) == 0  # without the override: another folder
    assert len(list((tmp_path / "baseline").iterdir())) == 2
    capsys.readouterr()
    assert main(["trace", str(BASELINE), "--seed", "1", "--set", f"{OPPOSITION}=0.9"]) == 0
    assert f"Overrides: {OPPOSITION}=0.9" in capsys.readouterr().out


@pytest.mark.parametrize("override, key, problem", [
    ("countries.Pakistn.domestic.opposition_strength=0.5", "countries.Pakistn",
     "did you mean 'Pakistan'?"),
    (f"{OPPOSITION}=1.4", OPPOSITION, "[0, 1]; got 1.4 (value given by --set)"),
    ("countries.Pakistan.domestic.oppositon_strength=0.5",
     "countries.Pakistan.domestic.oppositon_strength", "did you mean 'opposition_strength'?"),
    ("israel.tolerance=high", "israel.tolerance", "expected a number"),
    ("israel.tolerance", "israel.tolerance", "expected KEY=VALUE"),
    ("tasks.policing.risk=0.1", "tasks.policing", "no entry 'policing'"),
    ("countries.Pakistan.domestic.ratification.5.opposition_share=0.1",
     "countries.Pakistan.domestic.ratification.5", "no item 5"),
])
def test_bad_override_fails_clearly(override, key, problem, tmp_path, capsys):
    for cmd in (["run", str(BASELINE), "--out", str(tmp_path)], ["trace", str(BASELINE)],
                ["sweep", str(BASELINE), "--vary", "israel.tolerance=0:1:3", "--out",
                 str(tmp_path)]):
        assert main([*cmd, "--set", override]) == 2
        err = capsys.readouterr().err
        assert key in err and problem in err and "Traceback" not in err, err
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- sweeps


def test_sweep_of_pakistan_opposition_moves_its_deployment_the_expected_way(baseline):
    loaded = load_scenario(BASELINE, ["countries.Pakistan.domestic.alignment_tolerance=0"])
    study = sweep(loaded, [parse_vary(loaded, f"{OPPOSITION}=0:1:3")], runs=300, seed=8,
                  progress=False)
    p = study.table["p_in_force.Pakistan"].tolist()
    assert p[0] >= p[1] - 0.02 and p[1] >= p[2] - 0.02  # never rises (tolerance 0.02)
    assert p[0] - p[2] > 0.05  # and it does fall
    assert study.table[OPPOSITION].tolist() == [0.0, 0.5, 1.0]
    lo, hi = study.table.loc[0, ["p_formed_low", "p_formed_high"]]
    assert lo <= study.table.loc[0, "p_formed"] <= hi


def test_two_parameter_sweep_and_its_outputs(tmp_path, capsys):
    assert main(["sweep", str(BASELINE), "--vary", f"{OPPOSITION}=0:1:2", "--vary",
                 "israel.threat.Pakistan=0.1:0.7:3", "--runs", "40", "--workers", "2",
                 "--round-runs", "5", "--out", str(tmp_path), "--no-progress"]) == 0
    (folder,) = (tmp_path / "baseline").iterdir()
    t = pd.read_csv(folder / "sweep.csv")
    assert len(t) == 6 and {"p_formed", "p_in_force.Pakistan_low"} <= set(t.columns)
    assert (folder / "sweep.png").stat().st_size > 10_000
    assert "<svg" in (folder / "report.html").read_text()
    # the sweep kept its runs: one row per point and run, the point's values in param.*
    runs = pd.read_parquet(folder / "runs.parquet")
    assert len(runs) == 6 * 40 and sorted(runs["point"].unique()) == list(range(6))
    assert runs.groupby("point")[f"param.{OPPOSITION}"].nunique().eq(1).all()
    assert sorted(runs[f"param.{OPPOSITION}"].unique()) == [0.0, 1.0]
    assert (runs.groupby("point")["seed"].apply(list).map(tuple).nunique()) == 1
    rounds = pd.read_parquet(folder / "rounds.parquet")  # asked for: the first 5 runs a point
    assert set(zip(rounds["point"], rounds["run"], strict=True)) == \
        {(p, r) for p in range(6) for r in range(5)}
    # and its table is computed from them: a rebuild gives the same bytes
    table = (folder / "sweep.csv").read_bytes()
    (folder / "sweep.csv").unlink()
    assert main(["report", str(folder)]) == 0
    assert (folder / "sweep.csv").read_bytes() == table
    # rerunning the same sweep reuses the folder
    assert main(["sweep", str(BASELINE), "--vary", f"{OPPOSITION}=0:1:2", "--vary",
                 "israel.threat.Pakistan=0.1:0.7:3", "--runs", "40", "--workers", "1",
                 "--round-runs", "5", "--out", str(tmp_path), "--no-progress"]) == 0
    assert len(list((tmp_path / "baseline").iterdir())) == 1


def test_points_share_seeds_so_identical_points_agree(baseline):
    res = run_experiment(baseline, runs=40, seed=2, points=[{OPPOSITION: 0.5},
                                                            {OPPOSITION: 0.5}])
    runs = res.runs
    a = runs[runs["point"] == 0].drop(columns="point").reset_index(drop=True)
    b = runs[runs["point"] == 1].drop(columns="point").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("vary, problem", [
    ("countries.Pakistan.domestic.oppositon=0:1:3", "did you mean"),
    (f"{OPPOSITION}=0:2:3", "[0, 1]; got 2"),
    (f"{OPPOSITION}=0:1:1", "POINTS must be at least 2"),
    (f"{OPPOSITION}=0:1", "expected KEY=START:STOP:POINTS"),
])
def test_bad_vary(vary, problem, baseline):
    with pytest.raises(ScenarioError, match=problem.replace("[", r"\[").replace("?", r"\?")):
        parse_vary(baseline, vary)


# ----------------------------------------------------------------------------- sensitivity


def _dominated_world():
    """Alpha's willingness alone decides whether the force forms (no noise, Beta always in);
    the two other uncertain parameters have no effect at all."""
    return from_mapping(world({
        "convener": {"target_troops": 1000, "min_contributors": 2},
        "countries": {"Alpha": {"willingness": {"uniform": [-0.5, 0.5]}},
                      "Beta": {"casualty_aversion": {"uniform": [0.0, 0.2]}}},
        "environment": {"alignment": {"uniform": [0.0, 1.0]}},
    }), "dominated.yaml")


@pytest.mark.parametrize("method, samples, second", [("morris", 12, False), ("sobol", 64, False),
                                                     ("sobol", 64, True)])
def test_sensitivity_ranks_the_dominant_parameter_first(method, samples, second):
    loaded = _dominated_world()
    params = [(p, tuple(d.support())) for p, d in loaded.uncertain]
    assert len(params) == 3
    study = sensitivity(loaded, method, params, samples, runs=3, seed=1, second_order=second,
                        progress=False)
    expected_points = {"morris": samples * 4, "sobol": samples * (8 if second else 5)}[method]
    assert study.info["points"] == expected_points
    t = study.table[study.table["output"] == "formed"].set_index("parameter")
    key = study.info["index"]
    assert t[key].idxmax() == "countries.Alpha.willingness"
    assert t.loc["countries.Alpha.willingness", "rank"] == 1
    others = t.drop("countries.Alpha.willingness")[key]
    assert (others.abs() < 0.05).all(), others


def test_sensitivity_command_writes_its_folder(tmp_path, capsys):
    assert main(["sensitivity", str(BASELINE), "--method", "morris", "--samples", "4",
                 "--runs", "4", "--param", "israel.threat.Pakistan", "--param",
                 f"{OPPOSITION}=0.2:0.9", "--param", "convener.pressure=0:0.5", "--workers", "1",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "What drives whether a force forms" in out
    (folder,) = (tmp_path / "baseline").iterdir()
    t = pd.read_csv(folder / "sensitivity.csv")
    assert set(t["parameter"]) == {"israel.threat.Pakistan", OPPOSITION, "convener.pressure"}
    assert (folder / "drivers_formation.png").stat().st_size > 5000
    info = json.loads((folder / "sensitivity.json").read_text())
    assert info["bounds"][1] == [0.2, 0.9] and info["points"] == 16
    runs = pd.read_parquet(folder / "runs.parquet")  # the design's runs are kept
    assert len(runs) == 16 * 4 and runs["point"].nunique() == 16
    assert runs[f"param.{OPPOSITION}"].between(0.2, 0.9).all()
    table = (folder / "sensitivity.csv").read_bytes()
    (folder / "sensitivity.csv").unlink()
    assert main(["report", str(folder)]) == 0  # analysed again from the saved runs
    assert (folder / "sensitivity.csv").read_bytes() == table


SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
@pytest.mark.parametrize("method, second", [("morris", False), ("sobol", True)])
def test_the_default_design_of_every_shipped_scenario_can_be_run(path, method, second):
    """`sensitivity` studies every uncertain parameter by default, the whole-number ones among
    them (rounds, contributors): every point of its design must be a point the runner accepts
    (it refused the baseline's default design once: a count of rounds of 2.47)."""
    loaded = load_scenario(path)
    params = [(p, tuple(map(float, d.support()))) for p, d in loaded.uncertain]
    whole = whole_numbers(loaded, params)
    assert whole, "the shipped scenarios have whole-number parameters: the test needs one"
    points, info = design(loaded, method, params, 2, seed=1, second_order=second)
    check_points(loaded, points)  # raises on a value the scenario would refuse
    assert info["whole_numbers"] == sorted(whole)
    bounds = dict(params)
    for p in whole:
        values = np.array([pt[p] for pt in points])
        assert (values == np.round(values)).all(), p
        assert values.min() >= bounds[p][0] and values.max() <= bounds[p][1], p


@pytest.mark.parametrize("hi", range(2, 41))
def test_every_morris_step_of_a_whole_number_parameter_still_moves_it(baseline, hi):
    """Morris's analysis reads which input changed at each step of a trajectory, and in which
    direction, from the points as run. Rounded down to whole numbers, each step must still
    change exactly the one parameter it changes in SALib's design: 1..hi values, two to forty."""
    params = [("convener.min_contributors", (1.0, float(hi))), ("convener.pressure", (0.0, 1.0)),
              (OPPOSITION, (0.0, 1.0))]
    points, _ = design(baseline, "morris", params, 30, seed=hi)
    x = np.array([[pt[p] for p, _ in params] for pt in points])
    steps = np.diff(x.reshape(30, len(params) + 1, len(params)), axis=1)
    assert ((steps != 0).sum(axis=2) == 1).all()


def test_a_sobol_design_takes_each_whole_number_equally_often(baseline):
    """Drawn over [LO, HI + 1) and rounded down, each whole number of the range has an equal
    share of the design: 1,024 base samples, each four rows (A, two AB, B), each value's count
    within 3 a row of its share (a Sobol sequence is nearly even by construction; floating
    point must not push a value into its neighbour)."""
    params = [("convener.min_contributors", (2.0, 6.0)), ("convener.pressure", (0.0, 1.0))]
    points, _ = design(baseline, "sobol", params, 1024, seed=3)
    values = np.array([pt["convener.min_contributors"] for pt in points])
    found, counts = np.unique(values, return_counts=True)
    assert found.tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert np.abs(counts - len(values) / 5).max() <= 3 * 4, counts  # four columns per sample


@pytest.mark.parametrize("lo, hi", [(1, 2), (1, 3), (1, 4), (1, 5), (0, 7), (2, 9)])
def test_morris_scores_a_whole_number_parameter_as_a_continuous_one_of_the_same_effect(
        baseline, lo, hi):
    """Both parameters move the output linearly across their ranges by the same amount: the
    same mu*, 1, and no spread (sigma 0). SALib alone divides a whole-number parameter's
    change by the design's step, not the step the runs took: mu* 1.5 for two values."""
    from SALib.analyze import morris as morris_analyze

    params = [("convener.deploy_rounds", (float(lo), float(hi))),
              ("convener.pressure", (0.0, 1.0))]
    points, info = design(baseline, "morris", params, 100, seed=lo * 10 + hi)
    x = np.array([[pt[p] for p, _ in params] for pt in points])
    y = (x[:, 0] - lo) / (hi - lo) + x[:, 1]
    problem = {"num_vars": 2, "names": [p for p, _ in params], "bounds": info["bounds"]}
    r = morris_analyze.analyze(problem, x, y, num_levels=4, conf_level=0.95, seed=1)
    _whole_number_effects(r, 0, x, y, info["bounds"][0], seed=1)
    assert r["mu_star"][0] == pytest.approx(1.0) and r["mu_star"][1] == pytest.approx(1.0)
    assert r["mu"][0] == pytest.approx(1.0)
    assert r["sigma"][0] == pytest.approx(0.0, abs=1e-12)
    assert r["mu_star_conf"][0] == pytest.approx(0.0, abs=1e-12)


def test_a_parameter_given_twice_is_refused_before_anything_runs(tmp_path, capsys):
    assert main(["sensitivity", str(BASELINE), "--param", "convener.pressure", "--param",
                 "convener.pressure=0:0.5", "--param", "convener.leverage", "--samples", "2",
                 "--runs", "1", "--out", str(tmp_path), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "convener.pressure: given more than once" in captured.err
    assert "analysis of" not in captured.out + captured.err  # refused before it is announced
    assert not any(tmp_path.iterdir())


def test_a_design_whose_outputs_never_move_is_reported_not_a_crash(tmp_path, capsys):
    """Six points of one run each, on two parameters that do not move formation or any
    country (seed fixed): Morris has no index to compute, and says so."""
    assert main(["sensitivity", str(BASELINE), "--method", "morris", "--param",
                 "convener.pressure", "--param", "convener.leverage", "--samples", "2",
                 "--runs", "1", "--workers", "1", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "did not change across the design's 6 points" in out
    (folder,) = (tmp_path / "baseline").iterdir()
    assert (folder / "report.html").is_file() and (folder / "mu_sigma.png").is_file()


def test_the_default_sensitivity_command_runs_on_the_baseline(tmp_path, capsys):
    """The command as an analyst first types it: every uncertain parameter, no ranges."""
    assert main(["sensitivity", str(BASELINE), "--method", "morris", "--samples", "4",
                 "--runs", "2", "--workers", "2", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out  # four trajectories: formation moves (with two it did not)
    assert "What drives whether a force forms" in out and "  1. " in out
    (folder,) = (tmp_path / "baseline").iterdir()
    runs = pd.read_parquet(folder / "runs.parquet", columns=["param.convener.deploy_rounds"])
    assert set(runs["param.convener.deploy_rounds"]) <= {1.0, 2.0, 3.0, 4.0}
    info = json.loads((folder / "sensitivity.json").read_text())
    assert "convener.deploy_rounds" in info["whole_numbers"]


def test_an_output_that_barely_varies_is_reported_rough_not_warned(recwarn):
    """SALib warns (a Python warning, with a path into SALib) when an output does not vary in
    what one of its estimators reads; the study keeps no such warning and says it in words."""
    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0, 1], [0, 1]]}
    rng = np.random.default_rng(0)
    n = 64 * 6  # 64 base samples, second order: N(2D + 2)
    moving = rng.random(n)
    r, constant = _sobol_analyze(problem, moving, True, seed=1)
    assert not constant and np.isfinite(r["ST"]).all()
    barely = np.ones(n)
    # one point of the design left its usual value: in SALib's rows A, AB_1, AB_2, BA_1, BA_2,
    # B per sample, one of AB_1's, so that A and B, which every estimator reads, never vary
    barely[1] = 0.9
    _, constant = _sobol_analyze(problem, barely, True, seed=1)
    assert constant
    assert not [w for w in recwarn if "Constant values" in str(w.message)]


def test_bad_param(baseline):
    with pytest.raises(ScenarioError, match="fixed in the scenario"):
        parse_param(baseline, "convener.first_phase")
    with pytest.raises(ScenarioError, match="LO < HI"):
        parse_param(baseline, "convener.first_phase=0.5:0.1")
    with pytest.raises(ScenarioError, match=r"\[0, 1\]"):
        parse_param(baseline, "convener.first_phase=0:3")


# ----------------------------------------------------------------------------- discovery


def test_prim_finds_a_planted_box():
    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame({"param.a": rng.random(n), "param.b": rng.random(n),
                       "param.c": rng.random(n)})
    df["planted"] = (df["param.a"] > 0.7) & (df["param.b"] < 0.4)
    study = discover(df, "planted", min_density=0.9)
    t = study.table.set_index("parameter")
    assert t.loc["a", "min"] == pytest.approx(0.7, abs=0.04)
    assert t.loc["b", "max"] == pytest.approx(0.4, abs=0.04)
    assert t.loc["a", "significant"] and t.loc["b", "significant"]
    assert not t.loc["c", "significant"]
    assert study.info["density"] >= 0.9 and study.info["coverage"] >= 0.8
    assert study.info["base_rate"] == pytest.approx(0.12, abs=0.02)


def test_outcome_expressions():
    df = pd.DataFrame({"formed": [True, True, False], "status.Pakistan": ["deployed", "vetoed",
                                                                        "deployed"],
                       "param.x.y": [0.1, 0.2, 0.3]})
    assert outcome_mask(df, 'formed and status.Pakistan == "deployed"').tolist() == \
        [True, False, False]
    assert outcome_mask(df, "param.x.y > 0.15").tolist() == [False, True, True]
    with pytest.raises(ScenarioError, match="unknown column 'status.Pakistn'"):
        outcome_mask(df, "status.Pakistn == 'deployed'")
    with pytest.raises(ScenarioError, match="arithmetic is not allowed"):
        outcome_mask(df, "param.x.y + 1 > 0")
    with pytest.raises(ScenarioError, match="true or false"):
        outcome_mask(df, "param.x.y")


def test_discover_command(tmp_path, capsys, summaries_only):
    assert main(["discover", str(BASELINE), "--outcome", 'formed and status.Pakistan == '
                 '"deployed"', "--runs", "1000", "--workers", "2", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    # Pakistan deploys only once disarmament is softened, which the convener does only when it
    # can carry Israel: its willingness to press (max_pressure) bounds the box from below
    assert "PRIM box: density" in out
    assert re.search(r"convener\.max_pressure +0\.\d+ to", out), out
    folder = next((tmp_path / "baseline").glob("discovery-*"))
    assert (folder / "trajectory.png").exists() and (folder / "box.png").exists()
    before = sorted(tmp_path.rglob("*"))
    assert main(["discover", str(BASELINE), "--outcome", "formed and nonsense > 1", "--runs",
                 "1700", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "unknown column 'nonsense'" in capsys.readouterr().err
    assert sorted(tmp_path.rglob("*")) == before  # refused before running: no new folder


# ----------------------------------------------------------------------------- Dask


@pytest.mark.parametrize("check", ["results_identical", "scheduler_option"])
def test_dask_back_end(tmp_path, check):
    """The same files through a Dask cluster as on local workers, and `--scheduler` with its
    refusals (`tests/dask_checks.py`), in a process of their own: a Dask client leaves threads
    behind, and a test process with threads no longer forks (later tests would change path)."""
    pytest.importorskip("distributed")
    p = subprocess.run([sys.executable, "-m", "tests.dask_checks", check, str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and p.stdout.strip().endswith("passed"), p.stdout + p.stderr
