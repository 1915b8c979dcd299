"""The fast path's codes and slots, shared by its kernel (`sim.model.kernel`) and its Python
side (`sim.model.fast`): status and count codes, the columns of the parameter vector each rule
reads, and the constants of `sim.rng` as the kernel's 64-bit integer arithmetic uses them."""

from __future__ import annotations

import math

import numpy as np

from .. import rng
from ..vocabulary import (
    APPROVED,
    BLOCKED_AT_HOME,
    CONDITIONS_UNMET,
    COUNTS,
    DECLINED_MANDATE,
    DEPLOYED,
    INFLUENCER,
    INVITED,
    NOT_INVITED,
    PLEDGED,
    REASONS,
    SUSPENDED,
    TARGET_CUT,
    UNWILLING,
    VETOED,
)

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


# ---------------------------------------------------------------------- random numbers
# the constants of `sim.rng`, as the kernel's 64-bit integer arithmetic uses them

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
