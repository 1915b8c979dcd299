"""The negotiation model (Mesa): one module per actor (contributors, domestic politics, Israel,
the convener, events), the round's schedule (`model`), the outcome record (`outcome`) and the
counterfactual replays. `simulate(loaded, seed)` is how the other layers run it."""

from .model import Lifts, NegotiationModel
from .outcome import outcome_fields, round_fields
from .run import RunRecord, release, replay, simulate

__all__ = ["Lifts", "NegotiationModel", "RunRecord", "outcome_fields", "release", "replay",
           "round_fields", "simulate"]
