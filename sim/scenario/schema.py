"""The scenario schema: every key a scenario file may hold, its type, range and meaning.

The names here are the vocabulary of the whole project (see docs/ODD.md, "Glossary"): the same
words are used in scenario files, in the code, in the trace and in the output tables.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .quantity import NonNeg, Number, NumberOrSwitch, Prob, Quantity, Stance

COUNTRY_NAME = re.compile(r"^[A-Z][A-Za-z' -]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=False)


class Calendar(Strict):
    """Calendar time: a round is a fixed span of days from the start date."""

    start: dt.date = Field(description="Date the negotiation clock starts (round 1 begins).")
    round_days: int = Field(14, ge=1, le=366, description="Length of one round in days.")
    rounds: int = Field(26, ge=1, le=520, description="Rounds before the deadline.")
    milestones: list[dt.date] = Field(
        default_factory=list, description="Dates at which formation probabilities are reported."
    )


class Task(Strict):
    """One task a mandate may contain (Resolution 2803 and the seed articles)."""

    label: str = Field(description="Readable name of the task.")
    risk: Prob = Field(
        description="Risk the task adds to contingents when the armed group does not accept it."
    )
    alignment: Prob = Field(
        description="How much the task makes the force look aligned with Israel or the West."
    )


class Environment(Strict):
    """The state of the world outside the negotiating table."""

    un_authorised: bool = Field(description="Security Council backing for the force.")
    ceasefire: Prob = Field(description="1 = hostilities have stopped completely, 0 = open war.")
    armed_group_acceptance: Prob = Field(
        description="How far the armed group in Gaza (Hamas) accepts the force (0-1)."
    )
    alignment: Prob = Field(
        description="Perceived alignment of the force with Israel/the West before its tasks."
    )


class Weights(Strict):
    """Weights of the contributors' shared utility function (see docs/ODD.md, 'pledge')."""

    solidarity: NonNeg = Field(description="Weight of solidarity with Palestinians.")
    standing: NonNeg = Field(description="Weight of standing in the Muslim world.")
    us_ties: NonNeg = Field(description="Weight of ties to the US.")
    regional_threat: NonNeg = Field(description="Weight of the regional threat.")
    mandate_fit: NonNeg = Field(description="Weight of the mean stance on the mandate's tasks.")
    spillover: NonNeg = Field(description="Weight of others' pledged share of the target.")
    decision_noise: NonNeg = Field(description="Std. dev. of the per-round decision noise.")
    red_line: Stance = Field(description="A task with a stance at or below this is a red line.")


class Capacity(Strict):
    troops: NonNeg = Field(0, description="Soldiers (persons).")
    police_trainers: NonNeg = Field(0, description="Police trainers (persons).")
    logistics: NonNeg = Field(0, description="Logistics and engineering personnel (persons).")
    funding: NonNeg = Field(0, description="Funding (USD million).")


class Motives(Strict):
    solidarity: Prob = 0
    standing: Prob = 0
    us_ties: Prob = 0
    regional_threat: Prob = 0


class Conditions(Strict):
    """Conditions a contributor sets for joining; all must hold (assurance thresholds)."""

    un_mandate: bool = Field(False, description="Only with Security Council backing.")
    min_clarity: Prob = Field(0, description="Minimum clarity of the mandate (0-1).")
    min_partners: NonNeg = Field(0, description="Minimum number of other committed contributors.")
    min_troops_committed: NonNeg = Field(0, description="Minimum troops committed by others.")
    partners: list[str] = Field(
        default_factory=list, description="Named states that must be committed first."
    )
    min_ceasefire: Prob = Field(0, description="Minimum ceasefire level (1 = complete).")


class RatifyingBody(Strict):
    body: str = Field(description="Who must approve, e.g. cabinet, army, parliament.")
    opposition_share: Prob = Field(description="How much of the opposition's strength it carries.")


class Domestic(Strict):
    """Level II of the two-level game: who must ratify a pledge, and what they tolerate."""

    opposition_strength: Prob = Field(description="Strength of the domestic opposition (0-1).")
    alignment_tolerance: Prob = Field(
        description="Perceived alignment with Israel/the West the audience tolerates (0-1)."
    )
    rejected_tasks: list[str] = Field(
        default_factory=list, description="Mandate tasks the domestic audience rejects outright."
    )
    ratification: list[RatifyingBody] = Field(
        min_length=1, description="The bodies that must all approve a pledge."
    )
    delay_rounds: int = Field(0, ge=0, le=52, description="Rounds between pledge and vote.")
    on_failure: Literal["withdraw", "shrink"] = Field(
        "withdraw", description="What a failed ratification does to the pledge."
    )
    shrink_factor: Prob = Field(0.5, description="Share of the pledge kept when it shrinks.")


class Country(Strict):
    role: Literal["contributor", "influencer"] = Field(
        "contributor", description="An influencer is consulted but sends nothing."
    )
    relations_with_israel: bool = Field(False, description="Diplomatic relations with Israel.")
    capacity: Capacity = Field(default_factory=Capacity)
    willingness: Stance = Field(0, description="Baseline willingness, the utility's intercept.")
    motives: Motives = Field(default_factory=Motives)
    casualty_aversion: Prob = Field(0.5, description="Weight of the mandate's risk (0-1).")
    stances: dict[str, Stance] = Field(
        default_factory=dict, description="Stance on each mandate task, -1 to +1."
    )
    consults: list[str] = Field(default_factory=list, description="Consultation partners.")
    consult_weight: Prob = Field(0.2, description="Per-round pull toward partners' stances.")
    conditions: Conditions = Field(default_factory=Conditions)
    domestic: Domestic | None = None


class Convener(Strict):
    """The agenda setter (US / Board of Peace): sends no troops."""

    name: str = "United States"
    target_troops: NonNeg = Field(description="Troops needed for the force to form.")
    min_contributors: int = Field(2, ge=1, description="Minimum number of contributing states.")
    invite: list[str] = Field(description="States invited in round 1.")
    reserve: list[str] = Field(default_factory=list, description="States invited later.")
    reserve_after: int = Field(4, ge=1, description="Short rounds before reserves are invited.")
    clarity: Prob = Field(description="Clarity of the mandate at the start (0-1).")
    clarity_step: Prob = Field(description="Clarity gained per round as questions are answered.")
    pressure: Prob = Field(description="Initial pressure on Israel (0-1).")
    pressure_step: Prob = Field(description="Pressure added after a round with a rejection.")
    max_pressure: Prob = Field(description="Ceiling of the pressure on Israel.")
    incentive_step: Prob = Field(description="Incentive added per round the force is short.")
    max_incentive: Prob = Field(description="Ceiling of the incentive.")
    core_tasks: list[str] = Field(default_factory=list, description="Tasks never conceded.")
    concession_prob: Prob = Field(description="Chance per round of dropping a contested task.")


class Israel(Strict):
    """The veto player over participants and, through its demands, over the mandate."""

    threshold: Prob = Field(description="Threat score above which a contingent is rejected.")
    pressure_effect: Prob = Field(description="Threshold raised per unit of convener pressure.")
    threat: dict[str, Prob] = Field(default_factory=dict, description="Threat score per state.")
    default_threat: Prob = Field(0.3, description="Threat score of a state not listed.")
    no_relations_penalty: Prob = Field(0, description="Added for states without relations.")
    reject_without_relations: bool = Field(
        False, description="Reject every state without diplomatic relations, whatever the pressure."
    )
    required_tasks: list[str] = Field(default_factory=list, description="Tasks Israel demands.")
    missing_task_penalty: Prob = Field(
        0, description="Threshold lowered while a required task is missing from the mandate."
    )
    mandate_pressure_threshold: Prob = Field(
        description="Pressure at which Israel accepts a mandate missing a required task."
    )


class Event(Strict):
    """A scheduled or random shock that changes named parameters from a round on.

    Every round given must lie within the calendar (checked with it, in the loader): an event
    that can never strike is an error, not a silent no-op.
    """

    name: str
    round: int | None = Field(None, ge=1, description="Round it strikes (scheduled event); at "
                              "most calendar.rounds.")
    probability: Prob | None = Field(None, description="Chance per round (random event).")
    from_round: int = Field(1, ge=1, description="First round a random event may strike; at "
                            "most until_round and calendar.rounds.")
    until_round: int | None = Field(None, ge=1, description="Last round a random event may "
                                    "strike; at most calendar.rounds.")
    set: dict[str, NumberOrSwitch] = Field(
        default_factory=dict, description="path: new value (a finite number within +-1e9, or "
        "true/false for a switch)")
    add: dict[str, Number] = Field(default_factory=dict, description="path: amount added (a "
                                   "finite number within +-1e9; the result is kept in range)")
    collapse: bool = Field(False, description="The negotiation collapses when it strikes.")
    source: str | None = None

    @model_validator(mode="after")
    def _one_trigger(self):
        if (self.round is None) == (self.probability is None):
            raise ValueError("an event needs exactly one of 'round' (scheduled) or 'probability'")
        if not (self.set or self.add or self.collapse):
            raise ValueError("an event must 'set' or 'add' a parameter, or 'collapse'")
        if self.round is not None:
            window = [k for k in ("from_round", "until_round") if k in self.model_fields_set]
            if window:
                raise ValueError(f"'{window[0]}' applies to a random event (with 'probability');"
                                 f" a scheduled event strikes in its 'round' ({self.round})")
        elif self.until_round is not None and self.from_round > self.until_round:
            raise ValueError(f"from_round {self.from_round} is after until_round "
                             f"{self.until_round}: the event can never strike")
        return self


class Scenario(Strict):
    """A scenario file, after `extends` has been resolved."""

    name: str = Field(description="Short name, used in result folders and plots.")
    description: str = ""
    extends: str | None = Field(None, description="Parent scenario file (relative path).")
    runs: int = Field(300, ge=1, le=10_000_000, description="Default number of runs.")
    seed: int = Field(1, ge=0, description="Default master seed.")
    calendar: Calendar
    environment: Environment
    tasks: dict[str, Task] = Field(min_length=1)
    mandate: list[str] = Field(description="The mandate the convener proposes in round 1.")
    weights: Weights
    convener: Convener
    israel: Israel
    countries: dict[str, Country] = Field(min_length=1)
    events: list[Event] = Field(default_factory=list)
    notes: dict[str, str] = Field(default_factory=dict, description="Free-text sources and notes.")

    @model_validator(mode="after")
    def _cross_references(self):
        problems: list[tuple[tuple, str]] = []
        countries, tasks = list(self.countries), list(self.tasks)

        def check(names, known, loc, what):
            for i, name in enumerate(names):
                if name not in known:
                    problems.append(((*loc, i), _unknown(what, name, known)))

        for name in countries:
            if not COUNTRY_NAME.match(name):
                problems.append(
                    (("countries", name), "a country name starts with a capital letter "
                     "and holds only letters, spaces, hyphens and apostrophes")
                )
        check(self.mandate, tasks, ("mandate",), "task")
        check(self.convener.invite, countries, ("convener", "invite"), "country")
        check(self.convener.reserve, countries, ("convener", "reserve"), "country")
        check(self.convener.core_tasks, tasks, ("convener", "core_tasks"), "task")
        check(self.israel.required_tasks, tasks, ("israel", "required_tasks"), "task")
        for key in self.israel.threat:
            if key not in countries:
                problems.append((("israel", "threat", key), _unknown("country", key, countries)))
        for listed, loc in ((self.convener.invite, "invite"), (self.convener.reserve, "reserve"),
                            (self.mandate, None)):
            seen = set()
            for i, name in enumerate(listed):
                if name in seen:
                    where = ("convener", loc, i) if loc else ("mandate", i)
                    problems.append((where, f"'{name}' is listed twice"))
                seen.add(name)
        for name in set(self.convener.invite) & set(self.convener.reserve):
            problems.append((("convener", "reserve"), f"'{name}' is both invited and in reserve"))
        for cname, c in self.countries.items():
            base = ("countries", cname)
            check(c.consults, countries, (*base, "consults"), "country")
            check(c.conditions.partners, countries, (*base, "conditions", "partners"), "country")
            if cname in c.consults:
                problems.append(((*base, "consults"), "a country cannot consult itself"))
            if cname in c.conditions.partners:
                problems.append(((*base, "conditions", "partners"), "a country cannot be its "
                                 "own required partner"))
            for task in c.stances:
                if task not in tasks:
                    problems.append(((*base, "stances", task), _unknown("task", task, tasks)))
            if c.domestic:
                check(c.domestic.rejected_tasks, tasks, (*base, "domestic", "rejected_tasks"),
                      "task")
            if c.role == "influencer":
                for lst in ("invite", "reserve"):
                    if cname in getattr(self.convener, lst):
                        problems.append((("convener", lst), f"'{cname}' is an influencer and "
                                         "sends nothing; it cannot be invited"))
        for i, d in enumerate(self.calendar.milestones):
            if d < self.calendar.start:
                problems.append((("calendar", "milestones", i), f"{d} is before the start date"))
        if problems:
            raise CrossReferenceError(problems)
        return self


class CrossReferenceError(ValueError):
    def __init__(self, problems):
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))


def _unknown(what: str, name: str, known) -> str:
    msg = f"unknown {what} '{name}'"
    close = [k for k in known if str(k).lower().startswith(str(name).lower())][:1] or \
        difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    if close:
        msg += f" (did you mean '{close[0]}'?)"
    else:
        msg += f"; known: {', '.join(known)}" if len(known) <= 12 else ""
    return msg


__all__ = ["Scenario", "Quantity"]
