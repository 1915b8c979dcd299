"""Summaries computed from a hand-made runs table equal hand-computed values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.analysis.summary import (
    Accumulator,
    countries_table,
    flat_rows,
    newcombe,
    render,
    summarise,
    wilson,
)


def test_wilson_known_values():
    # 8 of 10 at 95%: textbook value [0.4902, 0.9433]
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson(0, 50)
    assert lo == 0.0 and hi == pytest.approx(0.0714, abs=1e-4)
    assert wilson(50, 50) == (pytest.approx(0.9286, abs=1e-4), 1.0)
    assert math.isnan(wilson(0, 0)[0])


def test_newcombe_known_values():
    # Newcombe (1998), example (a): 56/70 vs 48/80 -> 0.2000, interval [0.0524, 0.3339]
    d, lo, hi = newcombe(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert lo == pytest.approx(0.0524, abs=1e-4) and hi == pytest.approx(0.3339, abs=1e-4)


def _table():
    n = 5
    formed = ["2026-03-01", "2026-08-01", None, None, "2026-05-01"]
    return pd.DataFrame({
        "formed": [True, True, False, False, True],
        "reason": ["formed", "formed", "vetoed", "collapse", "formed"],
        "first_phase_date": formed, "formed_date": formed,
        "entry_date": ["2026-04-01", None, None, None, "2026-06-01"],
        "full_strength_date": [None, None, None, None, "2026-07-01"],
        "composition": ["A+B", "A+B", "", "", "B"],
        "mandate": ["x+y", "x", "x+y", "x+y", "x"],
        "vetoes": [0, 1, 2, 0, 0], "withdrawals": [0, 0, 1, 1, 0],
        "failed_votes": [0, 0, 0, 1, 0],
        "force_troops": [5000.0, 6000.0, 0.0, 0.0, 5500.0],
        "force_police_trainers": [0.0] * n, "force_logistics": [0.0] * n,
        "force_funding": [0.0, 10.0, 0.0, 0.0, 20.0],
        "lifts_tried": ["", "", "veto:A+target", "", ""],
        "lifts_formed": ["", "", "veto:A", "", ""],
        "status.A": ["deployed", "deployed", "vetoed", "blocked_at_home", "declined_mandate"],
        "status.B": ["deployed", "approved", "approved", "unwilling", "deployed"],
        "status.I": ["influencer"] * n,
    })


def test_summary_of_hand_made_table():
    s = summarise(_table(), milestones=["2026-04-30", "2026-06-30"])
    f = s["formation"]
    assert [x["runs"] for x in f] == [3, 1, 2]
    assert [x["probability"] for x in f] == pytest.approx([0.6, 0.2, 0.4])
    assert (f[0]["ci_low"], f[0]["ci_high"]) == pytest.approx(wilson(3, 5))
    assert [c["date"] for c in s["formation_curve"]] == ["2026-03-01", "2026-05-01",
                                                         "2026-08-01"]
    assert [c["runs"] for c in s["formation_curve"]] == [1, 2, 3]
    assert s["formation_date_quantiles"] == {"10%": "2026-03-01", "50%": "2026-05-01",
                                             "90%": "2026-08-01"}
    m = s["milestones"]
    assert (m["entry"]["runs"], m["full_strength"]["runs"]) == (2, 1)
    assert [x["runs"] for x in m["entry"]["by_date"]] == [1, 2]
    reasons = {r["reason"]: r for r in s["reasons"]}
    assert reasons["formed"]["runs"] == 3 and reasons["vetoed"]["runs"] == 1
    assert reasons["collapse"]["probability"] == pytest.approx(0.2)
    cf = s["counterfactuals"]
    assert cf["failed_runs"] == 2 and cf["replayed_runs"] == 1
    lifts = {x["lift"]: x for x in cf["lifts"]}
    assert lifts["veto:A"]["runs"] == 1 and lifts["veto:A"]["probability"] == 0.5
    assert lifts["target"]["runs"] == 0 and lifts["target"]["tried"] == 1
    countries = {c["country"]: c for c in s["countries"]}
    assert "I" not in countries  # influencers are not contributors
    assert countries["A"]["in_force"]["probability"] == pytest.approx(0.4)
    assert countries["B"]["in_force"]["runs"] == 4  # deployed or approved
    assert countries["A"]["vetoed"]["runs"] == 1
    assert countries["A"]["blocked_at_home"]["runs"] == 1
    assert countries["B"]["declined"]["runs"] == 1  # unwilling counts as declining
    assert countries["A"]["status_shares"] == {"deployed": 0.4, "vetoed": 0.2,
                                               "blocked_at_home": 0.2, "declined_mandate": 0.2}
    assert s["compositions"][0] == {"composition": "A+B", **{
        "runs": 2, "probability": 0.4, "ci_low": wilson(2, 5)[0], "ci_high": wilson(2, 5)[1]}}
    troops = s["force_size"]["troops"]
    assert troops["50%"] == 5500 and troops["mean"] == pytest.approx(5500)
    assert troops["5%"] == pytest.approx(5050)  # linear interpolation between 5000 and 5500
    assert s["force_size"]["funding"]["mean"] == pytest.approx(10)
    mandates = {m["mandate"]: m for m in s["mandates"]}
    assert mandates["x+y"]["share_of_runs"] == pytest.approx(0.6)
    assert mandates["x"]["share_of_forces"] == pytest.approx(2 / 3)
    assert s["means"]["vetoes"] == pytest.approx(0.6)
    assert s["means"]["failed_votes"] == pytest.approx(0.2)
    ct = countries_table(s)
    assert ct.loc["A", "in_force_ci"] == "[{:.2f}, {:.2f}]".format(*wilson(2, 5))
    assert any(r["metric"] == "A: in_force" and r["value"] == 0.4 for r in flat_rows(s))
    text = render({**s, "scenario": "t"})
    assert "formed by 2026-06-30" in text and "no Israeli veto of A" in text


def test_batches_add_up_to_the_whole():
    t = _table()
    whole = Accumulator().add(t).result({"milestones": ["2026-06-30"]})
    parts = Accumulator().add(t.iloc[:2]).add(t.iloc[2:4]).add(t.iloc[4:])
    assert parts.result({"milestones": ["2026-06-30"]}) == whole


def test_a_table_of_other_number_types_gives_the_same_summary():
    """A user's table may hold float32 troops, small whole numbers or a missing troop count
    (read as NaN, as before): the summary counts it as the table the runner writes."""
    import numpy as np

    ctx = {"milestones": ["2026-06-30"]}
    base = _table().assign(run=np.arange(5, dtype=np.int64))
    other = base.copy()
    for c in [c for c in base if c.startswith("force_")]:
        other[c] = base[c].astype(np.float32)
    other["run"] = base["run"].astype(np.int8)
    expected = Accumulator(counterfactual_runs=4).add(base).result(ctx)
    assert Accumulator(counterfactual_runs=4).add(other).result(ctx) == expected
    gap = base.copy()
    gap.loc[2, "force_troops"] = None  # a run that did not form: its troops are not counted
    assert Accumulator(counterfactual_runs=4).add(gap).result(ctx) == expected
