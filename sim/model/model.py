"""The negotiation model: one run of the formation of the stabilisation force.

    model = NegotiationModel(loaded, seed=1)   # a loaded scenario and a run seed
    model.run_model()
    model.outcome()                            # one flat record: formed or not, why, who, when

Each round (`step`): events strike, the convener acts, contributors decide, domestic audiences
vote, Israel reviews, the first contingents enter, stances move, milestones are checked.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from functools import lru_cache

import mesa
import numpy as np

from .. import rng
from ..vocabulary import (
    APPROVED,
    COMMITTED,
    COUNTS,
    DEPLOYED,
    IN_FORCE,
    IN_GAZA,
    MOTIVES,
    TARGET_CUT,
)
from . import events
from .contributors import Contributor, Country, View
from .convener import Convener
from .israel import Israel
from .tolerance import EPS


class Lifts:
    """The blockers a counterfactual replay lifts (docs/ODD.md, R13): `veto:<state>`,
    `domestic:<state>`, `task:<task>`, `target`."""

    __slots__ = ("veto", "domestic", "tasks", "target", "labels")

    def __init__(self, labels=()):
        self.labels = tuple(labels)
        self.veto, self.domestic, self.tasks = set(), set(), set()
        self.target = False
        for label in self.labels:
            kind, _, name = label.partition(":")
            if kind == "veto":
                self.veto.add(name)
            elif kind == "domestic":
                self.domestic.add(name)
            elif kind == "task":
                self.tasks.add(name)
            elif kind == "target" and not name:
                self.target = True
            else:
                raise ValueError(f"unknown counterfactual lift '{label}'")


@lru_cache(maxsize=4096)
def _key(name: str) -> int:
    return rng.name_key(name)


@lru_cache(maxsize=256)
def _counters(names: tuple[str, ...], rounds: int) -> np.ndarray:
    """The slot counters of every (round, name) pair, rounds 1..`rounds` (or round 0 alone),
    row by row: they depend on the names alone, so they are built once."""
    rs = range(1, rounds + 1) if rounds else (0,)
    return np.array([rng.slot(_key(n), k) for k in rs for n in names], dtype=np.uint64)


class NegotiationModel(mesa.Model):
    """States negotiate who sends what to the force, under which mandate, round by round."""

    def __init__(self, scenario, seed: int, *, fixed: dict | None = None, lifts=(),
                 trace: bool = False):
        super().__init__(seed=seed)
        self.scenario = scenario
        self.seed = seed
        s = scenario.scenario
        self.p, self.drawn = scenario.params(seed, fixed)
        self.public = scenario.public
        self.lifts = lifts if isinstance(lifts, Lifts) else Lifts(lifts)
        self.tracing = trace
        self.journal: list[dict] = []
        cal = s.calendar
        self.start: dt.date = cal.start
        self.round_days: int = cal.round_days
        self.max_rounds: int = cal.rounds
        self.round = 0

        self.task_names = list(s.tasks)
        self.task_order = {t: i for i, t in enumerate(self.task_names)}
        self.softer = {t: spec.softer for t, spec in s.tasks.items() if spec.softer}
        gone = set()
        for t in self.lifts.tasks:  # a lifted task is off the table in every form
            gone |= {t, self.softer.get(t)} | {h for h, soft in self.softer.items() if soft == t}
        self.mandate: tuple[str, ...] = tuple(t for t in s.mandate if t not in gone)
        self.refresh_model()

        self.countries: dict[str, Country] = {}
        for name, spec in s.countries.items():
            cls = Country if spec.role == "influencer" else Contributor
            self.countries[name] = cls(self, name, spec)
        self.contributors = [c for c in self.countries.values() if isinstance(c, Contributor)]
        for i, c in enumerate(self.contributors):
            c.index = i
        self.consulters = [c for c in self.countries.values() if c.spec.consults]
        # Every random number of the run comes from a named slot of the run seed (sim.rng):
        # decision noise per (contributor, round) and a draw per (random event, round) here;
        # votes when they happen.
        r = self.max_rounds
        names = tuple(c.name for c in self.contributors)
        events_ = tuple(f"event {i}: {ev.name}" for i, ev in enumerate(s.events))
        u = rng.uniforms([seed], rng.NOISE, _counters(names, r))[0]
        self.noise = rng.symmetric_triangular(u, 1.0).reshape(r, len(names)).tolist()
        eu = rng.uniforms([seed], rng.EVENT, _counters(events_, r))[0]
        self.event_draws = eu.reshape(r, len(events_)).tolist()
        # the convener's misjudgement of Israel's view of each state and of a softened task:
        # a symmetric triangular number on [-1, 1] per run (scaled by convener.misjudgement)
        keys = (*names, "mandate")
        eu = rng.uniforms([seed], rng.ESTIMATE, _counters(keys, 0))[0]
        self.estimate_errors = dict(zip(keys, rng.symmetric_triangular(eu, 1.0).tolist(),
                                        strict=True))
        self.israel = Israel(self)
        self.convener = Convener(self)

        self.pending_events = list(enumerate(s.events))
        self.fired: list[str] = []
        self.collapsed = False
        self.counts = Counter(dict.fromkeys(COUNTS, 0))
        self.milestone: dict[str, int | None] = dict.fromkeys(
            ("first_phase", "formed", "entry", "full_strength"))
        self.force_at_formation: dict[str, float] | None = None
        self.members_at_formation: list[str] = []
        self.running = True

    # ------------------------------------------------------------------ parameters

    def refresh_model(self) -> None:
        """Read the model-level parameters (again, after an event)."""
        p = self.p
        self.weights = {k: p[f"weights.{k}"] for k in (
            *MOTIVES, "mandate_fit", "spillover", "decision_noise", "red_line", "full_pledge",
            "min_contingent", "audience_cost", "revision_step", "support_exposure")}
        self.task_risk = {t: p[f"tasks.{t}.risk"] for t in self.task_names}
        self.task_alignment = {t: p[f"tasks.{t}.alignment"] for t in self.task_names}
        self.target = p["convener.target_troops"] * (1 - TARGET_CUT if self.lifts.target else 1)
        self.min_contributors = int(p["convener.min_contributors"])
        self.deploy_rounds = int(p["convener.deploy_rounds"])
        self._risk_key = None

    def refresh(self, paths=()) -> None:
        """After an event changed `paths`: the agents that read them read their parameters
        again (a country its own; Israel and the convener theirs; everyone the shared weights).
        Environment values are read where they are used."""
        heads = {p.split(".", 2)[0] for p in paths}
        named = {p.split(".", 2)[1] for p in paths if p.startswith("countries.")}
        shared = bool(heads & {"weights", "tasks", "convener", "israel"})
        self.refresh_model()
        for c in self.countries.values():
            if shared or c.name in named:
                c.refresh()
        if shared or named:  # Israel's threat depends on a state's relations
            self.israel.refresh()
            self.convener.refresh()

    # ------------------------------------------------------------------ schedule

    def step(self) -> None:
        self.round += 1
        if self.tracing:
            self.note("round", None, start=str(self.round_start(self.round)),
                      end=str(self.round_end(self.round)))
        if events.strike(self):
            return self.finish()
        self.convener.act()
        view = self.view()
        for c in self.contributors:
            c.decide(view)
        for c in self.contributors:
            if c.home is not None:
                c.home.ratify()
        self.israel.review()
        self.check_milestones()
        self.deploy()
        self.update_stances()
        if self.milestone["full_strength"] is not None or self.round >= self.max_rounds:
            self.finish()

    # ------------------------------------------------------------------ sub-steps

    def view(self) -> View:
        committed = {c.name: c.pledge["troops"] for c in self.contributors
                     if c.status in COMMITTED}
        env = self.p
        return View(
            committed=frozenset(committed),
            committed_troops=committed,
            total_troops=sum(committed.values()),
            target=self.target,
            clarity=self.convener.clarity,
            ceasefire=env["environment.ceasefire"],
            acceptance=env["environment.armed_group_acceptance"],
            un_authorised=env["environment.un_authorised"],
            us_led=env["environment.us_led"] >= 0.5,
            mandate=self.mandate,
            risk=self.risk(),
            alignment=self.alignment(),
            incentive=self.convener.incentive,
        )

    def check_milestones(self) -> None:
        """R10 Milestones of the force. The first phase is approved when approved troops reach
        `first_phase` * target from at least `min_contributors` troop-contributing states under
        a mandate Israel accepts (Israel's consent is then locked); the force is formed when
        approved troops reach the whole target on the same terms."""
        troops, states = self.approved_troops()
        if not self.israel.mandate_accepted or states < self.min_contributors:
            return
        r = self.round
        if self.milestone["first_phase"] is None and \
                troops >= self.convener.first_phase * self.target - EPS:
            self.milestone["first_phase"] = r
            self.israel.consent_locked = True
            if self.tracing:
                self.note("milestone", None, milestone="first_phase", troops=troops,
                          states=states, target=self.target)
        if self.milestone["formed"] is None and troops >= self.target - EPS:
            self.milestone["formed"] = r
            self.force_at_formation = self.approved_totals()
            self.members_at_formation = sorted(
                c.name for c in self.contributors if c.status in IN_FORCE and
                (c.pledge["troops"] > 0 or c.pledge["logistics"] > 0))
            if self.tracing:
                self.note("milestone", None, milestone="formed", troops=troops, states=states,
                          target=self.target, members=self.members_at_formation)

    def deploy(self) -> None:
        """R10 Entry: once the first phase is approved, an approved contingent with personnel
        enters Gaza `deploy_rounds` after the later of that round and its own approval; troops
        in Gaza reaching the target is full strength."""
        first = self.milestone["first_phase"]
        if first is None:
            return
        r, lag = self.round, self.deploy_rounds
        for c in self.contributors:
            if c.status == APPROVED and c.sends_personnel and \
                    r >= max(first, c.approved_round) + lag:
                c.status = c.stage = DEPLOYED
                if c.entry_round is None:
                    c.entry_round = r
                if self.milestone["entry"] is None:
                    self.milestone["entry"] = r
                    if self.tracing:
                        self.note("milestone", None, milestone="entry", first=c.name)
                if self.tracing:
                    self.note("enter", c.name, troops=c.pledge["troops"],
                              logistics=c.pledge["logistics"], role=c.role,
                              restricted=c.restricted)
        inside = self.deployed_troops()
        if self.milestone["full_strength"] is None and inside >= self.target - EPS and \
                self.milestone["formed"] is not None:
            self.milestone["full_strength"] = r
            if self.tracing:
                self.note("milestone", None, milestone="full_strength", troops=inside,
                          target=self.target)

    def update_stances(self) -> None:
        new = {c.name: s for c in self.consulters if (s := c.consult()) is not None}
        for name, stance in new.items():
            country = self.countries[name]
            if self.tracing:
                moved = {t: (country.stance[t], v) for t, v in stance.items()
                         if abs(v - country.stance[t]) >= 0.005}
                if moved:
                    self.note("consult", name, partners=list(country.spec.consults),
                              moved=moved)
            country.stance = stance
            country.stance_version += 1

    def finish(self) -> None:
        self.running = False
        if self.tracing:
            from .outcome import failure_reason

            self.note("end", None, formed=self.milestone["formed"] is not None,
                      reason=failure_reason(self)[0])

    # ------------------------------------------------------------------ quantities

    def current_target(self) -> float:
        """The troops the convener is working toward: the first phase until it is approved."""
        if self.milestone["first_phase"] is None:
            return self.convener.first_phase * self.target
        return self.target

    def risk(self) -> float:
        """F1 Risk of the mandate: min(1, (1 - ceasefire) + (1 - armed_group_acceptance) *
        sum of the mandate's task risks) (consent and impartiality; Capstone doctrine)."""
        p = self.p
        key = (self.mandate, p["environment.ceasefire"], p["environment.armed_group_acceptance"])
        if key != self._risk_key:
            load = sum([self.task_risk[t] for t in self.mandate])
            r = (1 - key[1]) + (1 - key[2]) * load
            self._risk_key, self._risk = key, min(1.0, r)
        return self._risk

    def alignment(self) -> float:
        """F2 Perceived alignment of the force with Israel/the West: environment.alignment plus
        the alignment of each task in the mandate, capped at 1."""
        return min(1.0, self.p["environment.alignment"] + sum(
            [self.task_alignment[t] for t in self.mandate]))

    def approved_troops(self) -> tuple[float, int]:
        troops = [c.pledge["troops"] for c in self.contributors if c.status in IN_FORCE]
        return sum(troops), sum(1 for t in troops if t > 0)

    def approved_totals(self) -> dict[str, float]:
        out = dict.fromkeys(("troops", "police_trainers", "logistics", "funding"), 0.0)
        for c in self.contributors:
            if c.status in IN_FORCE:
                for k in out:
                    out[k] += c.pledge[k]
        return out

    def committed_troops(self) -> float:
        return sum(c.pledge["troops"] for c in self.contributors if c.status in COMMITTED)

    def deployed_troops(self) -> float:
        return sum(c.pledge["troops"] for c in self.contributors if c.status == DEPLOYED)

    def vote_draw(self, c: Contributor, body: int) -> float:
        """The uniform draw of a ratifying body's vote this round (a slot of the run seed)."""
        return rng.uniform(self.seed, rng.VOTE, rng.slot(_key(f"{c.name} vote {body}"),
                                                           self.round))

    # ------------------------------------------------------------------ reporting

    def round_start(self, r: int) -> dt.date:
        return self.start + dt.timedelta(days=(r - 1) * self.round_days)

    def round_end(self, r: int) -> dt.date:
        return self.start + dt.timedelta(days=r * self.round_days)

    def note(self, kind: str, actor: str | None, **data) -> None:
        """Record a structured event of the run (only when tracing): what was decided and the
        numbers it was decided on. The trace and the explorer tell the story from these."""
        if self.tracing:
            self.journal.append({"round": self.round, "kind": kind, "actor": actor, **data})

    def outcome(self) -> dict:
        from .outcome import outcome_record

        return outcome_record(self)


def release(model: mesa.Model) -> None:
    """Mesa 3.3.1 keeps every model alive through `Agent._ids`; drop this one's entry."""
    mesa.Agent._ids.pop(model, None)


__all__ = ["COUNTS", "IN_GAZA", "Lifts", "NegotiationModel", "release"]
