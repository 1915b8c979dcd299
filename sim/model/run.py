"""One run of the model, as the layers above see it: `simulate(loaded, seed)` returns a
`RunRecord` (the outcome record, the drawn parameters, and on request the round-by-round state,
the structured events and the counterfactual lifts)."""

from __future__ import annotations

from dataclasses import dataclass

from .counterfactual import lifts_that_form, replay
from .model import NegotiationModel, release
from .outcome import outcome_fields, round_fields, round_row


@dataclass
class RunRecord:
    """What one run gives: `outcome` (one flat record), `params` (the drawn uncertain
    parameters, path -> value), `rounds` (one row per round, if asked), `events` (the
    structured decision events, if traced) and `model` (if traced or kept)."""

    outcome: dict
    params: dict
    rounds: list[dict] | None = None
    events: list[dict] | None = None
    model: NegotiationModel | None = None


def simulate(loaded, seed: int, *, fixed: dict | None = None, rounds: bool = False,
             trace: bool = False, counterfactuals: bool = False, lifts=(),
             keep_model: bool = False) -> RunRecord:
    """Run one replication of a loaded scenario with run seed `seed`.

    `fixed` maps parameter paths to values that replace what the scenario (or its
    distribution) gives, after the draw: no other draw moves. With `counterfactuals`, a failed
    run is replayed with each of its blockers lifted in turn (R13) and the outcome's
    `lifts_tried` and `lifts_formed` say which single lift would have formed the force.
    """
    model = NegotiationModel(loaded, seed, fixed=fixed, lifts=lifts, trace=trace)
    history: list[dict] | None = [] if rounds else None
    while model.running:
        model.step()
        if history is not None:
            history.append(round_row(model))
    out = model.outcome()
    if counterfactuals:
        tried, formed = lifts_that_form(loaded, seed, out, model, fixed=fixed)
        out["lifts_tried"], out["lifts_formed"] = "+".join(tried), "+".join(formed)
    release(model)
    return RunRecord(out, model.drawn, history, model.journal if trace else None,
                     model if keep_model or trace else None)


__all__ = ["RunRecord", "outcome_fields", "release", "replay", "round_fields", "simulate"]
