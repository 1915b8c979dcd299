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

from ..vocabulary import ROLES
from .quantity import (
    AtLeastOne,
    Flag,
    NonNeg,
    Number,
    NumberOrSwitch,
    Positive,
    Prob,
    Quantity,
    Rounds,
    Stance,
)

COUNTRY_NAME = re.compile(r"^[A-Z][A-Za-z0-9' -]*$")


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
    softer: str | None = Field(
        None, description="A softer task the convener may put in this task's place (e.g. "
        "monitoring the decommissioning of weapons instead of forcible disarmament)."
    )


class Environment(Strict):
    """The state of the world outside the negotiating table."""

    un_authorised: Flag = Field(description="Security Council backing for the force.")
    ceasefire: Prob = Field(description="1 = hostilities have stopped completely, 0 = open war.")
    armed_group_acceptance: Prob = Field(
        description="How far the armed group in Gaza (Hamas) accepts the force (0-1)."
    )
    alignment: Prob = Field(
        description="Perceived alignment of the force with Israel/the West before its tasks."
    )
    us_led: Prob = Field(
        0, description="1 if the force is under US command, 0 if not (a choice between the two "
        "expresses not knowing); 0.5 or more counts as US-led."
    )


class Weights(Strict):
    """Parameters shared by every contributor's decision (docs/ODD.md, R3 and R4)."""

    solidarity: NonNeg = Field(description="Weight of solidarity with Palestinians.")
    standing: NonNeg = Field(description="Weight of standing in the Muslim world.")
    us_ties: NonNeg = Field(description="Weight of ties to the US.")
    regional_threat: NonNeg = Field(description="Weight of the regional threat.")
    mandate_fit: NonNeg = Field(description="Weight of the mean stance on the mandate's tasks.")
    spillover: NonNeg = Field(description="Weight of others' committed share of the target.")
    decision_noise: NonNeg = Field(
        description="Half-width of the symmetric triangular round-to-round decision noise.")
    red_line: Stance = Field(description="A task with a stance at or below this is a red line.")
    full_pledge: Positive = Field(
        description="Utility at which a state pledges its whole capacity (less: a share).")
    min_contingent: NonNeg = Field(
        description="Smallest troop contingent worth sending (persons).")
    audience_cost: NonNeg = Field(
        description="Utility a government loses by withdrawing a public pledge.")
    revision_step: Prob = Field(
        description="Share of its capacity by which a state's wish must differ from its pledge "
        "before it tops up or shrinks it.")
    support_exposure: Prob = Field(
        description="Risk to a non-combat contingent relative to a combat one.")


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
    us_led: bool = Field(False, description="Only in a force under US command.")
    min_clarity: Prob = Field(0, description="Minimum clarity of the mandate (0-1).")
    min_partners: NonNeg = Field(0, description="Minimum number of other committed contributors.")
    min_troops_committed: NonNeg = Field(0, description="Minimum troops committed by others.")
    partners: list[str] = Field(
        default_factory=list, description="Named states that must be committed first."
    )
    min_ceasefire: Prob = Field(0, description="Minimum ceasefire level (1 = complete).")
    min_acceptance: Prob = Field(
        0, description="Minimum acceptance of the force by the armed group (e.g. 'not while "
        "Hamas refuses to disarm').")


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
    delay_rounds: Rounds = Field(0, description="Rounds between pledge and vote.")
    min_ratification: Prob = Field(
        0, description="Chance of ratification the government needs before it pledges: its "
        "win-set (Putnam). Below it, it declines and names the task it needs removed.")
    on_failure: Literal["withdraw", "shrink"] = Field(
        "withdraw", description="What a failed ratification does to the pledge."
    )
    shrink_factor: Prob = Field(0.5, description="Share of the pledge kept when it shrinks.")


class Country(Strict):
    role: Literal["contributor", "influencer"] = Field(
        "contributor", description="An influencer is consulted but sends nothing."
    )
    relations_with_israel: Flag = Field(False, description="Diplomatic relations with Israel.")
    capacity: Capacity = Field(default_factory=Capacity)
    willingness: Stance = Field(
        0, description="The state's disposition, the utility's intercept (drawn once per run).")
    motives: Motives = Field(default_factory=Motives)
    casualty_aversion: Prob = Field(0.5, description="Weight of the mandate's risk (0-1).")
    stances: dict[str, Stance] = Field(
        default_factory=dict, description="Stance on each mandate task, -1 to +1."
    )
    roles: list[Literal[ROLES]] = Field(
        default_factory=lambda: list(ROLES), min_length=1,
        description="Roles the state accepts for its troops, preferred first: combat, "
        "non_combat.")
    consults: list[str] = Field(default_factory=list, description="Consultation partners.")
    consult_weight: Prob = Field(0.2, description="Per-round pull toward partners' stances.")
    conditions: Conditions = Field(default_factory=Conditions)
    domestic: Domestic | None = None


class Others(Strict):
    """Candidate states the sources do not name, each described by one template."""

    count: int = Field(ge=0, le=100, description="How many unnamed candidate states.")
    name: str = Field("Other", description="They are named '<name> 1', '<name> 2', ...")
    source: str | None = Field(None, description="Why there are this many.")
    country: Country = Field(description="The template every unnamed candidate follows.")


class Convener(Strict):
    """The agenda setter (US / Board of Peace): recruits, bargains, presses; sends no troops."""

    name: str = "United States"
    target_troops: NonNeg = Field(description="Troops needed for the force to form.")
    first_phase: Prob = Field(
        1, description="Share of the target that must be approved before the first contingents "
        "enter (1: the whole force first).")
    deploy_rounds: Rounds = Field(1, description="Rounds from approval to entry.")
    min_contributors: AtLeastOne = Field(2, description="Troop-contributing states needed.")
    clarity: Prob = Field(description="Clarity of the mandate at the start (0-1).")
    clarity_step: Prob = Field(description="Clarity gained per round the mandate stands.")
    clarity_loss: Prob = Field(0, description="Clarity lost when the mandate changes.")
    pressure: Prob = Field(0, description="Pressure on Israel at the start (0-1).")
    pressure_step: Prob = Field(description="Most the pressure moves in one round.")
    max_pressure: Prob = Field(description="The most pressure the convener will apply.")
    leverage: NonNeg = Field(
        description="Pressure the convener can spend over the run (sum of pressure per round).")
    incentive_step: Prob = Field(description="Incentive added per round the force is short.")
    max_incentive: Prob = Field(description="Ceiling of the incentive.")
    core_tasks: list[str] = Field(default_factory=list, description="Tasks never conceded.")
    resolve: NonNeg = Field(
        description="Share of the target that objections to a task must have held back, summed "
        "over rounds, before the convener concedes it.")
    israel_deference: NonNeg = Field(
        description="How much Israel's loss of satisfaction weighs against a concession.")
    misjudgement: Prob = Field(
        0, description="Largest error in the convener's reading of Israel's view of a state or "
        "of a softened task (an error on [-misjudgement, +misjudgement] drawn per run).")
    wave_after: AtLeastOne = Field(
        3, description="Rounds the force is short before the next wave of invitations.")


class Demand(Strict):
    weight: NonNeg = Field(description="Weight of the demand in Israel's satisfaction.")
    softer_credit: Prob = Field(
        0, description="Share of the demand a softer form of the task satisfies.")


class Israel(Strict):
    """The veto player over contingents and, through its demands, over the mandate."""

    tolerance: Prob = Field(description="Threat score Israel tolerates in a contingent.")
    pressure_effect: NonNeg = Field(description="Tolerance gained per unit of convener pressure.")
    threat: dict[str, Prob] = Field(default_factory=dict, description="Threat score per state.")
    default_threat: Prob = Field(0.3, description="Threat score of a state not listed.")
    no_relations_penalty: Prob = Field(0, description="Added for states without relations.")
    reject_without_relations: Flag = Field(
        False, description="Veto every state without diplomatic relations, whatever the pressure."
    )
    demands: dict[str, Demand] = Field(default_factory=dict,
                                       description="Tasks Israel demands in the mandate.")
    unmet_demand_penalty: Prob = Field(
        0, description="Tolerance lost when no demand is met (in proportion to what is unmet).")
    mandate_pressure_effect: NonNeg = Field(
        description="Satisfaction one unit of pressure makes up when Israel weighs the mandate.")
    restricted_discount: Prob = Field(
        0, description="Threat discount for a non-combat contingent kept out of the areas "
        "Israel controls (an approval with conditions).")


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
    seed: int = Field(1, ge=0, le=2**63 - 1, description="Default master seed (below 2**63).")
    calendar: Calendar
    environment: Environment
    tasks: dict[str, Task] = Field(min_length=1)
    mandate: list[str] = Field(description="The mandate the convener proposes in round 1.")
    weights: Weights
    convener: Convener
    israel: Israel
    countries: dict[str, Country] = Field(min_length=1)
    others: Others | None = Field(None, description="Unnamed candidate states (expanded into "
                                  "countries when the scenario is loaded).")
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
        check(self.convener.core_tasks, tasks, ("convener", "core_tasks"), "task")
        for key in self.israel.demands:
            if key not in tasks:
                problems.append((("israel", "demands", key), _unknown("task", key, tasks)))
        for key in self.israel.threat:
            if key not in countries:
                problems.append((("israel", "threat", key), _unknown("country", key, countries)))
        seen = set()
        for i, name in enumerate(self.mandate):
            if name in seen:
                problems.append((("mandate", i), f"'{name}' is listed twice"))
            seen.add(name)
        softer_of = {}
        for tname, task in self.tasks.items():
            if task.softer is None:
                continue
            if task.softer not in tasks:
                problems.append((("tasks", tname, "softer"), _unknown("task", task.softer, tasks)))
            elif task.softer == tname:
                problems.append((("tasks", tname, "softer"), "a task cannot be its own softer "
                                 "form"))
            elif task.softer in softer_of:
                problems.append((("tasks", tname, "softer"), f"'{task.softer}' is already the "
                                 f"softer form of '{softer_of[task.softer]}'"))
            else:
                softer_of[task.softer] = tname
        for tname in self.mandate:
            if tname in softer_of and softer_of[tname] in self.mandate:
                problems.append((("mandate",), f"'{tname}' and '{softer_of[tname]}' are two forms "
                                 "of one task; the mandate holds one of them"))
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
