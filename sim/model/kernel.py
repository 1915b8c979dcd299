"""The kernel of the fast path: the rules of the Mesa model (docs/ODD.md) written for numba,
evaluated for a block of runs at once, counterfactual replays included (`sim.model.fast` is its
Python side: the index tables, the arguments and the outcome columns).

Compiled in one of two ways, to the same machine code from the same source:
- ahead of time (`sim.model.ahead`), into an extension module that loads in a millisecond and
  needs no numba at run time; the usual way;
- by numba's just-in-time compiler, cached on disk, where no C compiler is at hand.

The helpers `_run` calls allocate nothing, and are compiled without numba's reference counting
(`_nrt=False`, an option of numba's `njit`; numba refuses to compile a function with it that
would allocate). With it, each call counted a reference up and down for every array passed,
and `inline="always"` did the same for the inlined copies of its arguments: a sixth of the
kernel's time under `perf` (15.7% of the samples, now 4%), 5.4 µs of 43.9 a run (median of 31
paired timings on one core of the 2-core reference machine; benchmarks/HISTORY.md).

The rules read the parameters they need from two small arrays gathered from the parameter
vector (`_gather`: the globals and each contributor's own), and each random stream's base is
computed once per run (`_draw`): 6-7% less time a run than reading `P[g[...]]` and `P[k[...]]`
and mixing the seed again at every draw (median ratio 0.93-0.94 of 60 paired timings of 4,000
runs; benchmarks/HISTORY.md).

Module-level functions, so that numba can cache the compiled code on disk. Status codes:
0 not invited, 1 invited, 2 unwilling, 3 conditions unmet, 4 declined over the mandate,
5 pledged, 6 approved, 7 deployed, 8 suspended, 9 vetoed, 10 blocked at home.
"""

import math

import numpy as np
from numba import njit

from .codes import (  # the slots and codes the rules read, and the random numbers' constants
    _CUT,
    _GAMMA,
    _M1,
    _M2,
    _NEG_INF,
    _SALT_EST,
    _SALT_EVENT,
    _SALT_NOISE,
    _SALT_VOTE,
    _TO_UNIT,
    _U64,
    C_CONC,
    C_COND,
    C_FAILED,
    C_PLEDGES,
    C_REVISIONS,
    C_SOFT,
    C_SUSPENSIONS,
    C_VETOES,
    C_WITHDRAWALS,
    E_ACC,
    E_ALIGN,
    E_CEASE,
    E_UN,
    E_USLED,
    I_DEFT,
    I_DISC,
    I_HARD,
    I_MPE,
    I_NOREL,
    I_PE,
    I_PEN,
    I_TOL,
    K_ACC,
    K_CA,
    K_CEASE,
    K_CLAR,
    K_DELAY,
    K_FUND,
    K_LOG,
    K_MINR,
    K_MREG,
    K_MSOL,
    K_MSTA,
    K_MUST,
    K_OPP,
    K_PART,
    K_REL,
    K_SHRINK,
    K_TCOM,
    K_TOL,
    K_TRAIN,
    K_TROOPS,
    K_UN,
    K_USLED,
    K_WILL,
    T_CLARITY,
    T_PRESSURE,
    T_STANCE,
    V_CLAR,
    V_CLOSS,
    V_CSTEP,
    V_DEFER,
    V_DEPLOY,
    V_IMAX,
    V_ISTEP,
    V_LEV,
    V_MINC,
    V_MISJ,
    V_PHASE,
    V_PMAX,
    V_PRESS,
    V_PSTEP,
    V_RESOLVE,
    V_TARGET,
    V_WAVE,
    W_AUD,
    W_FIT,
    W_FULL,
    W_LINE,
    W_MINC,
    W_NOISE,
    W_REG,
    W_REV,
    W_SOL,
    W_SPILL,
    W_STA,
    W_SUPP,
    W_UST,
)
from .tolerance import EPS


@njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> _U64(30))) * _M1
    z = (z ^ (z >> _U64(27))) * _M2
    return z ^ (z >> _U64(31))


@njit(cache=True, _nrt=False)
def _draw(base, key, rnd):
    """`_uniform(seed, salt, key, rnd)` given its base, `_mix(seed ^ salt)`, which a run
    computes once for each stream instead of at every draw."""
    counter = key + _U64(rnd) * _GAMMA
    return np.float64(_mix(base + counter * _GAMMA) >> _U64(11)) * _TO_UNIT


@njit(cache=True, _nrt=False)
def _uniform(seed, salt, key, rnd):
    """`rng.uniform(seed, stream, rng.slot(key, rnd))` with uint64 arithmetic."""
    return _draw(_mix(_U64(seed) ^ salt), key, rnd)


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


@njit(cache=True, _nrt=False)
def _triangular(u):
    """`rng.symmetric_triangular(u, 1.0)`."""
    if u < 0.5:
        return math.sqrt(2.0 * u) - 1.0
    return 1.0 - math.sqrt(2.0 - 2.0 * u)


@njit(cache=True, _nrt=False)
def _in(mandate, mlen, t):
    for j in range(mlen):
        if mandate[j] == t:
            return True
    return False


@njit(cache=True, _nrt=False)
def _softened(mandate, mlen, pos, softer, out):
    """R8b: the mandate with its task at `pos` replaced by that task's softer form (dropped if
    it has none), into `out`; returns its length."""
    n = 0
    for j in range(mlen):
        if j == pos:
            if softer[mandate[pos]] >= 0:
                out[n] = softer[mandate[pos]]
                n += 1
        else:
            out[n] = mandate[j]
            n += 1
    return n


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _threat(P, KV, G, threat_col, c):
    """R6 threat score of contributor c."""
    th = P[threat_col[c]] if threat_col[c] >= 0 else G[I_DEFT]
    if KV[c, K_REL] == 0.0:
        th += G[I_NOREL]
    return min(1.0, th)


@njit(cache=True, _nrt=False)
def _pressure_needed(P, G, KV, threat_col, roles, c, sat, failed_at, est, lift_veto):
    """R8: the least pressure at which the convener expects Israel to approve c."""
    if not (KV[c, K_TROOPS] > 0 or KV[c, K_LOG] > 0):
        return 0.0
    if lift_veto[c]:
        return 0.0
    if G[I_HARD] != 0.0 and KV[c, K_REL] == 0.0:
        return math.inf
    th = _threat(P, KV, G, threat_col, c)
    if th >= 1:
        th = 1.0
    else:
        th = min(1.0, max(0.0, th + G[V_MISJ] * est[c]))
    if th < 1 and roles[c, 1] == 1:
        th = th * (1 - G[I_DISC])
    base = G[I_TOL] - G[I_PEN] * (1 - sat)
    pe = G[I_PE]
    if th <= base + EPS:
        need = 0.0
    elif pe > 0 and th < 1:
        need = (th - base) / pe
    else:
        need = math.inf
    if failed_at[c] != _NEG_INF:
        need = max(need, failed_at[c] + G[V_PSTEP])
    return need


@njit(cache=True, _nrt=False)
def _mandate_needed(G, sat, failed, current):
    if sat >= 1 - EPS:
        return 0.0
    mpe = G[I_MPE]
    need = (1 - sat) / mpe if mpe > 0 else math.inf
    if current and failed != _NEG_INF:
        need = max(need, failed + G[V_PSTEP])
    return need


@njit(cache=True, _nrt=False)
def _invite(P, G, KV, threat_col, roles, status, failed_at, est, lift_veto, demands, softer,
            mandate, mlen, lift_task, pressure):
    """R8a: invite every contributor expected to be approved at `pressure`."""
    sat = _satisfaction(P, demands, G[V_MISJ] * est[est.shape[0] - 1], softer, mandate,
                        mlen, lift_task)
    for c in range(status.shape[0]):
        if status[c] != 0:
            continue
        if _pressure_needed(P, G, KV, threat_col, roles, c, sat, failed_at, est,
                            lift_veto) <= pressure + EPS:
            status[c] = 1


@njit(cache=True, _nrt=False)
def _decisive(P, G, KV, threat_col, roles, status, pledge, failed_at, est, lift_veto,
              demands, softer, mandate, mlen, lift_task, mandate_failed, locked, target,
              needs, troops):
    """R8c: the least pressure at which the convener expects the force to reach `target`."""
    sat = _satisfaction(P, demands, G[V_MISJ] * est[est.shape[0] - 1], softer, mandate,
                        mlen, lift_task)
    need = _mandate_needed(G, sat, mandate_failed, not locked)
    total = 0.0
    n = status.shape[0]
    m = 0
    for c in range(n):
        st = status[c]
        if st == 6 or st == 7:
            total += pledge[c, 0]
        elif (st == 5 or st == 9) and pledge[c, 0] > 0:
            needs[m] = _pressure_needed(P, G, KV, threat_col, roles, c, sat, failed_at, est,
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


@njit(cache=True, _nrt=False)
def _utility(G, KV, c, fit, motive, rl, total, committed, pledge, target, incentive, risk):
    """R3 (`fit`: mean stance over the mandate; `motive`: the motives' weighted sum)."""
    others = total - (pledge[c, 0] if committed[c] else 0.0)
    share = min(1.0, others / target) if target > 0 else 1.0
    if not (KV[c, K_TROOPS] > 0 or KV[c, K_LOG] > 0):
        r_ = 0.0
    elif rl == 0:
        r_ = risk
    else:
        r_ = risk * G[W_SUPP]
    t0 = KV[c, K_WILL]
    t1 = motive
    t2 = G[W_FIT] * fit
    t3 = G[W_SPILL] * share
    t4 = incentive * KV[c, K_MUST]
    t5 = -KV[c, K_CA] * r_
    return t0 + t1 + t2 + t3 + t4 + t5


@njit(cache=True, _nrt=False)
def _refresh(G, KV, partners, has_cond, motive):
    """The values of each state that change only when an event changes a parameter."""
    for c in range(KV.shape[0]):
        h = partners[c, 0] != -1
        for j in range(K_UN, K_ACC + 1):
            if KV[c, j] != 0.0:
                h = True
        has_cond[c] = h
        m = 0.0
        m += G[W_SOL] * KV[c, K_MSOL]
        m += G[W_STA] * KV[c, K_MSTA]
        m += G[W_UST] * KV[c, K_MUST]
        m += G[W_REG] * KV[c, K_MREG]
        motive[c] = m


@njit(cache=True, _nrt=False)
def _wish(u, G, KV, c, out):
    """R4 pledge size, into out[0:4]."""
    full = G[W_FULL]
    s = min(1.0, u / full) if u > 0 else 0.0
    out[0] = math.floor(s * KV[c, K_TROOPS] + 0.5)
    out[2] = math.floor(s * KV[c, K_LOG] + 0.5)
    out[1] = math.floor(s * KV[c, K_TRAIN] + 0.5)
    out[3] = s * KV[c, K_FUND]
    if out[0] < G[W_MINC]:
        out[0] = 0.0


@njit(cache=True, _nrt=False)
def _withdraw(c, new_status, status, pledge, ratified, restricted, counts):
    status[c] = new_status
    for q in range(4):
        pledge[c, q] = 0.0
    ratified[c] = False
    restricted[c] = False
    counts[C_WITHDRAWALS] += 1


@njit(cache=True, _nrt=False)
def _backlash(alignment, tolr):
    if tolr >= 1:
        return 0.0
    return min(1.0, max(0.0, alignment - tolr) / (1 - tolr))


@njit(cache=True, _nrt=False)
def _gather(P, g, k, G, KV):
    """The values the rules read, gathered from the parameter vector: G[j] = P[g[j]] (the
    globals), KV[c, j] = P[k[c, j]] (each contributor's own). Done at the start of a run and
    after each event (the only rule that changes `P`), so the rules read one array instead of
    an index and then the vector."""
    for j in range(g.shape[0]):
        G[j] = P[g[j]]
    for c in range(k.shape[0]):
        for j in range(k.shape[1]):
            KV[c, j] = P[k[c, j]]


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
    # each stream's base (`_draw`), and the parameters as the rules read them (`_gather`)
    b_noise = _mix(_U64(seed) ^ _SALT_NOISE)
    b_vote = _mix(_U64(seed) ^ _SALT_VOTE)
    b_event = _mix(_U64(seed) ^ _SALT_EVENT)
    G = np.empty(g.shape[0])
    KV = np.empty((k.shape[0], k.shape[1]))
    _gather(P, g, k, G, KV)
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
    clarity = G[V_CLAR]
    pressure = G[V_PRESS]
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
    _refresh(G, KV, partners, has_cond, motive)
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
                fire = _draw(b_event, event_keys[e], r) < P[ev_int[e, 3]]
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
            _gather(P, g, k, G, KV)
            _refresh(G, KV, partners, has_cond, motive)
            for c in range(N):
                stale[c] = True
        target = G[V_TARGET] * ((1 - _CUT) if lift_target else 1.0)
        if collapsed:
            if rec:
                _record(r - 1, pledge, status, pressure, clarity, incentive, mandate, mlen,
                        accepted, r_f, r_status, r_mandate, ccountry)
            break
        cur_target = G[V_PHASE] * target if ms[0] < 0 else target
        # -------------------------------------------------------------- R8 the convener
        if r == 1:
            _invite(P, G, KV, threat_col, roles, status, failed_at, est, lift_veto, demands,
                    softer, mandate, mlen, lift_task, pressure)
            waves += 1
        else:
            for c in range(N):  # R8b memory
                if status[c] == 4 and KV[c, K_TROOPS] > 0:
                    for t in range(T):
                        if objections[c, t] and _in(mandate, mlen, t):
                            frust[t] = frust[t] + (KV[c, K_TROOPS] / cur_target
                                                   if cur_target > 0 else 0.0)
            err = G[V_MISJ] * est[N]
            sat = _satisfaction(P, demands, err, softer, mandate, mlen, lift_task)
            best_w = 0.0
            best_pos = -1
            for pos in range(mlen):  # R8b concession
                t = mandate[pos]
                weight = frust[t]
                if core[t] or weight <= 0:
                    continue
                n2 = _softened(mandate, mlen, pos, softer, tmp)
                new_sat = _satisfaction(P, demands, err, softer, tmp, n2, lift_task)
                bar = G[V_RESOLVE] * (1 + G[V_DEFER] * (sat - new_sat))
                if weight < bar - EPS:
                    continue
                if _mandate_needed(G, new_sat, _NEG_INF, False) > G[V_PMAX] + EPS:
                    continue
                if best_pos < 0 or weight > best_w + EPS:
                    best_w = weight
                    best_pos = pos
            changed = best_pos >= 0
            if changed:
                t = mandate[best_pos]
                n2 = _softened(mandate, mlen, best_pos, softer, tmp)
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
                clarity = max(0.0, clarity - G[V_CLOSS])
            else:
                clarity = min(1.0, clarity + G[V_CSTEP])
            if exhausted:  # R8c pressure
                aim = 0.0
            else:
                need = _decisive(P, G, KV, threat_col, roles, status, pledge, failed_at, est,
                                 lift_veto, demands, softer, mandate, mlen, lift_task,
                                 mandate_failed, locked, cur_target, s_needs, s_troops)
                aim = need if need <= G[V_PMAX] + EPS else 0.0
            if aim > pressure:
                pressure = min(aim, pressure + G[V_PSTEP])
            else:
                pressure = max(aim, pressure - G[V_PSTEP])
            spent += pressure
            peak = max(peak, pressure)
            if (not exhausted) and spent >= G[V_LEV] - EPS and pressure > 0:
                exhausted = True
            ctroops = 0.0
            for c in range(N):
                if status[c] == 5 or status[c] == 6 or status[c] == 7:
                    ctroops += pledge[c, 0]
            if ctroops < cur_target:
                incentive = min(G[V_IMAX], incentive + G[V_ISTEP])
                short_rounds += 1
            else:
                short_rounds = 0
            if short_rounds >= int(G[V_WAVE]) and waves < 2:
                _invite(P, G, KV, threat_col, roles, status, failed_at, est, lift_veto,
                        demands, softer, mandate, mlen, lift_task, G[V_PMAX])
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
        ceasefire = G[E_CEASE]
        acceptance = G[E_ACC]
        un_auth = G[E_UN] != 0.0
        us_led = G[E_USLED] >= 0.5
        load = 0.0
        asum = 0.0
        for j in range(mlen):
            load += P[risk_col[mandate[j]]]
        for j in range(mlen):
            asum += P[align_col[mandate[j]]]
        risk = min(1.0, (1 - ceasefire) + (1 - acceptance) * load)
        alignment = min(1.0, G[E_ALIGN] + asum)
        # -------------------------------------------------------------- R1-R5a decisions
        for c in range(N):
            st = status[c]
            is_open = st == 1 or st == 2 or st == 3 or st == 4
            if not (is_open or st == 5 or st == 6 or st == 7 or st == 8 or st == 9):
                continue
            cc = ccountry[c]
            unmet = False
            if has_cond[c]:
                if KV[c, K_UN] != 0.0 and not un_auth:
                    unmet = True
                if KV[c, K_USLED] != 0.0 and not us_led:
                    unmet = True
                if clarity < KV[c, K_CLAR]:
                    unmet = True
                own = committed[c]
                if KV[c, K_PART] > 0 and (ncommitted - (1 if own else 0)) < KV[c, K_PART]:
                    unmet = True
                if KV[c, K_TCOM] > 0 and \
                        total - (pledge[c, 0] if own else 0.0) < KV[c, K_TCOM]:
                    unmet = True
                for j in range(partners.shape[1]):
                    q = partners[c, j]
                    if q == -1:
                        break
                    if q < 0 or not committed[q]:
                        unmet = True
                if ceasefire < KV[c, K_CEASE]:
                    unmet = True
                if acceptance < KV[c, K_ACC]:
                    unmet = True
            if stale[c]:
                red = G[W_LINE]
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
                    b = _backlash(alignment, KV[c, K_TOL])
                    chance = 1.0
                    opp = KV[c, K_OPP]
                    for j in range(NB):
                        if share_col[c, j] < 0:
                            break
                        chance *= 1 - opp * P[share_col[c, j]] * b
                    if not (lift_dom[c] or chance >= KV[c, K_MINR]):
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
                u = _utility(G, KV, c, fit[c], motive[c], rl, total, committed, pledge,
                             target, incentive, risk)
                noise = G[W_NOISE] * _triangular(_draw(b_noise, noise_keys[c], r))
                if u + noise <= 0:
                    status[c] = 2
                    continue
                _wish(u + noise, G, KV, c, wish)
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
            u = _utility(G, KV, c, fit[c], motive[c], role[c], total, committed, pledge,
                         target, incentive, risk)
            noise = G[W_NOISE] * _triangular(_draw(b_noise, noise_keys[c], r))
            if u + noise + G[W_AUD] <= 0:
                _withdraw(c, 2, status, pledge, ratified, restricted, counts)
                continue
            if st == 8:
                status[c] = stage[c]
                if stage[c] == 6:
                    approved_round[c] = r
            _wish(u + noise, G, KV, c, wish)
            step = G[W_REV]
            if pledge[c, 0] > 0:
                wish[0] = max(wish[0], min(KV[c, K_TROOPS], G[W_MINC]))
            for q in range(4):
                if wish[q] <= 0 < pledge[c, q]:
                    wish[q] = pledge[c, q]
            for q in range(4):
                changed_q[q] = False
            anyq = False
            for q in range(4):
                capq = KV[c, q]
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
            if status[c] != 5 or ratified[c] or r < pledged_round[c] + int(KV[c, K_DELAY]):
                continue
            b = _backlash(alignment, KV[c, K_TOL])
            opp = KV[c, K_OPP]
            passed = True
            for j in range(NB):
                if share_col[c, j] < 0:
                    break
                p_ = 1 - opp * P[share_col[c, j]] * b
                draw = _draw(b_vote, vote_keys[c, j], r)
                if not (lift_dom[c] or draw < p_):
                    passed = False
                    break
            if passed:
                ratified[c] = True
                continue
            counts[C_FAILED] += 1
            ever_blocked[c] = True
            if shrink[c]:
                kf = KV[c, K_SHRINK]
                for q in range(3):
                    pledge[c, q] = math.floor(pledge[c, q] * kf + 0.5)
                pledge[c, 3] = pledge[c, 3] * kf
                ratified[c] = True
                continue
            _withdraw(c, 10, status, pledge, ratified, restricted, counts)
        # -------------------------------------------------------------- R6, R7 Israel
        s_true = _satisfaction(P, demands, 0.0, softer, mandate, mlen, lift_task)
        accepted = locked or (s_true + G[I_MPE] * pressure >= 1 - EPS)
        if not accepted:
            ever_refused = True
            mandate_failed = max(mandate_failed, pressure)
        tol = G[I_TOL] - G[I_PEN] * (1 - s_true) + G[I_PE] * pressure
        for c in range(N):
            st = status[c]
            if not ((st == 5 and ratified[c]) or st == 9):
                continue
            decision = 0  # 0 approve, 1 approve with conditions, 2 veto
            if (pledge[c, 0] > 0 or pledge[c, 2] > 0) and not lift_veto[c]:
                if G[I_HARD] != 0.0 and KV[c, K_REL] == 0.0:
                    decision = 2
                else:
                    th = _threat(P, KV, G, threat_col, c)
                    if th <= tol + EPS:
                        decision = 0
                    elif th < 1 and roles[c, 1] == 1 and th * (1 - G[I_DISC]) <= tol + EPS:
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
        if accepted and astates >= int(G[V_MINC]):
            if ms[0] < 0 and atroops >= G[V_PHASE] * target - EPS:
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
            lag = int(G[V_DEPLOY])
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
    out_i[17] = int(G[V_MINC])
    out_f[0] = target
    out_f[1] = pressure
    out_f[2] = peak
    out_f[3] = spent
    out_f[4] = clarity
    out_f[5] = incentive
    for q in range(4):
        out_f[6 + q] = force_at[q]
    return ms[1]


@njit(cache=True, _nrt=False)
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


#: the kernel's entry points, by the names the compiled-ahead module gives them
block, param_block = _block, _param_block
