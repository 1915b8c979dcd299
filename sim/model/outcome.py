"""The outcome record of a run and its round-by-round record, with their declared columns.

`outcome_fields(loaded)` and `round_fields(loaded)` give every column and its type ("bool",
"int", "float", "str"; "?" allows null) without running the model; `outcome_record(model)` and
`round_row(model)` fill them.
"""

from __future__ import annotations

from ..vocabulary import (
    COLLAPSE,
    COMMITTED,
    CONTRIBUTION_TYPES,
    COUNTS,
    DEPLOYED,
    FORMED,
    IN_FORCE,
    MANDATE_REFUSED,
    MILESTONES,
    NOT_INVITED,
    OVER_CAPACITY,
    REASON_POOLS,
    REASONS,
    STANDING,
    UNWILLING,
)
from .tolerance import EPS

SCALARS = (("formed", "bool"), ("reason", "str"), ("rounds_run", "int"))
MILESTONE_FIELDS = tuple(f for name, _ in MILESTONES
                         for f in ((f"{name}_round", "int?"), (f"{name}_date", "str?")))
TOTALS = (*((f"force_{k}", "float") for k in CONTRIBUTION_TYPES),
          *((f"approved_{k}", "float") for k in CONTRIBUTION_TYPES),
          ("deployed_troops", "float"), ("contributors", "int"), ("composition", "str"),
          ("target", "float"), ("invited_capacity", "float"))
STATE = (("mandate", "str"), ("mandate_accepted", "bool"), *((c, "int") for c in COUNTS),
         ("waves", "int"), ("events", "str"), ("final_pressure", "float"),
         ("peak_pressure", "float"), ("leverage_spent", "float"), ("final_clarity", "float"),
         ("final_incentive", "float"))
POOLS = tuple((f"troops_held.{r}", "float") for r in REASON_POOLS)
COUNTERFACTUAL = (("lifts_tried", "str"), ("lifts_formed", "str"))
PER_COUNTRY = (("status", "str"), ("troops", "float"), ("role", "str"),
               ("committed_round", "int?"), ("entry_round", "int?"))
ROUND_FIELDS = (("round", "int"), ("date", "str"), ("committed_troops", "float"),
                ("approved_troops", "float"), ("deployed_troops", "float"),
                ("pressure", "float"), ("clarity", "float"), ("incentive", "float"),
                ("mandate", "str"), ("mandate_accepted", "bool"))


def countries_of(loaded) -> list[str]:
    return list(loaded.scenario.countries)


def outcome_fields(loaded) -> list[tuple[str, str]]:
    """Every column of a run's outcome record, in order, with its type."""
    fields = [*SCALARS, *MILESTONE_FIELDS, *TOTALS, *STATE, *POOLS, *COUNTERFACTUAL]
    for c in countries_of(loaded):
        fields += [(f"{k}.{c}", t) for k, t in PER_COUNTRY]
    return fields


def round_fields(loaded) -> list[tuple[str, str]]:
    """Every column of a run's round-by-round record (without the run's index and seed)."""
    return [*ROUND_FIELDS, *((f"status.{c}", "str") for c in countries_of(loaded))]


def failure_reason(m) -> tuple[str, dict[str, float]]:
    """R12 Why a run ended as it did: `formed`; else `collapse` if an event halted the talks;
    else `over_capacity` if the target exceeds the troop capacity of every state invited; else
    `mandate_refused` if approved troops and states suffice but Israel refuses the mandate;
    else the status holding the most troops (vetoed: their pledges; blocked at home, declined
    over the mandate, unwilling or undecided: their capacity; conditions unmet or suspended:
    their pledge if it stands, else their capacity; pledged: their pledges), ties going to the
    reason listed first in REASONS; `unwilling` if every pool is empty. Returns the reason and
    the troops held in each pool."""
    pools = dict.fromkeys(REASON_POOLS, 0.0)
    where = {s: r for r, statuses in REASON_POOLS.items() for s in statuses}
    for c in m.contributors:
        r = where.get(c.status)
        if r is None:
            continue
        held = c.pledge["troops"] if c.status in STANDING else c.capacity["troops"]
        pools[r] += held
    if m.milestone["formed"] is not None:
        return FORMED, pools
    if m.collapsed:
        return COLLAPSE, pools
    if invited_capacity(m) < m.target - EPS:
        return OVER_CAPACITY, pools
    troops, states = m.approved_troops()
    if troops >= m.target - EPS and states >= m.min_contributors and \
            not m.israel.mandate_accepted:
        return MANDATE_REFUSED, pools
    best = max(pools, key=lambda k: (pools[k], -REASONS.index(k)))
    return (best if pools[best] > 0 else UNWILLING), pools


def invited_capacity(m) -> float:
    return sum(c.capacity["troops"] for c in m.contributors if c.status != NOT_INVITED)


def _date(m, r):
    return None if r is None else str(m.round_end(r))


def outcome_record(m) -> dict:
    """One flat record for the run (docs/ODD.md, 2.10 Observation)."""
    reason, pools = failure_reason(m)
    formed = reason == FORMED
    rec = {"formed": formed, "reason": reason, "rounds_run": m.round}
    for name, _ in MILESTONES:
        r = m.milestone[name]
        rec[f"{name}_round"] = r
        rec[f"{name}_date"] = _date(m, r)
    at = m.force_at_formation or dict.fromkeys(CONTRIBUTION_TYPES, 0.0)
    for k in CONTRIBUTION_TYPES:
        rec[f"force_{k}"] = at[k] if formed else 0.0
    now = m.approved_totals()
    for k in CONTRIBUTION_TYPES:
        rec[f"approved_{k}"] = now[k]
    rec["deployed_troops"] = m.deployed_troops()
    rec["contributors"] = len(m.members_at_formation) if formed else 0
    rec["composition"] = composition(m) if formed else ""
    rec["target"] = m.target
    rec["invited_capacity"] = invited_capacity(m)
    rec["mandate"] = "+".join(m.mandate)
    rec["mandate_accepted"] = m.israel.mandate_accepted
    for k in COUNTS:
        rec[k] = m.counts[k]
    cv = m.convener
    rec.update({"waves": cv.waves, "events": "+".join(m.fired),
                "final_pressure": cv.pressure, "peak_pressure": cv.peak,
                "leverage_spent": cv.spent, "final_clarity": cv.clarity,
                "final_incentive": cv.incentive})
    for r, v in pools.items():
        rec[f"troops_held.{r}"] = v
    rec["lifts_tried"] = rec["lifts_formed"] = ""
    for name, c in m.countries.items():
        in_force = c.status in IN_FORCE
        rec[f"status.{name}"] = c.status
        rec[f"troops.{name}"] = c.pledge["troops"] if in_force and hasattr(c, "pledge") else 0.0
        rec[f"role.{name}"] = role(c) if in_force else ""
        rec[f"committed_round.{name}"] = getattr(c, "committed_round", None)
        rec[f"entry_round.{name}"] = getattr(c, "entry_round", None)
    return rec


def composition(m) -> str:
    """The troop and logistics contributors at formation, named states sorted and the unnamed
    candidates of `others` counted: e.g. `Indonesia+Pakistan+Other x3`."""
    others = m.scenario.scenario.others
    unnamed = set() if others is None else {f"{others.name} {i}"
                                            for i in range(1, others.count + 1)}
    named = [n for n in m.members_at_formation if n not in unnamed]
    k = sum(1 for n in m.members_at_formation if n in unnamed)
    return "+".join(named + ([f"{others.name} x{k}"] if k else []))


def role(c) -> str:
    """What a state in the force does: `combat`, `non_combat`, or `non_combat (condition)` when
    Israel approved it only on that condition; `support` for money or trainers only."""
    if not c.sends_personnel:
        return "support"
    return "non_combat (condition)" if c.restricted else c.role


def round_row(m) -> dict:
    """The state of the run at the end of a round."""
    committed = approved = deployed = 0.0
    for c in m.contributors:
        t = c.pledge["troops"]
        s = c.status
        if s in COMMITTED:
            committed += t
            if s in IN_FORCE:
                approved += t
                if s == DEPLOYED:
                    deployed += t
    row = {"round": m.round, "date": str(m.round_end(m.round)), "committed_troops": committed,
           "approved_troops": approved, "deployed_troops": deployed,
           "pressure": m.convener.pressure, "clarity": m.convener.clarity,
           "incentive": m.convener.incentive, "mandate": "+".join(m.mandate),
           "mandate_accepted": m.israel.mandate_accepted}
    for name, c in m.countries.items():
        row[f"status.{name}"] = c.status
    return row
