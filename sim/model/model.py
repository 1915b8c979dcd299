"""The negotiation model: one run of the formation of the stabilisation force.

    model = NegotiationModel(params, seed=1)   # params: one run's concrete parameter tree
    model.run_model()
    model.outcome()                            # one flat record: formed or not, why, who, when

Each round (`step`): events strike, the convener proposes, contributors decide, domestic
audiences ratify, Israel reviews, stances update, and the model checks whether the force formed.
"""

from __future__ import annotations

import datetime as dt

import mesa
import numpy as np

from ..scenario.tree import get_path, set_path
from ..vocabulary import CONTRIBUTION_TYPES, FINAL_STATUSES, REASONS
from .agents import (
    APPROVED,
    BLOCKED_AT_HOME,
    COMMITTED,
    CONDITIONS_UNMET,
    DECLINED_MANDATE,
    DEPLOYED,
    NOT_INVITED,
    PLEDGED,
    RATIFIED,
    UNDECIDED,
    UNWILLING,
    VETOED,
    Contributor,
    Convener,
    Country,
    Israel,
    View,
)

__all__ = ["FINAL_STATUSES", "REASONS", "NegotiationModel", "run_one", "run_seeds"]


class NegotiationModel(mesa.Model):
    """Countries negotiate who sends what to the force, under which mandate, round by round."""

    def __init__(self, params: dict, seed: int | None = None, rng=None, trace: bool = False,
                 bounds: dict | None = None):
        if rng is None:
            super().__init__(seed=seed)
        else:
            super().__init__(rng=rng)
        self.params = params
        self.bounds = bounds or {}
        self.tracing = trace
        self.events_log: list[dict] = []
        cal = params["calendar"]
        self.start: dt.date = cal["start"]
        self.round_days: int = cal["round_days"]
        self.max_rounds: int = cal["rounds"]
        self.round = 0
        self.env = params["environment"]
        self.weights = params["weights"]
        self.tasks = params["tasks"]
        self.task_names = list(self.tasks)
        self.mandate: tuple[str, ...] = tuple(params["mandate"])
        self.target = params["convener"]["target_troops"]
        self.min_contributors = params["convener"]["min_contributors"]

        self.countries: dict[str, Country] = {}
        for name, spec in params["countries"].items():
            cls = Country if spec["role"] == "influencer" else Contributor
            self.countries[name] = cls(self, name, spec)
        self.contributors = [c for c in self.countries.values() if isinstance(c, Contributor)]
        for i, c in enumerate(self.contributors):
            c.index = i
        self.consulters = [c for c in self.countries.values() if c.spec["consults"]]
        self.convener = Convener(self, params["convener"])
        self.israel = Israel(self, params["israel"])

        # Every random number of the run, drawn up front: draws[kind][round - 1][...]. A draw
        # belongs to a (round, country, body) slot, so it does not depend on how many other
        # draws came before it (common random numbers across scenarios and overrides).
        r, n = self.max_rounds, len(self.contributors)
        bodies = max([len(c.spec["domestic"]["ratification"]) for c in self.contributors
                      if c.spec["domestic"]] or [1])
        self.draws = {
            "event": self.rng.random((r, max(1, len(params["events"])))).tolist(),
            "concede": self.rng.random(r).tolist(),
            "noise": self.rng.standard_normal((r, max(1, n))).tolist(),
            "vote": self.rng.random((r, max(1, n), bodies)),
        }
        self._risk_key = None
        self.short = True  # the force is short of its target (updated by check_formation)

        self.pending_events = list(enumerate(params["events"]))
        self.fired: list[str] = []
        self.collapsed = False
        self.formed = False
        self.formed_round: int | None = None
        self.vetoes = self.withdrawals = self.domestic_blocks = self.concessions = 0
        self.running = True

    # ------------------------------------------------------------------ schedule

    def step(self) -> None:
        self.round += 1
        if self.tracing:
            self.log("round", None, f"Round {self.round}: {self.round_start(self.round)} to "
                     f"{self.round_end(self.round)}")
        if self.strike_events():
            return self.finish()
        self.convener.propose()
        view = self.view()
        for c in self.contributors:
            c.decide(view)
        for c in self.contributors:
            c.ratify()
        self.israel.review()
        self.update_stances()
        self.check_formation()
        if self.formed or self.round >= self.max_rounds:
            self.finish()

    # ------------------------------------------------------------------ sub-steps

    def strike_events(self) -> bool:
        """Apply scheduled events due this round and draw random ones; True if talks collapse.

        A scheduled event strikes at its `round`. A random event strikes at most once, in the
        first round in [`from_round`, `until_round`] where a uniform draw falls below its
        `probability`. `set` replaces and `add` shifts a parameter (clipped to its range).
        """
        still = []
        for i, ev in self.pending_events:
            if ev["round"] is not None:
                fire = ev["round"] == self.round
                draw = None
            else:
                until = ev["until_round"] or self.max_rounds
                if self.round > until:
                    continue  # its window has passed: it can no longer strike
                if self.round < ev["from_round"]:
                    still.append((i, ev))
                    continue
                draw = self.draws["event"][self.round - 1][i]
                fire = draw < ev["probability"]
            if not fire:
                still.append((i, ev))
                continue
            changes = self.apply_changes(ev)
            self.fired.append(ev["name"])
            note = "" if draw is None else \
                f" (P {ev['probability']:.2f} per round, draw {draw:.2f})"
            self.log("event", None, f"EVENT: {ev['name']}{note}"
                     + (": " + "; ".join(changes) if changes else "")
                     + ("; the talks collapse" if ev["collapse"] else ""), event=ev["name"])
            if ev["collapse"]:
                self.collapsed = True
        self.pending_events = still
        return self.collapsed

    def apply_changes(self, ev: dict) -> list[str]:
        bounds = self.bounds
        changes = []
        for kind in ("set", "add"):
            for path, value in ev[kind].items():
                parts = path.split(".")
                parent = get_path(self.params, ".".join(parts[:-1])) if len(parts) > 1 \
                    else self.params
                old = parent[parts[-1]]
                new = value if kind == "set" else old + value
                if path in bounds:
                    new = bounds[path].clip(float(new))
                parent[parts[-1]] = new
                if parts[0] == "countries" and parts[2] == "stances":
                    self.countries[parts[1]].stance[parts[3]] = new
                if path == "convener.pressure":
                    self.convener.pressure = new
                if path == "convener.clarity":
                    self.convener.clarity = new
                if path == "convener.target_troops":
                    self.target = new
                changes.append(f"{path} {_fmt(old)} -> {_fmt(new)}")
        for c in self.contributors:
            c.refresh()
        self._risk_key = None
        troops, n = self.approved_troops()
        self.short = troops < self.target or n < self.min_contributors
        return changes

    def view(self) -> View:
        committed = [c for c in self.contributors if c.status in COMMITTED]
        troops = {c.name: c.pledge["troops"] for c in committed}
        return View(
            committed=frozenset(troops),
            committed_troops=troops,
            total_troops=sum(troops.values()),
            target=self.target,
            clarity=self.convener.clarity,
            ceasefire=self.env["ceasefire"],
            un_authorised=self.env["un_authorised"],
            mandate=self.mandate,
            risk=self.risk(),
            incentive=self.convener.incentive,
        )

    def update_stances(self) -> None:
        if not self.consulters:
            return
        new = {c.name: s for c in self.consulters if (s := c.consult()) is not None}
        if not self.tracing:
            for name, stance in new.items():
                self.countries[name].stance = stance
            return
        for name, stance in new.items():
            country = self.countries[name]
            moved = [f"{self.task_label(t)} {country.stance[t]:+.2f} -> {v:+.2f}"
                     for t, v in stance.items() if abs(v - country.stance[t]) >= 0.005]
            if moved:
                self.log("consult", name, "after consulting "
                         + ", ".join(country.spec["consults"]) + ": " + "; ".join(moved))
            country.stance = stance

    def check_formation(self) -> None:
        """The force forms when approved troops reach the target from at least
        `min_contributors` troop-contributing states, under a mandate Israel accepts."""
        troops, n = self.approved_troops()
        self.short = troops < self.target or n < self.min_contributors
        if not self.short and self.israel.mandate_accepted:
            self.formed = True
            self.formed_round = self.round
            for c in self.contributors:
                if c.status == APPROVED:
                    c.status = DEPLOYED
            self.log("formed", None, f"THE FORCE FORMS on {self.round_end(self.round)}: "
                     f"{troops:,.0f} troops from {n} states (target {self.target:,.0f})")

    def finish(self) -> None:
        self.running = False
        if self.tracing and not self.formed:  # the reason, for the trace only
            out = self.outcome()
            self.log("end", None, f"NO FORCE by {self.round_end(self.round)}: reason "
                     f"{out['reason']}", reason=out["reason"])

    # ------------------------------------------------------------------ quantities

    def risk(self) -> float:
        """Risk to contingents: (1 - ceasefire) + (1 - armed_group_acceptance) * sum of the
        mandate's task risks, capped at 1 (consent and impartiality; Capstone doctrine)."""
        key = (self.mandate, self.env["ceasefire"], self.env["armed_group_acceptance"])
        if key != self._risk_key:
            load = sum(self.tasks[t]["risk"] for t in self.mandate)
            r = (1 - self.env["ceasefire"]) + (1 - self.env["armed_group_acceptance"]) * load
            self._risk_key, self._risk = key, min(1.0, r)
        return self._risk

    def alignment(self) -> float:
        """Perceived alignment of the force with Israel/the West: environment.alignment plus
        the alignment of each task in the mandate, capped at 1."""
        return min(1.0, self.env["alignment"] + sum(self.tasks[t]["alignment"]
                                                    for t in self.mandate))

    def approved_troops(self) -> tuple[float, int]:
        troops = [c.pledge["troops"] for c in self.contributors if c.status in (APPROVED, DEPLOYED)]
        return sum(troops), sum(1 for t in troops if t > 0)

    def invite(self, names) -> None:
        invited = []
        for name in names:
            c = self.countries[name]
            if c.status == NOT_INVITED:
                c.status = UNDECIDED
                c.invited_round = self.round
                invited.append(name)
        if invited:
            self.log("invite", self.params["convener"]["name"], "invites " + ", ".join(invited))

    # ------------------------------------------------------------------ reporting

    def round_start(self, r: int) -> dt.date:
        return self.start + dt.timedelta(days=(r - 1) * self.round_days)

    def round_end(self, r: int) -> dt.date:
        return self.start + dt.timedelta(days=r * self.round_days)

    def task_label(self, t: str) -> str:
        return self.tasks[t]["label"]

    def describe_mandate(self) -> str:
        return "[" + ", ".join(self.task_label(t) for t in self.mandate) + "]" \
            if self.mandate else "[no tasks]"

    @staticmethod
    def describe_pledge(pledge: dict) -> str:
        parts = [f"{pledge[k]:,.0f} {k.replace('_', ' ')}" for k in CONTRIBUTION_TYPES[:3]
                 if pledge[k] > 0]
        if pledge["funding"] > 0:
            parts.append(f"USD {pledge['funding']:,.0f}m funding")
        return ", ".join(parts) or "nothing"

    def log(self, kind: str, actor: str | None, text: str, **data) -> None:
        if self.tracing:
            self.events_log.append({"round": self.round, "date": str(self.round_start(
                max(self.round, 1))), "kind": kind, "actor": actor, "text": text,
                **({"data": data} if data else {})})

    def final_status(self, c: Country) -> str:
        s = c.status
        if s in (APPROVED, RATIFIED):
            return "committed"
        if s == PLEDGED:
            return "pending"
        return s

    def outcome(self) -> dict:
        """One flat record for the run (docs/ODD.md, "Observation")."""
        formed = self.formed
        pool = dict.fromkeys(("vetoes", "domestic_withdrawals", "mandate_deadlock",
                              "conditions_unmet", "deadline", "too_few_troops"), 0.0)
        for c in self.contributors:
            cap = c.offered["troops"] if c.offered["troops"] else c.spec["capacity"]["troops"]
            if c.status == VETOED:
                pool["vetoes"] += c.pledge["troops"]
            elif c.status == BLOCKED_AT_HOME:
                pool["domestic_withdrawals"] += cap
            elif c.status == DECLINED_MANDATE:
                pool["mandate_deadlock"] += cap
            elif c.status == CONDITIONS_UNMET:
                pool["conditions_unmet"] += cap
            elif c.status in (PLEDGED, RATIFIED):
                pool["deadline"] += c.pledge["troops"]
            elif c.status in (UNWILLING, UNDECIDED):
                pool["too_few_troops"] += cap
        troops, n = self.approved_troops()
        if formed:
            reason = "formed"
        elif self.collapsed:
            reason = "collapse"
        elif troops >= self.target and n >= self.min_contributors:
            reason = "mandate_deadlock"  # enough troops, but Israel refuses the mandate
        else:
            # the blocked pool holding the most troops; ties go to the earlier reason
            best = max(pool, key=lambda k: (pool[k], -REASONS.index(k)))
            reason = best if pool[best] > 0 else "too_few_troops"
        rec = {
            "formed": formed,
            "reason": reason,
            "round": self.formed_round if formed else None,
            "date": str(self.round_end(self.formed_round)) if formed else None,
            "rounds_run": self.round,
        }
        totals = dict.fromkeys(CONTRIBUTION_TYPES, 0.0)
        members = []
        for c in self.contributors:
            if c.status in (DEPLOYED, APPROVED):
                for k in CONTRIBUTION_TYPES:
                    totals[k] += c.pledge[k]
                if c.pledge["troops"] > 0 or c.pledge["logistics"] > 0:
                    members.append(c.name)
        rec.update({f"force_{k}": v if formed else 0.0 for k, v in totals.items()})
        rec.update({f"approved_{k}": v for k, v in totals.items()})
        rec["contributors"] = len(members) if formed else 0
        rec["composition"] = "+".join(sorted(members)) if formed else ""
        rec["mandate"] = "+".join(self.mandate)
        rec["mandate_accepted"] = self.israel.mandate_accepted
        rec["vetoes"] = self.vetoes
        rec["withdrawals"] = self.withdrawals
        rec["domestic_blocks"] = self.domestic_blocks
        rec["concessions"] = self.concessions
        rec["events"] = "+".join(self.fired)
        rec["final_pressure"] = self.convener.pressure
        rec["final_clarity"] = self.convener.clarity
        for k, v in pool.items():
            rec[f"troops_lost_{k}"] = v
        for c in self.countries.values():
            deployed = isinstance(c, Contributor) and c.status == DEPLOYED
            rec[f"status.{c.name}"] = self.final_status(c)
            rec[f"troops.{c.name}"] = c.pledge["troops"] if deployed else 0.0
            rec[f"role.{c.name}"] = self.role(c) if deployed else ""
        return rec

    def role(self, c: Contributor) -> str:
        """What a deployed country does: the types it sends and, for personnel in Gaza, the
        tasks of the final mandate it supports (stance > 0)."""
        kinds = [k for k in CONTRIBUTION_TYPES if c.pledge[k] > 0]
        tasks = [t for t in self.mandate if c.stance[t] > 0] if c.needs_approval else []
        return "+".join(kinds) + (": " + "+".join(tasks) if tasks else "")


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------- one seeded run


def run_seeds(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent streams per run: one samples the parameters, one drives decisions.

    Keeping them apart means that overriding or sweeping a parameter does not shift the
    random draws of the decisions (common random numbers across scenarios).
    """
    ss_params, ss_dynamics = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(ss_params), np.random.default_rng(ss_dynamics)


def run_one(loaded, seed: int, trace: bool = False, fixed: dict | None = None):
    """Run one replication of a loaded scenario; return (outcome, sampled parameters, model).

    `fixed` maps parameter paths to values that replace what the scenario (or its
    distribution) gives; the other uncertain parameters are drawn as usual, with the same
    draws as without `fixed` (the fixed ones are still drawn, then replaced).
    """
    prng, drng = run_seeds(seed)
    tree, drawn = loaded.sample(prng)
    for path, value in (fixed or {}).items():
        tree = set_path(tree, path, value)
        drawn[path] = value
    tree = own_containers(tree, loaded.event_paths)
    model = NegotiationModel(tree, rng=drng, trace=trace, bounds=loaded.bounds)
    model.run_model()
    out = model.outcome()
    release(model)
    return out, drawn, model


def own_containers(tree: dict, paths) -> dict:
    """Copy the containers along each path an event may change, so that a run's events never
    touch the shared scenario tree; everything else stays shared (and is never written)."""
    for path in paths:
        tree = set_path(tree, path, get_path(tree, path))
    return tree


def release(model: mesa.Model) -> None:
    """Mesa 3.3.1 keeps every model alive through `Agent._ids`; drop this one's entry."""
    mesa.Agent._ids.pop(model, None)
