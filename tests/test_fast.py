"""The fast path (sim/model/fast.py) gives the Mesa model's outcome records, run by run and
field by field, with counterfactual replays and round-by-round records: on every shipped
scenario and on generated ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import simulate
from sim.model.fast import Labels, outcome_rows, simulate_block
from sim.rng import run_seeds
from sim.scenario import load_scenario

from .conftest import SCENARIOS, loaded_of


def assert_identical(loaded, seeds, *, fixed=None, rounds=False):
    block = simulate_block(loaded, seeds, fixed=fixed, counterfactuals=True, rounds=rounds)
    rows = outcome_rows(block)
    for i, seed in enumerate(seeds):
        ref = simulate(loaded, int(seed), fixed=fixed, counterfactuals=True, rounds=rounds)
        assert rows[i] == ref.outcome, {k: (ref.outcome[k], rows[i].get(k))
                                        for k in ref.outcome if ref.outcome[k] != rows[i].get(k)}
        params = {k[len("param."):]: v[i] for k, v in block["columns"].items()
                  if k.startswith("param.")}
        assert params == ref.params
        if rounds:
            columns = {k: v.strings() if isinstance(v, Labels) else v
                       for k, v in block["rounds"].items()}
            mine = [j for j, r in enumerate(block["rounds"]["run"]) if r == i]
            assert len(mine) == len(ref.rounds)
            for j, row in zip(mine, ref.rounds, strict=True):
                for key, value in row.items():
                    got = columns[key][j]
                    got = got.item() if isinstance(got, np.generic) else got
                    assert got == value, (seed, row["round"], key, value, got)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_identical_on_every_shipped_scenario(path):
    loaded = load_scenario(path)
    assert_identical(loaded, run_seeds(31, 0, 150))
    assert_identical(loaded, run_seeds(32, 0, 25), rounds=True)


def _texts(block: dict) -> dict:
    """Every label column of a block (runs and rounds) as Python strings."""
    return {(part, k): list(v.strings()) for part in ("columns", "rounds")
            for k, v in block[part].items() if isinstance(v, Labels)}


def test_label_texts_do_not_depend_on_the_blocks_before(monkeypatch):
    """The texts of the label columns (composition, mandate, events, lifts tried and formed)
    are remembered from block to block (`Plan.label_cache`): a block's texts are the same
    for a scenario that ran nothing before, one that ran other blocks, and one whose memory
    filled up on the way."""
    from sim.model import fast

    path = SCENARIOS[0].parent / "baseline.yaml"
    seeds = run_seeds(7, 0, 400)
    fresh = _texts(simulate_block(load_scenario(path), seeds, rounds=True))
    warmed = load_scenario(path)
    simulate_block(warmed, run_seeds(7, 400, 1400), rounds=True)
    assert _texts(simulate_block(warmed, seeds, rounds=True)) == fresh
    assert len(fast._plan(warmed).label_cache["events"]) > 10  # it was used
    monkeypatch.setattr(fast, "LABEL_CACHE", 3)
    tight = load_scenario(path)
    simulate_block(tight, run_seeds(7, 400, 800), rounds=True)
    assert _texts(simulate_block(tight, seeds, rounds=True)) == fresh
    assert len(fast._plan(tight).label_cache["events"]) == 3


def test_events_fired_in_the_same_order_share_one_row_whatever_their_rounds():
    """The events' text depends only on the order they fired in (by round, then by index), so
    `_firing_order` gives runs whose events fired in the same order the same row, whatever
    the rounds, and runs whose order differs different rows; the baseline's 2,000 runs need
    a text made for far fewer rows than the rounds' timings would."""
    from sim.model import fast

    fired = np.array([[3, -1, 7, 3],    # event 0 and 3 in round 3 (index breaks the tie), 2
                      [1, -1, 20, 1],   # the same order in other rounds
                      [7, -1, 3, 3],    # 2 and 3 first, then 0: another order
                      [-1, -1, -1, -1],
                      [0, 0, 0, 0]])
    order = fast._firing_order(fired)
    assert order.tolist() == [[0, -1, 2, 1], [0, -1, 2, 1], [2, -1, 0, 1], [-1] * 4,
                              [0, 1, 2, 3]]
    rng = np.random.default_rng(5)
    many = np.where(rng.random((2000, 5)) < 0.5, rng.integers(0, 26, (2000, 5)), -1)
    order = fast._firing_order(many)
    for i in range(0, 2000, 97):  # the places are the order of (round, index) of the fired
        fired_ones = [e for e in range(5) if many[i, e] >= 0]
        ranked = sorted(fired_ones, key=lambda e: (many[i, e], e))
        assert [order[i, e] for e in ranked] == list(range(len(ranked)))
        assert all(order[i, e] == -1 for e in range(5) if many[i, e] < 0)
    assert len({r.tobytes() for r in order}) < len({r.tobytes() for r in many}) / 4


def test_identical_with_fixed_values(baseline):
    fixed = {"convener.max_pressure": 0.75, "countries.Pakistan.willingness": 0.1,
             "israel.threat.Pakistan": 0.3}
    assert_identical(baseline, run_seeds(33, 0, 60), fixed=fixed)


# ----------------------------------------------------------------------------- generated worlds

unit = st.floats(0, 1, allow_nan=False)
stance = st.floats(-1, 1, allow_nan=False)


def _dist(lo, hi):
    """A number, or a uniform range, within [lo, hi]."""
    return st.one_of(st.floats(lo, hi, allow_nan=False),
                     st.tuples(st.floats(lo, hi, allow_nan=False),
                               st.floats(lo, hi, allow_nan=False)).filter(
                         lambda ab: ab[0] < ab[1]).map(lambda ab: {"uniform": list(ab)}))


@st.composite
def worlds(draw):
    """Small worlds exercising every rule: conditions, red lines, win-sets and votes, roles,
    Israel's demands and threats, softer tasks, waves, pressure, consultation, events."""
    n = draw(st.integers(2, 5))
    names = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"][:n]
    countries = {}
    for i, c in enumerate(names):
        spec = {
            "relations_with_israel": draw(st.booleans()),
            "capacity": {"troops": draw(st.sampled_from([0, 300, 800, 1500])),
                         "logistics": draw(st.sampled_from([0, 100])),
                         "funding": draw(st.sampled_from([0, 50]))},
            "willingness": draw(_dist(-0.3, 0.6)),
            "motives": {"us_ties": draw(unit), "solidarity": draw(unit)},
            "casualty_aversion": draw(_dist(0, 1)),
            "stances": {"disarm": draw(stance), "patrol": draw(stance), "monitor": draw(stance)},
            "roles": draw(st.sampled_from([["combat"], ["non_combat"], ["combat", "non_combat"],
                                           ["non_combat", "combat"]])),
            "conditions": {"min_clarity": draw(st.sampled_from([0, 0.4, 0.7])),
                           "min_ceasefire": draw(st.sampled_from([0, 0.8])),
                           "min_partners": draw(st.sampled_from([0, 1])),
                           "us_led": draw(st.booleans())},
        }
        if i > 0 and draw(st.booleans()):
            spec["conditions"]["partners"] = [names[0]]
        if draw(st.booleans()):
            spec["consults"] = [q for q in names if q != c][:2]
            spec["consult_weight"] = draw(unit)
        if draw(st.booleans()):
            spec["domestic"] = {
                "opposition_strength": draw(_dist(0, 1)), "alignment_tolerance": draw(unit),
                "rejected_tasks": draw(st.sampled_from([[], ["disarm"]])),
                "ratification": [{"body": "parliament", "opposition_share": draw(unit)},
                                 {"body": "senate", "opposition_share": draw(unit)}],
                "delay_rounds": draw(st.integers(0, 2)),
                "min_ratification": draw(unit),
                "on_failure": draw(st.sampled_from(["withdraw", "shrink"]))}
        countries[c] = spec
    countries["Omega"] = {"role": "influencer", "stances": {"disarm": draw(stance)}}
    events = []
    for e in range(draw(st.integers(0, 3))):
        ev = {"name": f"event {e}"}
        if draw(st.booleans()):
            ev["round"] = draw(st.integers(1, 8))
        else:
            ev["probability"] = draw(unit)
            ev["from_round"] = draw(st.integers(1, 4))
        kind = draw(st.sampled_from(["ceasefire", "pressure", "stance", "collapse",
                                     "opposition", "target"]))
        if kind == "ceasefire":
            ev["add"] = {"environment.ceasefire": draw(st.floats(-0.8, 0.8))}
        elif kind == "pressure":
            ev["add"] = {"convener.pressure": draw(st.floats(-0.5, 0.5))}
        elif kind == "stance":
            ev["set"] = {f"countries.{names[0]}.stances.disarm": draw(stance)}
        elif kind == "target":
            ev["set"] = {"convener.target_troops": draw(st.sampled_from([500, 1500, 3000]))}
        elif kind == "opposition" and "domestic" in countries[names[-1]]:
            ev["add"] = {f"countries.{names[-1]}.domestic.opposition_strength": 0.3}
        else:
            ev["collapse"] = True
        events.append(ev)
    return {
        "countries": countries,
        "events": events,
        "environment": {"ceasefire": draw(_dist(0.5, 1)),
                        "armed_group_acceptance": draw(_dist(0, 1)),
                        "alignment": draw(_dist(0, 0.5)),
                        "us_led": draw(st.sampled_from([0, 1]))},
        "mandate": draw(st.sampled_from([["patrol", "disarm"], ["disarm", "patrol"],
                                         ["patrol", "monitor"], ["disarm"]])),
        "weights": {"decision_noise": draw(_dist(0, 0.2)), "spillover": draw(unit),
                    "mandate_fit": draw(unit), "audience_cost": draw(_dist(0, 0.2)),
                    "min_contingent": draw(st.sampled_from([0, 100, 400])),
                    "revision_step": draw(st.sampled_from([0, 0.1, 0.3])),
                    "red_line": draw(stance)},
        "convener": {"target_troops": draw(st.sampled_from([500, 1000, 2000, 4000])),
                     "first_phase": draw(st.sampled_from([1, 0.5])),
                     "deploy_rounds": draw(st.integers(0, 3)),
                     "min_contributors": draw(st.integers(1, 2)),
                     "clarity": draw(unit), "clarity_step": draw(st.floats(0, 0.2)),
                     "clarity_loss": draw(st.floats(0, 0.3)),
                     "pressure": draw(st.floats(0, 0.3)),
                     "pressure_step": draw(st.floats(0, 0.2)),
                     "max_pressure": draw(unit), "leverage": draw(st.floats(0, 5)),
                     "incentive_step": draw(st.floats(0, 0.1)),
                     "max_incentive": draw(st.floats(0, 0.3)),
                     "resolve": draw(st.floats(0, 2)),
                     "israel_deference": draw(st.floats(0, 2)),
                     "misjudgement": draw(st.floats(0, 0.3)),
                     "wave_after": draw(st.integers(1, 3)),
                     "core_tasks": draw(st.sampled_from([[], ["patrol"]]))},
        "israel": {"tolerance": draw(_dist(0.2, 0.7)), "pressure_effect": draw(st.floats(0, 1)),
                   "default_threat": draw(unit), "no_relations_penalty": draw(st.floats(0, 0.4)),
                   "reject_without_relations": draw(st.booleans()),
                   "threat": {names[0]: draw(unit), names[-1]: draw(st.sampled_from([0.5, 1]))},
                   "demands": draw(st.sampled_from([{}, {"disarm": {
                       "weight": 1, "softer_credit": draw(unit)}}])),
                   "unmet_demand_penalty": draw(st.floats(0, 0.3)),
                   "mandate_pressure_effect": draw(st.floats(0, 2)),
                   "restricted_discount": draw(unit)},
    }


@settings(deadline=None)
@given(world=worlds())
def test_identical_on_generated_worlds(world):
    loaded = loaded_of(world)
    if any(not math.isfinite(v) for v in loaded.base):
        return
    assert_identical(loaded, run_seeds(7, 0, 20), rounds=True)
