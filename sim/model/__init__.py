"""The negotiation model (Mesa): the actors, their decision rules, the round's schedule and the
outcome record of a run. `simulate(loaded, seed)` is how the other layers run it."""

from .model import NegotiationModel, own_containers, release, run_one, run_seeds
from .run import RunRecord, outcome_fields, round_fields, simulate

__all__ = ["NegotiationModel", "RunRecord", "outcome_fields", "own_containers", "release",
           "round_fields", "run_one", "run_seeds", "simulate"]
