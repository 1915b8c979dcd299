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
from dataclasses import dataclass

import numpy as np

from .. import rng
from ..vocabulary import (
    APPROVED,
    BLOCKED_AT_HOME,
    COLLAPSE,
    CONDITIONS_UNMET,
    CONTRIBUTION_TYPES,
    COUNTS,
    DECLINED_MANDATE,
    DEPLOYED,
    FORMED,
    INFLUENCER,
    INVITED,
    MANDATE_REFUSED,
    MILESTONES,
    NOT_INVITED,
    OVER_CAPACITY,
    PLEDGED,
    REASONS,
    SUSPENDED,
    TARGET_CUT,
    UNWILLING,
    VETOED,
)
from .tolerance import EPS

# ---------------------------------------------------------------------- codes

#: status codes (the order is the kernel's; the names are the vocabulary's)
STATUS_NAMES = (NOT_INVITED, INVITED, UNWILLING, CONDITIONS_UNMET, DECLINED_MANDATE, PLEDGED,
                APPROVED, DEPLOYED, SUSPENDED, VETOED, BLOCKED_AT_HOME, INFLUENCER)
S_NOT, S_INV, S_UNW, S_COND, S_DECL, S_PLED, S_APPR, S_DEPL, S_SUSP, S_VETO, S_BLOCK, S_INFL = \
    range(12)
REASON_CODE = {r: i for i, r in enumerate(REASONS)}
COUNT_NAMES = COUNTS
(C_PLEDGES, C_REVISIONS, C_SUSPENSIONS, C_WITHDRAWALS, C_FAILED, C_VETOES, C_COND, C_CONC,
 C_SOFT) = range(9)
INF = math.inf

# global parameter slots (columns of the parameter vector), in this order
GLOBALS = (
    "weights.solidarity", "weights.standing", "weights.us_ties", "weights.regional_threat",
    "weights.mandate_fit", "weights.spillover", "weights.decision_noise", "weights.red_line",
    "weights.full_pledge", "weights.min_contingent", "weights.audience_cost",
    "weights.revision_step", "weights.support_exposure",
    "environment.ceasefire", "environment.armed_group_acceptance", "environment.alignment",
    "environment.us_led", "environment.un_authorised",
    "convener.target_troops", "convener.first_phase", "convener.deploy_rounds",
    "convener.min_contributors", "convener.clarity", "convener.clarity_step",
    "convener.clarity_loss", "convener.pressure", "convener.pressure_step",
    "convener.max_pressure", "convener.leverage", "convener.incentive_step",
    "convener.max_incentive", "convener.resolve", "convener.israel_deference",
    "convener.misjudgement", "convener.wave_after",
    "israel.tolerance", "israel.pressure_effect", "israel.default_threat",
    "israel.no_relations_penalty", "israel.reject_without_relations",
    "israel.unmet_demand_penalty", "israel.mandate_pressure_effect",
    "israel.restricted_discount",
)
G = {name.split(".", 1)[1] if not name.startswith(("environment", "weights")) else name: i
     for i, name in enumerate(GLOBALS)}
(W_SOL, W_STA, W_UST, W_REG, W_FIT, W_SPILL, W_NOISE, W_LINE, W_FULL, W_MINC, W_AUD, W_REV,
 W_SUPP, E_CEASE, E_ACC, E_ALIGN, E_USLED, E_UN,
 V_TARGET, V_PHASE, V_DEPLOY, V_MINC, V_CLAR, V_CSTEP, V_CLOSS, V_PRESS, V_PSTEP, V_PMAX,
 V_LEV, V_ISTEP, V_IMAX, V_RESOLVE, V_DEFER, V_MISJ, V_WAVE,
 I_TOL, I_PE, I_DEFT, I_NOREL, I_HARD, I_PEN, I_MPE, I_DISC) = range(len(GLOBALS))

# per-contributor parameter slots
PER_STATE = ("capacity.troops", "capacity.police_trainers", "capacity.logistics",
             "capacity.funding", "willingness", "motives.solidarity", "motives.standing",
             "motives.us_ties", "motives.regional_threat", "casualty_aversion",
             "relations_with_israel", "consult_weight", "conditions.un_mandate",
             "conditions.us_led", "conditions.min_clarity", "conditions.min_partners",
             "conditions.min_troops_committed", "conditions.min_ceasefire",
             "conditions.min_acceptance", "domestic.opposition_strength",
             "domestic.alignment_tolerance", "domestic.delay_rounds",
             "domestic.min_ratification", "domestic.shrink_factor")
(K_TROOPS, K_TRAIN, K_LOG, K_FUND, K_WILL, K_MSOL, K_MSTA, K_MUST, K_MREG, K_CA, K_REL, K_CW,
 K_UN, K_USLED, K_CLAR, K_PART, K_TCOM, K_CEASE, K_ACC, K_OPP, K_TOL, K_DELAY, K_MINR,
 K_SHRINK) = range(len(PER_STATE))
STATE_KINDS = len(PER_STATE)

# event targets
T_PARAM, T_PRESSURE, T_CLARITY, T_STANCE = 0, 1, 2, 3


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

    @staticmethod
    def of(loaded) -> Plan:
        return _plan(loaded)


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


def parameter_matrix(loaded, seeds, fixed: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The parameter vectors of a block of runs (one row per run: numbers, then flags as 0/1)
    and the drawn uncertain parameters (one column per uncertain parameter): the same values
    `LoadedScenario.draw` gives, computed in the kernel. `fixed`: path -> a value for every
    run, or an array of one value per run."""
    plan = _plan(loaded)
    seeds = np.asarray(seeds, dtype=np.int64)
    kind, a, b, m, cum, val, last, row, cols = _draw_plan(loaded, plan)
    n = len(seeds)
    P = np.empty((n, plan.n_cols), dtype=np.float64)
    drawn = np.empty((n, len(kind)))
    u = np.empty((n, len(kind)))
    _param_block(seeds, _SALT_PARAM, loaded.uncertain_keys, kind, a, b, m, cum, val, last,
                 row, cols, P, drawn, u)
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
    for p_i, (path, _) in enumerate(loaded.uncertain):
        col[f"param.{path}"] = drawn[:, p_i]
    for path, value in (fixed or {}).items():
        if f"param.{path}" not in col:
            col[f"param.{path}"] = np.broadcast_to(np.asarray(value, np.float64), (n,)).copy()
    return col


def param_columns(loaded, seeds, fixed: dict | None = None) -> dict[str, np.ndarray]:
    """The `param.<path>` columns of the runs with these run seeds, exactly as
    `simulate_block` gives them, without running the runs (a few microseconds a run)."""
    _, drawn = parameter_matrix(loaded, seeds, fixed)
    return _param_columns(loaded, drawn, fixed, len(seeds))


# ---------------------------------------------------------------------- the kernel
# Module-level functions, so that numba can cache the compiled code on disk. Status codes:
# 0 not invited, 1 invited, 2 unwilling, 3 conditions unmet, 4 declined over the mandate,
# 5 pledged, 6 approved, 7 deployed, 8 suspended, 9 vetoed, 10 blocked at home.

from numba import njit  # noqa: E402

_U64 = np.uint64
_GAMMA = _U64(rng.GAMMA)
_M1, _M2 = _U64(rng.M1), _U64(rng.M2)
_SALT_PARAM = _U64(rng._STREAM_SALT[rng.PARAM])
_SALT_NOISE = _U64(rng._STREAM_SALT[rng.NOISE])
_SALT_VOTE = _U64(rng._STREAM_SALT[rng.VOTE])
_SALT_EVENT = _U64(rng._STREAM_SALT[rng.EVENT])
_SALT_EST = _U64(rng._STREAM_SALT[rng.ESTIMATE])
_TO_UNIT = 2.0 ** -53
_CUT = TARGET_CUT
_NEG_INF = -math.inf


@njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> _U64(30))) * _M1
    z = (z ^ (z >> _U64(27))) * _M2
    return z ^ (z >> _U64(31))


@njit(cache=True)
def _uniform(seed, salt, key, rnd):
    """`rng.uniform(seed, stream, rng.slot(key, rnd))` with uint64 arithmetic."""
    base = _mix(_U64(seed) ^ salt)
    counter = key + _U64(rnd) * _GAMMA
    return np.float64(_mix(base + counter * _GAMMA) >> _U64(11)) * _TO_UNIT


@njit(cache=True)
def _uniforms(seeds, salt, keys, out):
    """`rng.uniforms(seeds, stream, keys)` (round 0 slots) into `out`, in a loop."""
    for i in range(seeds.shape[0]):
        base = _mix(_U64(seeds[i]) ^ salt)
        for j in range(keys.shape[0]):
            out[i, j] = np.float64(_mix(base + keys[j] * _GAMMA) >> _U64(11)) * _TO_UNIT


@njit(cache=True, nogil=True)
def _param_block(seeds, salt, keys, kind, a, b, m, cum, val, last, row, cols, P, drawn, u):
    """Every run's parameter vector: the fixed values, then each uncertain parameter from its
    uniform number by the inverse CDF of `sim.scenario.quantity` (uniform, triangular,
    choice; any other form is left to the caller)."""
    for i in range(seeds.shape[0]):
        base = _mix(_U64(seeds[i]) ^ salt)
        for j in range(row.shape[0]):
            P[i, j] = row[j]
        for j in range(keys.shape[0]):
            x = np.float64(_mix(base + keys[j] * _GAMMA) >> _U64(11)) * _TO_UNIT
            u[i, j] = x
            if kind[j] == 0:
                v = a[j] + x * (b[j] - a[j])
            elif kind[j] == 1:
                cut = (m[j] - a[j]) / (b[j] - a[j])
                if x < cut:
                    v = a[j] + math.sqrt(x * (b[j] - a[j]) * (m[j] - a[j]))
                else:
                    v = b[j] - math.sqrt((1.0 - x) * (b[j] - a[j]) * (b[j] - m[j]))
            elif kind[j] == 2:
                idx = 0
                for q in range(cum.shape[1]):
                    if x >= cum[j, q]:
                        idx += 1
                v = val[j, min(idx, last[j])]
            else:
                v = math.nan
            drawn[i, j] = v
            P[i, cols[j]] = v


@njit(cache=True)
def _triangular(u):
    """`rng.symmetric_triangular(u, 1.0)`."""
    if u < 0.5:
        return math.sqrt(2.0 * u) - 1.0
    return 1.0 - math.sqrt(2.0 - 2.0 * u)


@njit(cache=True)
def _in(mandate, mlen, t):
    for j in range(mlen):
        if mandate[j] == t:
            return True
    return False


@njit(cache=True)
def _satisfaction(P, demands, err, softer, mandate, mlen, lift_task):
    """F4; `err` is the convener's misjudgement of the softer credit (0 for Israel)."""
    total = 0.0
    met = 0.0
    for d in range(demands.shape[0]):
        task = demands[d, 0]
        if lift_task[task]:
            continue
        weight = P[demands[d, 1]]
        credit = P[demands[d, 2]]
        credit = min(1.0, max(0.0, credit + err))
        total += weight
        if _in(mandate, mlen, task):
            met += weight
        elif softer[task] >= 0 and _in(mandate, mlen, softer[task]):
            met += weight * credit
    return met / total if total > 0 else 1.0


@njit(cache=True)
def _threat(P, k, g, threat_col, c):
    """R6 threat score of contributor c."""
    th = P[threat_col[c]] if threat_col[c] >= 0 else P[g[I_DEFT]]
    if P[k[c, K_REL]] == 0.0:
        th += P[g[I_NOREL]]
    return min(1.0, th)


@njit(cache=True, inline="always")
def _pressure_needed(P, g, k, threat_col, roles, c, sat, failed_at, est, lift_veto):
    """R8: the least pressure at which the convener expects Israel to approve c."""
    if not (P[k[c, K_TROOPS]] > 0 or P[k[c, K_LOG]] > 0):
        return 0.0
    if lift_veto[c]:
        return 0.0
    if P[g[I_HARD]] != 0.0 and P[k[c, K_REL]] == 0.0:
        return math.inf
    th = _threat(P, k, g, threat_col, c)
    if th >= 1:
        th = 1.0
    else:
        th = min(1.0, max(0.0, th + P[g[V_MISJ]] * est[c]))
    if th < 1 and roles[c, 1] == 1:
        th = th * (1 - P[g[I_DISC]])
    base = P[g[I_TOL]] - P[g[I_PEN]] * (1 - sat)
    pe = P[g[I_PE]]
    if th <= base + EPS:
        need = 0.0
    elif pe > 0 and th < 1:
        need = (th - base) / pe
    else:
        need = math.inf
    if failed_at[c] != _NEG_INF:
        need = max(need, failed_at[c] + P[g[V_PSTEP]])
    return need


@njit(cache=True)
def _mandate_needed(P, g, sat, failed, current):
    if sat >= 1 - EPS:
        return 0.0
    mpe = P[g[I_MPE]]
    need = (1 - sat) / mpe if mpe > 0 else math.inf
    if current and failed != _NEG_INF:
        need = max(need, failed + P[g[V_PSTEP]])
    return need


@njit(cache=True, inline="always")
def _invite(P, g, k, threat_col, roles, status, failed_at, est, lift_veto, demands, softer,
            mandate, mlen, lift_task, pressure):
    """R8a: invite every contributor expected to be approved at `pressure`."""
    sat = _satisfaction(P, demands, P[g[V_MISJ]] * est[est.shape[0] - 1], softer, mandate,
                        mlen, lift_task)
    for c in range(status.shape[0]):
        if status[c] != 0:
            continue
        if _pressure_needed(P, g, k, threat_col, roles, c, sat, failed_at, est,
                            lift_veto) <= pressure + EPS:
            status[c] = 1


@njit(cache=True, inline="always")
def _decisive(P, g, k, threat_col, roles, status, pledge, failed_at, est, lift_veto,
              demands, softer, mandate, mlen, lift_task, mandate_failed, locked, target,
              needs, troops):
    """R8c: the least pressure at which the convener expects the force to reach `target`."""
    sat = _satisfaction(P, demands, P[g[V_MISJ]] * est[est.shape[0] - 1], softer, mandate,
                        mlen, lift_task)
    need = _mandate_needed(P, g, sat, mandate_failed, not locked)
    total = 0.0
    n = status.shape[0]
    m = 0
    for c in range(n):
        st = status[c]
        if st == 6 or st == 7:
            total += pledge[c, 0]
        elif (st == 5 or st == 9) and pledge[c, 0] > 0:
            needs[m] = _pressure_needed(P, g, k, threat_col, roles, c, sat, failed_at, est,
                                        lift_veto)
            troops[m] = pledge[c, 0]
            m += 1
    # Python's sort of (need, troops) tuples: insertion sort, stable
    for i in range(1, m):
        a, b = needs[i], troops[i]
        j = i - 1
        while j >= 0 and (needs[j] > a or (needs[j] == a and troops[j] > b)):
            needs[j + 1] = needs[j]
            troops[j + 1] = troops[j]
            j -= 1
        needs[j + 1] = a
        troops[j + 1] = b
    for i in range(m):
        if total >= target:
            break
        need = max(need, needs[i])
        total += troops[i]
    return need if total >= target else math.inf


@njit(cache=True)
def _utility(P, g, k, c, fit, motive, rl, total, committed, pledge, target, incentive, risk):
    """R3 (`fit`: mean stance over the mandate; `motive`: the motives' weighted sum)."""
    others = total - (pledge[c, 0] if committed[c] else 0.0)
    share = min(1.0, others / target) if target > 0 else 1.0
    if not (P[k[c, K_TROOPS]] > 0 or P[k[c, K_LOG]] > 0):
        r_ = 0.0
    elif rl == 0:
        r_ = risk
    else:
        r_ = risk * P[g[W_SUPP]]
    t0 = P[k[c, K_WILL]]
    t1 = motive
    t2 = P[g[W_FIT]] * fit
    t3 = P[g[W_SPILL]] * share
    t4 = incentive * P[k[c, K_MUST]]
    t5 = -P[k[c, K_CA]] * r_
    return t0 + t1 + t2 + t3 + t4 + t5


@njit(cache=True)
def _refresh(P, g, k, partners, has_cond, motive):
    """The values of each state that change only when an event changes a parameter."""
    for c in range(k.shape[0]):
        h = partners[c, 0] != -1
        for j in range(K_UN, K_ACC + 1):
            if P[k[c, j]] != 0.0:
                h = True
        has_cond[c] = h
        m = 0.0
        m += P[g[W_SOL]] * P[k[c, K_MSOL]]
        m += P[g[W_STA]] * P[k[c, K_MSTA]]
        m += P[g[W_UST]] * P[k[c, K_MUST]]
        m += P[g[W_REG]] * P[k[c, K_MREG]]
        motive[c] = m


@njit(cache=True)
def _wish(u, P, g, k, c, out):
    """R4 pledge size, into out[0:4]."""
    full = P[g[W_FULL]]
    s = min(1.0, u / full) if u > 0 else 0.0
    out[0] = math.floor(s * P[k[c, K_TROOPS]] + 0.5)
    out[2] = math.floor(s * P[k[c, K_LOG]] + 0.5)
    out[1] = math.floor(s * P[k[c, K_TRAIN]] + 0.5)
    out[3] = s * P[k[c, K_FUND]]
    if out[0] < P[g[W_MINC]]:
        out[0] = 0.0


@njit(cache=True)
def _withdraw(c, new_status, status, pledge, ratified, restricted, counts):
    status[c] = new_status
    for q in range(4):
        pledge[c, q] = 0.0
    ratified[c] = False
    restricted[c] = False
    counts[C_WITHDRAWALS] += 1


@njit(cache=True)
def _backlash(alignment, tolr):
    if tolr >= 1:
        return 0.0
    return min(1.0, max(0.0, alignment - tolr) / (1 - tolr))


@njit(cache=True)
def _run(P, seed, g, k, threat_col, stance_col, stated, ccountry, cw_col, roles, partners,
         consults, has_home, share_col, shrink, rejected, risk_col, align_col, softer, core,
         mandate0, demands, noise_keys, vote_keys, est_keys, event_keys, ev_int, ev_ops,
         ev_vals, R, lift_veto, lift_dom, lift_task, lift_target, stop_at_formation,
         rec, r_f, r_status, r_mandate, out_status, out_pledge, out_role, out_cround,
         out_eround, out_mandate, out_members, out_fired, out_ever, out_f, out_i):
    """One run (docs/ODD.md R1-R12), `P` being its parameter vector (changed by events).
    Writes the final state into the out_ arrays (one run's rows) and, with `rec`, the state
    at the end of every round into r_f, r_status, r_mandate. Returns the round the force
    formed (-1 if it did not), or -2 if an event met a non-finite value."""
    N = k.shape[0]
    K = stance_col.shape[0]
    T = stance_col.shape[1]
    E = ev_int.shape[0]
    NB = share_col.shape[1]
    # ------------------------------------------------------------------ initial state
    stance = np.zeros((K, T))
    for cc in range(K):
        for t in range(T):
            if stance_col[cc, t] >= 0:
                stance[cc, t] = P[stance_col[cc, t]]
    anchor = stance.copy()
    status = np.zeros(N, np.int64)
    pledge = np.zeros((N, 4))
    role = roles[:, 2].copy()
    restricted = np.zeros(N, np.bool_)
    ratified = np.zeros(N, np.bool_)
    pledged_round = np.full(N, -1, np.int64)
    committed_round = np.full(N, -1, np.int64)
    approved_round = np.full(N, -1, np.int64)
    entry_round = np.full(N, -1, np.int64)
    stage = np.full(N, 5, np.int64)
    objections = np.zeros((N, T), np.bool_)
    ever_vetoed = np.zeros(N, np.bool_)
    ever_blocked = np.zeros(N, np.bool_)
    ever_winset = np.zeros(N, np.bool_)
    ever_obj = np.zeros((N, T), np.bool_)
    mandate = np.full(T, -1, np.int64)
    mlen = 0
    for j in range(mandate0.shape[0]):
        t = mandate0[j]
        gone = lift_task[t] or (softer[t] >= 0 and lift_task[softer[t]])
        for h in range(T):
            if softer[h] == t and lift_task[h]:
                gone = True
        if not gone:
            mandate[mlen] = t
            mlen += 1
    clarity = P[g[V_CLAR]]
    pressure = P[g[V_PRESS]]
    peak = pressure
    spent = 0.0
    exhausted = False
    incentive = 0.0
    frust = np.zeros(T)
    short_rounds = 0
    waves = 0
    failed_at = np.full(N, _NEG_INF)
    mandate_failed = _NEG_INF
    accepted = True
    locked = False
    ever_refused = False
    ms = np.full(4, -1, np.int64)  # first_phase, formed, entry, full_strength
    collapsed = False
    counts = np.zeros(9, np.int64)
    force_at = np.zeros(4)
    members = np.zeros(N, np.bool_)
    pending = np.ones(E, np.bool_)
    fired = np.full(E, -1, np.int64)  # the round each event fired
    est = np.zeros(N + 1)
    for c in range(N + 1):
        est[c] = _triangular(_uniform(seed, _SALT_EST, est_keys[c], 0))
    committed = np.zeros(N, np.bool_)
    lines = np.zeros(T, np.bool_)
    tmp = np.full(T, -1, np.int64)
    wish = np.zeros(4)
    changed_q = np.zeros(4, np.bool_)
    new_stance = np.zeros((K, T))
    s_needs = np.empty(N)
    s_troops = np.empty(N)
    # per-state values that change only with an event (has_cond, motive) or with the mandate,
    # a stance or the red line (red lines and fit, recomputed when `stale`)
    has_cond = np.zeros(N, np.bool_)
    motive = np.zeros(N)
    red_lines = np.zeros((N, T), np.bool_)
    n_red = np.zeros(N, np.int64)
    fit = np.zeros(N)
    stale = np.ones(N, np.bool_)
    _refresh(P, g, k, partners, has_cond, motive)
    rounds_run = 0
    for r in range(1, R + 1):
        rounds_run = r
        # -------------------------------------------------------------- R11 events
        for e in range(E):
            if not pending[e]:
                continue
            if ev_int[e, 0] >= 0:
                fire = ev_int[e, 0] == r
            else:
                until = ev_int[e, 2] if ev_int[e, 2] >= 0 else R
                if r > until:
                    pending[e] = False
                    continue
                if r < ev_int[e, 1]:
                    continue
                fire = _uniform(seed, _SALT_EVENT, event_keys[e], r) < P[ev_int[e, 3]]
            if not fire:
                continue
            pending[e] = False
            fired[e] = r
            for q in range(ev_ops.shape[0]):
                if ev_ops[q, 0] != e:
                    continue
                kind = ev_ops[q, 2]
                if kind == T_PRESSURE:
                    old = pressure
                elif kind == T_CLARITY:
                    old = clarity
                elif kind == T_STANCE:
                    old = stance[ev_ops[q, 4], ev_ops[q, 5]]
                else:
                    old = P[ev_ops[q, 3]]
                new = ev_vals[q, 0] if ev_ops[q, 1] == 0 else old + ev_vals[q, 0]
                if not math.isfinite(new):
                    return -2
                if new < ev_vals[q, 1]:
                    new = ev_vals[q, 1]
                elif new > ev_vals[q, 2]:
                    new = ev_vals[q, 2]
                P[ev_ops[q, 3]] = new
                if kind == T_PRESSURE:
                    pressure = new
                elif kind == T_CLARITY:
                    clarity = new
                elif kind == T_STANCE:
                    stance[ev_ops[q, 4], ev_ops[q, 5]] = new
                    anchor[ev_ops[q, 4], ev_ops[q, 5]] = new
            if ev_int[e, 4] == 1:
                collapsed = True
            _refresh(P, g, k, partners, has_cond, motive)
            for c in range(N):
                stale[c] = True
        target = P[g[V_TARGET]] * ((1 - _CUT) if lift_target else 1.0)
        if collapsed:
            if rec:
                _record(r - 1, pledge, status, pressure, clarity, incentive, mandate, mlen,
                        accepted, r_f, r_status, r_mandate, ccountry)
            break
        cur_target = P[g[V_PHASE]] * target if ms[0] < 0 else target
        # -------------------------------------------------------------- R8 the convener
        if r == 1:
            _invite(P, g, k, threat_col, roles, status, failed_at, est, lift_veto, demands,
                    softer, mandate, mlen, lift_task, pressure)
            waves += 1
        else:
            for c in range(N):  # R8b memory
                if status[c] == 4 and P[k[c, K_TROOPS]] > 0:
                    for t in range(T):
                        if objections[c, t] and _in(mandate, mlen, t):
                            frust[t] = frust[t] + (P[k[c, K_TROOPS]] / cur_target
                                                   if cur_target > 0 else 0.0)
            err = P[g[V_MISJ]] * est[N]
            sat = _satisfaction(P, demands, err, softer, mandate, mlen, lift_task)
            best_w = 0.0
            best_pos = -1
            for pos in range(mlen):  # R8b concession
                t = mandate[pos]
                weight = frust[t]
                if core[t] or weight <= 0:
                    continue
                n2 = 0
                for j in range(mlen):
                    if j == pos:
                        if softer[t] >= 0:
                            tmp[n2] = softer[t]
                            n2 += 1
                    else:
                        tmp[n2] = mandate[j]
                        n2 += 1
                new_sat = _satisfaction(P, demands, err, softer, tmp, n2, lift_task)
                bar = P[g[V_RESOLVE]] * (1 + P[g[V_DEFER]] * (sat - new_sat))
                if weight < bar - EPS:
                    continue
                if _mandate_needed(P, g, new_sat, _NEG_INF, False) > P[g[V_PMAX]] + EPS:
                    continue
                if best_pos < 0 or weight > best_w + EPS:
                    best_w = weight
                    best_pos = pos
            changed = best_pos >= 0
            if changed:
                t = mandate[best_pos]
                n2 = 0
                for j in range(mlen):
                    if j == best_pos:
                        if softer[t] >= 0:
                            tmp[n2] = softer[t]
                            n2 += 1
                    else:
                        tmp[n2] = mandate[j]
                        n2 += 1
                for j in range(T):
                    mandate[j] = tmp[j] if j < n2 else -1
                mlen = n2
                mandate_failed = _NEG_INF
                for c in range(N):
                    stale[c] = True
                frust[t] = 0.0
                counts[C_CONC] += 1
                if softer[t] >= 0:
                    counts[C_SOFT] += 1
                clarity = max(0.0, clarity - P[g[V_CLOSS]])
            else:
                clarity = min(1.0, clarity + P[g[V_CSTEP]])
            if exhausted:  # R8c pressure
                aim = 0.0
            else:
                need = _decisive(P, g, k, threat_col, roles, status, pledge, failed_at, est,
                                 lift_veto, demands, softer, mandate, mlen, lift_task,
                                 mandate_failed, locked, cur_target, s_needs, s_troops)
                aim = need if need <= P[g[V_PMAX]] + EPS else 0.0
            if aim > pressure:
                pressure = min(aim, pressure + P[g[V_PSTEP]])
            else:
                pressure = max(aim, pressure - P[g[V_PSTEP]])
            spent += pressure
            peak = max(peak, pressure)
            if (not exhausted) and spent >= P[g[V_LEV]] - EPS and pressure > 0:
                exhausted = True
            ctroops = 0.0
            for c in range(N):
                if status[c] == 5 or status[c] == 6 or status[c] == 7:
                    ctroops += pledge[c, 0]
            if ctroops < cur_target:
                incentive = min(P[g[V_IMAX]], incentive + P[g[V_ISTEP]])
                short_rounds += 1
            else:
                short_rounds = 0
            if short_rounds >= int(P[g[V_WAVE]]) and waves < 2:
                _invite(P, g, k, threat_col, roles, status, failed_at, est, lift_veto,
                        demands, softer, mandate, mlen, lift_task, P[g[V_PMAX]])
                waves += 1
                short_rounds = 0
        # -------------------------------------------------------------- the view
        total = 0.0
        ncommitted = 0
        for c in range(N):
            committed[c] = status[c] == 5 or status[c] == 6 or status[c] == 7
            if committed[c]:
                total += pledge[c, 0]
                ncommitted += 1
        ceasefire = P[g[E_CEASE]]
        acceptance = P[g[E_ACC]]
        un_auth = P[g[E_UN]] != 0.0
        us_led = P[g[E_USLED]] >= 0.5
        load = 0.0
        asum = 0.0
        for j in range(mlen):
            load += P[risk_col[mandate[j]]]
        for j in range(mlen):
            asum += P[align_col[mandate[j]]]
        risk = min(1.0, (1 - ceasefire) + (1 - acceptance) * load)
        alignment = min(1.0, P[g[E_ALIGN]] + asum)
        # -------------------------------------------------------------- R1-R5a decisions
        for c in range(N):
            st = status[c]
            is_open = st == 1 or st == 2 or st == 3 or st == 4
            if not (is_open or st == 5 or st == 6 or st == 7 or st == 8 or st == 9):
                continue
            cc = ccountry[c]
            unmet = False
            if has_cond[c]:
                if P[k[c, K_UN]] != 0.0 and not un_auth:
                    unmet = True
                if P[k[c, K_USLED]] != 0.0 and not us_led:
                    unmet = True
                if clarity < P[k[c, K_CLAR]]:
                    unmet = True
                own = committed[c]
                if P[k[c, K_PART]] > 0 and (ncommitted - (1 if own else 0)) < P[k[c, K_PART]]:
                    unmet = True
                if P[k[c, K_TCOM]] > 0 and \
                        total - (pledge[c, 0] if own else 0.0) < P[k[c, K_TCOM]]:
                    unmet = True
                for j in range(partners.shape[1]):
                    q = partners[c, j]
                    if q == -1:
                        break
                    if q < 0 or not committed[q]:
                        unmet = True
                if ceasefire < P[k[c, K_CEASE]]:
                    unmet = True
                if acceptance < P[k[c, K_ACC]]:
                    unmet = True
            if stale[c]:
                red = P[g[W_LINE]]
                n_red[c] = 0
                s = 0.0
                for t in range(T):
                    red_lines[c, t] = False
                for j in range(mlen):
                    t = mandate[j]
                    s += stance[cc, t]
                    if stance[cc, t] <= red:
                        red_lines[c, t] = True
                        n_red[c] += 1
                fit[c] = s / mlen if mlen > 0 else 0.0
                stale[c] = False
            nlines = n_red[c]
            for t in range(T):
                lines[t] = red_lines[c, t]
            winset_fail = False
            win_obj = -1
            if has_home[c]:
                if not lift_dom[c]:
                    rej = 0
                    for j in range(mlen):
                        t = mandate[j]
                        if rejected[c, t]:
                            rej += 1
                            if not lines[t]:
                                lines[t] = True
                                nlines += 1
                    if rej > 0:
                        ever_winset[c] = True
                if nlines == 0:
                    b = _backlash(alignment, P[k[c, K_TOL]])
                    chance = 1.0
                    opp = P[k[c, K_OPP]]
                    for j in range(NB):
                        if share_col[c, j] < 0:
                            break
                        chance *= 1 - opp * P[share_col[c, j]] * b
                    if not (lift_dom[c] or chance >= P[k[c, K_MINR]]):
                        winset_fail = True
                        ever_winset[c] = True
                        best_a = 0.0
                        for j in range(mlen):
                            t = mandate[j]
                            a = P[align_col[t]]
                            if win_obj < 0 or a > best_a or (a == best_a and t < win_obj):
                                best_a = a
                                win_obj = t
                        if win_obj >= 0 and best_a <= 0:
                            win_obj = -1
            if is_open:
                if unmet:
                    status[c] = 3
                    continue
                if nlines > 0 or winset_fail:
                    status[c] = 4
                    for t in range(T):
                        objections[c, t] = lines[t] if nlines > 0 else t == win_obj
                        if objections[c, t]:
                            ever_obj[c, t] = True
                    continue
                rl = roles[c, 2]
                u = _utility(P, g, k, c, fit[c], motive[c], rl, total, committed, pledge,
                             target, incentive, risk)
                noise = P[g[W_NOISE]] * _triangular(_uniform(seed, _SALT_NOISE,
                                                             noise_keys[c], r))
                if u + noise <= 0:
                    status[c] = 2
                    continue
                _wish(u + noise, P, g, k, c, wish)
                if not (wish[0] != 0 or wish[1] != 0 or wish[2] != 0 or wish[3] != 0):
                    status[c] = 2
                    continue
                for q in range(4):
                    pledge[c, q] = wish[q]
                role[c] = rl
                restricted[c] = False
                status[c] = 5
                stage[c] = 5
                pledged_round[c] = r
                if committed_round[c] < 0:
                    committed_round[c] = r
                ratified[c] = not has_home[c]
                for t in range(T):
                    objections[c, t] = False
                counts[C_PLEDGES] += 1
                continue
            if nlines > 0 or winset_fail:
                for t in range(T):
                    objections[c, t] = lines[t] if nlines > 0 else t == win_obj
                    if objections[c, t]:
                        ever_obj[c, t] = True
                _withdraw(c, 4, status, pledge, ratified, restricted, counts)
                continue
            if unmet:
                if st != 8:
                    if st == 5 or st == 6 or st == 7:
                        stage[c] = 5 if st == 5 else 6
                    status[c] = 8
                    counts[C_SUSPENSIONS] += 1
                continue
            u = _utility(P, g, k, c, fit[c], motive[c], role[c], total, committed, pledge,
                         target, incentive, risk)
            noise = P[g[W_NOISE]] * _triangular(_uniform(seed, _SALT_NOISE, noise_keys[c], r))
            if u + noise + P[g[W_AUD]] <= 0:
                _withdraw(c, 2, status, pledge, ratified, restricted, counts)
                continue
            if st == 8:
                status[c] = stage[c]
                if stage[c] == 6:
                    approved_round[c] = r
            _wish(u + noise, P, g, k, c, wish)
            step = P[g[W_REV]]
            if pledge[c, 0] > 0:
                wish[0] = max(wish[0], min(P[k[c, K_TROOPS]], P[g[W_MINC]]))
            for q in range(4):
                if wish[q] <= 0 < pledge[c, q]:
                    wish[q] = pledge[c, q]
            for q in range(4):
                changed_q[q] = False
            anyq = False
            for q in range(4):
                capq = P[k[c, q]]
                if capq > 0 and abs(wish[q] - pledge[c, q]) >= step * capq:
                    changed_q[q] = True
                    anyq = True
            if anyq:
                for q in range(4):
                    if changed_q[q]:
                        pledge[c, q] = wish[q]
                counts[C_REVISIONS] += 1
        # -------------------------------------------------------------- R5b votes
        for c in range(N):
            if not has_home[c]:
                continue
            if status[c] != 5 or ratified[c] or r < pledged_round[c] + int(P[k[c, K_DELAY]]):
                continue
            b = _backlash(alignment, P[k[c, K_TOL]])
            opp = P[k[c, K_OPP]]
            passed = True
            for j in range(NB):
                if share_col[c, j] < 0:
                    break
                p_ = 1 - opp * P[share_col[c, j]] * b
                draw = _uniform(seed, _SALT_VOTE, vote_keys[c, j], r)
                if not (lift_dom[c] or draw < p_):
                    passed = False
                    break
            if passed:
                ratified[c] = True
                continue
            counts[C_FAILED] += 1
            ever_blocked[c] = True
            if shrink[c]:
                kf = P[k[c, K_SHRINK]]
                for q in range(3):
                    pledge[c, q] = math.floor(pledge[c, q] * kf + 0.5)
                pledge[c, 3] = pledge[c, 3] * kf
                ratified[c] = True
                continue
            _withdraw(c, 10, status, pledge, ratified, restricted, counts)
        # -------------------------------------------------------------- R6, R7 Israel
        s_true = _satisfaction(P, demands, 0.0, softer, mandate, mlen, lift_task)
        accepted = locked or (s_true + P[g[I_MPE]] * pressure >= 1 - EPS)
        if not accepted:
            ever_refused = True
            mandate_failed = max(mandate_failed, pressure)
        tol = P[g[I_TOL]] - P[g[I_PEN]] * (1 - s_true) + P[g[I_PE]] * pressure
        for c in range(N):
            st = status[c]
            if not ((st == 5 and ratified[c]) or st == 9):
                continue
            decision = 0  # 0 approve, 1 approve with conditions, 2 veto
            if (pledge[c, 0] > 0 or pledge[c, 2] > 0) and not lift_veto[c]:
                if P[g[I_HARD]] != 0.0 and P[k[c, K_REL]] == 0.0:
                    decision = 2
                else:
                    th = _threat(P, k, g, threat_col, c)
                    if th <= tol + EPS:
                        decision = 0
                    elif th < 1 and roles[c, 1] == 1 and th * (1 - P[g[I_DISC]]) <= tol + EPS:
                        decision = 1
                    else:
                        decision = 2
            if decision == 2:
                failed_at[c] = max(failed_at[c], pressure)
                if st != 9:
                    counts[C_VETOES] += 1
                    status[c] = 9
                    ever_vetoed[c] = True
                continue
            status[c] = 6
            stage[c] = 6
            approved_round[c] = r
            if decision == 1:
                role[c] = 1
                restricted[c] = True
                counts[C_COND] += 1
        # -------------------------------------------------------------- R10 milestones
        atroops = 0.0
        astates = 0
        for c in range(N):
            if status[c] == 6 or status[c] == 7:
                atroops += pledge[c, 0]
                if pledge[c, 0] > 0:
                    astates += 1
        if accepted and astates >= int(P[g[V_MINC]]):
            if ms[0] < 0 and atroops >= P[g[V_PHASE]] * target - EPS:
                ms[0] = r
                locked = True
            if ms[1] < 0 and atroops >= target - EPS:
                ms[1] = r
                for c in range(N):
                    if status[c] == 6 or status[c] == 7:
                        for q in range(4):
                            force_at[q] += pledge[c, q]
                        members[c] = pledge[c, 0] > 0 or pledge[c, 2] > 0
        if stop_at_formation and ms[1] >= 0:
            return ms[1]
        if ms[0] >= 0:  # R10 entry
            lag = int(P[g[V_DEPLOY]])
            for c in range(N):
                if status[c] == 6 and (pledge[c, 0] > 0 or pledge[c, 2] > 0) and \
                        r >= max(ms[0], approved_round[c]) + lag:
                    status[c] = 7
                    stage[c] = 7
                    if entry_round[c] < 0:
                        entry_round[c] = r
                    if ms[2] < 0:
                        ms[2] = r
            inside = 0.0
            for c in range(N):
                if status[c] == 7:
                    inside += pledge[c, 0]
            if ms[3] < 0 and inside >= target - EPS and ms[1] >= 0:
                ms[3] = r
        # -------------------------------------------------------------- R9 consultation
        for cc in range(K):
            if consults[cc, 0] < 0:
                continue
            mu = P[cw_col[cc]]
            if mu == 0:
                continue
            for t in range(T):
                new_stance[cc, t] = stance[cc, t]
            for t in range(T):
                npeers = 0
                s_ = 0.0
                for j in range(consults.shape[1]):
                    q = consults[cc, j]
                    if q < 0:
                        break
                    if stated[q, t]:
                        s_ += stance[q, t]
                        npeers += 1
                if npeers > 0:
                    new_stance[cc, t] = (1 - mu) * anchor[cc, t] + \
                        mu * (stance[cc, t] + s_) / (npeers + 1)
        for cc in range(K):
            if consults[cc, 0] < 0 or P[cw_col[cc]] == 0:
                continue
            for t in range(T):
                stance[cc, t] = new_stance[cc, t]
            for c in range(N):
                if ccountry[c] == cc:
                    stale[c] = True
        if rec:
            _record(r - 1, pledge, status, pressure, clarity, incentive, mandate, mlen,
                    accepted, r_f, r_status, r_mandate, ccountry)
        if ms[3] >= 0:
            break
    # ------------------------------------------------------------------ final state
    for c in range(N):
        out_status[c] = status[c]
        for q in range(4):
            out_pledge[c, q] = pledge[c, q]
        out_role[c] = -1 if not (status[c] == 6 or status[c] == 7) else (
            3 if not (pledge[c, 0] > 0 or pledge[c, 2] > 0) else (2 if restricted[c]
                                                                 else role[c]))
        out_cround[c] = committed_round[c]
        out_eround[c] = entry_round[c]
        out_members[c] = members[c]
        out_ever[0, c] = ever_vetoed[c]
        out_ever[1, c] = ever_blocked[c] or ever_winset[c]
    for t in range(T):
        out_mandate[t] = mandate[t]
        anyobj = False
        for c in range(N):
            if ever_obj[c, t]:
                anyobj = True
        out_ever[2, t] = anyobj
    out_ever[3, 0] = ever_refused
    for e in range(E):
        out_fired[e] = fired[e]
    out_i[0] = rounds_run
    for q in range(4):
        out_i[1 + q] = ms[q]
    for q in range(9):
        out_i[5 + q] = counts[q]
    out_i[14] = waves
    out_i[15] = 1 if accepted else 0
    out_i[16] = 1 if collapsed else 0
    out_i[17] = int(P[g[V_MINC]])
    out_f[0] = target
    out_f[1] = pressure
    out_f[2] = peak
    out_f[3] = spent
    out_f[4] = clarity
    out_f[5] = incentive
    for q in range(4):
        out_f[6 + q] = force_at[q]
    return ms[1]


@njit(cache=True, inline="always")
def _record(i, pledge, status, pressure, clarity, incentive, mandate, mlen, accepted, r_f,
            r_status, r_mandate, ccountry):
    committed = 0.0
    approved = 0.0
    deployed = 0.0
    for c in range(status.shape[0]):
        t = pledge[c, 0]
        s = status[c]
        if s == 5 or s == 6 or s == 7:
            committed += t
            if s == 6 or s == 7:
                approved += t
                if s == 7:
                    deployed += t
        r_status[i, c] = s
    r_f[i, 0] = committed
    r_f[i, 1] = approved
    r_f[i, 2] = deployed
    r_f[i, 3] = pressure
    r_f[i, 4] = clarity
    r_f[i, 5] = incentive
    r_f[i, 6] = 1.0 if accepted else 0.0
    for j in range(r_mandate.shape[1]):
        r_mandate[i, j] = mandate[j] if j < mlen else -1


@njit(cache=True, nogil=True)
def _block(Pm, seeds, g, k, threat_col, stance_col, stated, ccountry, cw_col, roles,
           partners, consults, has_home, share_col, shrink, rejected, risk_col, align_col,
           softer, core, mandate0, demands, noise_keys, vote_keys, est_keys, event_keys,
           ev_int, ev_ops, ev_vals, R, counterfactuals, rec, troops_col, cap_out, r_f, r_status,
           r_mandate,
           out_status, out_pledge, out_role, out_cround, out_eround, out_mandate, out_members,
           out_fired, out_ever, out_f, out_i, lifts_tried, lifts_formed, errors):
    """Every run of a block (rows of Pm), and for each failed run (not a collapse) whose flag
    in `counterfactuals` is set, a replay per blocker with that blocker lifted (R13): lift
    j < N vetoes of contributor j, N + j its domestic politics, 2N + t task t, 2N + T the
    target. `cap_out[i, c]`: contributor c's troop capacity at the end of run i (events may
    have changed it), read at `troops_col[c]` of the run's parameter vector."""
    n = Pm.shape[0]
    N = k.shape[0]
    T = stance_col.shape[1]
    no_n = np.zeros(N, np.bool_)
    no_t = np.zeros(T, np.bool_)
    # scratch outputs for replays
    s_status = np.zeros(N, np.int64)
    s_pledge = np.zeros((N, 4))
    s_role = np.zeros(N, np.int64)
    s_cround = np.zeros(N, np.int64)
    s_eround = np.zeros(N, np.int64)
    s_mandate = np.zeros(T, np.int64)
    s_members = np.zeros(N, np.bool_)
    s_fired = np.zeros(ev_int.shape[0], np.int64)
    s_ever = np.zeros((4, max(N, T, 1)), np.bool_)
    s_f = np.zeros(out_f.shape[1])
    s_i = np.zeros(out_i.shape[1], np.int64)
    s_rf = np.zeros((1, 1))
    s_rs = np.zeros((1, 1), np.int64)
    s_rm = np.zeros((1, 1), np.int64)
    for i in range(n):
        P = Pm[i].copy()
        res = _run(P, seeds[i], g, k, threat_col, stance_col, stated, ccountry, cw_col, roles,
                   partners, consults, has_home, share_col, shrink, rejected, risk_col,
                   align_col, softer, core, mandate0, demands, noise_keys, vote_keys,
                   est_keys, event_keys, ev_int, ev_ops, ev_vals, R, no_n, no_n, no_t, False,
                   False, rec, r_f[i], r_status[i], r_mandate[i], out_status[i],
                   out_pledge[i], out_role[i], out_cround[i], out_eround[i], out_mandate[i],
                   out_members[i], out_fired[i], out_ever[i], out_f[i], out_i[i])
        if res == -2:
            errors[i] = True
            continue
        for c in range(N):
            cap_out[i, c] = P[troops_col[c]]
        if not counterfactuals[i] or res >= 0 or out_i[i, 16] == 1:
            continue
        L = 2 * N + T + 1
        for j in range(L):
            if j < N:
                tried = out_ever[i, 0, j]
            elif j < 2 * N:
                tried = out_ever[i, 1, j - N]
            elif j < 2 * N + T:
                t = j - 2 * N
                tried = out_ever[i, 2, t]
                if not tried and out_ever[i, 3, 0]:
                    for d in range(demands.shape[0]):
                        if demands[d, 0] == t:
                            tried = True
            else:
                tried = True
            if not tried:
                continue
            lifts_tried[i, j] = True
            lv = no_n.copy()
            ld = no_n.copy()
            lt = no_t.copy()
            if j < N:
                lv[j] = True
            elif j < 2 * N:
                ld[j - N] = True
            elif j < 2 * N + T:
                lt[j - 2 * N] = True
            Pc = Pm[i].copy()
            res2 = _run(Pc, seeds[i], g, k, threat_col, stance_col, stated, ccountry, cw_col,
                        roles, partners, consults, has_home, share_col, shrink, rejected,
                        risk_col, align_col, softer, core, mandate0, demands, noise_keys,
                        vote_keys, est_keys, event_keys, ev_int, ev_ops, ev_vals, R, lv, ld,
                        lt, j == L - 1, True, False, s_rf, s_rs, s_rm, s_status, s_pledge,
                        s_role, s_cround, s_eround, s_mandate, s_members, s_fired, s_ever, s_f,
                        s_i)
            lifts_formed[i, j] = res2 >= 0


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


def _rows_as_labels(matrix: np.ndarray, make) -> Labels:
    """Each row of a small-integer or boolean matrix as a label `make(row)`, made once per
    distinct row."""
    if matrix.shape[0] == 0:
        return _labels(np.zeros(0, np.int32), ())
    _, first, inverse = np.unique(_packed(matrix), return_index=True, return_inverse=True)
    return _labels(inverse.ravel(), [make(matrix[i]) for i in first])


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
    N, T, E = plan.k.shape[0], plan.stance.shape[1], plan.ev_int.shape[0]
    R = plan.rounds
    names = list(s.countries)
    contributors = [names[i] for i in plan.contributor_country]
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
    _block(P, seeds, plan.g, plan.k, plan.threat, plan.stance, plan.stated,
           plan.contributor_country, plan.consult_weight, plan.roles, plan.partners,
           plan.consults, plan.has_home, plan.shares, plan.shrink, plan.rejected, plan.risk,
           plan.align, plan.softer, plan.core, plan.mandate, plan.demands, plan.noise_keys,
           plan.vote_keys, plan.est_keys, plan.event_keys, plan.ev_int, plan.ev_ops,
           plan.ev_vals, R, replay, rounds,
           np.ascontiguousarray(plan.k[:, K_TROOPS]), cap, r_f, r_status, r_mandate,
           o["status"], o["pledge"], o["role"], o["cround"], o["eround"], o["mandate"],
           o["members"], o["fired"], o["ever"], o["f"], o["i"], tried, formed_with, errors)
    if errors.any():  # the reference model names the event and the value, and stops
        from .run import simulate

        i = int(np.argmax(errors))
        simulate(loaded, int(seeds[i]), fixed={k: float(np.broadcast_to(v, (len(seeds),))[i])
                                               for k, v in (fixed or {}).items()})
        raise RuntimeError("the fast path met a non-finite value the reference did not")
    return _columns(loaded, plan, seeds, drawn, fixed, o, tried, formed_with, cap, rounds,
                    r_f, r_status, r_mandate, contributors, names)


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

    col["composition"] = _rows_as_labels(o["members"] & formed[:, None], composition)
    col["target"] = target
    col["invited_capacity"] = invited
    col["mandate"] = _rows_as_labels(o["mandate"], lambda row: "+".join(
        tasks[t] for t in row if t >= 0))
    col["mandate_accepted"] = accepted
    for q, name in enumerate(COUNT_NAMES):
        col[name] = ints[:, 5 + q]
    col["waves"] = ints[:, 14]
    col["events"] = _rows_as_labels(o["fired"], lambda row: "+".join(
        s.events[e].name for e in sorted((e for e in range(len(row)) if row[e] >= 0),
                                         key=lambda e: (row[e], e)))) if len(s.events) \
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
        lab for lab, x in zip(labels, row, strict=True) if x))
    col["lifts_formed"] = _rows_as_labels(formed_with[:, order], lambda row: "+".join(
        lab for lab, x in zip(labels, row, strict=True) if x))
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
               tasks[t] for t in row if t >= 0)),
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


def compiled_on_disk() -> bool:
    """Whether numba's disk cache holds the kernel compiled from this very source (else the
    first call compiles it, which takes about a minute). Asks numba's own cache index, which
    knows where the cache is (NUMBA_CACHE_DIR included) and whether it is stale."""
    try:
        return bool(_block._cache._cache_file._load_index())
    except AttributeError:  # another numba (pinned below 0.70): look for the index file
        import pathlib

        cache = pathlib.Path(__file__).resolve().parent / "__pycache__"
        return any(cache.glob("fast._block-*.nbi"))


def compiled() -> bool:
    """Whether the kernel is ready: compiled in this process or in numba's disk cache."""
    return bool(_block.signatures) or compiled_on_disk()


def announce_compilation(log=print) -> None:
    """Say so when the first call will compile the kernel."""
    if not compiled_on_disk() and not _block.signatures:
        log("Compiling the fast model path once (about a minute on this machine); later runs "
            "start at once.")
