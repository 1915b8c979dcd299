"""The states at or around the table: contributors (who may send troops, police trainers,
logistics personnel or funding) and influencers (consulted, sending nothing).

Each decision rule is one method; its docstring names the rule in docs/ODD.md, the mechanism and
literature it follows, and the parameters it reads. A contributor reads its parameters once and
again after an event changes one (`refresh`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mesa

from ..vocabulary import (
    APPROVED,
    CONDITIONS_UNMET,
    CONTRIBUTION_TYPES,
    DECLINED_MANDATE,
    DEPLOYED,
    IN_GAZA,
    INFLUENCER,
    INVITED,
    MOTIVES,
    NOT_INVITED,
    OPEN,
    PLEDGED,
    STANDING,
    SUSPENDED,
    UNWILLING,
    VETOED,
)
from . import domestic


@lru_cache(maxsize=1024)
def keys_of(name: str) -> dict:
    """The parameter paths a country reads, built once per name (not at every refresh)."""
    pre = f"countries.{name}"
    return {
        "capacity": [(k, f"{pre}.capacity.{k}") for k in CONTRIBUTION_TYPES],
        "motives": [(k, f"{pre}.motives.{k}") for k in MOTIVES],
        "conditions": [(k, f"{pre}.conditions.{k}") for k in (
            "un_mandate", "us_led", "min_clarity", "min_partners", "min_troops_committed",
            "min_ceasefire", "min_acceptance")],
        **{k: f"{pre}.{k}" for k in ("willingness", "casualty_aversion",
                                     "relations_with_israel", "consult_weight")},
        "us_ties": f"{pre}.motives.us_ties",
    }


@dataclass(slots=True)
class View:
    """What every contributor sees at the start of its decision (decisions in a round are
    simultaneous: a pledge made this round counts for the others next round)."""

    committed: frozenset[str]
    committed_troops: dict[str, float]
    total_troops: float
    target: float
    clarity: float
    ceasefire: float
    acceptance: float
    un_authorised: bool
    us_led: bool
    mandate: tuple[str, ...]
    risk: float
    alignment: float
    incentive: float


class Country(mesa.Agent):
    """A state at or around the table; holds its stances on the tasks a mandate may contain."""

    def __init__(self, model, name: str, spec):
        super().__init__(model)
        self.name = name
        self.spec = spec
        self.prefix = f"countries.{name}"
        p = model.p
        self.stance = {t: p.get(f"{self.prefix}.stances.{t}", 0.0) for t in model.task_names}
        self.anchor = dict(self.stance)  # its own position at the start of the run
        self.stance_version = 0  # changes whenever a stance does (for the cached red lines)
        self.stated = frozenset(spec.stances)  # tasks on which the state has a stated stance
        self.status = INFLUENCER if spec.role == "influencer" else NOT_INVITED
        self.keys = keys_of(name)
        self._pulls = None
        self.refresh()

    def refresh(self) -> None:
        self.consult_weight = self.model.p[self.keys["consult_weight"]]
        self.stance_version += 1

    def consult(self) -> dict[str, float] | None:
        """R9 Consultation: opinion dynamics anchored to the state's own position (Friedkin &
        Johnsen 1990) over the consultation network (affinity networks, Ward & Dorussen 2016).

        Parameters: `consults`, `consult_weight` (mu). Each round, on each task that a partner
        in `consults` states a stance on, the stance becomes
            (1 - mu) * its stance at the start of the run
            + mu * the mean of its current stance and those partners' current stances.
        A state keeps its anchor, so a partner that never moves pulls it part of the way, not
        all of it. Returns the new stances (the model applies them to all states at once, so
        the order of states does not matter) or None.
        """
        mu = self.consult_weight
        if not self.spec.consults or mu == 0:
            return None
        if self._pulls is None:  # which partners speak to which task: fixed for the run
            partners = [self.model.countries[n] for n in self.spec.consults]
            pulls = [(t, [q for q in partners if t in q.stated]) for t in self.stance]
            self._pulls = [(t, qs) for t, qs in pulls if qs]
        new = dict(self.stance)
        for t, qs in self._pulls:
            peers = self.stance[t] + sum([q.stance[t] for q in qs])
            new[t] = (1 - mu) * self.anchor[t] + mu * peers / (len(qs) + 1)
        return new


class Contributor(Country):
    """A state that may pledge troops, police trainers, logistics personnel or funding."""

    def __init__(self, model, name: str, spec):
        super().__init__(model, name, spec)
        self.index = -1  # position among the contributors (its decision-noise column)
        self.pledge = dict.fromkeys(CONTRIBUTION_TYPES, 0.0)
        self.role = spec.roles[0]
        self.restricted = False  # approved only for a non-combat role outside Israel's areas
        self.ratified = False
        self.pledged_round: int | None = None      # round of the standing pledge
        self.committed_round: int | None = None    # round of its first public pledge
        self.approved_round: int | None = None
        self.entry_round: int | None = None        # round its personnel first entered Gaza
        self.invited_round: int | None = None
        self.stage = PLEDGED   # where a suspended pledge resumes
        self.objections: tuple[str, ...] = ()
        self.winset_objection = False  # its last objection came from its domestic win-set
        self.ever_vetoed = self.ever_blocked = self.ever_winset = False
        self.ever_objected: set[str] = set()  # tasks it has declined over
        self._seen = None  # (mandate, stance version, red line) of the cached lines and fit

    def refresh(self) -> None:
        """Read the parameters an event may have changed."""
        super().refresh()
        p, k = self.model.p, self.keys
        w = self.model.weights
        self.capacity = {t: p[path] for t, path in k["capacity"]}
        self.willingness = p[k["willingness"]]
        self.motive_term = sum([w[m] * p[path] for m, path in k["motives"]])
        self.us_ties = p[k["us_ties"]]
        self.casualty_aversion = p[k["casualty_aversion"]]
        self.exposed = self.capacity["troops"] > 0 or self.capacity["logistics"] > 0
        self.relations = p[k["relations_with_israel"]]
        self.cond = {c: p[path] for c, path in k["conditions"]}
        self.partners = tuple(self.spec.conditions.partners)
        self.has_conditions = bool(self.partners) or any(self.cond.values())
        self.home = domestic.Home.of(self) if self.spec.domestic is not None else None

    # ---------------------------------------------------------------- what it sees

    def unmet_conditions(self, v: View) -> list[tuple[str, float | None, float | None]]:
        """R1 Conditions: assurance thresholds (Granovetter 1978) and anchor conditions (UN
        backing attracts partners: Tago).

        Parameters (`conditions`): `un_mandate`, `us_led`, `min_clarity`, `min_partners`,
        `min_troops_committed`, `partners`, `min_ceasefire`, `min_acceptance`. All must hold.
        Returns each unmet condition as (name, value seen, value required).
        """
        if not self.has_conditions:
            return []
        c = self.cond
        unmet = []
        if c["un_mandate"] and not v.un_authorised:
            unmet.append(("un_mandate", None, None))
        if c["us_led"] and not v.us_led:
            unmet.append(("us_led", None, None))
        if v.clarity < c["min_clarity"]:
            unmet.append(("clarity", v.clarity, c["min_clarity"]))
        own = self.name in v.committed
        if c["min_partners"] > 0:
            partners = len(v.committed) - own
            if partners < c["min_partners"]:
                unmet.append(("partners", partners, c["min_partners"]))
        if c["min_troops_committed"] > 0:
            troops = v.total_troops - (v.committed_troops[self.name] if own else 0.0)
            if troops < c["min_troops_committed"]:
                unmet.append(("troops_committed", troops, c["min_troops_committed"]))
        for partner in self.partners:
            if partner not in v.committed:
                unmet.append((f"partner {partner}", None, None))
        if v.ceasefire < c["min_ceasefire"]:
            unmet.append(("ceasefire", v.ceasefire, c["min_ceasefire"]))
        if v.acceptance < c["min_acceptance"]:
            unmet.append(("acceptance", v.acceptance, c["min_acceptance"]))
        return unmet

    def red_lines(self, mandate) -> list[str]:
        """R2 Red lines: tasks of the mandate on which its stance is at or below
        `weights.red_line`. A lifted task is never in the mandate."""
        return list(self._lines_and_fit(mandate)[0])

    def _lines_and_fit(self, mandate) -> tuple[tuple[str, ...], float]:
        """The red lines in the mandate and the mean stance over it, computed again only when
        the mandate, a stance or the red line changes."""
        line = self.model.weights["red_line"]
        seen = self._seen
        if seen is None or seen[0] is not mandate or seen[1] != self.stance_version or \
                seen[2] != line:
            stance = self.stance
            lines = tuple(t for t in mandate if stance[t] <= line)
            fit = sum([stance[t] for t in mandate]) / len(mandate) if mandate else 0.0
            self._seen = seen = (mandate, self.stance_version, line, lines, fit)
        return seen[3], seen[4]

    def risk(self, v: View, role: str) -> float:
        """F1 applied to this state: the mandate's risk, scaled down for a non-combat role by
        `weights.support_exposure`; zero for a state that puts no personnel into Gaza."""
        if not self.exposed:
            return 0.0
        return v.risk if role == "combat" else v.risk * self.model.weights["support_exposure"]

    def utility(self, v: View, role: str) -> tuple[float, tuple[float, ...]]:
        """R3 Utility of pledging (troop-contribution determinants).

        U = willingness                                   (the state's disposition, drawn once)
            + sum_k weights[k] * motives[k]               (Bove & Elia 2011)
            + weights.mandate_fit * mean stance on the mandate's tasks
            + weights.spillover * min(1, troops others committed / target)
                                                          (complements: Gaibulloev et al. 2015)
            + incentive * motives.us_ties                 (selective incentives: Passmore et al.
                                                           2018)
            - casualty_aversion * risk(mandate, role)     (Bove & Elia 2011; Capstone doctrine)
        Returns U and its six terms, in that order.
        """
        fit = self._lines_and_fit(v.mandate)[1]
        others = v.total_troops - v.committed_troops.get(self.name, 0.0)
        share = min(1.0, others / v.target) if v.target > 0 else 1.0
        w = self.model.weights
        terms = (self.willingness, self.motive_term, w["mandate_fit"] * fit,
                 w["spillover"] * share, v.incentive * self.us_ties,
                 -self.casualty_aversion * self.risk(v, role))
        return terms[0] + terms[1] + terms[2] + terms[3] + terms[4] + terms[5], terms

    def wished_pledge(self, u: float) -> tuple[float, dict[str, float]]:
        """R4 Pledge size: the share s = min(1, U / `weights.full_pledge`) of every kind of
        capacity (persons rounded to whole numbers); troops below `weights.min_contingent`
        are not worth sending (none are offered)."""
        w = self.model.weights
        s = min(1.0, u / w["full_pledge"]) if u > 0 else 0.0
        cap = self.capacity
        out = {k: math.floor(s * cap[k] + 0.5) for k in IN_GAZA}
        out["police_trainers"] = math.floor(s * cap["police_trainers"] + 0.5)
        out["funding"] = s * cap["funding"]
        if out["troops"] < w["min_contingent"]:
            out["troops"] = 0
        return s, {k: float(out[k]) for k in CONTRIBUTION_TYPES}

    # ---------------------------------------------------------------- the decision

    def decide(self, v: View) -> None:
        """R4 Decision: pledge, revise, suspend or withdraw, given the mandate on the table.

        An open state (invited, unwilling, conditions unmet, declined) pledges when (1) every
        condition holds (R1), (2) no task is a red line (R2) and the mandate lies in its
        government's win-set (R5a), and (3) U + e > 0 (R3), with e the round's decision noise
        (symmetric triangular, half-width `weights.decision_noise`). It pledges the share of
        R4's pledge size in its preferred role (first of `roles`).

        A state whose pledge stands withdraws over a red line or a mandate outside its
        win-set; suspends while a condition fails (resuming when it holds again); withdraws
        when U + e + `weights.audience_cost` <= 0 (backing down costs: Fearon 1994); else it
        revises the pledge to the wished size once the wish differs by at least
        `weights.revision_step` of its capacity (never below one minimal contingent).
        """
        status = self.status
        if status not in OPEN and status not in STANDING:
            return
        unmet = self.unmet_conditions(v)
        lines = self.red_lines(v.mandate)
        winset = None
        if self.home is not None:
            rejected = self.home.rejected_tasks(v.mandate)
            if rejected:
                self.ever_winset = True
                lines += [t for t in rejected if t not in lines]
            if not lines:
                winset = self.home.winset(v.alignment, v.mandate)
                if not winset.ok:
                    self.ever_winset = True
        if status in OPEN:
            self._decide_open(v, unmet, lines, winset)
        else:
            self._decide_standing(v, unmet, lines, winset)

    def _noise(self) -> float:
        m = self.model
        return m.weights["decision_noise"] * m.noise[m.round - 1][self.index]

    def _decide_open(self, v, unmet, lines, winset) -> None:
        m = self.model
        if unmet:
            self.status = CONDITIONS_UNMET
            if m.tracing:
                m.note("decide", self.name, decision="conditions_unmet", unmet=unmet)
            return
        if lines or (winset is not None and not winset.ok):
            self.status = DECLINED_MANDATE
            self.winset_objection = not lines
            self.objections = tuple(lines) if lines else winset.objection
            self.ever_objected.update(self.objections)
            if m.tracing:
                m.note("decide", self.name, decision="declined_mandate", red_lines=lines,
                       stances={t: self.stance[t] for t in lines},
                       winset=winset.as_dict() if winset else None,
                       objections=list(self.objections))
            return
        role = self.spec.roles[0]
        u, terms = self.utility(v, role)
        noise = self._noise()
        if u + noise <= 0:
            self.status = UNWILLING
            if m.tracing:
                m.note("decide", self.name, decision="unwilling", utility=u, noise=noise,
                       terms=terms)
            return
        share, pledge = self.wished_pledge(u + noise)
        if not any(pledge.values()):
            self.status = UNWILLING
            if m.tracing:
                m.note("decide", self.name, decision="unwilling", utility=u, noise=noise,
                       terms=terms, share=share, too_small=True)
            return
        self.pledge = pledge
        self.role, self.restricted = role, False
        self.status = self.stage = PLEDGED
        self.pledged_round = m.round
        if self.committed_round is None:
            self.committed_round = m.round
        self.ratified = self.home is None
        self.objections = ()
        m.counts["pledges"] += 1
        if m.tracing:
            m.note("decide", self.name, decision="pledge", utility=u, noise=noise, terms=terms,
                   share=share, pledge=dict(pledge), role=role,
                   winset=winset.as_dict() if winset else None)

    def _decide_standing(self, v, unmet, lines, winset) -> None:
        m = self.model
        if lines or (winset is not None and not winset.ok):
            self.winset_objection = not lines
            self.objections = tuple(lines) if lines else winset.objection
            self.ever_objected.update(self.objections)
            self.withdraw(DECLINED_MANDATE, red_lines=lines,
                          winset=winset.as_dict() if winset else None)
            return
        if unmet:
            if self.status != SUSPENDED:
                if self.status in (PLEDGED, APPROVED, DEPLOYED):
                    self.stage = PLEDGED if self.status == PLEDGED else APPROVED
                was = self.status
                self.status = SUSPENDED
                m.counts["suspensions"] += 1
                if m.tracing:
                    m.note("decide", self.name, decision="suspend", unmet=unmet, was=was)
            return
        u, terms = self.utility(v, self.role)
        noise = self._noise()
        cost = m.weights["audience_cost"]
        if u + noise + cost <= 0:
            self.withdraw(UNWILLING, utility=u, noise=noise, terms=terms, audience_cost=cost)
            return
        if self.status == SUSPENDED:
            self.status = self.stage
            if self.stage == APPROVED:
                self.approved_round = m.round  # it re-enters after the deployment lag
            if m.tracing:
                m.note("decide", self.name, decision="resume", status=self.status)
        share, wish = self.wished_pledge(u + noise)
        step = m.weights["revision_step"]
        cap = self.capacity
        if self.pledge["troops"] > 0:  # at least one minimal contingent while it stays
            wish["troops"] = max(wish["troops"], min(cap["troops"], m.weights["min_contingent"]))
        for k in CONTRIBUTION_TYPES:  # shrinking to nothing is withdrawing, decided above
            if wish[k] <= 0 < self.pledge[k]:
                wish[k] = self.pledge[k]
        changed = [k for k in CONTRIBUTION_TYPES
                   if cap[k] > 0 and abs(wish[k] - self.pledge[k]) >= step * cap[k]]
        if changed:
            before = dict(self.pledge)
            for k in changed:
                self.pledge[k] = wish[k]
            m.counts["revisions"] += 1
            if m.tracing:
                m.note("decide", self.name, decision="revise", utility=u, noise=noise,
                       terms=terms, share=share, before=before, pledge=dict(self.pledge))

    def withdraw(self, status: str, **data) -> None:
        """Take back a standing pledge (R4); counted in `withdrawals`."""
        m = self.model
        was = self.status
        self.status = status
        self.pledge = dict.fromkeys(CONTRIBUTION_TYPES, 0.0)
        self.ratified = False
        self.restricted = False
        m.counts["withdrawals"] += 1
        if m.tracing:
            m.note("decide", self.name, decision="withdraw", status=status, was=was,
                   objections=list(self.objections), **data)

    # ---------------------------------------------------------------- queries

    @property
    def sends_personnel(self) -> bool:
        """A pledge that puts troops or logistics personnel into Gaza needs Israel's approval."""
        return self.pledge["troops"] > 0 or self.pledge["logistics"] > 0

    def invite(self) -> None:
        if self.status == NOT_INVITED:
            self.status = INVITED
            self.invited_round = self.model.round

    @property
    def awaiting_review(self) -> bool:
        return (self.status == PLEDGED and self.ratified) or self.status == VETOED
