"""Israel: the veto player over national contingents and, through its demands, over the mandate
(Tsebelis 1995, 2002). Its consent is needed for every contingent that puts personnel into
Gaza; it may approve one only with conditions; the convener's pressure raises what it
tolerates.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa

from ..vocabulary import APPROVED, VETOED
from .tolerance import EPS  # noqa: F401 (the rules compare with it)


def satisfaction(demands: dict, softer: dict, mandate) -> float:
    """F4 Israel's satisfaction with a mandate: the weighted share of its `demands` (task ->
    (weight, softer_credit)) met; a demanded task counts fully, its softer form counts
    `softer_credit`, its absence 0. 1 when Israel demands nothing."""
    total = met = 0.0
    for task, (weight, credit) in demands.items():
        total += weight
        if task in mandate:
            met += weight
        elif softer.get(task) in mandate:
            met += weight * credit
    return met / total if total > 0 else 1.0


@dataclass(slots=True)
class Review:
    """Israel's decision on one contingent and the numbers behind it."""

    decision: str          # "approve", "approve_with_conditions", "veto" or "no_review"
    threat: float = 0.0
    tolerance: float = 0.0
    restricted_threat: float | None = None
    why: str = ""          # "hard_line", "lifted", "no_personnel" or ""


class Israel(mesa.Agent):
    """The veto player."""

    name = "Israel"

    def __init__(self, model):
        super().__init__(model)
        self.mandate_accepted = True
        self.consent_locked = False  # consent given to a constituted force is not withdrawn
        self.ever_refused = False
        self.vetoed_now: list[str] = []
        self.refresh()

    def refresh(self) -> None:
        m, p = self.model, self.model.p
        self.tolerance_base = p["israel.tolerance"]
        self.pressure_effect = p["israel.pressure_effect"]
        self.default_threat = p["israel.default_threat"]
        self.no_relations_penalty = p["israel.no_relations_penalty"]
        self.hard_line = p["israel.reject_without_relations"]
        self.unmet_penalty = p["israel.unmet_demand_penalty"]
        self.mandate_pressure_effect = p["israel.mandate_pressure_effect"]
        self.discount = p["israel.restricted_discount"]
        self.demands = {t: (p[f"israel.demands.{t}.weight"],
                            p[f"israel.demands.{t}.softer_credit"])
                        for t in m.scenario.scenario.israel.demands if t not in m.lifts.tasks}

    # ---------------------------------------------------------------- assessments

    def threat(self, c) -> float:
        """Threat score of a contingent: `threat[country]` (or `default_threat`), plus
        `no_relations_penalty` for a state without diplomatic relations, capped at 1. A score
        of 1 is a refusal in any role."""
        base = self.model.p.get(f"israel.threat.{c.name}", self.default_threat)
        if not c.relations:
            base += self.no_relations_penalty
        return min(1.0, base)

    def satisfaction(self, mandate) -> float:
        return satisfaction(self.demands, self.model.softer, mandate)

    def tolerance(self, satisfaction: float, pressure: float) -> float:
        """F5 Tolerance: tolerance - unmet_demand_penalty * (1 - satisfaction)
        + pressure_effect * pressure."""
        return (self.tolerance_base - self.unmet_penalty * (1 - satisfaction)
                + self.pressure_effect * pressure)

    def accepts(self, satisfaction: float, pressure: float) -> bool:
        """R7 Consent to the mandate: satisfaction + mandate_pressure_effect * pressure >= 1."""
        return satisfaction + self.mandate_pressure_effect * pressure >= 1 - EPS

    def assess(self, c, tolerance: float) -> Review:
        """R6 Review of a contingent (veto player; consent of the parties, Capstone doctrine).

        Parameters: `threat`, `default_threat`, `no_relations_penalty`,
        `reject_without_relations`, `restricted_discount` (and F5's). A pledge that puts no
        personnel into Gaza needs no review. With `reject_without_relations`, a state without
        relations is vetoed whatever the tolerance. Otherwise Israel approves the contingent
        if its threat is within the tolerance; else, if the state accepts a non-combat role and
        its threat is below 1, Israel approves it with conditions (non-combat, outside the
        areas Israel controls) when threat * (1 - restricted_discount) is within the
        tolerance; else it vetoes it.
        """
        if not c.sends_personnel:
            return Review("no_review", why="no_personnel")
        if c.name in self.model.lifts.veto:
            return Review("approve", why="lifted")
        if self.hard_line and not c.relations:
            return Review("veto", why="hard_line")
        th = self.threat(c)
        if th <= tolerance + EPS:
            return Review("approve", th, tolerance)
        restricted = th * (1 - self.discount)
        if th < 1 and "non_combat" in c.spec.roles and restricted <= tolerance + EPS:
            return Review("approve_with_conditions", th, tolerance, restricted)
        return Review("veto", th, tolerance, restricted if "non_combat" in c.spec.roles else None)

    # ---------------------------------------------------------------- the round's review

    def review(self) -> None:
        """Review the mandate (R7), then every ratified pledge awaiting review and every
        standing veto (R6). Approvals are kept once given; a veto is reviewed again each round,
        so rising pressure or a better mandate can lift it."""
        m = self.model
        pressure = m.convener.pressure
        s = self.satisfaction(m.mandate)
        accepted = self.consent_locked or self.accepts(s, pressure)
        if m.tracing and (accepted != self.mandate_accepted or m.round == 1):
            m.note("mandate", self.name, accepted=accepted, satisfaction=s, pressure=pressure,
                   mandate_pressure_effect=self.mandate_pressure_effect,
                   locked=self.consent_locked)
        self.mandate_accepted = accepted
        if not accepted:
            self.ever_refused = True
            m.convener.learn_refusal()
        tol = self.tolerance(s, pressure)
        self.vetoed_now = []
        for c in m.contributors:
            if not c.awaiting_review:
                continue
            r = self.assess(c, tol)
            was = c.status
            if r.decision == "veto":
                self.vetoed_now.append(c.name)
                m.convener.learn(c)
                if was != VETOED:
                    m.counts["vetoes"] += 1
                    c.status = VETOED
                    c.ever_vetoed = True
                    if m.tracing:
                        m.note("review", self.name, country=c.name, **_data(r))
                continue
            c.status = APPROVED
            c.stage = APPROVED
            c.approved_round = m.round
            if r.decision == "approve_with_conditions":
                c.role, c.restricted = "non_combat", True
                m.counts["conditional_approvals"] += 1
            if m.tracing:
                m.note("review", self.name, country=c.name, reconsidered=was == VETOED,
                       **_data(r))


def _data(r: Review) -> dict:
    return {"decision": r.decision, "threat": r.threat, "tolerance": r.tolerance,
            "restricted_threat": r.restricted_threat, "why": r.why}
