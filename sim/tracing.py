"""The single-run trace: what happened, round by round, for a reader who does not program.

The model records structured events as it decides (`NegotiationModel.note`); this module only
tells them. Every number it prints is one the decision used.
"""

from __future__ import annotations

import math

from .model import simulate
from .scenario import LoadedScenario
from .vocabulary import MILESTONES, REASON_LABELS, STATUS_LABELS


def trace_run(loaded: LoadedScenario, seed: int, *, fixed: dict | None = None,
              lifts=(), counterfactuals: bool = True) -> dict:
    """Run one replication (run seed `seed`; `fixed`: a point's fixed parameter values; `lifts`:
    counterfactual blockers lifted) with tracing on; return everything the trace shows. With
    `counterfactuals`, a failed run is also replayed with each blocker lifted (R13), as the
    first runs of an experiment are."""
    rec = simulate(loaded, seed, fixed=fixed, trace=True, counterfactuals=counterfactuals,
                   lifts=lifts)
    m = rec.model
    uncertain = dict(loaded.uncertain)
    return {
        "scenario": loaded.name,
        "file": loaded.path,
        "seed": seed,
        "overrides": list(loaded.overrides),
        "fixed": dict(fixed or {}),
        "lifts": list(lifts),
        "sampled": {p: {"value": v, "distribution": "the point's fixed value"
                        if p in (fixed or {}) else uncertain[p].describe()}
                    for p, v in rec.params.items()},
        "events": rec.events,
        "outcome": rec.outcome,
        "pledges": {c.name: dict(c.pledge) for c in m.contributors},
        "labels": {t: spec.label for t, spec in loaded.scenario.tasks.items()},
        "dates": {r: str(m.round_end(r)) for r in range(0, m.round + 1)},
        "starts": {r: str(m.round_start(r)) for r in range(1, m.round + 1)},
    }


def as_json(trace: dict) -> str:
    """The trace as JSON; a pressure no amount would reach (infinite) is null."""
    from .experiments.files import json_text

    return json_text(trace)


def _finite(x) -> bool:
    """A pressure that some amount reaches: not infinite, nor null (infinite, as the JSON
    trace writes it)."""
    return x is not None and math.isfinite(x)


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _pledge(p: dict) -> str:
    parts = [f"{_n(p[k])} {k.replace('_', ' ')}" for k in ("troops", "police_trainers",
                                                         "logistics") if p.get(k)]
    if p.get("funding"):
        parts.append(f"USD {p['funding']:,.0f}m")
    return ", ".join(parts) or "nothing"


def _terms(terms) -> str:
    names = ("willingness", "motives", "mandate fit", "partners' pledges", "incentive", "risk")
    return ", ".join(f"{n} {v:+.2f}" for n, v in zip(names, terms, strict=True))


def _unmet(unmet) -> str:
    out = []
    for name, seen, needed in unmet:
        if seen is None:
            out.append({"un_mandate": "no Security Council backing",
                        "us_led": "the force is not under US command"}.get(
                            name, f"{name.replace('partner ', '')} has not committed"))
        else:
            out.append(f"{name.replace('_', ' ')} {seen:,.2f} < {needed:,.2f}")
    return "; ".join(out)


def _tasks(trace, tasks) -> str:
    return ", ".join(trace["labels"].get(t, t) for t in tasks) or "no tasks"


def event_text(ev: dict, labels: dict[str, str]) -> str | None:
    """One structured event of a run in words (None for events the story does not tell);
    `labels` names the tasks. The trace and the explorer both use it."""
    return _line({"labels": labels}, ev)


def _line(trace: dict, ev: dict) -> str | None:  # noqa: C901 - one branch per kind of event
    k, d = ev["kind"], ev
    if k == "round":
        return f"Round {d['round']}: {d['start']} to {d['end']}"
    tasks = lambda ts: _tasks(trace, ts)  # noqa: E731
    if k == "event":
        text = f"EVENT: {d['name']}"
        if d["draw"] is not None:
            text += f" (chance {d['probability']:.3f} a round, draw {d['draw']:.3f})"
        changes = "; ".join(f"{p} {o:g} -> {n:g}" if not isinstance(n, bool) else f"{p} -> {n}"
                            for p, o, n in d["changes"])
        return text + (f": {changes}" if changes else "") + \
            ("; the talks collapse" if d["collapse"] else "")
    if k == "convener":
        when = "opens the talks" if d["when"] == "open" else "mandate"
        return (f"{when}: [{tasks(d['mandate'])}]; clarity {d['clarity']:.2f}, pressure on "
                f"Israel {d['pressure']:.2f} (spent {d['spent']:.2f} of {d['leverage']:.2f}), "
                f"incentive {d['incentive']:.2f}")
    if k == "invite":
        text = f"invites (wave {d['wave']}, expecting Israel's approval at pressure " \
               f"{d['pressure']:.2f}): " + (", ".join(d["invited"]) or "nobody new")
        if d["not_invited"]:
            text += "; does not invite " + ", ".join(
                f"{n} (Israel expected to veto it even at pressure {p:.2f})" if _finite(p)
                else f"{n} (Israel expected to veto it at any pressure)"
                for n, p in d["not_invited"])
        return text
    if k == "concede":
        what = f"softens {trace['labels'][d['task']]} to {trace['labels'][d['softer']]}" \
            if d["softer"] else f"drops {trace['labels'][d['task']]}"
        return (f"{what}: objections to it held back {d['weight']:.2f} of the target over the "
                f"rounds (bar {d['bar']:.2f}, raised by Israel's loss {d['israel_loss']:.2f})")
    if k == "hold":
        need = d["pressure_needed"]
        why = (f"Israel would need pressure {need:.2f} to accept the mandate without it, above "
               f"the {d['max_pressure']:.2f} the convener will apply") if _finite(need) else \
            "no pressure would make Israel accept the mandate without it"
        return (f"keeps {trace['labels'][d['task']]} although objections held back "
                f"{d['weight']:.2f} (bar {d['bar']:.2f}): {why}")
    if k == "press":
        aim = "no decisive pressure within reach" if d["aim"] == 0 and d["pressure"] < \
            d["before"] else f"aiming at {d['aim']:.2f}"
        return (f"pressure on Israel {d['before']:.2f} -> {d['pressure']:.2f} ({aim}; spent "
                f"{d['spent']:.2f} of {d['leverage']:.2f}"
                + (", leverage exhausted" if d["exhausted"] else "") + ")")
    if k == "decide":
        dec = d["decision"]
        if dec == "conditions_unmet":
            return f"waits: {_unmet(d['unmet'])}"
        if dec == "declined_mandate":
            if d["red_lines"]:
                return "declines over the mandate; red line: " + ", ".join(
                    f"{trace['labels'][t]} (stance {d['stances'][t]:+.2f})"
                    if t in d["stances"] else f"{trace['labels'][t]} (rejected at home)"
                    for t in d["red_lines"])
            w = d["winset"]
            return (f"declines: its government expects ratification with chance "
                    f"{w['chance']:.2f} < {w['needed']:.2f} it needs (backlash "
                    f"{w['backlash']:.2f}); asks to remove {tasks(w['objection'])}")
        if dec == "unwilling":
            extra = " (too small to send)" if d.get("too_small") else ""
            return (f"not willing{extra}: utility {d['utility']:+.2f} + noise "
                    f"{d['noise']:+.2f} ({_terms(d['terms'])})")
        if dec == "pledge":
            return (f"pledges {_pledge(d['pledge'])} ({d['share']:.0%} of its capacity, "
                    f"{d['role'].replace('_', '-')} role); utility {d['utility']:+.2f} + noise "
                    f"{d['noise']:+.2f} ({_terms(d['terms'])})")
        if dec == "revise":
            return (f"revises its pledge from {_pledge(d['before'])} to {_pledge(d['pledge'])} "
                    f"(utility {d['utility']:+.2f} + noise {d['noise']:+.2f})")
        if dec == "suspend":
            return f"suspends its pledge: {_unmet(d['unmet'])}"
        if dec == "resume":
            return "resumes its pledge: its conditions hold again"
        if dec == "withdraw":
            why = {"declined_mandate": "over the mandate", "unwilling": "no longer willing "
                   "(utility, noise and the cost of backing down below zero)",
                   "blocked_at_home": "ratification failed"}.get(d["status"], d["status"])
            return f"withdraws its pledge: {why}"
    if k == "vote":
        votes = "; ".join(f"{b} {'approves' if ok else 'refuses'} (chance {p:.2f}, draw "
                          f"{dr:.2f})" for b, ok, p, dr in d["votes"])
        verdict = "ratified at home" if d["passed"] else (
            "ratification failed, pledge shrunk to " + _pledge(d["shrunk"]) if d.get("shrunk")
            else "ratification failed")
        return (f"{verdict}: opposition {d['opposition']:.2f}, backlash {d['backlash']:.2f}: "
                f"{votes}")
    if k == "review":
        c = d["country"]
        dec = d["decision"]
        if dec == "no_review":
            return f"{c}'s pledge sends no one into Gaza: no approval needed"
        if d["why"] == "lifted":
            return f"approves {c} (counterfactual: veto lifted)"
        if d["why"] == "hard_line":
            return f"vetoes {c}: no diplomatic relations (hard line)"
        nums = f"threat {d['threat']:.2f} vs tolerance {d['tolerance']:.2f}"
        again = " on review" if d.get("reconsidered") else ""
        if dec == "approve":
            return f"approves {c}{again}: {nums}"
        if dec == "approve_with_conditions":
            return (f"approves {c}{again} with conditions (non-combat, outside the areas Israel "
                    f"controls): {nums}, restricted {d['restricted_threat']:.2f}")
        rest = f", restricted {d['restricted_threat']:.2f}" if d["restricted_threat"] else ""
        return f"vetoes {c}: {nums}{rest}"
    if k == "mandate":
        verdict = "accepts" if d["accepted"] else "refuses"
        return (f"{verdict} the mandate: satisfaction {d['satisfaction']:.2f} + "
                f"{d['mandate_pressure_effect']:.2f} x pressure {d['pressure']:.2f}"
                + (" (consent locked)" if d["locked"] else ""))
    if k == "consult":
        return f"after consulting {', '.join(d['partners'])}: " + "; ".join(
            f"{trace['labels'][t]} {a:+.2f} -> {b:+.2f}" for t, (a, b) in d["moved"].items())
    if k == "enter":
        how = "non-combat, outside Israel's areas" if d["restricted"] else \
            d["role"].replace("_", "-")
        return f"enters Gaza: {_n(d['troops'])} troops, {_n(d['logistics'])} logistics ({how})"
    if k == "milestone":
        label = dict(MILESTONES)[d["milestone"]]
        return f"MILESTONE: {label}" + (f" ({_n(d['troops'])} troops)" if "troops" in d else "")
    if k == "end":
        return None
    return f"{k}: {d}"


def as_text(trace: dict) -> str:
    lines = [f"Scenario '{trace['scenario']}' ({trace['file']}), run seed {trace['seed']}"]
    if trace.get("overrides"):
        lines.append("Overrides: " + "; ".join(trace["overrides"]))
    if trace.get("lifts"):
        lines.append("Counterfactual: " + ", ".join(trace["lifts"]) + " lifted")
    lines.append("")
    if trace["sampled"]:
        lines.append("Uncertain parameters drawn for this run:")
        for p, d in trace["sampled"].items():
            lines.append(f"  {p} = {d['value']:.4g}   ({d['distribution']})")
    for ev in trace["events"]:
        if ev["kind"] == "round":
            lines += ["", f"Round {ev['round']}: {ev['start']} to {ev['end']}"]
            continue
        text = _line(trace, ev)
        if text is None:
            continue
        who = f"{ev['actor']}: " if ev["actor"] else ""
        lines.append(f"  - {who}{text}")
    out = trace["outcome"]
    lines += ["", "OUTCOME"]
    if out["formed"]:
        lines.append(f"  The force formed on {out['formed_date']} (round {out['formed_round']}):"
                     f" {_n(out['force_troops'])} troops (target {_n(out['target'])}), "
                     f"{_n(out['force_police_trainers'])} police trainers, "
                     f"{_n(out['force_logistics'])} logistics personnel, USD "
                     f"{out['force_funding']:,.0f}m.")
    else:
        lines.append(f"  No force formed by {trace['dates'][out['rounds_run']]}. Main reason: "
                     f"{REASON_LABELS.get(out['reason'], out['reason'])}.")
    for name, label in MILESTONES:
        if name != "formed" and out[f"{name}_date"]:
            lines.append(f"  {label[0].upper() + label[1:]}: {out[f'{name}_date']}.")
    lines.append("  Final mandate: [" + _tasks(trace, [t for t in out["mandate"].split("+")
                                                        if t]) + "]"
                 + ("" if out["mandate_accepted"] else " (refused by Israel)"))
    lines.append(f"  Vetoes by Israel: {out['vetoes']} (approvals with conditions: "
                 f"{out['conditional_approvals']}); withdrawals: {out['withdrawals']}; failed "
                 f"votes at home: {out['failed_votes']}; concessions on the mandate: "
                 f"{out['concessions']}; peak pressure on Israel {out['peak_pressure']:.2f}")
    if out["lifts_tried"]:
        formed = out["lifts_formed"].split("+") if out["lifts_formed"] else []
        lines.append("  Counterfactuals (the same run, one blocker lifted): " + "; ".join(
            f"{lift}: {'forms' if lift in formed else 'still fails'}"
            for lift in out["lifts_tried"].split("+")))
    lines.append("  Countries:")
    for key, status in out.items():
        if not key.startswith("status."):
            continue
        name = key[len("status."):]
        extra = ""
        pledge = trace["pledges"].get(name)
        if pledge and any(pledge.values()):
            extra = f" ({_pledge(pledge)})"
        role = out.get(f"role.{name}", "")
        if role:
            extra += f"; role: {role.replace('_', '-')}"
        lines.append(f"    {name:<12} {STATUS_LABELS.get(status, status)}{extra}")
    return "\n".join(lines) + "\n"
