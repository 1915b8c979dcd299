"""The single-run trace: what happened, round by round, for a reader who does not program."""

from __future__ import annotations

import json

from .model import NegotiationModel, run_one
from .scenario import LoadedScenario
from .vocabulary import STATUS_LABELS

describe_pledge = NegotiationModel.describe_pledge



def trace_run(loaded: LoadedScenario, seed: int, fixed: dict | None = None) -> dict:
    """Run one replication (run seed `seed`; `fixed`: a point's fixed parameter values) with
    tracing on; return everything the trace shows."""
    out, drawn, model = run_one(loaded, seed, trace=True, fixed=fixed)
    uncertain = dict(loaded.uncertain)
    return {
        "scenario": loaded.name,
        "file": loaded.path,
        "seed": seed,
        "overrides": list(loaded.overrides),
        "fixed": dict(fixed or {}),
        "sampled": {p: {"value": v, "distribution": "the point's fixed value"
                        if p in (fixed or {}) else uncertain[p].describe()}
                    for p, v in drawn.items()},
        "events": model.events_log,
        "outcome": out,
        "pledges": {c.name: dict(c.pledge) for c in model.contributors},
        "labels": {t: spec["label"] for t, spec in model.tasks.items()},
    }


def as_json(trace: dict) -> str:
    return json.dumps(trace, indent=1, default=str)


def as_text(trace: dict) -> str:
    lines = [f"Scenario '{trace['scenario']}' ({trace['file']}), run seed {trace['seed']}", ""]
    if trace.get("overrides"):
        lines[1:1] = ["Overrides: " + "; ".join(trace["overrides"])]
    if trace["sampled"]:
        lines.append("Uncertain parameters drawn for this run:")
        for p, d in trace["sampled"].items():
            lines.append(f"  {p} = {d['value']:.4g}   (from {d['distribution']})")
        lines.append("")
    for ev in trace["events"]:
        if ev["kind"] == "round":
            lines += ["", ev["text"]]
            continue
        who = f"{ev['actor']}: " if ev["actor"] else ""
        lines.append(f"  - {who}{ev['text']}")
    out = trace["outcome"]
    lines += ["", "OUTCOME"]
    if out["formed"]:
        lines.append(f"  The force formed in round {out['round']} (by {out['date']}): "
                     f"{out['force_troops']:,.0f} troops, {out['force_police_trainers']:,.0f} "
                     f"police trainers, {out['force_logistics']:,.0f} logistics personnel, "
                     f"USD {out['force_funding']:,.0f}m funding.")
    else:
        lines.append(f"  No force formed. Main reason: {out['reason'].replace('_', ' ')}.")
    lines.append("  Final mandate: " + (", ".join(trace["labels"][t] for t in
                                                 out["mandate"].split("+") if t) or "no tasks")
                 + ("" if out["mandate_accepted"] else " (not accepted by Israel)"))
    lines.append(f"  Vetoes by Israel: {out['vetoes']}; withdrawals: {out['withdrawals']} "
                 f"(of which blocked at home: {out['domestic_blocks']}); concessions on the "
                 f"mandate: {out['concessions']}")
    lines.append("  Countries:")
    for key, status in out.items():
        if not key.startswith("status."):
            continue
        name = key[len("status."):]
        extra = ""
        if status in ("deployed", "committed", "pending", "vetoed"):
            extra = f" ({describe_pledge(trace['pledges'][name])})"
        role = out.get(f"role.{name}", "")
        if ": " in role:
            extra += "; tasks: " + ", ".join(trace["labels"][t]
                                             for t in role.split(": ", 1)[1].split("+"))
        lines.append(f"    {name:<12} {STATUS_LABELS.get(status, status)}{extra}")
    return "\n".join(lines) + "\n"
