"""Whole-model properties: determinism, invariants, extremes and monotone responses.

Stochastic properties are checked over many seeds. A monotone response compares two parameter
values on the same run seeds (common random numbers: every draw belongs to a named slot of the
run seed, so changing one parameter moves no other draw) and allows a stated tolerance for the
remaining noise.
"""

from __future__ import annotations

import pytest

from sim.model import simulate
from sim.rng import run_seed
from sim.scenario import deep_merge, from_mapping, load_scenario, read_raw
from sim.vocabulary import IN_FORCE, INFLUENCER, MILESTONES, REASONS

from .conftest import ROOT, SCENARIOS

N = 300  # seeds per stochastic property
TOL = 0.02  # tolerance of a monotone response, as a share of runs


def outcomes(loaded, n=N, master=2025, **kw):
    return [simulate(loaded, run_seed(master, i), **kw).outcome for i in range(n)]


def variant(changes: dict, base: str = "baseline.yaml"):
    raw, _ = read_raw(ROOT / "scenarios" / base)
    return from_mapping(deep_merge(raw, changes), "variant.yaml")


def rate(outs, test) -> float:
    return sum(1 for o in outs if test(o)) / len(outs)


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_run(baseline):
    for seed in (1, 2, 12345):
        a, b = simulate(baseline, seed, rounds=True), simulate(baseline, seed, rounds=True)
        assert a.outcome == b.outcome and a.params == b.params and a.rounds == b.rounds


def test_different_seeds_differ(baseline):
    assert len({repr(simulate(baseline, s).outcome) for s in range(20)}) > 15


def test_tracing_and_counterfactuals_do_not_change_the_run(baseline):
    for seed in range(30):
        plain = simulate(baseline, seed).outcome
        traced = simulate(baseline, seed, trace=True, counterfactuals=True).outcome
        assert {k: v for k, v in traced.items() if not k.startswith("lifts_")} == \
            {k: v for k, v in plain.items() if not k.startswith("lifts_")}


def test_runs_leave_the_scenario_untouched(baseline):
    before = (repr(baseline.tree), baseline.base.tobytes())
    for seed in range(50):
        simulate(baseline, seed)  # events change parameters inside a run
    assert (repr(baseline.tree), baseline.base.tobytes()) == before


# ----------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_invariants(path):
    loaded = load_scenario(path)
    names = list(loaded.scenario.countries)
    order = [name for name, _ in MILESTONES]
    for i in range(120):
        rec = simulate(loaded, run_seed(99, i), rounds=True, counterfactuals=True)
        o = rec.outcome
        assert o["reason"] in REASONS and (o["reason"] == "formed") == o["formed"]
        in_force = [c for c in names if o[f"status.{c}"] in IN_FORCE]
        # troops are reported only for states in the force, and add up
        assert all(o[f"troops.{c}"] == 0 for c in names if c not in in_force)
        assert o["approved_troops"] == pytest.approx(sum(o[f"troops.{c}"] for c in in_force))
        assert o["deployed_troops"] <= o["approved_troops"] + 1e-9
        if o["formed"]:
            assert o["force_troops"] >= o["target"] - 1e-6
            assert o["contributors"] >= 1 and o["composition"]
            assert o["first_phase_round"] <= o["formed_round"]
        else:
            assert o["force_troops"] == 0 and o["formed_date"] is None
            assert o["composition"] == "" and o["contributors"] == 0
        # milestones happen in order: entry follows the first phase, full strength follows
        # both entry and formation
        r = {m: o[f"{m}_round"] for m in order}
        if r["entry"] is not None:
            assert r["first_phase"] is not None and r["entry"] >= r["first_phase"]
        if r["full_strength"] is not None:
            assert r["entry"] <= r["full_strength"] and r["formed"] <= r["full_strength"]
        # the convener and influencers send nothing
        assert loaded.scenario.convener.name not in names
        for c, spec in loaded.scenario.countries.items():
            if spec.role == "influencer":
                assert o[f"status.{c}"] == INFLUENCER and o[f"troops.{c}"] == 0
        # the round-by-round record ends with the run
        assert len(rec.rounds) == o["rounds_run"]
        last = rec.rounds[-1]
        assert last["approved_troops"] == pytest.approx(o["approved_troops"])
        assert last["committed_troops"] >= last["approved_troops"] - 1e-9
        # a lift that forms the force is one that was tried, and only failed runs try any
        tried = set(filter(None, o["lifts_tried"].split("+")))
        assert set(filter(None, o["lifts_formed"].split("+"))) <= tried
        assert not tried or not o["formed"]


# ----------------------------------------------------------------------------- extremes


def test_extreme_israel_vetoes_everyone():
    loaded = variant({"israel": {"tolerance": 0.0, "default_threat": 1.0, "threat": None,
                                 "pressure_effect": 0.0}})
    outs = outcomes(loaded)
    assert not any(o["formed"] for o in outs)
    # money and trainers need no approval; no troops are ever approved
    assert all(o["approved_troops"] == 0 for o in outs)


def test_extreme_everyone_eager_unconditioned_and_approved():
    changes = {"israel": {"tolerance": 1.0, "demands": None}, "events": [],
               "convener": {"target_troops": 1000, "clarity": 1.0},
               "mandate": ["border_security", "ceasefire_monitoring"]}
    eager = {"willingness": 1.0, "conditions": {"un_mandate": False, "us_led": False,
                                                "min_clarity": 0, "min_ceasefire": 0,
                                                "min_acceptance": 0}, "domestic": None}
    changes["countries"] = {c: eager for c in ("Pakistan", "Indonesia", "Egypt", "Azerbaijan",
                                               "Bangladesh")}
    assert all(o["formed"] and o["formed_round"] == 1 for o in outcomes(variant(changes)))


# ----------------------------------------------------------------------------- responses


@pytest.mark.parametrize("low, high", [(0.1, 0.5), (0.5, 0.9)])
def test_pakistan_opposition_never_raises_its_part_in_the_force(low, high):
    def share(v):
        outs = outcomes(variant({"countries": {"Pakistan": {"domestic": {
            "opposition_strength": v}}}}))
        return rate(outs, lambda o: o["status.Pakistan"] in IN_FORCE)
    r_low, r_high = share(low), share(high)
    assert r_high <= r_low + TOL, (r_low, r_high)


def test_pakistan_opposition_has_an_effect():
    def declined(v):
        outs = outcomes(variant({"countries": {"Pakistan": {"domestic": {
            "opposition_strength": v, "alignment_tolerance": 0.0}}}}))
        return rate(outs, lambda o: o["status.Pakistan"] in ("declined_mandate",
                                                               "blocked_at_home"))
    assert declined(1.0) > declined(0.0) + 0.05


@pytest.mark.parametrize("low, high", [(0.2, 0.35), (0.35, 0.5)])
def test_israels_threat_score_never_raises_approval(low, high):
    def share(v):
        outs = outcomes(variant({"israel": {"threat": {"Pakistan": v}}}))
        return rate(outs, lambda o: o["status.Pakistan"] in IN_FORCE)
    r_low, r_high = share(low), share(high)
    assert r_high <= r_low + TOL, (r_low, r_high)


def test_more_us_willingness_to_press_never_lowers_formation():
    low = rate(outcomes(variant({"convener": {"max_pressure": 0.3}})), lambda o: o["formed"])
    high = rate(outcomes(variant({"convener": {"max_pressure": 0.9}})), lambda o: o["formed"])
    assert high >= low - TOL and high > low, (low, high)


def test_a_ceasefire_breakdown_never_raises_formation(baseline):
    """The same runs, with a breakdown in round 4 added to the baseline's events."""
    raw, _ = read_raw(ROOT / "scenarios" / "baseline.yaml")
    broken = from_mapping(deep_merge(raw, {"events": [
        *raw["events"], {"name": "breakdown", "round": 4,
                         "set": {"environment.ceasefire": 0.3}}]}), "broken.yaml")
    base, brk = outcomes(baseline), outcomes(broken)
    formed = rate(base, lambda o: o["formed"])
    assert rate(brk, lambda o: o["formed"]) <= formed + TOL
    assert rate(brk, lambda o: o["formed"]) < formed  # and it matters


def test_a_state_offering_only_money_never_triggers_a_concession():
    """Only Qatar (funding) objects to disarmament: the convener never concedes it."""
    calm = {"stances": {"disarmament": 0.0}, "domestic": None}
    changes = {"countries": {c: calm for c in ("Pakistan", "Indonesia", "Egypt", "Azerbaijan",
                                               "Bangladesh")},
               "others": {"country": {"stances": {"disarmament": 0.0}}},
               "convener": {"resolve": 0.01}, "events": []}
    changes["countries"]["Qatar"] = {"stances": {"disarmament": -0.95},
                                     "willingness": 0.5}
    outs = outcomes(variant(changes))
    assert rate(outs, lambda o: o["status.Qatar"] == "declined_mandate") > 0.5
    assert all(o["concessions"] == 0 for o in outs)


def test_admitting_turkey_raises_formation():
    base = rate(outcomes(load_scenario(ROOT / "scenarios" / "baseline.yaml")),
                lambda o: o["formed"])
    turkey = outcomes(load_scenario(ROOT / "scenarios" / "turkey_admitted.yaml"))
    assert rate(turkey, lambda o: o["status.Turkey"] != "not_invited") > 0.95
    assert rate(turkey, lambda o: o["formed"]) > base + 0.05
