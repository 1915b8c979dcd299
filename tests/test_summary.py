"""Summaries computed from a hand-made table of runs equal hand-computed values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.experiment import run_experiment
from sim.summary import (
    compositions,
    country_probabilities,
    formation,
    reasons,
    render,
    wilson,
)


def test_wilson_known_values():
    # 8 of 10 at 95%: textbook value [0.4902, 0.9433]
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson(0, 50)
    assert lo == 0.0 and hi == pytest.approx(0.0714, abs=1e-4)
    assert math.isnan(wilson(0, 0)[0])


def _table():
    return pd.DataFrame({
        "formed": [True, True, False, False, True],
        "reason": ["formed", "formed", "vetoes", "collapse", "formed"],
        "date": ["2026-03-01", "2026-08-01", None, None, "2026-05-01"],
        "composition": ["A+B", "A+B", "", "", "B"],
        "force_troops": [5000.0, 6000.0, 0.0, 0.0, 5500.0],
        "force_police_trainers": [0.0] * 5, "force_logistics": [0.0] * 5,
        "force_funding": [0.0] * 5,
        "status.A": ["deployed", "deployed", "vetoed", "blocked_at_home", "declined_mandate"],
        "status.B": ["deployed", "deployed", "committed", "unwilling", "deployed"],
        "status.I": ["influencer"] * 5,
    })


def test_formation_by_milestones():
    f = formation(_table(), ["2026-04-30", "2026-06-30"])
    assert list(f["runs"]) == [3, 1, 2]
    assert f["probability"].tolist() == pytest.approx([0.6, 0.2, 0.4])
    assert (f.loc[0, "ci_low"], f.loc[0, "ci_high"]) == pytest.approx(wilson(3, 5))


def test_reasons_and_countries():
    r = reasons(_table()).set_index("reason")
    assert r.loc["formed", "runs"] == 3 and r.loc["vetoes", "runs"] == 1
    assert r.loc["collapse", "probability"] == pytest.approx(0.2)
    cp = country_probabilities(_table())
    assert "I" not in cp.index  # influencers are not contributors
    assert cp.loc["A", "deployed"] == pytest.approx(0.4)
    assert cp.loc["A", "vetoed"] == pytest.approx(0.2)
    assert cp.loc["A", "blocked_at_home"] == pytest.approx(0.2)
    assert cp.loc["B", "declined"] == pytest.approx(0.2)  # unwilling counts as declining
    lo, hi = wilson(2, 5)
    assert cp.loc["A", "deployed_ci"] == f"[{lo:.2f}, {hi:.2f}]"
    c = compositions(_table())
    assert c.iloc[0]["composition"] == "A, B" and c.iloc[0]["runs"] == 2
    assert c.iloc[0]["share_of_all_runs"] == pytest.approx(0.4)


def test_experiment_matches_single_runs(baseline):
    from sim.experiment import run_seed
    from sim.model import run_one

    df = run_experiment(baseline, runs=30, seed=11)
    assert list(df["run"]) == list(range(30))
    for i in (0, 17, 29):
        out, drawn, _ = run_one(baseline, run_seed(11, i))
        assert df.loc[i, "formed"] == out["formed"] and df.loc[i, "reason"] == out["reason"]
        assert df.loc[i, "param.convener.target_troops"] == drawn["convener.target_troops"]
    text = render(df, "baseline", ["2026-06-30"])
    assert "formed by 2026-06-30" in text and "Pakistan" in text
