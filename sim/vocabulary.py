"""The project's vocabulary, defined once: every layer (scenario files, the model, the tables,
the plots, the trace, the explorer) imports these words from here and from nowhere else.

docs/ODD.md, "Glossary", says what each word means.
"""

from __future__ import annotations

#: what a contributor can give (persons, except funding in USD million)
CONTRIBUTION_TYPES = ("troops", "police_trainers", "logistics", "funding")
#: personnel types that enter Gaza and so need Israel's approval
IN_GAZA = ("troops", "logistics")
#: a contributor's motives, each weighted in its utility
MOTIVES = ("solidarity", "standing", "us_ties", "regional_threat")

# Statuses of a country during a run and in the outcome record.
NOT_INVITED = "not_invited"
UNDECIDED = "undecided"
UNWILLING = "unwilling"
CONDITIONS_UNMET = "conditions_unmet"
DECLINED_MANDATE = "declined_mandate"
PLEDGED = "pledged"
RATIFIED = "ratified"
APPROVED = "approved"
VETOED = "vetoed"
BLOCKED_AT_HOME = "blocked_at_home"
DEPLOYED = "deployed"
INFLUENCER = "influencer"

#: final statuses of a country in the outcome record
FINAL_STATUSES = ("deployed", "committed", "pending", "vetoed", "blocked_at_home",
                  "declined_mandate", "conditions_unmet", "unwilling", "undecided",
                  "not_invited", "influencer")

#: how a run ended: "formed" or the main reason it failed, in the order used to break ties
REASONS = ("formed", "collapse", "mandate_deadlock", "vetoes", "domestic_withdrawals",
           "conditions_unmet", "deadline", "too_few_troops")

STATUS_LABELS = {  # final status: readable label
    "deployed": "deployed",
    "committed": "approved, force never formed",
    "pending": "pledge pending",
    "vetoed": "rejected by Israel",
    "blocked_at_home": "blocked at home",
    "declined_mandate": "declined over the mandate",
    "conditions_unmet": "conditions unmet",
    "unwilling": "not willing",
    "undecided": "undecided",
    "not_invited": "not invited",
    "influencer": "consulted, sends nothing",
}
REASON_LABELS = {
    "formed": "force formed", "collapse": "talks collapsed", "mandate_deadlock":
    "mandate deadlock", "vetoes": "vetoes by Israel", "domestic_withdrawals":
    "blocked at home", "conditions_unmet": "conditions unmet", "deadline":
    "deadline (pledges pending)", "too_few_troops": "too few willing troops",
}
#: the per-country outcomes reported with intervals, and the final statuses they group
COUNTRY_GROUPS = {
    "deployed": ("deployed",),
    "vetoed": ("vetoed",),
    "blocked_at_home": ("blocked_at_home",),
    "declined": ("declined_mandate", "unwilling"),
}
