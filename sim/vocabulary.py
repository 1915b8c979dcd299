"""The project's vocabulary, defined once: every layer (scenario files, the model, the tables,
the plots, the trace, the explorer) imports these words from here and from nowhere else.

docs/ODD.md, "Glossary", says what each word means. One word names one idea everywhere: a
status is also the name of the failure reason for the troops held in that status.
"""

from __future__ import annotations

#: what a contributor can give (persons, except funding in USD million)
CONTRIBUTION_TYPES = ("troops", "police_trainers", "logistics", "funding")
#: personnel types that enter Gaza and so need Israel's approval
IN_GAZA = ("troops", "logistics")
#: a contributor's motives, each weighted in its utility
MOTIVES = ("solidarity", "standing", "us_ties", "regional_threat")
#: roles a troop contingent can take: combat (any task it supports) or non_combat
#: (monitoring, humanitarian, engineering and medical work; no security tasks)
ROLES = ("combat", "non_combat")

# ------------------------------------------------------------------ statuses of a country
NOT_INVITED = "not_invited"            # the convener has not invited it
INVITED = "invited"                    # invited, no decision yet
UNWILLING = "unwilling"                # its utility of pledging is not positive
CONDITIONS_UNMET = "conditions_unmet"  # a condition it set does not hold
DECLINED_MANDATE = "declined_mandate"  # a red line, or a mandate its government cannot carry
PLEDGED = "pledged"                    # a public pledge awaiting ratification or Israel's review
APPROVED = "approved"                  # ratified and approved by Israel (or needing no approval)
DEPLOYED = "deployed"                  # its personnel are in Gaza
SUSPENDED = "suspended"                # a standing pledge on hold while a condition fails
VETOED = "vetoed"                      # Israel vetoed its contingent (reviewed again each round)
BLOCKED_AT_HOME = "blocked_at_home"    # ratification failed: out for the rest of the run
INFLUENCER = "influencer"              # consulted, sends nothing

STATUSES = (DEPLOYED, APPROVED, PLEDGED, SUSPENDED, VETOED, BLOCKED_AT_HOME, DECLINED_MANDATE,
            CONDITIONS_UNMET, UNWILLING, INVITED, NOT_INVITED, INFLUENCER)
#: statuses from which a country takes a fresh decision to pledge
OPEN = frozenset({INVITED, UNWILLING, CONDITIONS_UNMET, DECLINED_MANDATE})
#: committed: a public pledge that stands and is not blocked or on hold
COMMITTED = frozenset({PLEDGED, APPROVED, DEPLOYED})
#: a pledge that stands, including one Israel vetoed or one on hold
STANDING = COMMITTED | {VETOED, SUSPENDED}
#: approved troops count toward the force
IN_FORCE = frozenset({APPROVED, DEPLOYED})

STATUS_LABELS = {
    DEPLOYED: "deployed in Gaza",
    APPROVED: "approved, not (yet) in Gaza",
    PLEDGED: "pledged, awaiting approval",
    SUSPENDED: "pledge suspended",
    VETOED: "vetoed by Israel",
    BLOCKED_AT_HOME: "blocked at home",
    DECLINED_MANDATE: "declined over the mandate",
    CONDITIONS_UNMET: "conditions unmet",
    UNWILLING: "not willing",
    INVITED: "invited, undecided",
    NOT_INVITED: "not invited",
    INFLUENCER: "consulted, sends nothing",
}

# ------------------------------------------------------------------ how a run ended
FORMED = "formed"
COLLAPSE = "collapse"                  # an event halted the talks
OVER_CAPACITY = "over_capacity"        # the target exceeds what every invited state could send
MANDATE_REFUSED = "mandate_refused"    # enough approved troops, but Israel refuses the mandate
#: "formed" or the main reason a run failed; after the first four, a reason is the status
#: holding the most troops, and ties go to the reason listed first
REASONS = (FORMED, COLLAPSE, OVER_CAPACITY, MANDATE_REFUSED, VETOED, BLOCKED_AT_HOME,
           DECLINED_MANDATE, CONDITIONS_UNMET, PLEDGED, UNWILLING)
#: the statuses whose troops each pool reason counts
REASON_POOLS = {
    VETOED: (VETOED,),
    BLOCKED_AT_HOME: (BLOCKED_AT_HOME,),
    DECLINED_MANDATE: (DECLINED_MANDATE,),
    CONDITIONS_UNMET: (CONDITIONS_UNMET, SUSPENDED),
    PLEDGED: (PLEDGED,),
    UNWILLING: (UNWILLING, INVITED),
}
REASON_LABELS = {
    FORMED: "force formed",
    COLLAPSE: "talks collapsed",
    OVER_CAPACITY: "target above what invited states could send",
    MANDATE_REFUSED: "Israel refused the mandate",
    VETOED: "vetoes by Israel",
    BLOCKED_AT_HOME: "blocked at home",
    DECLINED_MANDATE: "declined over the mandate",
    CONDITIONS_UNMET: "conditions unmet",
    PLEDGED: "pledges still awaiting approval",
    UNWILLING: "too few willing states",
}

#: the per-country outcomes reported with intervals, and the final statuses they group
COUNTRY_GROUPS = {
    "in_force": (DEPLOYED, APPROVED),
    VETOED: (VETOED,),
    BLOCKED_AT_HOME: (BLOCKED_AT_HOME,),
    "declined": (DECLINED_MANDATE, UNWILLING, CONDITIONS_UNMET, SUSPENDED),
}
COUNTRY_GROUP_LABELS = {"in_force": "in the force", VETOED: "vetoed by Israel",
                        BLOCKED_AT_HOME: "blocked at home",
                        "declined": "declined, unwilling or conditions unmet"}

# ------------------------------------------------------------------ milestones of the force
#: (name, label): the round each is first reached is in the outcome record as `<name>_round`
#: what a run counts (one column each in runs.parquet): pledges made, pledges revised, suspended
#: and withdrawn, failed ratification votes, Israel's vetoes and conditional approvals, the
#: convener's concessions and softenings of tasks
COUNTS = ("pledges", "revisions", "suspensions", "withdrawals", "failed_votes", "vetoes",
          "conditional_approvals", "concessions", "softenings")

MILESTONES = (
    ("first_phase", "first phase approved"),
    ("formed", "force formed"),
    ("entry", "first troops in Gaza"),
    ("full_strength", "full strength in Gaza"),
)
MILESTONE_MEANINGS = {
    "first_phase": "approved troops reach the first phase of the target (the whole target "
                   "unless the scenario phases the force) under a mandate Israel accepts: the "
                   "first contingents may enter",
    "formed": "approved troops reach the target under a mandate Israel accepts",
    "entry": "the first contingent enters Gaza",
    "full_strength": "troops in Gaza reach the target",
}

# ------------------------------------------------------------------ counterfactual lifts
#: kinds of blocker a counterfactual replay lifts, one at a time: `<kind>:<name>` or `target`
LIFT_KINDS = {
    "veto": "Israel does not veto this state",
    "domestic": "this state's domestic politics never block it",
    "task": "this task is off the table (not proposed, not demanded)",
    "target": "a target 25% smaller",
}
TARGET_CUT = 0.25  # the `target` lift: the force needs this much fewer troops
