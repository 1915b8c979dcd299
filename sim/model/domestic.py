"""Domestic politics: level II of the two-level game (Putnam 1988).

A government with a `domestic` block must carry its pledge at home. Before it pledges it
anticipates the vote: a mandate whose chance of ratification falls below its threshold lies
outside its win-set, so it declines and names the task it needs removed (strong opposition
hardens its terms abroad). After it pledges, the vote is held; a failed vote blocks or shrinks
the pledge (involuntary defection). Domestic shocks are scenario events that change
`opposition_strength` and the like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ..vocabulary import BLOCKED_AT_HOME, PLEDGED


@lru_cache(maxsize=1024)
def _keys(name: str, bodies: int) -> dict:
    pre = f"countries.{name}.domestic"
    return {**{k: f"{pre}.{k}" for k in ("opposition_strength", "alignment_tolerance",
                                         "delay_rounds", "min_ratification", "shrink_factor")},
            "shares": [f"{pre}.ratification.{i}.opposition_share" for i in range(bodies)]}


@dataclass(slots=True)
class WinSet:
    """The government's reading of a mandate: the chance its bodies ratify it, whether that
    reaches `min_ratification`, and the task it would ask to remove."""

    ok: bool
    chance: float
    needed: float
    backlash: float
    objection: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"ok": self.ok, "chance": self.chance, "needed": self.needed,
                "backlash": self.backlash, "objection": list(self.objection)}


class Home:
    """A contributor's domestic politics, read from its `domestic` parameters."""

    __slots__ = ("country", "model", "opposition", "tolerance", "shares", "bodies", "delay",
                 "needed", "shrink", "shrink_factor", "rejected")

    @classmethod
    def of(cls, country) -> Home:
        h = cls()
        m, spec = country.model, country.spec.domestic
        k = _keys(country.name, len(spec.ratification))
        p = m.p
        h.country, h.model = country, m
        h.opposition = p[k["opposition_strength"]]
        h.tolerance = p[k["alignment_tolerance"]]
        h.bodies = [b.body for b in spec.ratification]
        h.shares = [p[path] for path in k["shares"]]
        h.delay = int(p[k["delay_rounds"]])
        h.needed = p[k["min_ratification"]]
        h.shrink = spec.on_failure == "shrink"
        h.shrink_factor = p[k["shrink_factor"]]
        h.rejected = tuple(spec.rejected_tasks)
        return h

    @property
    def lifted(self) -> bool:
        return self.country.name in self.model.lifts.domestic

    def rejected_tasks(self, mandate) -> list[str]:
        """Tasks of the mandate the domestic audience rejects outright (`rejected_tasks`): the
        government treats them as red lines."""
        if self.lifted or not self.rejected:
            return []
        return [t for t in mandate if t in self.rejected]

    def backlash(self, alignment: float) -> float:
        """F3 Backlash: b = min(1, max(0, A(M) - alignment_tolerance) / (1 - alignment_tolerance))
        (0 when the tolerance is 1): how far the force's perceived alignment with Israel or
        the West exceeds what the audience tolerates."""
        tol = self.tolerance
        if tol >= 1:
            return 0.0
        return min(1.0, max(0.0, alignment - tol) / (1 - tol))

    def approval_chances(self, alignment: float) -> list[float]:
        """Each body approves with p = 1 - opposition_strength * opposition_share * backlash."""
        b = self.backlash(alignment)
        return [1 - self.opposition * s * b for s in self.shares]

    def winset(self, alignment: float, mandate) -> WinSet:
        """R5a Win-set (Putnam 1988): the chance that every body ratifies the mandate, the
        product of the bodies' chances, must reach `min_ratification`. If it does not, the
        government asks for the removal of the mandate's most aligned task (its weight in F2),
        the first listed on a tie. A lifted domestic block always passes."""
        b = self.backlash(alignment)
        chance = 1.0
        for s in self.shares:
            chance *= 1 - self.opposition * s * b
        if self.lifted or chance >= self.needed:
            return WinSet(True, chance, self.needed, b, ())
        tasks = self.model.task_alignment
        worst = max(mandate, key=lambda t: (tasks[t], -self.model.task_order[t]), default=None)
        objection = (worst,) if worst is not None and tasks[worst] > 0 else ()
        return WinSet(False, chance, self.needed, b, objection)

    def ratify(self) -> None:
        """R5b Ratification (Putnam 1988): `delay_rounds` after the pledge, each body in
        `ratification` votes in order and approves when its uniform draw falls below its
        chance (R5a); all must approve (voting stops at the first refusal). On failure the
        pledge is withdrawn and the state is blocked at home for the rest of the run
        (`on_failure: withdraw`), or shrunk to `shrink_factor` and carried (`shrink`). Every
        failed vote counts in `failed_votes`."""
        c, m = self.country, self.model
        if c.status != PLEDGED or c.ratified or m.round < c.pledged_round + self.delay:
            return
        chances = self.approval_chances(m.alignment())
        votes = []
        passed = True
        for i, (body, p) in enumerate(zip(self.bodies, chances, strict=True)):
            draw = m.vote_draw(c, i)
            ok = self.lifted or draw < p
            votes.append((body, ok, p, draw))
            if not ok:
                passed = False
                break
        if passed:
            c.ratified = True
            if m.tracing:
                m.note("vote", c.name, passed=True, votes=votes, backlash=self.backlash(
                    m.alignment()), opposition=self.opposition)
            return
        m.counts["failed_votes"] += 1
        c.ever_blocked = True
        if self.shrink:
            k = self.shrink_factor
            c.pledge = {t: (float(math.floor(v * k + 0.5)) if t != "funding" else v * k)
                        for t, v in c.pledge.items()}
            c.ratified = True
            if m.tracing:
                m.note("vote", c.name, passed=False, votes=votes, shrunk=dict(c.pledge),
                       backlash=self.backlash(m.alignment()), opposition=self.opposition)
            return
        if m.tracing:
            m.note("vote", c.name, passed=False, votes=votes, backlash=self.backlash(
                m.alignment()), opposition=self.opposition)
        c.withdraw(BLOCKED_AT_HOME)
