"""The fast path: the rules of the Mesa model (docs/ODD.md), compiled with numba and evaluated
for a block of runs at once, counterfactual replays included.

The Mesa model (`NegotiationModel`) is the reference: readable, used by the trace, the explorer
and the rule tests. This module evaluates the same rules in the same order on the same numbers:
the run's parameters come from the same flat vectors (`LoadedScenario.draw`) and every random
number from the same named slot of the run seed (`sim.rng`), recomputed here with the same
64-bit integer arithmetic. Sums are taken in the reference's order, so the outcome records are
identical, field by field and bit by bit; `tests/test_fast.py` checks that on every shipped
scenario and on generated ones.

`Plan.of(loaded)` turns a scenario into index tables (which column of the parameter vector each
rule reads); `simulate_block(loaded, seeds)` runs a block and returns its outcome records as
columns.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np

from .. import rng
from ..vocabulary import (
    BLOCKED_AT_HOME,
    COLLAPSE,
    CONDITIONS_UNMET,
    CONTRIBUTION_TYPES,
    DECLINED_MANDATE,
    FORMED,
    INFLUENCER,
    MANDATE_REFUSED,
    MILESTONES,
    OVER_CAPACITY,
    PLEDGED,
    REASONS,
    UNWILLING,
    VETOED,
)
from .codes import (
    _SALT_PARAM,
    COUNT_NAMES,
    GLOBALS,
    INF,
    K_TROOPS,
    PER_STATE,
    REASON_CODE,
    STATE_KINDS,
    STATUS_NAMES,
    T_CLARITY,
    T_PARAM,
    T_PRESSURE,
    T_STANCE,
)
from .tolerance import EPS


@dataclass
class Plan:
    """A scenario as index tables for the kernel."""

    n_cols: int          # columns of the parameter vector (numbers, then flags)
    flag_cols: dict      # flag path -> column
    cols: dict           # every path -> column
    g: np.ndarray        # GLOBALS -> column
    k: np.ndarray        # [contributor, PER_STATE] -> column (-1: absent)
    threat: np.ndarray   # [contributor] -> column of israel.threat.<c> (-1: default)
    stance: np.ndarray   # [country, task] -> column (-1: no stated stance, 0.0)
    stated: np.ndarray   # [country, task] stated stance
    contributor_country: np.ndarray  # contributor -> country index
    influencer: np.ndarray           # [country] bool
    roles: np.ndarray    # [contributor, 3]: combat allowed, non-combat allowed, preferred (0/1)
    partners: np.ndarray  # [contributor, n] named-partner contributor indices (-1 pad)
    consults: np.ndarray  # [country, n] consulted country indices (-1 pad)
    consult_weight: np.ndarray  # [country] -> column
    has_home: np.ndarray  # [contributor]
    shares: np.ndarray    # [contributor, bodies] -> column (-1 pad)
    shrink: np.ndarray    # [contributor] on_failure shrink
    rejected: np.ndarray  # [contributor, task] rejected outright at home
    risk: np.ndarray      # [task] -> column
    align: np.ndarray     # [task] -> column
    softer: np.ndarray    # [task] -> task (-1)
    core: np.ndarray      # [task]
    mandate: np.ndarray   # initial mandate, task ids in order
    demands: np.ndarray   # [demand, 3]: task, weight column, credit column
    noise_keys: np.ndarray   # [contributor] name keys
    vote_keys: np.ndarray    # [contributor, bodies] keys
    est_keys: np.ndarray     # [contributor + 1] keys ("mandate" last)
    event_keys: np.ndarray   # [event] keys
    ev_int: np.ndarray       # [event, 5]: round (-1 random), from, until (-1: deadline),
    #                          probability column, collapse
    ev_ops: np.ndarray       # [op, 6]: event, kind (0 set, 1 add), target kind, column,
    #                          country, task
    ev_vals: np.ndarray      # [op, 3]: value, clip low (-inf), clip high (inf)
    rounds: int
    unnamed: np.ndarray      # [contributor] an unnamed candidate of `others`
    draw_plan: tuple | None = None  # how the kernel draws the parameters (built once)
    #: the text of each distinct row of a label column made so far ({column: {row bytes:
    #: text}}, `_rows_as_labels`): the same rows come back chunk after chunk
    label_cache: dict = field(default_factory=dict)

    @staticmethod
    def of(loaded) -> Plan:
        return _plan(loaded)

    def texts_of(self, column: str) -> dict:
        """The texts made so far for the label column `column` (`label_cache`)."""
        return self.label_cache.setdefault(column, {})


def _plan(loaded) -> Plan:
    cached = getattr(loaded, "_fast_plan", None)
    if cached is not None:
        return cached
    s = loaded.scenario
    cols = dict(loaded.column)
    flag_cols = {}
    for i, path in enumerate(loaded.flags):
        flag_cols[path] = len(loaded.paths) + i
        cols[path] = len(loaded.paths) + i
    n_cols = len(loaded.paths) + len(loaded.flags)
    names = list(s.countries)
    cidx = {n: i for i, n in enumerate(names)}
    contributors = [n for n in names if s.countries[n].role != "influencer"]
    ctr = {n: i for i, n in enumerate(contributors)}
    tasks = list(s.tasks)
    tidx = {t: i for i, t in enumerate(tasks)}
    n, T = len(contributors), len(tasks)

    def col(path):
        return cols.get(path, -1)

    g = np.array([cols[p] for p in GLOBALS], dtype=np.int64)
    k = np.full((n, STATE_KINDS), -1, dtype=np.int64)
    bodies = max([len(s.countries[c].domestic.ratification) for c in contributors
                  if s.countries[c].domestic] or [1])
    shares = np.full((n, bodies), -1, dtype=np.int64)
    has_home = np.zeros(n, dtype=np.bool_)
    shrink = np.zeros(n, dtype=np.bool_)
    rejected = np.zeros((n, T), dtype=np.bool_)
    roles = np.zeros((n, 3), dtype=np.int64)
    threat = np.full(n, -1, dtype=np.int64)
    maxp = max([len(s.countries[c].conditions.partners) for c in contributors] or [0])
    partners = np.full((n, max(1, maxp)), -1, dtype=np.int64)
    for i, c in enumerate(contributors):
        spec = s.countries[c]
        for j, kind in enumerate(PER_STATE):
            k[i, j] = col(f"countries.{c}.{kind}")
        threat[i] = col(f"israel.threat.{c}")
        roles[i] = ["combat" in spec.roles, "non_combat" in spec.roles,
                    0 if spec.roles[0] == "combat" else 1]
        for j, p in enumerate(spec.conditions.partners):
            partners[i, j] = ctr[p] if p in ctr else -2  # an influencer never commits
        if spec.domestic is not None:
            has_home[i] = True
            shrink[i] = spec.domestic.on_failure == "shrink"
            for b in range(len(spec.domestic.ratification)):
                shares[i, b] = cols[f"countries.{c}.domestic.ratification.{b}.opposition_share"]
            for t in spec.domestic.rejected_tasks:
                rejected[i, tidx[t]] = True
    stance = np.full((len(names), T), -1, dtype=np.int64)
    stated = np.zeros((len(names), T), dtype=np.bool_)
    maxc = max([len(s.countries[c].consults) for c in names] or [0])
    consults = np.full((len(names), max(1, maxc)), -1, dtype=np.int64)
    for i, c in enumerate(names):
        spec = s.countries[c]
        for t in spec.stances:
            stance[i, tidx[t]] = cols[f"countries.{c}.stances.{t}"]
            stated[i, tidx[t]] = True
        for j, q in enumerate(spec.consults):
            consults[i, j] = cidx[q]
    demands = np.array([[tidx[t], cols[f"israel.demands.{t}.weight"],
                         cols[f"israel.demands.{t}.softer_credit"]]
                        for t in s.israel.demands], dtype=np.int64).reshape(-1, 3)
    events = s.events
    ev_int = np.zeros((len(events), 5), dtype=np.int64)
    ops, vals = [], []
    for e, ev in enumerate(events):
        ev_int[e] = [ev.round if ev.round is not None else -1, ev.from_round,
                     ev.until_round if ev.until_round is not None else -1,
                     col(f"events.{e}.probability"), int(ev.collapse)]
        for kind_i, kind in enumerate(("set", "add")):
            for path, value in getattr(ev, kind).items():
                parts = path.split(".")
                bound = loaded.bounds.get(path)
                lo = -INF if bound is None or bound.lo is None else bound.lo
                hi = INF if bound is None or bound.hi is None else bound.hi
                if path == "convener.pressure":
                    target, c_, t_ = T_PRESSURE, -1, -1
                elif path == "convener.clarity":
                    target, c_, t_ = T_CLARITY, -1, -1
                elif len(parts) == 4 and parts[0] == "countries" and parts[2] == "stances":
                    target, c_, t_ = T_STANCE, cidx[parts[1]], tidx[parts[3]]
                else:
                    target, c_, t_ = T_PARAM, -1, -1
                ops.append([e, kind_i, target, cols[path], c_, t_])
                vals.append([float(value), lo, hi])
    others = s.others
    unnamed_names = set() if others is None else {f"{others.name} {i}"
                                                  for i in range(1, others.count + 1)}
    plan = Plan(
        n_cols=n_cols, flag_cols=flag_cols, cols=cols, g=g, k=k, threat=threat,
        stance=stance, stated=stated,
        contributor_country=np.array([cidx[c] for c in contributors], dtype=np.int64),
        influencer=np.array([s.countries[c].role == "influencer" for c in names], np.bool_),
        roles=roles, partners=partners, consults=consults,
        consult_weight=np.array([cols[f"countries.{c}.consult_weight"] for c in names],
                                dtype=np.int64),
        has_home=has_home, shares=shares,
        shrink=shrink, rejected=rejected,
        risk=np.array([cols[f"tasks.{t}.risk"] for t in tasks], dtype=np.int64),
        align=np.array([cols[f"tasks.{t}.alignment"] for t in tasks], dtype=np.int64),
        softer=np.array([tidx[s.tasks[t].softer] if s.tasks[t].softer else -1 for t in tasks],
                        dtype=np.int64),
        core=np.array([t in s.convener.core_tasks for t in tasks], dtype=np.bool_),
        mandate=np.array([tidx[t] for t in s.mandate], dtype=np.int64),
        demands=demands,
        noise_keys=np.array([rng.name_key(c) for c in contributors], dtype=np.uint64),
        vote_keys=np.array([[rng.name_key(f"{c} vote {b}") for b in range(bodies)]
                            for c in contributors], dtype=np.uint64).reshape(n, bodies),
        est_keys=np.array([rng.name_key(c) for c in contributors] + [rng.name_key("mandate")],
                          dtype=np.uint64),
        event_keys=np.array([rng.name_key(f"event {i}: {ev.name}")
                             for i, ev in enumerate(events)], dtype=np.uint64),
        ev_int=ev_int,
        ev_ops=np.array(ops, dtype=np.int64).reshape(-1, 6),
        ev_vals=np.array(vals, dtype=np.float64).reshape(-1, 3),
        rounds=s.calendar.rounds,
        unnamed=np.array([c in unnamed_names for c in contributors], dtype=np.bool_),
    )
    loaded._fast_plan = plan
    return plan


def _draw_plan(loaded, plan):
    """How to draw each uncertain parameter in the kernel: its form (0 uniform, 1 triangular,
    2 choice, 3 any other, drawn by its own inverse CDF afterwards) and its numbers."""
    if getattr(plan, "draw_plan", None) is None:
        U = len(loaded.uncertain)
        kind = np.full(U, 3, np.int64)
        a, b, m = np.zeros(U), np.zeros(U), np.zeros(U)
        width = max([len(d.choice) for _, d in loaded.uncertain
                     if type(d).__name__ == "Choice"] or [1])
        cum = np.full((U, width), np.inf)
        val = np.zeros((U, width))
        last = np.zeros(U, np.int64)
        for j, (_, d) in enumerate(loaded.uncertain):
            form = type(d).__name__
            if form == "Uniform":
                kind[j], a[j], b[j] = 0, d.uniform[0], d.uniform[1]
            elif form == "Triangular":
                kind[j] = 1
                a[j], m[j], b[j] = d.triangular
            elif form == "Choice":
                kind[j] = 2
                c, v = d.cumulative()
                cum[j, :len(c)], val[j, :len(v)], last[j] = c, v, len(v) - 1
        row = np.empty(plan.n_cols)
        row[:len(loaded.paths)] = loaded.base
        for path, value in loaded.flags.items():
            row[plan.flag_cols[path]] = 1.0 if value else 0.0
        plan.draw_plan = (kind, a, b, m, cum, val, last, row,
                          np.asarray(loaded.uncertain_columns, np.int64))
    return plan.draw_plan


def _param_arguments(loaded, plan, seeds) -> tuple:
    """The kernel's arguments for the parameter vectors of a block of runs
    (`kernel.param_block`); the last three are its outputs."""
    kind, a, b, m, cum, val, last, row, cols = _draw_plan(loaded, plan)
    n = len(seeds)
    P = np.empty((n, plan.n_cols), dtype=np.float64)
    drawn = np.empty((n, len(kind)))
    u = np.empty((n, len(kind)))
    return (seeds, _SALT_PARAM, loaded.uncertain_keys, kind, a, b, m, cum, val, last, row, cols,
            P, drawn, u)


def parameter_matrix(loaded, seeds, fixed: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The parameter vectors of a block of runs (one row per run: numbers, then flags as 0/1)
    and the drawn uncertain parameters (one column per uncertain parameter): the same values
    `LoadedScenario.draw` gives, computed in the kernel. `fixed`: path -> a value for every
    run, or an array of one value per run."""
    plan = _plan(loaded)
    args = _param_arguments(loaded, plan, np.asarray(seeds, dtype=np.int64))
    kernel(loaded).param_block(*args)
    kind, cols, (P, drawn, u) = args[3], args[11], args[-3:]
    for j in np.nonzero(kind == 3)[0]:  # truncnormal, beta: scipy's inverse CDFs
        drawn[:, j] = loaded.uncertain[j][1].quantile(u[:, j])
        P[:, cols[j]] = drawn[:, j]
    names = [p for p, _ in loaded.uncertain]
    for path, value in (fixed or {}).items():  # one value, or one per run
        value = np.asarray(value, dtype=np.float64)
        P[:, plan.cols[path]] = value
        if path in names:
            drawn[:, names.index(path)] = value
    return P, drawn


def _param_columns(loaded, drawn, fixed, n) -> dict[str, np.ndarray]:
    """The `param.<path>` columns: each uncertain parameter as drawn (or fixed), then each
    parameter fixed by a point that is not uncertain."""
    col = {}
    by_parameter = np.ascontiguousarray(drawn.T)  # one copy, each column then contiguous
    for p_i, (path, _) in enumerate(loaded.uncertain):
        col[f"param.{path}"] = by_parameter[p_i]
    for path, value in (fixed or {}).items():
        if f"param.{path}" not in col:
            col[f"param.{path}"] = np.broadcast_to(np.asarray(value, np.float64), (n,)).copy()
    return col


def param_columns(loaded, seeds, fixed: dict | None = None) -> dict[str, np.ndarray]:
    """The `param.<path>` columns of the runs with these run seeds, exactly as
    `simulate_block` gives them, without running the runs (a few microseconds a run)."""
    _, drawn = parameter_matrix(loaded, seeds, fixed)
    return _param_columns(loaded, drawn, fixed, len(seeds))


# ---------------------------------------------------------------------- the Python side

ROLE_NAMES = ("combat", "non_combat", "non_combat (condition)", "support", "")
POOL_OF_STATUS = {9: 0, 10: 1, 4: 2, 3: 3, 8: 3, 5: 4, 2: 5, 1: 5}
POOL_REASONS = (VETOED, BLOCKED_AT_HOME, DECLINED_MANDATE, CONDITIONS_UNMET, PLEDGED, UNWILLING)
STANDING_CODES = (5, 6, 7, 9, 8)


@dataclass(frozen=True)
class Labels:
    """A text column as codes into its labels (-1: no value), so that Arrow builds the strings
    in one pass of compiled code rather than Python making one string object per run."""

    codes: np.ndarray
    labels: tuple

    def strings(self) -> np.ndarray:
        """The column as Python strings (None where there is no value)."""
        table = np.array([*self.labels, None], dtype=object)
        return table[np.where(self.codes < 0, len(self.labels), self.codes)]


def _labels(codes, labels) -> Labels:
    return Labels(np.asarray(codes, dtype=np.int32), tuple(labels))


def _packed(matrix: np.ndarray) -> np.ndarray:
    """One number per row of a boolean or small-integer matrix (two rows share it only if they
    are equal); a row of bytes when the row does not fit in 63 bits."""
    n, w = matrix.shape
    if matrix.dtype == np.bool_:
        base, shifted = 2, matrix.astype(np.uint64)
    else:  # whole numbers from -1 up
        shifted = (matrix + 1).astype(np.uint64)
        base = int(shifted.max(initial=0)) + 1
    if w == 0:
        return np.zeros(n, np.uint64)
    if w * math.log2(max(base, 2)) <= 63:
        weights = np.array([base ** j for j in range(w)], dtype=np.uint64)
        return shifted @ weights
    return np.ascontiguousarray(matrix).view(
        np.dtype((np.void, matrix.dtype.itemsize * w))).ravel()


#: at most this many texts kept per column by `_rows_as_labels` (a few hundred are usual)
LABEL_CACHE = 50_000


def _rows_as_labels(matrix: np.ndarray, make, cache: dict | None = None) -> Labels:
    """Each row of a small-integer or boolean matrix as a label `make(row)`, made once per
    distinct row, and with `cache` ({row bytes: text}, the plan's for this column) once per
    distinct row of the experiment: making the text in Python took a tenth of a chunk."""
    if matrix.shape[0] == 0:
        return _labels(np.zeros(0, np.int32), ())
    _, first, inverse = np.unique(_packed(matrix), return_index=True, return_inverse=True)
    if cache is None:
        return _labels(inverse.ravel(), [make(matrix[i]) for i in first])
    labels = []
    for i in first:
        row = matrix[i]
        key = row.tobytes()
        text = cache.get(key)
        if text is None:
            text = make(row)
            if len(cache) < LABEL_CACHE:
                cache[key] = text
        labels.append(text)
    return _labels(inverse.ravel(), labels)


def _block_arguments(plan, P, seeds, replay, rounds: bool) -> tuple[tuple, dict]:
    """The kernel's arguments for a block of runs (`kernel.block`), and its output arrays by
    name."""
    n = len(seeds)
    N, T, E = plan.k.shape[0], plan.stance.shape[1], plan.ev_int.shape[0]
    R = plan.rounds
    o = {
        "status": np.zeros((n, N), np.int64), "pledge": np.zeros((n, N, 4)),
        "role": np.zeros((n, N), np.int64), "cround": np.zeros((n, N), np.int64),
        "eround": np.zeros((n, N), np.int64), "mandate": np.zeros((n, T), np.int64),
        "members": np.zeros((n, N), np.bool_), "fired": np.zeros((n, E), np.int64),
        "ever": np.zeros((n, 4, max(N, T, 1)), np.bool_), "f": np.zeros((n, 10)),
        "i": np.zeros((n, 18), np.int64),
    }
    L = 2 * N + T + 1
    tried = np.zeros((n, L), np.bool_)
    formed_with = np.zeros((n, L), np.bool_)
    errors = np.zeros(n, np.bool_)
    rr = R if rounds else 1
    r_f = np.full((n, rr, 7), np.nan)
    r_status = np.full((n, rr, max(N, 1)), -1, np.int64)
    r_mandate = np.full((n, rr, T), -1, np.int64)
    cap = np.zeros((n, N))
    args = (P, seeds, plan.g, plan.k, plan.threat, plan.stance, plan.stated,
            plan.contributor_country, plan.consult_weight, plan.roles, plan.partners,
            plan.consults, plan.has_home, plan.shares, plan.shrink, plan.rejected, plan.risk,
            plan.align, plan.softer, plan.core, plan.mandate, plan.demands, plan.noise_keys,
            plan.vote_keys, plan.est_keys, plan.event_keys, plan.ev_int, plan.ev_ops,
            plan.ev_vals, R, replay, rounds,
            np.ascontiguousarray(plan.k[:, K_TROOPS]), cap, r_f, r_status, r_mandate,
            o["status"], o["pledge"], o["role"], o["cround"], o["eround"], o["mandate"],
            o["members"], o["fired"], o["ever"], o["f"], o["i"], tried, formed_with, errors)
    return args, {"o": o, "tried": tried, "formed_with": formed_with, "errors": errors,
                  "cap": cap, "r_f": r_f, "r_status": r_status, "r_mandate": r_mandate}


def simulate_block(loaded, seeds, *, fixed: dict | None = None, counterfactuals=True,
                   rounds: bool = False) -> dict:
    """Run the runs with these run seeds; return their outcome records as columns (every
    column of `outcome_fields`, plus `param.<path>` for the drawn parameters), and with
    `rounds` the round-by-round records as `rounds` (a dict of columns with `run` = the row
    of the run in this block). `counterfactuals`: True, False, or one flag per run."""
    plan = _plan(loaded)
    s = loaded.scenario
    seeds = np.asarray(seeds, dtype=np.int64)
    n = len(seeds)
    replay = np.broadcast_to(np.asarray(counterfactuals, dtype=np.bool_), (n,)).copy()
    P, drawn = parameter_matrix(loaded, seeds, fixed)
    names = list(s.countries)
    contributors = [names[i] for i in plan.contributor_country]
    args, out = _block_arguments(plan, P, seeds, replay, rounds)
    kernel(loaded).block(*args)
    o, errors = out["o"], out["errors"]
    if errors.any():  # the reference model names the event and the value, and stops
        from .run import simulate

        i = int(np.argmax(errors))
        simulate(loaded, int(seeds[i]), fixed={k: float(np.broadcast_to(v, (len(seeds),))[i])
                                               for k, v in (fixed or {}).items()})
        raise RuntimeError("the fast path met a non-finite value the reference did not")
    return _columns(loaded, plan, seeds, drawn, fixed, o, out["tried"], out["formed_with"],
                    out["cap"], rounds, out["r_f"], out["r_status"], out["r_mandate"],
                    contributors, names)


def _firing_order(fired: np.ndarray) -> np.ndarray:
    """Each run's fired events as their places in the order they fired (by round, then by
    index; -1: not fired), in place of the rounds they fired in: the events' text depends on
    that order alone, so runs whose events fired in the same order but in other rounds share
    a row, and their text is made once (the rounds made a row per timing: a fifth of the
    outcome columns' time)."""
    n, e = fired.shape
    key = np.where(fired >= 0, fired * e + np.arange(e), np.iinfo(np.int64).max)
    place = np.empty_like(fired)
    np.put_along_axis(place, np.argsort(key, axis=1, kind="stable"),
                      np.broadcast_to(np.arange(e), (n, e)), axis=1)
    return np.where(fired >= 0, place, -1)


def _dates(s, rounds: int) -> tuple:
    """The date of each round 1..`rounds`, as text."""
    import datetime as dt

    return tuple(str(s.calendar.start + dt.timedelta(days=r * s.calendar.round_days))
                 for r in range(1, rounds + 1))


def _columns(loaded, plan, seeds, drawn, fixed, o, tried, formed_with, cap, rounds, r_f,
             r_status, r_mandate, contributors, names) -> dict:
    s = loaded.scenario
    n, N = o["status"].shape
    tasks = list(s.tasks)
    T = len(tasks)
    status, pledge = o["status"], o["pledge"]
    ints, floats = o["i"], o["f"]
    target = floats[:, 0]
    formed_round = ints[:, 2]
    formed = formed_round >= 0
    in_force = (status == 6) | (status == 7)
    # sums over contributors, left to right, as the reference adds them
    approved = {q: np.zeros(n) for q in range(4)}
    for c in range(N):
        for q in range(4):
            approved[q] = approved[q] + np.where(in_force[:, c], pledge[:, c, q], 0.0)
    deployed = np.zeros(n)
    invited = np.zeros(n)
    states = np.zeros(n, np.int64)
    pools = np.zeros((6, n))
    for c in range(N):
        deployed = deployed + np.where(status[:, c] == 7, pledge[:, c, 0], 0.0)
        invited = invited + np.where(status[:, c] != 0, cap[:, c], 0.0)
        states += in_force[:, c] & (pledge[:, c, 0] > 0)
        standing = np.isin(status[:, c], STANDING_CODES)
        held = np.where(standing, pledge[:, c, 0], cap[:, c])
        for code, pool in POOL_OF_STATUS.items():
            pools[pool] = pools[pool] + np.where(status[:, c] == code, held, 0.0)
    accepted = ints[:, 15] == 1
    collapsed = ints[:, 16] == 1
    best = np.argmax(pools, axis=0)
    pool_code = np.array([REASON_CODE[r] for r in POOL_REASONS])[best]
    pool_code = np.where(pools.max(axis=0) > 0, pool_code, REASON_CODE[UNWILLING])
    reason = np.where(formed, REASON_CODE[FORMED], np.where(
        collapsed, REASON_CODE[COLLAPSE], np.where(
            invited < target - EPS, REASON_CODE[OVER_CAPACITY], np.where(
                (approved[0] >= target - EPS) & (states >= ints[:, 17]) & ~accepted,
                REASON_CODE[MANDATE_REFUSED], pool_code))))
    dates = _dates(s, plan.rounds)
    col = _param_columns(loaded, drawn, fixed, n)
    col["formed"] = formed
    col["reason"] = _labels(reason, REASONS)
    col["rounds_run"] = ints[:, 0]
    for q, (name, _) in enumerate(MILESTONES):
        r = ints[:, 1 + q]
        col[f"{name}_round"] = np.where(r >= 0, r, -1)
        col[f"{name}_date"] = _labels(np.where(r >= 1, r - 1, -1), dates)
    for q, kind in enumerate(CONTRIBUTION_TYPES):
        col[f"force_{kind}"] = np.where(formed, floats[:, 6 + q], 0.0)
    for q, kind in enumerate(CONTRIBUTION_TYPES):
        col[f"approved_{kind}"] = approved[q]
    col["deployed_troops"] = deployed
    col["contributors"] = np.where(formed, o["members"].sum(axis=1), 0)
    others = s.others
    unnamed = plan.unnamed

    def composition(row):
        named = sorted(contributors[c] for c in range(N) if row[c] and not unnamed[c])
        k = sum(1 for c in range(N) if row[c] and unnamed[c])
        return "+".join(named + ([f"{others.name} x{k}"] if k else []))

    col["composition"] = _rows_as_labels(o["members"] & formed[:, None], composition,
                                         plan.texts_of("composition"))
    col["target"] = target
    col["invited_capacity"] = invited
    col["mandate"] = _rows_as_labels(o["mandate"], lambda row: "+".join(
        tasks[t] for t in row if t >= 0), plan.texts_of("mandate"))
    col["mandate_accepted"] = accepted
    for q, name in enumerate(COUNT_NAMES):
        col[name] = ints[:, 5 + q]
    col["waves"] = ints[:, 14]
    col["events"] = _rows_as_labels(_firing_order(o["fired"]), lambda row: "+".join(
        s.events[e].name for e in sorted((e for e in range(len(row)) if row[e] >= 0),
                                         key=lambda e: (row[e], e))),
                                   plan.texts_of("events")) if len(s.events) \
        else _labels(np.zeros(n), ("",))
    col["final_pressure"] = floats[:, 1]
    col["peak_pressure"] = floats[:, 2]
    col["leverage_spent"] = floats[:, 3]
    col["final_clarity"] = floats[:, 4]
    col["final_incentive"] = floats[:, 5]
    for q, reason_name in enumerate(POOL_REASONS):
        col[f"troops_held.{reason_name}"] = pools[q]
    # the reference's order: each state's veto then its domestic lift, then tasks, the target
    order = [j for c in range(N) for j in (c, N + c)] + list(range(2 * N, 2 * N + T + 1))
    labels = [([f"veto:{c}" for c in contributors] + [f"domestic:{c}" for c in contributors]
               + [f"task:{t}" for t in tasks] + ["target"])[j] for j in order]
    col["lifts_tried"] = _rows_as_labels(tried[:, order], lambda row: "+".join(
        lab for lab, x in zip(labels, row, strict=True) if x), plan.texts_of("lifts_tried"))
    col["lifts_formed"] = _rows_as_labels(formed_with[:, order], lambda row: "+".join(
        lab for lab, x in zip(labels, row, strict=True) if x), plan.texts_of("lifts_formed"))
    ci = {name: c for c, name in enumerate(contributors)}
    for name in names:
        if name not in ci:
            col[f"status.{name}"] = _labels(np.zeros(n), (INFLUENCER,))
            col[f"troops.{name}"] = np.zeros(n)
            col[f"role.{name}"] = _labels(np.zeros(n), ("",))
            col[f"committed_round.{name}"] = np.full(n, -1)
            col[f"entry_round.{name}"] = np.full(n, -1)
            continue
        c = ci[name]
        col[f"status.{name}"] = _labels(status[:, c], STATUS_NAMES[:11])
        col[f"troops.{name}"] = np.where(in_force[:, c], pledge[:, c, 0], 0.0)
        role = o["role"][:, c]  # -1: none, the last name
        col[f"role.{name}"] = _labels(np.where(role < 0, len(ROLE_NAMES) - 1, role), ROLE_NAMES)
        col[f"committed_round.{name}"] = o["cround"][:, c]
        col[f"entry_round.{name}"] = o["eround"][:, c]
    out = {"columns": col, "seeds": seeds}
    if rounds:
        out["rounds"] = _round_columns(loaded, plan, r_f, r_status, r_mandate, names,
                                       contributors, tasks, ints[:, 0])
    return out


def _round_columns(loaded, plan, r_f, r_status, r_mandate, names, contributors, tasks,
                   rounds_run) -> dict:
    """The round records of the block as columns (`run` is the run's row in the block)."""
    s = loaded.scenario
    R = r_f.shape[1]
    mask = np.arange(1, R + 1)[None, :] <= rounds_run[:, None]
    run, rnd = np.nonzero(mask)
    out = {"run": run, "round": rnd + 1, "date": _labels(rnd, _dates(s, R)),
           "committed_troops": r_f[run, rnd, 0], "approved_troops": r_f[run, rnd, 1],
           "deployed_troops": r_f[run, rnd, 2], "pressure": r_f[run, rnd, 3],
           "clarity": r_f[run, rnd, 4], "incentive": r_f[run, rnd, 5],
           "mandate": _rows_as_labels(r_mandate[run, rnd], lambda row: "+".join(
               tasks[t] for t in row if t >= 0), plan.texts_of("mandate")),
           "mandate_accepted": r_f[run, rnd, 6] == 1.0}
    ci = {name: c for c, name in enumerate(contributors)}
    for name in names:
        out[f"status.{name}"] = _labels(r_status[run, rnd, ci[name]], STATUS_NAMES[:11]) \
            if name in ci else _labels(np.zeros(len(run)), (INFLUENCER,))
    return out


def outcome_rows(block: dict) -> list[dict]:
    """The block's outcome records as one dict per run, as `NegotiationModel.outcome` gives
    them (rounds and dates that were never reached as None)."""
    col = block["columns"]
    keys = [k for k in col if not k.startswith("param.")]
    texts = {k: col[k].strings() for k in keys if isinstance(col[k], Labels)}
    n = len(block["seeds"])
    rows = []
    for i in range(n):
        row = {}
        for key in keys:
            v = texts[key][i] if key in texts else col[key][i]
            if isinstance(v, np.generic):
                v = v.item()
            if (key.endswith("_round") or key.startswith(("committed_round.",
                                                          "entry_round."))) and v == -1:
                v = None
            row[key] = v
        rows.append(row)
    return rows


# ---------------------------------------------------------------------- the compiled kernel

_KERNEL = None
_KERNEL_LOCK = threading.Lock()  # the runner's threads ask for it at once


def kernel(loaded):
    """The compiled kernel (its functions `block` and `param_block`): the one built ahead of
    time for this source (`sim.model.ahead`), built now if need be (the types of `loaded`'s
    arguments make its signature); where it cannot be built, numba's just-in-time kernel
    (`sim.model.kernel`), compiled now or loaded from numba's disk cache."""
    global _KERNEL
    with _KERNEL_LOCK:
        if _KERNEL is None:
            from . import ahead

            _KERNEL = ahead.load() or _compile(loaded)
    return _KERNEL


def _compile(loaded):
    """Build the kernel ahead of time or, where that cannot be done, have numba compile it
    (or load it from its cache), one process at a time: a process that finds another at it
    waits for it and loads what it built."""
    from . import ahead

    with ahead.holding_lock():
        built = ahead.load()  # by another process while this one waited
        if built is None and ahead.buildable():
            try:
                ahead.build(kernel_arguments(loaded))
            except Exception as error:  # noqa: BLE001 (whatever the reason: numba's JIT instead)
                ahead.note_failure(error)
            built = ahead.load()
        if built is not None:
            return built
        from . import kernel as jit

        args = kernel_arguments(loaded)  # compiled (or loaded from numba's cache) now
        jit.param_block(*args["param_block"])
        jit.block(*args["block"])
        return jit


def kernel_arguments(loaded) -> dict[str, tuple]:
    """One call's arguments of each kernel function, for a block of two runs of `loaded`
    with counterfactual replays and round-by-round records: their types are the compiled
    kernel's signature (the same for every scenario)."""
    plan = _plan(loaded)
    seeds = np.arange(2, dtype=np.int64)
    params = _param_arguments(loaded, plan, seeds)
    params[-3][:] = 0.0  # the parameter vectors, which the block reads
    block, _ = _block_arguments(plan, params[-3], seeds, np.ones(2, np.bool_), True)
    return {"param_block": params, "block": block}


def compiled_on_disk() -> bool:
    """Whether the next process finds the kernel compiled: built ahead of time for this
    source, or, where it cannot be built, in numba's disk cache (asking numba's own cache
    index, which knows where the cache is and whether it is stale)."""
    from . import ahead

    if ahead.path().is_file():
        return True
    if ahead.buildable():
        return False
    from . import kernel as jit

    try:
        return bool(jit._block._cache._cache_file._load_index())
    except AttributeError:  # another numba (pinned below 0.70): look for the index file
        import pathlib

        cache = pathlib.Path(__file__).resolve().parent / "__pycache__"
        return any(cache.glob("kernel._block-*.nbi"))


def compiled() -> bool:
    """Whether the kernel is ready: loaded in this process or compiled on disk."""
    return _KERNEL is not None or compiled_on_disk()


def announce_compilation(log=print) -> None:
    """Say so when the first call will compile the kernel."""
    if not compiled():
        log("Compiling the fast model path once (about a minute on this machine); later runs "
            "start at once.")
