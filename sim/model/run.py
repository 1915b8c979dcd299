"""One run of the model, as the layers above see it: `simulate(loaded, seed)` returns a
`RunRecord` (the outcome record, the drawn parameters, and on request the round-by-round state
and the structured events). The columns of both records are declared here, so no caller needs a
throwaway run to learn them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..scenario.tree import set_path
from .model import NegotiationModel, own_containers, release, run_seeds


@dataclass
class RunRecord:
    """What one run gives: `outcome` (one flat record), `params` (the drawn uncertain
    parameters, path -> value), `rounds` (one row per round, if asked) and `events` (the
    structured decision events, if traced)."""

    outcome: dict
    params: dict
    rounds: list[dict] | None = None
    events: list[dict] | None = None
    model: NegotiationModel | None = None


#: column types of the records: "bool", "int", "float", "str"; a "?" suffix allows null
ROUND_FIELDS = (("round", "int"), ("date", "str"), ("committed_troops", "float"),
                ("approved_troops", "float"), ("deployed_troops", "float"),
                ("pressure", "float"), ("clarity", "float"), ("mandate", "str"),
                ("mandate_accepted", "bool"))


def outcome_fields(loaded) -> list[tuple[str, str]]:
    """The columns of a run's outcome record, in order, with their types."""
    from ..vocabulary import CONTRIBUTION_TYPES

    fields = [("formed", "bool"), ("reason", "str"), ("round", "int?"), ("date", "str?"),
              ("rounds_run", "int")]
    fields += [(f"force_{k}", "float") for k in CONTRIBUTION_TYPES]
    fields += [(f"approved_{k}", "float") for k in CONTRIBUTION_TYPES]
    fields += [("contributors", "int"), ("composition", "str"), ("mandate", "str"),
               ("mandate_accepted", "bool"), ("vetoes", "int"), ("withdrawals", "int"),
               ("domestic_blocks", "int"), ("concessions", "int"), ("events", "str"),
               ("final_pressure", "float"), ("final_clarity", "float")]
    fields += [(f"troops_lost_{k}", "float") for k in (
        "vetoes", "domestic_withdrawals", "mandate_deadlock", "conditions_unmet", "deadline",
        "too_few_troops")]
    for c in loaded.scenario.countries:
        fields += [(f"status.{c}", "str"), (f"troops.{c}", "float"), (f"role.{c}", "str")]
    return fields


def round_fields(loaded) -> list[tuple[str, str]]:
    """The columns of a run's round-by-round record (without the run's index and seed)."""
    return [*ROUND_FIELDS, *((f"status.{c}", "str") for c in loaded.scenario.countries)]


def simulate(loaded, seed: int, *, fixed: dict | None = None, rounds: bool = False,
             trace: bool = False, keep_model: bool = False) -> RunRecord:
    """Run one replication of a loaded scenario with run seed `seed`.

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
    history: list[dict] | None = [] if rounds else None
    while model.running:
        model.step()
        if history is not None:
            history.append(_round_row(model))
    out = model.outcome()
    release(model)
    return RunRecord(out, drawn, history, model.events_log if trace else None,
                     model if keep_model or trace else None)


def _round_row(m: NegotiationModel) -> dict:
    from ..vocabulary import APPROVED, DEPLOYED, PLEDGED, RATIFIED

    committed = approved = deployed = 0.0
    for c in m.contributors:
        t = c.pledge["troops"]
        if c.status in (PLEDGED, RATIFIED, APPROVED, DEPLOYED):
            committed += t
        if c.status in (APPROVED, DEPLOYED):
            approved += t
        if c.status == DEPLOYED:
            deployed += t
    row = {"round": m.round, "date": str(m.round_end(m.round)), "committed_troops": committed,
           "approved_troops": approved, "deployed_troops": deployed,
           "pressure": m.convener.pressure, "clarity": m.convener.clarity,
           "mandate": "+".join(m.mandate), "mandate_accepted": m.israel.mandate_accepted}
    for name, c in m.countries.items():
        row[f"status.{name}"] = c.status
    return row
