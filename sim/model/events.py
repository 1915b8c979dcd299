"""Scenario events: scheduled or random shocks (a ceasefire breakdown, a domestic crisis, a
regional war) that change parameters or state from a round on, or halt the talks.
"""

from __future__ import annotations

from ..scenario.quantity import require_finite

#: paths an event changes in the run's state, not in its parameters (their current value is the
#: state's: an `add` shifts what the run has reached, not the starting value)
STATE_PATHS = ("convener.pressure", "convener.clarity")


def strike(model) -> bool:
    """R11 Events. A scheduled event strikes at its `round`. A random event strikes at most
    once, in the first round within [`from_round`, `until_round` (default: the deadline)] in
    which its uniform draw falls below its `probability`. `set` replaces a value and `add`
    shifts its current value; the result is clipped to the parameter's range. A `collapse`
    event ends the talks. Returns True if the talks collapsed."""
    m = model
    still = []
    for i, ev in m.pending_events:
        if ev.round is not None:
            fire, draw = ev.round == m.round, None
        else:
            if m.round > (ev.until_round or m.max_rounds):
                continue  # its window has passed
            if m.round < ev.from_round:
                still.append((i, ev))
                continue
            draw = m.event_draws[m.round - 1][i]
            fire = draw < m.p[f"events.{i}.probability"]
        if not fire:
            still.append((i, ev))
            continue
        changes = apply(m, ev)
        m.fired.append(ev.name)
        if m.tracing:
            m.note("event", None, name=ev.name, draw=draw,
                   probability=None if draw is None else m.p[f"events.{i}.probability"],
                   changes=changes, collapse=ev.collapse)
        if ev.collapse:
            m.collapsed = True
    m.pending_events = still
    return m.collapsed


def apply(m, ev) -> list[tuple[str, object, object]]:
    """Apply an event's `set` and `add`; return (path, old, new) for each change."""
    changes = []
    for kind in ("set", "add"):
        for path, value in getattr(ev, kind).items():
            old = current(m, path)
            if isinstance(old, bool) or isinstance(value, bool):
                new = bool(value)
            else:
                new = require_finite(path, value if kind == "set" else old + value,
                                     f"in round {m.round}, event '{ev.name}'")
                bound = m.scenario.bounds.get(path)
                if bound is not None:
                    new = bound.clip(float(new))
            write(m, path, new)
            changes.append((path, old, new))
    m.refresh([path for kind in ("set", "add") for path in getattr(ev, kind)])
    return changes


def current(m, path: str):
    if path == "convener.pressure":
        return m.convener.pressure
    if path == "convener.clarity":
        return m.convener.clarity
    parts = path.split(".")
    if len(parts) == 4 and parts[0] == "countries" and parts[2] == "stances":
        return m.countries[parts[1]].stance[parts[3]]
    return m.p[path]


def write(m, path: str, value) -> None:
    m.p[path] = value
    if path == "convener.pressure":
        m.convener.pressure = value
    elif path == "convener.clarity":
        m.convener.clarity = value
    else:
        parts = path.split(".")
        if len(parts) == 4 and parts[0] == "countries" and parts[2] == "stances":
            country = m.countries[parts[1]]
            country.stance[parts[3]] = country.anchor[parts[3]] = value
            country.stance_version += 1
