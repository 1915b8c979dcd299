"""The negotiation model (Mesa): one module per actor (contributors, domestic politics, Israel,
the convener, events), the round's schedule (`model`), the outcome record (`outcome`) and the
counterfactual replays. `simulate(loaded, seed)` is how the other layers run it; `fast` is the
compiled path the runner uses, proved identical to it. Names are imported when first used:
the outcome's declared columns do not need Mesa."""

from .._lazy import exports

_NAMES = {"Lifts": ".model", "NegotiationModel": ".model", "RunRecord": ".run",
          "outcome_fields": ".outcome", "release": ".model", "replay": ".counterfactual",
          "round_fields": ".outcome", "simulate": ".run"}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = sorted(_NAMES)
