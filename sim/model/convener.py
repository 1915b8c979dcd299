"""The convener (the US / Board of Peace): the agenda setter (Tsebelis 2002). It recruits in
waves, answers questions, bargains over the mandate, presses Israel and offers incentives; it
sends no troops.

It knows Israel's general stance (its tolerance, how it responds to pressure, what it demands),
but it misjudges Israel's view of each state and of a softened task by an error drawn once per
run (private information, Fearon 1995): it can be surprised by a veto or a refusal, and it
remembers what surprised it. A threat score of 1 is a public refusal, known exactly.
"""

from __future__ import annotations

import math

import mesa

from ..vocabulary import APPROVED, DECLINED_MANDATE, DEPLOYED, NOT_INVITED, PLEDGED, VETOED
from .israel import satisfaction
from .tolerance import EPS

INF = math.inf


class Convener(mesa.Agent):
    """The agenda setter: invites, proposes and concedes, presses Israel, offers incentives."""

    def __init__(self, model):
        super().__init__(model)
        p, s = model.p, model.scenario.scenario.convener
        self.name = s.name
        self.core = frozenset(s.core_tasks)
        self.clarity = p["convener.clarity"]
        self.pressure = self.peak = p["convener.pressure"]
        self.spent = 0.0
        self.exhausted = False
        self.incentive = 0.0
        self.frustration: dict[str, float] = {}
        self.short_rounds = 0
        self.waves = 0
        self.failed_at: dict[str, float] = {}  # pressure at which Israel vetoed a state
        self.mandate_failed_at: float | None = None  # ... or refused the mandate on the table
        self.holding: set[str] = set()  # tasks it keeps because Israel would refuse otherwise
        self.refresh()

    def refresh(self) -> None:
        m, p = self.model, self.model.p
        for k in ("clarity_step", "clarity_loss", "pressure_step", "max_pressure", "leverage",
                  "incentive_step", "max_incentive", "resolve", "israel_deference",
                  "first_phase"):
            setattr(self, k, p[f"convener.{k}"])
        self.wave_after = int(p["convener.wave_after"])
        self.misjudgement = p["convener.misjudgement"]
        self.pub = {k: p[f"israel.{k}"] for k in (
            "tolerance", "pressure_effect", "unmet_demand_penalty", "mandate_pressure_effect",
            "restricted_discount")}
        self.pub_hard_line = p["israel.reject_without_relations"]
        err = self.misjudgement * m.estimate_errors["mandate"]
        self.pub_demands = {t: (w, min(1.0, max(0.0, credit + err)))
                            for t, (w, credit) in m.israel.demands.items()}

    # ---------------------------------------------------------------- anticipating Israel

    def expected_threat(self, c) -> float:
        """Israel's threat score of c as the convener reads it: the true score (R6) plus the
        convener's error for c, within [0, 1]; a score of 1 (a public refusal) exactly."""
        th = self.model.israel.threat(c)
        if th >= 1:
            return 1.0
        err = self.misjudgement * self.model.estimate_errors[c.name]
        return min(1.0, max(0.0, th + err))

    def expected_satisfaction(self, mandate) -> float:
        return satisfaction(self.pub_demands, self.model.softer, mandate)

    def pressure_needed(self, c, sat: float) -> float:
        """The least pressure at which the convener expects Israel to approve c (INF if none):
        from Israel's stated positions (F5, R6), and never less than one step above a pressure
        at which Israel already vetoed c."""
        if not (c.capacity["troops"] > 0 or c.capacity["logistics"] > 0):
            return 0.0
        if c.name in self.model.lifts.veto:
            return 0.0
        if self.pub_hard_line and not c.relations:
            return INF
        th = self.expected_threat(c)
        if th < 1 and "non_combat" in c.spec.roles:
            th = th * (1 - self.pub["restricted_discount"])
        base = self.pub["tolerance"] - self.pub["unmet_demand_penalty"] * (1 - sat)
        if th <= base + EPS:
            need = 0.0
        elif self.pub["pressure_effect"] > 0 and th < 1:
            need = (th - base) / self.pub["pressure_effect"]
        else:
            need = INF
        if c.name in self.failed_at:
            need = max(need, self.failed_at[c.name] + self.pressure_step)
        return need

    def mandate_pressure_needed(self, sat: float, current: bool = False) -> float:
        """The least pressure at which the convener expects Israel to accept a mandate (R7); for
        the mandate on the table (`current`), never less than one step above a pressure at which
        Israel already refused it."""
        if sat >= 1 - EPS:
            return 0.0
        mpe = self.pub["mandate_pressure_effect"]
        need = (1 - sat) / mpe if mpe > 0 else INF
        if current and self.mandate_failed_at is not None:
            need = max(need, self.mandate_failed_at + self.pressure_step)
        return need

    def learn(self, c) -> None:
        """Memory of a veto: Israel vetoed c at the current pressure, so more is needed."""
        self.failed_at[c.name] = max(self.failed_at.get(c.name, -INF), self.pressure)

    def learn_refusal(self) -> None:
        """Memory of a refusal: Israel refused the mandate on the table at the current pressure."""
        self.mandate_failed_at = max(self.mandate_failed_at or -INF, self.pressure)

    # ---------------------------------------------------------------- the round

    def act(self) -> None:
        """R8 The convener's turn (agenda setting; Tsebelis 2002), in this order: round 1
        invites the first wave; from round 2 on it remembers the round's objections, may
        concede one task (R8b), updates clarity, chooses its pressure on Israel (R8c), raises
        its incentive while the force is short, and invites a second wave after `wave_after`
        short rounds (R8a)."""
        m = self.model
        if m.round == 1:
            self.invite_wave(self.pressure)
            if m.tracing:
                self._note_state("open")
            return
        self.remember()
        changed = self.concede()
        if changed:
            self.clarity = max(0.0, self.clarity - self.clarity_loss)
        else:
            self.clarity = min(1.0, self.clarity + self.clarity_step)
        self.press()
        short = m.committed_troops() < m.current_target()
        if short:
            self.incentive = min(self.max_incentive, self.incentive + self.incentive_step)
            self.short_rounds += 1
        else:
            self.short_rounds = 0
        if self.short_rounds >= self.wave_after and self.waves < 2:
            self.invite_wave(self.max_pressure)
            self.short_rounds = 0
        if m.tracing:
            self._note_state("round")

    def invite_wave(self, pressure: float) -> None:
        """R8a Recruitment in waves, anticipating Israel's veto. The first wave (round 1)
        invites every contributor Israel is expected to approve at the current pressure, in
        some role; a second wave, after the force has been short of pledges for `wave_after`
        rounds, those it expects Israel to approve at the most pressure the convener will
        apply (`max_pressure`). A state expected to be vetoed even then is never invited."""
        m = self.model
        sat = self.expected_satisfaction(m.mandate)
        invited, passed = [], []
        for c in m.contributors:
            if c.status != NOT_INVITED:
                continue
            need = self.pressure_needed(c, sat)
            if need <= pressure + EPS:
                c.invite()
                invited.append(c.name)
            else:
                passed.append((c.name, need))
        self.waves += 1
        if m.tracing:
            m.note("invite", self.name, wave=self.waves, invited=invited, pressure=pressure,
                   not_invited=passed)

    def remember(self) -> None:
        """R8b, memory: each round, every task of the mandate accumulates the troops (capacity)
        of the states that decline over it, as a share of the target. A state that offers
        only money or trainers holds back no troops and adds nothing."""
        m = self.model
        target = m.current_target()
        for c in m.contributors:
            if c.status == DECLINED_MANDATE and c.capacity["troops"] > 0:
                for t in c.objections:
                    if t in m.mandate:
                        self.frustration[t] = self.frustration.get(t, 0.0) + (
                            c.capacity["troops"] / target if target > 0 else 0.0)

    def concede(self) -> bool:
        """R8b Concession: the convener softens a task (puts its `softer` form in its place) or,
        if it has none, drops it, once the troops that objections to it held back, summed over
        rounds (memory), reach `resolve` * (1 + `israel_deference` * the loss of Israel's
        satisfaction, F4). Never a task in `core_tasks`, and never one whose concession would
        leave a mandate Israel is expected to refuse at the most pressure the convener will
        apply. At most one concession a round: the task with the largest accumulated weight,
        the first in the mandate on a tie. A conceded task never returns."""
        m = self.model
        mandate = m.mandate
        sat = self.expected_satisfaction(mandate)
        best = None
        for order, t in enumerate(mandate):
            weight = self.frustration.get(t, 0.0)
            if t in self.core or weight <= 0:
                continue
            soft = m.softer.get(t)
            new = tuple(soft if x == t else x for x in mandate) if soft else \
                tuple(x for x in mandate if x != t)
            new_sat = self.expected_satisfaction(new)
            loss = sat - new_sat
            bar = self.resolve * (1 + self.israel_deference * loss)
            if weight < bar - EPS:
                continue
            need = self.mandate_pressure_needed(new_sat)
            if need > self.max_pressure + EPS:
                if m.tracing and t not in self.holding:
                    m.note("hold", self.name, task=t, weight=weight, bar=bar,
                           pressure_needed=need, max_pressure=self.max_pressure)
                self.holding.add(t)
                continue
            if best is None or weight > best[0] + EPS:
                best = (weight, order, t, soft, new, bar, loss)
        if best is None:
            return False
        weight, _, t, soft, new, bar, loss = best
        m.mandate = new
        self.mandate_failed_at = None  # a new mandate: what Israel refused no longer applies
        self.frustration.pop(t, None)
        m.counts["concessions"] += 1
        if soft:
            m.counts["softenings"] += 1
        if m.tracing:
            m.note("concede", self.name, task=t, softer=soft, weight=weight, bar=bar,
                   israel_loss=loss, mandate=list(new))
        return True

    def press(self) -> None:
        """R8c Pressure on Israel: a costly choice, not a clock. The convener aims at the least
        pressure with which it expects the force to reach its target (the first phase until
        that is approved): Israel's consent to the mandate (R7) and approval of enough of the
        pending or vetoed contingents, cheapest first (R6, as the convener expects them). It
        presses only if that pressure is within `max_pressure`; otherwise it aims at zero.
        Pressure moves toward the aim by at most `pressure_step` a round. Every round's
        pressure is spent from `leverage`; once that is used up, pressure falls back to zero
        and the convener cannot press again."""
        m = self.model
        before = self.pressure
        if self.exhausted:
            aim = 0.0
        else:
            need = self.decisive_pressure()
            aim = need if need <= self.max_pressure + EPS else 0.0
        if aim > self.pressure:
            self.pressure = min(aim, self.pressure + self.pressure_step)
        else:
            self.pressure = max(aim, self.pressure - self.pressure_step)
        self.spent += self.pressure
        self.peak = max(self.peak, self.pressure)
        if not self.exhausted and self.spent >= self.leverage - EPS and self.pressure > 0:
            self.exhausted = True
        if m.tracing and self.pressure != before:
            m.note("press", self.name, before=before, pressure=self.pressure, aim=aim,
                   spent=self.spent, leverage=self.leverage, exhausted=self.exhausted)

    def decisive_pressure(self) -> float:
        """The least pressure at which the convener expects the force to reach its current
        target (INF if no pressure would)."""
        m = self.model
        sat = self.expected_satisfaction(m.mandate)
        need = self.mandate_pressure_needed(sat, current=not m.israel.consent_locked)
        target = m.current_target()
        total = 0.0
        items = []
        for c in m.contributors:
            st = c.status
            if st in (APPROVED, DEPLOYED):
                total += c.pledge["troops"]
            elif st in (PLEDGED, VETOED) and c.pledge["troops"] > 0:
                items.append((self.pressure_needed(c, sat), c.pledge["troops"]))
        items.sort()
        for need_c, troops in items:
            if total >= target:
                break
            need = max(need, need_c)
            total += troops
        return need if total >= target else INF

    # ---------------------------------------------------------------- trace

    def _note_state(self, when: str) -> None:
        m = self.model
        m.note("convener", self.name, when=when, mandate=list(m.mandate), clarity=self.clarity,
               pressure=self.pressure, incentive=self.incentive, spent=self.spent,
               leverage=self.leverage, frustration=dict(self.frustration))
