"""The negotiation model (Mesa): the actors, their decision rules, the round's schedule and the
outcome record of a run."""

from .model import NegotiationModel, own_containers, release, run_one, run_seeds

__all__ = ["NegotiationModel", "own_containers", "release", "run_one", "run_seeds"]
