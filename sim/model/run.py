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


def reference_block(loaded, seeds, *, fixed: dict | None = None, counterfactuals=True,
                    rounds: bool = False) -> dict:
    """What `fast.simulate_block` returns for these run seeds (the same arguments: `fixed`
    maps a path to one value per run, `counterfactuals` is True, False or one flag per run),
    computed run by run by this Mesa model: 7-21 ms a run (21 with the counterfactual
    replays) instead of 70-220 us, but without the minute the fast path takes to compile.
    Columns of the declared types, a missing round -1 as in the fast path's, text as lists
    (the runner makes the same tables of both; a test proves the files byte-identical)."""
    import numpy as np

    n = len(seeds)
    replay = np.broadcast_to(np.asarray(counterfactuals, dtype=bool), (n,))
    per_run = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,))
               for k, v in (fixed or {}).items()}
    outcomes, params, history = [], [], []
    for i, seed in enumerate(seeds):
        rec = simulate(loaded, int(seed), fixed={k: float(v[i]) for k, v in per_run.items()},
                       rounds=rounds, counterfactuals=bool(replay[i]))
        outcomes.append(rec.outcome)
        params.append(rec.params)
        for row in rec.rounds or ():
            history.append({**row, "run": i})
    def column(values: list, kind: str):
        """Values of a declared type: text stays a list; a missing round is -1."""
        base = kind.rstrip("?")
        if base == "str":
            return values
        if base == "int":
            values = [-1 if v is None else v for v in values]
        return np.array(values, dtype={"bool": bool, "int": np.int64, "float": float}[base])

    columns = {name: column([o[name] for o in outcomes], kind)
               for name, kind in outcome_fields(loaded)}
    for path in (params[0] if params else ()):
        columns[f"param.{path}"] = np.array([p[path] for p in params], dtype=float)
    block = {"seeds": np.asarray(seeds, dtype=np.int64), "columns": columns}
    if rounds:
        block["rounds"] = {name: column([r[name] for r in history], kind)
                           for name, kind in (("run", "int"), *round_fields(loaded))}
    return block


__all__ = ["RunRecord", "outcome_fields", "reference_block", "release", "replay",
           "round_fields", "simulate"]
