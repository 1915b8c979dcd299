"""Each decision rule against hand-built situations with exact expectations."""

from __future__ import annotations

import pytest

from sim.vocabulary import (
    APPROVED,
    BLOCKED_AT_HOME,
    CONDITIONS_UNMET,
    DECLINED_MANDATE,
    PLEDGED,
    RATIFIED,
    UNWILLING,
    VETOED,
)

from .conftest import model_of, texts

NOT_DONE = {"convener": {"target_troops": 5000}}  # keeps the run from ending in round 1


# ----------------------------------------------------------------------------- Israel


def test_israel_rejects_contingent_above_threshold():
    m = model_of({**NOT_DONE, "israel": {"threat": {"Alpha": 0.58}}})
    m.step()
    alpha = m.countries["Alpha"]
    assert alpha.status == VETOED
    assert m.countries["Beta"].status == APPROVED
    assert m.vetoes == 1
    assert any("rejects Alpha: threat 0.58" in t and "threshold 0.50" in t for t in texts(m))


def test_israel_accepts_once_pressure_is_high_enough():
    # threshold = 0.5 + 0.5 * pressure; pressure rises 0.1 per round with a rejection
    m = model_of({**NOT_DONE, "israel": {"threat": {"Alpha": 0.58}},
                  "convener": {"target_troops": 5000, "pressure_step": 0.1,
                               "max_pressure": 1.0}})
    statuses = []
    for _ in range(3):
        m.step()
        statuses.append(m.countries["Alpha"].status)
    # round 1: 0.50 < 0.58; round 2: 0.55 < 0.58; round 3: 0.60 >= 0.58
    assert statuses == [VETOED, VETOED, APPROVED]
    assert m.vetoes == 1  # a standing rejection is counted once
    assert any("approves Alpha (reconsidered after rejecting it)" in t for t in texts(m))


def test_pressure_ceiling_caps_what_israel_will_accept():
    m = model_of({**NOT_DONE, "israel": {"threat": {"Alpha": 0.58}},
                  "convener": {"target_troops": 5000, "pressure_step": 0.1,
                               "max_pressure": 0.1}})
    for _ in range(6):
        m.step()
    assert m.convener.pressure == pytest.approx(0.1)
    assert m.countries["Alpha"].status == VETOED


def test_no_relations_penalty_and_hard_line():
    m = model_of({"israel": {"threat": {"Alpha": 0.2}, "no_relations_penalty": 0.25},
                  "countries": {"Alpha": {"relations_with_israel": False}}})
    alpha = m.countries["Alpha"]
    assert m.israel.threat(alpha) == pytest.approx(0.45)
    assert m.israel.approve(alpha)[0] is True
    hard = model_of({"israel": {"threat": {"Alpha": 0.0}, "reject_without_relations": True},
                     "convener": {"pressure": 1.0, "max_pressure": 1.0},
                     "countries": {"Alpha": {"relations_with_israel": False}}})
    ok, why = hard.israel.approve(hard.countries["Alpha"])
    assert ok is False and "no diplomatic relations" in why
    assert hard.israel.approve(hard.countries["Beta"])[0] is True


def test_missing_required_task_lowers_threshold_and_blocks_mandate():
    m = model_of({"israel": {"required_tasks": ["disarm"], "missing_task_penalty": 0.2,
                             "mandate_pressure_threshold": 0.4},
                  "convener": {"pressure": 0.3, "max_pressure": 1.0}})
    assert m.israel.threshold() == pytest.approx(0.5 + 0.15)
    assert m.israel.accepts_mandate()[0] is True
    m.mandate = ("patrol",)
    assert m.israel.threshold() == pytest.approx(0.5 + 0.15 - 0.2)
    assert m.israel.accepts_mandate()[0] is False
    m.convener.pressure = 0.4
    assert m.israel.accepts_mandate()[0] is True


def test_funding_only_pledge_needs_no_approval():
    m = model_of({**NOT_DONE, "israel": {"default_threat": 1.0},
                  "countries": {"Alpha": {"capacity": {"troops": 0, "funding": 50}}}})
    m.step()
    assert m.countries["Alpha"].status == APPROVED
    assert m.countries["Beta"].status == VETOED


# ----------------------------------------------------------------------------- domestic


def test_domestic_audience_blocks_rejected_task():
    dom = {"opposition_strength": 0.0, "alignment_tolerance": 1.0, "rejected_tasks": ["disarm"],
           "ratification": [{"body": "parliament", "opposition_share": 1.0}]}
    m = model_of({**NOT_DONE, "countries": {"Alpha": {"domestic": dom}}})
    m.step()
    assert m.countries["Alpha"].status == BLOCKED_AT_HOME
    assert m.domestic_blocks == 1 and m.withdrawals == 1
    assert any("the domestic audience rejects disarm" in t for t in texts(m))
    # the same audience ratifies a mandate without the task
    ok = model_of({**NOT_DONE, "mandate": ["patrol"], "countries": {"Alpha": {"domestic": dom}}})
    ok.step()
    assert ok.countries["Alpha"].status == APPROVED


@pytest.mark.parametrize("draw, passes", [(0.749, True), (0.751, False)])
def test_ratification_probability(draw, passes):
    # alignment = 0.2 + 0.5 (disarm) = 0.7; backlash = (0.7 - 0.4) / 0.6 = 0.5;
    # P(approve) = 1 - 0.5 (opposition) * 1.0 (share) * 0.5 = 0.75
    dom = {"opposition_strength": 0.5, "alignment_tolerance": 0.4,
           "ratification": [{"body": "parliament", "opposition_share": 1.0}]}
    m = model_of({**NOT_DONE, "environment": {"alignment": 0.2},
                  "countries": {"Alpha": {"domestic": dom}}})
    m.step()  # Alpha pledges and, with no delay, faces the vote this round
    assert m.countries["Alpha"].status in (APPROVED, BLOCKED_AT_HOME)
    m2 = model_of({**NOT_DONE, "environment": {"alignment": 0.2},
                   "countries": {"Alpha": {"domestic": dom}}})
    alpha = m2.countries["Alpha"]
    alpha.status, alpha.pledged_round, m2.round = PLEDGED, 1, 1
    alpha.pledge["troops"] = 600
    m2.draws["vote"][0, alpha.index, 0] = draw  # the vote's uniform draw, round 1
    alpha.ratify()
    assert alpha.status == (RATIFIED if passes else BLOCKED_AT_HOME)


def test_every_body_must_approve_and_delay_is_respected():
    dom = {"opposition_strength": 1.0, "alignment_tolerance": 0.0, "delay_rounds": 2,
           "ratification": [{"body": "cabinet", "opposition_share": 0.0},
                            {"body": "parliament", "opposition_share": 1.0}]}
    m = model_of({**NOT_DONE, "environment": {"alignment": 1.0},
                  "countries": {"Alpha": {"domestic": dom}}})
    m.step()
    m.step()
    assert m.countries["Alpha"].status == PLEDGED  # vote due in round 3
    m.step()
    # cabinet P = 1 always passes; parliament P = 1 - 1 * 1 * 1 = 0 always fails
    assert m.countries["Alpha"].status == BLOCKED_AT_HOME
    assert any("cabinet approves" in t and "parliament refuses" in t for t in texts(m))


def test_failed_ratification_can_shrink_the_pledge():
    dom = {"opposition_strength": 1.0, "alignment_tolerance": 0.0, "on_failure": "shrink",
           "shrink_factor": 0.25, "ratification": [{"body": "parliament",
                                                     "opposition_share": 1.0}]}
    m = model_of({**NOT_DONE, "environment": {"alignment": 1.0},
                  "countries": {"Alpha": {"domestic": dom}}})
    m.step()
    alpha = m.countries["Alpha"]
    assert alpha.status == APPROVED and alpha.shrunk
    assert alpha.pledge["troops"] == 150


# ----------------------------------------------------------------------------- contributors


def test_unmet_condition_prevents_pledge():
    m = model_of({**NOT_DONE, "convener": {"target_troops": 5000, "clarity": 0.5},
                  "countries": {"Alpha": {"conditions": {"min_clarity": 0.8}}}})
    m.step()
    assert m.countries["Alpha"].status == CONDITIONS_UNMET
    assert m.countries["Beta"].status == APPROVED
    assert any("mandate clarity 0.50 < 0.80 required" in t for t in texts(m))


def test_named_partner_condition_waits_for_partner():
    # Beta joins only once Alpha is committed; decisions within a round are simultaneous
    m = model_of({**NOT_DONE, "countries": {"Beta": {"conditions": {"partners": ["Alpha"]}}}})
    m.step()
    assert m.countries["Beta"].status == CONDITIONS_UNMET
    m.step()
    assert m.countries["Beta"].status == APPROVED


def test_conditions_each_checked():
    m = model_of({"environment": {"un_authorised": False, "ceasefire": 0.5},
                  "countries": {"Alpha": {"conditions": {
                      "un_mandate": True, "min_ceasefire": 0.9, "min_partners": 1,
                      "min_troops_committed": 100}}}})
    view = m.view()
    unmet = m.countries["Alpha"].unmet_conditions(view)
    assert len(unmet) == 4
    assert m.countries["Beta"].unmet_conditions(view) == []


def test_red_line_means_declining_over_the_mandate():
    m = model_of({**NOT_DONE, "countries": {"Alpha": {"stances": {"disarm": -0.6}},
                                             "Beta": {"stances": {"disarm": -0.59}}}})
    m.step()
    assert m.countries["Alpha"].status == DECLINED_MANDATE
    assert m.countries["Alpha"].objections == ("disarm",)
    assert m.countries["Beta"].status == APPROVED


def test_utility_terms_exact():
    m = model_of({
        "environment": {"ceasefire": 0.8, "armed_group_acceptance": 0.5},
        "weights": {"solidarity": 0.5, "us_ties": 0.25, "mandate_fit": 0.4, "spillover": 0.3},
        "convener": {"target_troops": 2000},
        "countries": {"Alpha": {"willingness": -0.1, "casualty_aversion": 0.5,
                                "motives": {"solidarity": 0.8, "us_ties": 0.4},
                                "stances": {"patrol": 0.6, "disarm": -0.2}}},
    })
    m.countries["Beta"].pledge["troops"] = 600
    m.countries["Beta"].status = PLEDGED  # committed: counts for Alpha's spill-over
    m.convener.incentive = 0.1
    u, terms = m.countries["Alpha"].utility(m.view())
    # risk = (1 - 0.8) + (1 - 0.5) * (0.0 + 0.5) = 0.45
    expected = {"willingness": -0.1, "motives": 0.5 * 0.8 + 0.25 * 0.4,
                "mandate_fit": 0.4 * (0.6 - 0.2) / 2, "spillover": 0.3 * 600 / 2000,
                "incentive": 0.1 * 0.4, "risk": -0.5 * 0.45}
    assert terms == pytest.approx(expected)
    assert u == pytest.approx(sum(expected.values()))


def test_negative_utility_without_noise_never_pledges():
    m = model_of({**NOT_DONE, "countries": {"Alpha": {"willingness": -0.01}}})
    for _ in range(5):
        m.step()
    assert m.countries["Alpha"].status == UNWILLING


def test_pledge_withdrawn_when_condition_fails_later():
    m = model_of({**NOT_DONE, "countries": {"Alpha": {"conditions": {"min_ceasefire": 0.9}}},
                  "events": [{"name": "war", "round": 2, "set": {"environment.ceasefire": 0.2}}]})
    m.step()
    assert m.countries["Alpha"].status == APPROVED
    m.step()
    assert m.countries["Alpha"].status == CONDITIONS_UNMET
    assert m.withdrawals == 1 and m.countries["Alpha"].pledge["troops"] == 0


# ----------------------------------------------------------------------------- stances


def test_consultation_is_degroot_averaging_over_stated_stances():
    m = model_of({"countries": {
        "Alpha": {"stances": {"disarm": -0.9, "patrol": 0.4}, "consults": ["Beta", "Gamma"],
                  "consult_weight": 0.25},
        "Beta": {"stances": {"disarm": -0.5}},
        "Gamma": {"role": "influencer", "stances": {"disarm": -0.1}},
    }})
    new = m.countries["Alpha"].consult()
    # disarm: 0.75 * -0.9 + 0.25 * mean(-0.5, -0.1) = -0.75; patrol: nobody states it
    assert new["disarm"] == pytest.approx(-0.75)
    assert new["patrol"] == pytest.approx(0.4)
    assert m.countries["Beta"].consult() is None


# ----------------------------------------------------------------------------- convener


def test_concession_drops_contested_task_but_never_a_core_task():
    changes = {**NOT_DONE, "countries": {"Alpha": {"stances": {"disarm": -0.9}}},
               "convener": {"target_troops": 5000, "concession_prob": 1.0}}
    m = model_of(changes)
    m.step()
    assert m.countries["Alpha"].status == DECLINED_MANDATE
    m.step()  # the convener concedes at the start of round 2; Alpha then pledges
    assert m.mandate == ("patrol",)
    assert m.concessions == 1
    assert m.countries["Alpha"].status == APPROVED
    core = model_of({**changes, "convener": {**changes["convener"], "core_tasks": ["disarm"]}})
    for _ in range(4):
        core.step()
    assert core.mandate == ("patrol", "disarm") and core.concessions == 0


def test_reserves_are_invited_after_short_rounds():
    m = model_of({"convener": {"target_troops": 5000, "invite": ["Alpha"], "reserve": ["Beta"],
                               "reserve_after": 2}})
    m.step()
    assert m.countries["Beta"].status == "not_invited"
    m.step()
    m.step()  # two short rounds counted in rounds 2 and 3
    assert m.countries["Beta"].invited_round == 3


def test_clarity_rises_each_round():
    m = model_of({**NOT_DONE, "convener": {"target_troops": 5000, "clarity": 0.2,
                                            "clarity_step": 0.3}})
    for expected in (0.2, 0.5, 0.8, 1.0):
        m.step()
        assert m.convener.clarity == pytest.approx(expected)


# ----------------------------------------------------------------------------- events


def test_scheduled_event_sets_and_adds_with_clipping():
    m = model_of({**NOT_DONE, "events": [
        {"name": "shock", "round": 2, "add": {"environment.ceasefire": -0.7,
                                                "israel.threat.Alpha": 2.0},
         "set": {"environment.un_authorised": False}},
    ], "israel": {"threat": {"Alpha": 0.1}}})
    m.step()
    assert m.env["ceasefire"] == 1.0
    m.step()
    assert m.env["ceasefire"] == pytest.approx(0.3)
    assert m.params["israel"]["threat"]["Alpha"] == 1.0  # clipped to [0, 1]
    assert m.env["un_authorised"] is False
    assert any("EVENT: shock" in t for t in texts(m))


def test_collapse_event_ends_the_run():
    m = model_of({**NOT_DONE, "events": [{"name": "war", "round": 3, "collapse": True}]})
    m.run_model()
    out = m.outcome()
    assert m.round == 3 and not out["formed"] and out["reason"] == "collapse"


def test_formation_requires_target_contributors_and_accepted_mandate():
    m = model_of({"convener": {"target_troops": 1200, "min_contributors": 2}})
    m.run_model()
    out = m.outcome()
    assert out["formed"] and out["round"] == 1 and out["force_troops"] == 1200
    assert out["date"] == "2026-01-15"
    short = model_of({"convener": {"target_troops": 1200, "min_contributors": 3}})
    short.run_model()
    assert not short.outcome()["formed"]
    deadlock = model_of({"israel": {"required_tasks": ["disarm"]}, "mandate": ["patrol"]})
    deadlock.run_model()
    out = deadlock.outcome()
    assert not out["formed"] and out["reason"] == "mandate_deadlock"
    assert deadlock.round == 10
