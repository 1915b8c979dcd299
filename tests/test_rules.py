"""Each decision rule (docs/ODD.md, section 3.4) against hand-built situations with exact
expectations. Tests read the model's state and its structured events, never the trace's prose."""

from __future__ import annotations

import pytest

from sim.model import simulate
from sim.vocabulary import (
    APPROVED,
    BLOCKED_AT_HOME,
    CONDITIONS_UNMET,
    DECLINED_MANDATE,
    DEPLOYED,
    NOT_INVITED,
    PLEDGED,
    SUSPENDED,
    UNWILLING,
    VETOED,
)

from .conftest import loaded_of, model_of, notes

NOT_DONE = {"convener": {"target_troops": 5000}}  # keeps the run from ending in round 1
DEMAND = {"israel": {"demands": {"disarm": {"weight": 1, "softer_credit": 0.4}},
                     "unmet_demand_penalty": 0.2}}


def steps(m, n):
    for _ in range(n):
        if m.running:
            m.step()
    return m


# ----------------------------------------------------------------------------- the baseline world


def test_small_world_forms_in_round_one():
    m = steps(model_of(), 1)
    out = m.outcome()
    assert out["formed"] and out["formed_round"] == 1 and out["formed_date"] == "2026-01-15"
    assert out["force_troops"] == 1200 and out["contributors"] == 2
    assert out["entry_round"] == 1 and out["full_strength_round"] == 1 and not m.running
    assert m.countries["Alpha"].status == DEPLOYED


# ----------------------------------------------------------------------------- R1, R2 conditions


def test_each_condition_is_checked_and_named():
    m = model_of({"environment": {"un_authorised": False, "ceasefire": 0.5,
                                  "armed_group_acceptance": 0.3},
                  "convener": {"clarity": 0.4},
                  "countries": {"Alpha": {"conditions": {
                      "un_mandate": True, "us_led": True, "min_clarity": 0.6,
                      "min_partners": 1, "min_troops_committed": 100, "partners": ["Beta"],
                      "min_ceasefire": 0.9, "min_acceptance": 0.5}}}})
    unmet = m.countries["Alpha"].unmet_conditions(m.view())
    assert [u[0] for u in unmet] == ["un_mandate", "us_led", "clarity", "partners",
                                     "troops_committed", "partner Beta", "ceasefire",
                                     "acceptance"]
    assert ("clarity", 0.4, 0.6) in unmet and ("ceasefire", 0.5, 0.9) in unmet
    assert m.countries["Beta"].unmet_conditions(m.view()) == []


def test_named_partner_condition_waits_one_round_for_simultaneous_decisions():
    m = model_of({**NOT_DONE, "countries": {"Beta": {"conditions": {"partners": ["Alpha"]}}}})
    m.step()
    assert m.countries["Beta"].status == CONDITIONS_UNMET
    assert m.countries["Alpha"].status == APPROVED
    m.step()
    assert m.countries["Beta"].status == APPROVED


@pytest.mark.parametrize("stance, declines", [(-0.6, True), (-0.59, False)])
def test_red_line_is_a_stance_at_or_below_the_line(stance, declines):
    m = steps(model_of({**NOT_DONE, "countries": {"Alpha": {"stances": {"disarm": stance}}}}), 1)
    alpha = m.countries["Alpha"]
    assert (alpha.status == DECLINED_MANDATE) is declines
    if declines:
        assert alpha.objections == ("disarm",)
        (ev,) = notes(m, "decide", "Alpha", decision="declined_mandate")
        assert ev["red_lines"] == ["disarm"] and ev["stances"] == {"disarm": -0.6}


# ----------------------------------------------------------------------------- R3, R4 pledges


def test_utility_terms_exact():
    m = model_of({
        "environment": {"ceasefire": 0.8, "armed_group_acceptance": 0.5},
        "weights": {"solidarity": 0.5, "us_ties": 0.25, "mandate_fit": 0.4, "spillover": 0.3},
        "convener": {"target_troops": 2000},
        "countries": {"Alpha": {"willingness": -0.1, "casualty_aversion": 0.5,
                                "motives": {"solidarity": 0.8, "us_ties": 0.4},
                                "stances": {"patrol": 0.6, "disarm": -0.2}}},
    })
    beta = m.countries["Beta"]
    beta.status, beta.pledge["troops"] = PLEDGED, 600.0  # committed: counts for the spill-over
    m.convener.incentive = 0.1
    u, terms = m.countries["Alpha"].utility(m.view(), "combat")
    # risk = (1 - 0.8) + (1 - 0.5) * (0.0 + 0.5) = 0.45, combat: fully exposed
    expected = (-0.1, 0.5 * 0.8 + 0.25 * 0.4, 0.4 * (0.6 - 0.2) / 2, 0.3 * 600 / 2000,
                0.1 * 0.4, -0.5 * 0.45)
    assert terms == pytest.approx(expected)
    assert u == pytest.approx(sum(expected))
    # a non-combat role carries `support_exposure` (0.5) of the risk
    assert m.countries["Alpha"].utility(m.view(), "non_combat")[1][5] == pytest.approx(-0.1125)


def test_pledge_is_a_share_of_capacity_and_small_contingents_are_not_sent():
    m = steps(model_of({**NOT_DONE, "countries": {"Alpha": {"willingness": 0.2}}}), 1)
    # share = U / full_pledge = 0.2 / 0.5 = 0.4 of 600 troops
    assert m.countries["Alpha"].pledge["troops"] == 240
    (ev,) = notes(m, "decide", "Alpha", decision="pledge")
    assert ev["share"] == pytest.approx(0.4) and ev["pledge"]["troops"] == 240
    small = steps(model_of({**NOT_DONE, "weights": {"min_contingent": 300},
                            "countries": {"Alpha": {"willingness": 0.2}}}), 1)
    assert small.countries["Alpha"].status == UNWILLING
    assert notes(small, "decide", "Alpha", decision="unwilling")[0]["too_small"]


def test_negative_utility_never_pledges_without_noise():
    m = steps(model_of({**NOT_DONE, "countries": {"Alpha": {"willingness": -0.01}}}), 4)
    assert m.countries["Alpha"].status == UNWILLING and m.counts["pledges"] == 1


def test_pledge_is_revised_only_beyond_the_revision_step():
    ev = {"name": "up", "round": 2, "set": {"countries.Alpha.willingness": 0.22}}
    m = steps(model_of({**NOT_DONE, "countries": {"Alpha": {"willingness": 0.2}},
                        "events": [ev]}), 2)
    assert m.countries["Alpha"].pledge["troops"] == 240  # wish 264: within 60 (0.1 x 600)
    ev2 = {"name": "up", "round": 2, "set": {"countries.Alpha.willingness": 0.4}}
    m2 = steps(model_of({**NOT_DONE, "countries": {"Alpha": {"willingness": 0.2}},
                         "events": [ev2]}), 2)
    assert m2.countries["Alpha"].pledge["troops"] == 480 and m2.counts["revisions"] == 1


def test_backing_down_costs_the_audience_cost():
    drop = {"name": "cold feet", "round": 2, "set": {"countries.Alpha.willingness": -0.05}}
    stays = steps(model_of({**NOT_DONE, "weights": {"audience_cost": 0.1}, "events": [drop]}), 2)
    assert stays.countries["Alpha"].status == APPROVED  # -0.05 + 0.1 > 0: it stays
    assert stays.countries["Alpha"].pledge["troops"] == 600  # never revised to nothing
    leaves = steps(model_of({**NOT_DONE, "weights": {"audience_cost": 0.04},
                             "events": [drop]}), 2)
    assert leaves.countries["Alpha"].status == UNWILLING
    assert leaves.counts["withdrawals"] == 1 and leaves.countries["Alpha"].pledge["troops"] == 0


def test_a_failing_condition_suspends_a_pledge_which_resumes_when_it_holds_again():
    war = {"name": "war", "round": 2, "set": {"environment.ceasefire": 0.2}}
    peace = {"name": "peace", "round": 3, "set": {"environment.ceasefire": 0.95}}
    m = model_of({**NOT_DONE, "countries": {"Alpha": {"conditions": {"min_ceasefire": 0.9}}},
                  "events": [war, peace]})
    statuses = [steps(m, 1).countries["Alpha"].status for _ in range(3)]
    assert statuses == [APPROVED, SUSPENDED, APPROVED]
    assert m.counts["suspensions"] == 1 and m.counts["withdrawals"] == 0
    assert m.countries["Alpha"].approved_round == 3  # it re-enters after the deployment lag


# ----------------------------------------------------------------------------- R5 domestic

DOM = {"opposition_strength": 0.5, "alignment_tolerance": 0.4,
       "ratification": [{"body": "parliament", "opposition_share": 1.0}]}


def test_winset_declines_a_mandate_the_government_cannot_carry_and_names_a_task():
    # alignment 0.2 + 0.5 (disarm) = 0.7; backlash (0.7 - 0.4) / 0.6 = 0.5;
    # chance = 1 - 0.5 * 1.0 * 0.5 = 0.75 < 0.9
    m = steps(model_of({**NOT_DONE, "environment": {"alignment": 0.2}, "countries": {
        "Alpha": {"domestic": {**DOM, "min_ratification": 0.9}}}}), 1)
    alpha = m.countries["Alpha"]
    assert alpha.status == DECLINED_MANDATE and alpha.objections == ("disarm",)
    (ev,) = notes(m, "decide", "Alpha", decision="declined_mandate")
    assert ev["winset"]["chance"] == pytest.approx(0.75) and ev["red_lines"] == []
    ok = steps(model_of({**NOT_DONE, "environment": {"alignment": 0.2}, "countries": {
        "Alpha": {"domestic": {**DOM, "min_ratification": 0.75}}}}), 1)
    assert ok.countries["Alpha"].status != DECLINED_MANDATE


def test_rejected_task_is_a_red_line_of_the_domestic_audience():
    m = steps(model_of({**NOT_DONE, "countries": {"Alpha": {"domestic": {
        **DOM, "opposition_strength": 0.0, "rejected_tasks": ["disarm"]}}}}), 1)
    assert m.countries["Alpha"].status == DECLINED_MANDATE
    assert m.countries["Alpha"].objections == ("disarm",)


@pytest.mark.parametrize("draw, passes", [(0.749, True), (0.751, False)])
def test_ratification_vote_against_its_chance(draw, passes):
    m = model_of({**NOT_DONE, "environment": {"alignment": 0.2},
                  "countries": {"Alpha": {"domestic": DOM}}})
    m.vote_draw = lambda country, body: draw  # the vote's uniform draw
    m.step()  # Alpha pledges and, with no delay, faces the vote this round
    assert m.countries["Alpha"].status == (APPROVED if passes else BLOCKED_AT_HOME)
    (vote,) = notes(m, "vote", "Alpha")
    assert vote["votes"][0][2] == pytest.approx(0.75) and vote["passed"] is passes
    assert m.counts["failed_votes"] == (0 if passes else 1)


def test_every_body_must_approve_and_the_delay_is_respected():
    dom = {"opposition_strength": 1.0, "alignment_tolerance": 0.0, "delay_rounds": 2,
           "ratification": [{"body": "cabinet", "opposition_share": 0.0},
                            {"body": "parliament", "opposition_share": 1.0}]}
    m = model_of({**NOT_DONE, "environment": {"alignment": 1.0},
                  "countries": {"Alpha": {"domestic": dom}}})
    steps(m, 2)
    assert m.countries["Alpha"].status == PLEDGED and not notes(m, "vote")  # vote in round 3
    m.step()
    # cabinet: chance 1, always passes; parliament: chance 1 - 1 * 1 * 1 = 0, always fails
    assert m.countries["Alpha"].status == BLOCKED_AT_HOME
    (vote,) = notes(m, "vote", "Alpha")
    assert [(b, ok) for b, ok, _, _ in vote["votes"]] == [("cabinet", True),
                                                           ("parliament", False)]


def test_failed_ratification_can_shrink_the_pledge():
    dom = {"opposition_strength": 1.0, "alignment_tolerance": 0.0, "on_failure": "shrink",
           "shrink_factor": 0.25, "ratification": [{"body": "parliament",
                                                     "opposition_share": 1.0}]}
    m = steps(model_of({**NOT_DONE, "environment": {"alignment": 1.0},
                        "countries": {"Alpha": {"domestic": dom}}}), 1)
    assert m.countries["Alpha"].status == APPROVED
    assert m.countries["Alpha"].pledge["troops"] == 150 and m.counts["failed_votes"] == 1


# ----------------------------------------------------------------------------- R6, R7 Israel


def reviewed(changes):
    """A model in which Alpha and Beta stand pledged (600 troops, ratified) and Israel has
    just reviewed them (R6), whatever the convener would have done."""
    m = model_of(_merge(NOT_DONE, changes))
    m.round = 1
    for c in m.contributors:
        c.status, c.ratified, c.pledge["troops"] = PLEDGED, True, 600.0
    m.israel.review()
    return m


def test_israel_vetoes_a_contingent_above_its_tolerance():
    m = reviewed({"israel": {"threat": {"Alpha": 0.58}},
                  "countries": {"Alpha": {"roles": ["combat"]}}})
    assert m.countries["Alpha"].status == VETOED and m.countries["Beta"].status == APPROVED
    (ev,) = notes(m, "review", "Israel", country="Alpha")
    assert ev["decision"] == "veto" and ev["threat"] == 0.58 and ev["tolerance"] == 0.5
    assert m.counts["vetoes"] == 1
    m.israel.review()  # a standing veto is reviewed again but counted once
    assert m.counts["vetoes"] == 1 and m.countries["Alpha"].status == VETOED


def test_israel_approves_with_conditions_a_state_that_accepts_a_non_combat_role():
    m = reviewed({"israel": {"threat": {"Alpha": 0.58}, "restricted_discount": 0.2}})
    alpha = m.countries["Alpha"]
    assert alpha.status == APPROVED and alpha.restricted and alpha.role == "non_combat"
    (ev,) = notes(m, "review", "Israel", country="Alpha")
    assert ev["decision"] == "approve_with_conditions"
    assert ev["restricted_threat"] == pytest.approx(0.58 * 0.8)
    assert m.outcome()["role.Alpha"] == "non_combat (condition)"


def test_a_threat_of_one_is_a_refusal_in_any_role():
    m = reviewed({"israel": {"threat": {"Alpha": 1.0}, "restricted_discount": 0.9,
                             "tolerance": 0.6}})
    assert m.countries["Alpha"].status == VETOED


def test_no_relations_penalty_and_hard_line():
    m = model_of({"israel": {"threat": {"Alpha": 0.2}, "no_relations_penalty": 0.25},
                  "countries": {"Alpha": {"relations_with_israel": False}}})
    assert m.israel.threat(m.countries["Alpha"]) == pytest.approx(0.45)
    hard = steps(model_of({**NOT_DONE, "israel": {"reject_without_relations": True},
                           "convener": {"target_troops": 5000, "pressure": 1.0,
                                        "max_pressure": 1.0},
                           "countries": {"Alpha": {"relations_with_israel": False}}}), 1)
    # the convener, reading the hard line, does not even invite Alpha
    alpha = hard.countries["Alpha"]
    assert alpha.status == NOT_INVITED
    alpha.pledge["troops"] = 600.0  # were it to pledge, Israel would veto it whatever the tolerance
    assert hard.israel.assess(alpha, 1.0).why == "hard_line"


def test_a_pledge_without_personnel_needs_no_approval():
    m = steps(model_of({**NOT_DONE, "israel": {"default_threat": 1.0},
                        "countries": {"Alpha": {"capacity": {"troops": 0, "funding": 50}}}}), 1)
    assert m.countries["Alpha"].status == APPROVED
    assert notes(m, "review", "Israel", country="Alpha")[0]["decision"] == "no_review"


def test_satisfaction_tolerance_and_consent_to_the_mandate():
    m = model_of({**DEMAND, "mandate": ["patrol", "monitor"]})
    s = m.israel.satisfaction(m.mandate)
    assert s == pytest.approx(0.4)  # the softer form meets 0.4 of the demand
    assert m.israel.tolerance(s, 0.0) == pytest.approx(0.5 - 0.2 * 0.6)
    assert m.israel.tolerance(s, 0.2) == pytest.approx(0.5 - 0.2 * 0.6 + 0.5 * 0.2)
    assert not m.israel.accepts(s, 0.5)   # 0.4 + 1.0 * 0.5 < 1
    assert m.israel.accepts(s, 0.6)       # 0.4 + 1.0 * 0.6 = 1 (within rounding)
    assert m.israel.satisfaction(("patrol",)) == 0.0
    assert m.israel.satisfaction(("patrol", "disarm")) == 1.0


# ----------------------------------------------------------------------------- R8 convener


def test_invitations_come_in_waves_and_anticipate_vetoes():
    m = model_of({"convener": {"target_troops": 5000, "max_pressure": 0.5, "wave_after": 2},
                  "israel": {"threat": {"Gamma": 0.7, "Delta": 1.0}},
                  "countries": {"Gamma": {"relations_with_israel": True, "roles": ["combat"],
                                          "capacity": {"troops": 600}},
                                "Delta": {"relations_with_israel": True,
                                          "capacity": {"troops": 600}}}})
    m.step()
    c = m.countries
    assert (c["Alpha"].status != NOT_INVITED, c["Gamma"].status, c["Delta"].status) == \
        (True, NOT_INVITED, NOT_INVITED)
    (first,) = notes(m, "invite")
    assert dict(first["not_invited"])["Gamma"] == pytest.approx(0.4)  # (0.7 - 0.5) / 0.5
    m.step()
    assert c["Gamma"].status == NOT_INVITED  # one short round so far
    m.step()  # the second short round: wave 2 invites whom Israel accepts at max pressure
    assert c["Gamma"].invited_round == 3 and c["Delta"].status == NOT_INVITED
    assert [e["invited"] for e in notes(m, "invite")][1] == ["Gamma"]


def _objector(changes=None):
    base = {"convener": {"target_troops": 5000, "resolve": 1.0},
            "countries": {"Alpha": {"stances": {"disarm": -0.9}}}}
    return model_of(_merge(base, changes or {}))


def _merge(a, b):
    from sim.scenario import deep_merge
    return deep_merge(a, b)


def test_concession_waits_for_the_held_back_troops_to_reach_the_resolve():
    # Alpha (600 of a 5,000 target: 0.12 a round) declines over disarm from round 1
    m = _objector()
    rounds = [steps(m, 1).mandate for _ in range(10)]
    # memory: 0.12 a round from round 2; 9 rounds give 1.08 >= 1.0 in round 10
    assert rounds[8] == ("patrol", "disarm") and rounds[9] == ("patrol", "monitor")
    (c,) = notes(m, "concede")
    assert c["task"] == "disarm" and c["softer"] == "monitor"
    assert c["weight"] == pytest.approx(1.08) and m.counts["softenings"] == 1


def test_concession_weighs_israels_loss_and_holds_what_israel_would_refuse():
    # Israel loses 0.6 of its satisfaction: the bar is 1.0 * (1 + 1.0 * 0.6) = 1.6
    # Alpha holds back 1,200 troops: 0.24 of the target a round
    big = {**DEMAND, "countries": {"Alpha": {"capacity": {"troops": 1200}}}}
    held = _objector(_merge(big, {"convener": {"israel_deference": 1.0, "max_pressure": 0.5}}))
    steps(held, 10)
    # Israel would need pressure (1 - 0.4) / 1.0 = 0.6 > 0.5: the convener keeps disarm
    assert held.mandate == ("patrol", "disarm")
    (h,) = notes(held, "hold")
    assert h["round"] == 8 and h["pressure_needed"] == pytest.approx(0.6)
    conceded = _objector(_merge(big, {"convener": {"israel_deference": 1.0,
                                                   "max_pressure": 0.6}}))
    steps(conceded, 10)
    (c,) = notes(conceded, "concede")  # 7 rounds x 0.24 = 1.68 >= 1.6 in round 8
    assert c["round"] == 8 and c["bar"] == pytest.approx(1.6)
    assert conceded.mandate == ("patrol", "monitor")


def test_core_tasks_are_never_conceded_and_a_task_without_softer_form_is_dropped():
    core = steps(_objector({"convener": {"core_tasks": ["disarm"]}}), 20)
    assert core.mandate == ("patrol", "disarm") and core.counts["concessions"] == 0
    drop = steps(_objector({"tasks": {"disarm": {"softer": None}}}), 20)
    assert drop.mandate == ("patrol",) and drop.counts["softenings"] == 0


def test_a_state_offering_only_money_never_triggers_a_concession():
    m = steps(model_of({"convener": {"target_troops": 5000, "resolve": 0.01},
                        "countries": {"Alpha": {"stances": {"disarm": -0.9},
                                                "capacity": {"troops": 0, "funding": 100}}}}),
              10)
    assert m.countries["Alpha"].status == DECLINED_MANDATE
    assert m.mandate == ("patrol", "disarm") and m.counts["concessions"] == 0


def test_a_concession_costs_clarity():
    m = _objector({"convener": {"clarity": 0.9, "clarity_step": 0.01, "clarity_loss": 0.3}})
    clarity = [steps(m, 1).convener.clarity for _ in range(10)]
    assert clarity[8] == pytest.approx(0.98) and clarity[9] == pytest.approx(0.68)


PRESS = {"convener": {"target_troops": 1000, "max_pressure": 0.5, "pressure_step": 0.1,
                      "leverage": 10, "wave_after": 1},
         "israel": {"threat": {"Alpha": 0.7}},
         "countries": {"Alpha": {"roles": ["combat"]}}}


def test_the_convener_presses_only_as_far_as_is_decisive():
    m = model_of(PRESS)
    pressure = [steps(m, 1).convener.pressure for _ in range(6)]
    # Beta's 600 are approved in round 1; Alpha, expected to need pressure (0.7 - 0.5) / 0.5
    # = 0.4, is invited in the second wave (round 2) and vetoed; its 600 would complete the
    # force, so the convener presses from round 3 in steps of 0.1 up to 0.4
    assert pressure == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3, 0.4])
    assert m.countries["Alpha"].invited_round == 2
    assert m.countries["Alpha"].status == DEPLOYED and m.outcome()["formed_round"] == 6


def test_pressure_is_not_spent_when_it_cannot_complete_the_force():
    m = steps(model_of(_merge(PRESS, {"convener": {"target_troops": 3000}})), 6)
    assert m.convener.pressure == 0.0 and m.convener.spent == 0.0


def test_leverage_runs_out():
    m = model_of(_merge(PRESS, {"convener": {"leverage": 0.5}}))
    pressure = [steps(m, 1).convener.pressure for _ in range(8)]
    # spent 0.1, 0.3, 0.6 >= 0.5 in round 5: exhausted, pressure falls back step by step
    assert pressure == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3, 0.2, 0.1, 0.0])
    assert m.convener.exhausted and m.countries["Alpha"].status == VETOED


def test_the_convener_learns_from_a_veto_it_did_not_expect():
    m = model_of(_merge(PRESS, {"israel": {"threat": {"Alpha": 0.55}}}))
    alpha, cv = m.countries["Alpha"], m.convener
    sat = cv.expected_satisfaction(m.mandate)
    assert cv.pressure_needed(alpha, sat) == pytest.approx(0.1)
    cv.pressure = 0.3
    cv.learn(alpha)  # Israel vetoed Alpha at pressure 0.3: at least one step more is needed
    assert cv.pressure_needed(alpha, sat) == pytest.approx(0.4)
    m.israel.mandate_accepted = False
    cv.learn_refusal()  # the same for a refused mandate
    assert cv.mandate_pressure_needed(0.5, current=True) == pytest.approx(0.5)
    assert cv.mandate_pressure_needed(0.2, current=True) == pytest.approx(0.8)


# ----------------------------------------------------------------------------- R9 consultation


def test_consultation_is_anchored_averaging_over_stated_stances():
    m = model_of({"countries": {
        "Alpha": {"stances": {"disarm": -0.9, "patrol": 0.4}, "consults": ["Beta", "Gamma"],
                  "consult_weight": 0.25},
        "Beta": {"stances": {"disarm": -0.5}},
        "Gamma": {"role": "influencer", "stances": {"disarm": -0.1}},
    }})
    new = m.countries["Alpha"].consult()
    # 0.75 * -0.9 (its anchor) + 0.25 * mean(-0.9, -0.5, -0.1); patrol: no partner states it
    assert new["disarm"] == pytest.approx(-0.8) and new["patrol"] == pytest.approx(0.4)
    assert m.countries["Beta"].consult() is None
    # the anchor holds: after many rounds Alpha stays between its own and its partners' view
    for _ in range(200):
        m.countries["Alpha"].stance = m.countries["Alpha"].consult()
    # x = 0.75 * -0.9 + 0.25 * (x - 0.5 - 0.1) / 3
    fixed = (0.75 * -0.9 + 0.25 * -0.6 / 3) / (1 - 0.25 / 3)
    assert m.countries["Alpha"].stance["disarm"] == pytest.approx(fixed)


# ----------------------------------------------------------------------------- R10 milestones


def test_first_phase_entry_and_full_strength_are_separate_dates():
    m = model_of({"convener": {"target_troops": 1000, "first_phase": 0.5, "deploy_rounds": 2},
                  "countries": {"Beta": {"willingness": -1.0}}})
    steps(m, 4)
    ms = m.milestone
    # Alpha's 600 reach the first phase (500) in round 1 and enter two rounds later
    assert (ms["first_phase"], ms["formed"], ms["entry"], ms["full_strength"]) == \
        (1, None, 3, None)
    assert m.israel.consent_locked and m.countries["Alpha"].entry_round == 3
    out = m.outcome()
    assert out["entry_date"] == "2026-02-12" and not out["formed"]


# ----------------------------------------------------------------------------- R11 events


def test_add_shifts_the_current_value_of_a_state_variable_and_is_clipped():
    ev = {"name": "push", "round": 4, "add": {"convener.pressure": 0.2,
                                               "environment.ceasefire": -1.5}}
    m = model_of(_merge(PRESS, {"events": [ev]}))
    steps(m, 4)
    # pressure had reached 0.1 in round 3; the event adds 0.2 to that (not to the start, 0)
    (e,) = notes(m, "event")
    assert e["changes"][0] == ("convener.pressure", pytest.approx(0.1), pytest.approx(0.3))
    assert m.p["environment.ceasefire"] == 0.0  # clipped to its range


def test_random_event_strikes_within_its_window_and_collapse_ends_the_run():
    war = {"name": "war", "probability": 1.0, "from_round": 3, "collapse": True}
    m = model_of({**NOT_DONE, "events": [war]})
    m.run_model()
    out = m.outcome()
    assert m.round == 3 and out["reason"] == "collapse" and out["events"] == "war"
    late = {"name": "late", "probability": 1.0, "from_round": 2, "until_round": 3,
            "set": {"environment.ceasefire": 0.5}}
    m2 = steps(model_of({**NOT_DONE, "events": [late]}), 5)
    assert [e["round"] for e in notes(m2, "event")] == [2]  # at most once


# ----------------------------------------------------------------------------- R12 reasons

#: Alpha is invited in the second wave, vetoed, and the convener has no leverage to press
VETO = _merge(PRESS, {"convener": {"leverage": 0.0}})


def test_failure_reasons():
    over = model_of({"convener": {"target_troops": 5000}})
    over.run_model()
    assert over.outcome()["reason"] == "over_capacity"
    refused = model_of({"israel": {"demands": {"disarm": {"weight": 1}},
                                   "mandate_pressure_effect": 0.0}, "mandate": ["patrol"]})
    refused.run_model()
    assert refused.outcome()["reason"] == "mandate_refused"
    vetoed = model_of(VETO)
    vetoed.run_model()
    out = vetoed.outcome()
    assert out["reason"] == "vetoed" and out["troops_held.vetoed"] == 600


# ----------------------------------------------------------------------------- R13 counterfactuals


def test_counterfactual_lifts_find_the_blocker():
    loaded = loaded_of(VETO)
    rec = simulate(loaded, 1, counterfactuals=True)
    assert not rec.outcome["formed"]
    assert rec.outcome["lifts_tried"] == "veto:Alpha+target"
    assert rec.outcome["lifts_formed"] == "veto:Alpha"  # 600 alone is short of 750
    assert simulate(loaded, 1, lifts=("veto:Alpha",)).outcome["formed"]
    assert simulate(loaded, 1, lifts=("target",)).outcome["target"] == 750


def test_lifting_a_task_takes_it_off_the_table_in_every_form():
    m = model_of({**DEMAND, "mandate": ["patrol", "monitor"]}, lifts=("task:disarm",))
    assert m.mandate == ("patrol",) and m.israel.satisfaction(m.mandate) == 1.0

