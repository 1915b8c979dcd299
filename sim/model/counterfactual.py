"""Why a run failed, counterfactually: replay it with the same random draws and one blocker
lifted at a time, and see which single change would have formed the force (docs/ODD.md, R13).
"""

from __future__ import annotations

from ..vocabulary import COLLAPSE, FORMED
from .model import NegotiationModel, release


def blockers(model) -> list[str]:
    """The lifts worth trying for a failed run, from what blocked it: every state Israel vetoed
    at some point (`veto:<state>`), every state whose domestic politics blocked it at some
    point (a failed vote, or a decline because the mandate lay outside its win-set or held a
    task its audience rejects: `domestic:<state>`), every task some state declined over or
    Israel demanded while refusing the mandate (`task:<task>`), and the target (`target`)."""
    out = []
    tasks: set[str] = set()
    for c in model.contributors:
        if c.ever_vetoed:
            out.append(f"veto:{c.name}")
        if c.ever_blocked or c.ever_winset:
            out.append(f"domestic:{c.name}")
        tasks |= c.ever_objected
    if model.israel.ever_refused:
        tasks |= set(model.israel.demands)
    out += [f"task:{t}" for t in model.task_names if t in tasks]
    out.append("target")
    return out


def lifts_that_form(loaded, seed: int, record: dict, model, *, fixed=None) -> tuple[list, list]:
    """For a failed run (not a collapse): every blocker tried, and those whose lifting alone,
    on the same seed and parameters, forms the force."""
    if record["reason"] in (FORMED, COLLAPSE):
        return [], []
    tried = blockers(model)
    formed = [lift for lift in tried if replay(loaded, seed, fixed=fixed, lifts=(lift,))]
    return tried, formed


def replay(loaded, seed: int, *, fixed=None, lifts=()) -> bool:
    """Does the run with this seed form the force with these blockers lifted?"""
    model = NegotiationModel(loaded, seed, fixed=fixed, lifts=lifts)
    while model.running:
        model.step()
        if model.milestone["formed"] is not None:
            break
    formed = model.milestone["formed"] is not None
    release(model)
    return formed
