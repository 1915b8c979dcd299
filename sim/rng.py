"""Counter-based random numbers: every random number of a run is a pure function of the run's
seed and a named slot, so the same draw comes out whether one run or a block of a million runs
is computed, in any order, in one process or many.

A slot is (stream, key, round): the stream says what the number is for (a parameter, decision
noise, a vote, an event), the key names whose it is (a parameter path, a country, an event) and
is hashed from the name, so adding a country or a parameter never shifts anybody else's draws
(common random numbers across scenarios). The generator is SplitMix64 (Steele, Lea & Flood
2014, the generator behind Java's SplittableRandom): a Weyl sequence through a strong 64-bit
finaliser. Scalars use Python integers; arrays use numpy uint64 arithmetic, which wraps the same
way, so both give identical bits.
"""

from __future__ import annotations

import hashlib

import numpy as np

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15  # the golden-ratio increment of SplitMix64
M1, M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
TO_UNIT = 2.0 ** -53

#: streams: what a number is for (ESTIMATE: the convener's misjudgement of Israel)
PARAM, NOISE, VOTE, EVENT, ESTIMATE = 1, 2, 3, 4, 5
_STREAM_SALT = {s: (s * 0xD1B54A32D192ED03) & MASK for s in (PARAM, NOISE, VOTE, EVENT, ESTIMATE)}


def mix(z: int) -> int:
    """SplitMix64's finaliser on a Python int (0 <= z < 2**64)."""
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def mix_array(z: np.ndarray) -> np.ndarray:
    """The same finaliser on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(M2)
    return z ^ (z >> np.uint64(31))


def name_key(name: str) -> int:
    """A stable 64-bit key for a name (a parameter path, a country, an event)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def run_seed(master: int, index: int) -> int:
    """The seed of run `index` of an experiment with master seed `master` (63 bits, so that it
    fits a signed 64-bit column): a function of the two numbers alone."""
    return mix((mix((master * GAMMA) & MASK) + (index + 1) * GAMMA) & MASK) >> 1


def run_seeds(master: int, start: int, stop: int) -> np.ndarray:
    """`run_seed(master, i)` for i in [start, stop), as int64 (vectorised)."""
    base = np.uint64(mix((master * GAMMA) & MASK))
    idx = np.arange(start + 1, stop + 1, dtype=np.uint64)
    return (mix_array(base + idx * np.uint64(GAMMA)) >> np.uint64(1)).astype(np.int64)


def slot(key: int, round_: int = 0) -> int:
    """The counter of a (key, round) slot."""
    return (key + round_ * GAMMA) & MASK


def uniform(seed: int, stream: int, counter: int) -> float:
    """One uniform number in [0, 1) for a run seed, a stream and a slot counter."""
    base = mix((seed ^ _STREAM_SALT[stream]) & MASK)
    return (mix((base + counter * GAMMA) & MASK) >> 11) * TO_UNIT


def uniforms(seeds: np.ndarray, stream: int, counters: np.ndarray) -> np.ndarray:
    """Uniform numbers for every run seed (rows) and slot counter (columns): shape
    (len(seeds), len(counters)); identical to `uniform` element by element."""
    s = np.asarray(seeds, dtype=np.int64).astype(np.uint64)[:, None]
    c = np.asarray(counters, dtype=np.uint64)[None, :]
    base = mix_array(s ^ np.uint64(_STREAM_SALT[stream]))
    z = mix_array(base + c * np.uint64(GAMMA))
    return (z >> np.uint64(11)).astype(np.float64) * TO_UNIT


def symmetric_triangular(u: np.ndarray | float, half_width: float):
    """A symmetric triangular number on [-half_width, half_width] (sd = half_width / sqrt(6))
    from one uniform number, by its inverse CDF; only +, -, * and sqrt, all correctly rounded,
    so scalar and vectorised results agree bit for bit."""
    u = np.asarray(u, dtype=np.float64)
    low = np.sqrt(2.0 * u) - 1.0
    high = 1.0 - np.sqrt(2.0 - 2.0 * u)
    return half_width * np.where(u < 0.5, low, high)
