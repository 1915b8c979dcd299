"""Numeric parameters of a scenario: a fixed value or an uncertainty distribution.

Any numeric parameter in a scenario file may be written as a bare number, as
``{value: N, source: "..."}``, or as one of five distributions sampled once per run:

    {uniform: [low, high]}
    {triangular: [low, mode, high]}
    {truncnormal: [mean, sd, low, high]}
    {beta: [a, b]}  or  {beta: [a, b, low, high]}
    {choice: [v1, v2, ...], weights: [w1, w2, ...]}

Each form may carry a ``source:`` note. Ranges (a probability in [0, 1], troops >= 0) are
checked on the whole support of a distribution, so an impossible value can never be sampled.

Every number is a finite number within +-1e9 (`MAX_MAGNITUDE`): persons, USD million, weights and
distribution parameters alike. The cap is far above any real figure (the baseline's largest is
in the tens of thousands) and keeps every sum and product the model forms finite, so no run can
turn a huge input into infinity or NaN. Numbers given as text ("0.5", "nan") are refused.
"""

from __future__ import annotations

import math
import re
from statistics import NormalDist
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    StrictBool,
    Tag,
    WithJsonSchema,
    model_validator,
)

from .errors import NonFiniteError

_STD_NORMAL = NormalDist()

#: the cap on the size of every number in a scenario (see the module docstring)
MAX_MAGNITUDE = 1e9
#: the smallest shape parameter of a beta distribution: below it numpy's sampler returns only
#: the bounds, which is no longer the distribution written
MIN_BETA_SHAPE = 1e-3


def fmt_number(x) -> str:
    """A number as the shortest text that reads back to the same value (never rounded away:
    1.0000001 stays 1.0000001); whole floats lose their '.0'."""
    if isinstance(x, (np.integer, np.floating)):
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return repr(x)
    if isinstance(x, int):
        # str() of a huge int is slow, and refused beyond 4,300 digits
        return str(x) if abs(x) < 10**30 else \
            f"a whole number of about {int(x.bit_length() * 0.30103) + 1} digits"
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def describe_value(v) -> str:
    """A value as a message shows it: text quoted, numbers unrounded, others by kind."""
    if isinstance(v, str):
        return f"the text {v[:40]!r}" + ("..." if len(v) > 40 else "")
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"{str(v).lower()} (true/false)"
    if isinstance(v, (int, float)):
        return fmt_number(v)
    return f"a {type(v).__name__}"


_CAP_TEXT = f"{MAX_MAGNITUDE:.0e}".replace("e+0", "e").replace("e+", "e")  # '1e9'
_CAP = f"every number in a scenario lies between -{_CAP_TEXT} and {_CAP_TEXT}"


def check_number(v) -> float:
    """A finite number within +-MAX_MAGNITUDE as a float; ValueError (plain words) otherwise."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {describe_value(v)}")
    try:
        x = float(v)
    except OverflowError:
        raise ValueError(f"too large: {_CAP} (got {fmt_number(v)})") from None
    if not math.isfinite(x):
        raise ValueError(f"must be a finite number, got {fmt_number(x)}")
    if abs(x) > MAX_MAGNITUDE:
        raise ValueError(f"too large: {_CAP} (got {fmt_number(x)})")
    return x


_NUMBER_TEXT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def parse_number(text: str) -> float:
    """A number written on the command line (`--vary`, `--param`): decimal notation only, so
    'nan', 'inf' and '1_0' are refused; finite and within +-MAX_MAGNITUDE."""
    if not _NUMBER_TEXT.fullmatch(text.strip()):
        raise ValueError(f"expected a number, got {text.strip()[:40]!r}")
    return check_number(float(text))


def require_finite(path: str, value, context: str = "") -> float:
    """The value as a float if it is a finite number; else stop with a `NonFiniteError` naming
    `path` (and `context`, e.g. the round and the event). For run-time changes of parameters:
    sums formed during a run may exceed the input cap, so only finiteness is required here."""
    problem = None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        problem = f"expected a number, got {describe_value(value)}"
    else:
        try:
            x = float(value)
        except OverflowError:
            x = math.inf
        if math.isfinite(x):
            return x
        problem = f"became {fmt_number(x) if isinstance(value, float) else 'too large'}, " \
            "not a finite number"
    where = f" ({context})" if context else ""
    raise NonFiniteError([("<run>", path, f"{problem}{where}; the run stops rather than "
                                       "compute with it")])


#: a number in a scenario: finite, within +-MAX_MAGNITUDE, never text or true/false
Number = Annotated[
    float,
    PlainValidator(check_number),
    WithJsonSchema({"type": "number", "minimum": -MAX_MAGNITUDE, "maximum": MAX_MAGNITUDE}),
]


def _list(*xs) -> str:
    return f"[{_args(*xs)}]"


def _args(*xs) -> str:
    return ", ".join(map(fmt_number, xs))


def check_number_or_switch(v) -> float | bool:
    """true/false as they are (for a switch); anything else must be a `Number`."""
    return v if isinstance(v, bool) else check_number(v)


#: the value an event sets: a number for a parameter, true/false for a switch
NumberOrSwitch = Annotated[
    float | bool,
    PlainValidator(check_number_or_switch),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": -MAX_MAGNITUDE,
                               "maximum": MAX_MAGNITUDE}, {"type": "boolean"}]}),
]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str | None = Field(None, description="Where the number comes from, or 'assumption'.")

    uncertain: ClassVar[bool] = True

    def support(self) -> tuple[float, float]:  # pragma: no cover - overridden
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def quantile(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        """The distribution's inverse CDF at the uniform numbers `u` (vectorised). Runs draw
        their parameters this way, from counter-based uniforms (`sim.rng`), so one run and a
        block of runs give identical values."""
        raise NotImplementedError

    def nominal(self) -> float:
        """A central value, used where one number must stand for the distribution."""
        lo, hi = self.support()
        return (lo + hi) / 2


class Fixed(_Form):
    """A fixed value with its source note."""

    value: Number
    uncertain: ClassVar[bool] = False

    def support(self):
        return (self.value, self.value)

    def sample(self, rng):
        return self.value

    def quantile(self, u):
        return np.full(np.shape(u), float(self.value))

    def nominal(self):
        return self.value

    def describe(self):
        return fmt_number(self.value)


class Uniform(_Form):
    uniform: tuple[Number, Number] = Field(description="[low, high]")

    @model_validator(mode="after")
    def _check(self):
        lo, hi = self.uniform
        if not lo < hi:
            raise ValueError(f"uniform needs low < high, got {_list(lo, hi)}")
        return self

    def support(self):
        return self.uniform

    def sample(self, rng):
        return float(rng.uniform(*self.uniform))

    def quantile(self, u):
        lo, hi = self.uniform
        return lo + np.asarray(u, dtype=float) * (hi - lo)

    def describe(self):
        return f"uniform({_args(*self.uniform)})"


class Triangular(_Form):
    triangular: tuple[Number, Number, Number] = Field(description="[low, mode, high]")

    @model_validator(mode="after")
    def _check(self):
        lo, mode, hi = self.triangular
        if not (lo <= mode <= hi and lo < hi):
            raise ValueError(
                "triangular needs low <= mode <= high and low < high, "
                f"got {_list(lo, mode, hi)}"
            )
        return self

    def support(self):
        return (self.triangular[0], self.triangular[2])

    def nominal(self):
        return self.triangular[1]

    def sample(self, rng):
        return float(rng.triangular(*self.triangular))

    def quantile(self, u):
        a, m, b = self.triangular
        u = np.asarray(u, dtype=float)
        cut = (m - a) / (b - a)
        low = a + np.sqrt(u * (b - a) * (m - a))
        high = b - np.sqrt((1.0 - u) * (b - a) * (b - m))
        return np.where(u < cut, low, high)

    def describe(self):
        return f"triangular({_args(*self.triangular)})"


class TruncNormal(_Form):
    truncnormal: tuple[Number, Number, Number, Number] = Field(
        description="[mean, sd, low, high]")

    @model_validator(mode="after")
    def _check(self):
        mean, sd, lo, hi = self.truncnormal
        if not sd > 0:
            raise ValueError(f"truncnormal needs sd > 0, got {fmt_number(sd)}")
        if not lo < hi:
            raise ValueError(f"truncnormal needs low < high, got {_list(lo, hi)}")
        a, b = _STD_NORMAL.cdf((lo - mean) / sd), _STD_NORMAL.cdf((hi - mean) / sd)
        if b - a < 1e-9:
            raise ValueError("truncnormal: [low, high] holds almost no probability mass")
        return self

    def support(self):
        return (self.truncnormal[2], self.truncnormal[3])

    def nominal(self):
        mean, _, lo, hi = self.truncnormal
        return min(max(mean, lo), hi)

    def sample(self, rng):
        # Inverse-CDF sampling: one uniform draw per sample, whatever the truncation.
        mean, sd, lo, hi = self.truncnormal
        a, b = _STD_NORMAL.cdf((lo - mean) / sd), _STD_NORMAL.cdf((hi - mean) / sd)
        u = float(rng.uniform(a, b))
        u = min(max(u, 1e-12), 1 - 1e-12)
        return min(max(mean + sd * _STD_NORMAL.inv_cdf(u), lo), hi)

    def quantile(self, u):
        from scipy.special import ndtr, ndtri  # element by element in C: no SIMD variation

        mean, sd, lo, hi = self.truncnormal
        a, b = ndtr((lo - mean) / sd), ndtr((hi - mean) / sd)
        p = np.clip(a + np.asarray(u, dtype=float) * (b - a), 1e-12, 1 - 1e-12)
        return np.clip(mean + sd * ndtri(p), lo, hi)

    def describe(self):
        mean, sd, lo, hi = map(fmt_number, self.truncnormal)
        return f"truncnormal(mean {mean}, sd {sd}, in [{lo}, {hi}])"


class Beta(_Form):
    beta: tuple[Number, ...] = Field(description="[a, b] on [0, 1], or [a, b, low, high]")

    @model_validator(mode="after")
    def _check(self):
        if len(self.beta) not in (2, 4):
            raise ValueError(f"beta takes [a, b] or [a, b, low, high], got {len(self.beta)} "
                             "numbers")
        a, b = self.beta[:2]
        if not (a >= MIN_BETA_SHAPE and b >= MIN_BETA_SHAPE):
            raise ValueError(f"beta needs a and b of at least {MIN_BETA_SHAPE:g}, got "
                             f"a={fmt_number(a)}, b={fmt_number(b)}")
        lo, hi = self.support()
        if not lo < hi:
            raise ValueError(f"beta needs low < high, got {_list(lo, hi)}")
        return self

    def support(self):
        return (self.beta[2], self.beta[3]) if len(self.beta) == 4 else (0.0, 1.0)

    def nominal(self):
        a, b = self.beta[:2]
        lo, hi = self.support()
        return lo + (hi - lo) * a / (a + b)

    def sample(self, rng):
        lo, hi = self.support()
        return lo + (hi - lo) * float(rng.beta(self.beta[0], self.beta[1]))

    def quantile(self, u):
        from scipy.special import betaincinv

        lo, hi = self.support()
        return lo + (hi - lo) * betaincinv(self.beta[0], self.beta[1], np.asarray(u, float))

    def describe(self):
        lo, hi = self.support()
        return f"beta({_args(*self.beta[:2])}) on {_list(lo, hi)}"


class Choice(_Form):
    choice: list[Number] = Field(min_length=1, description="the values to choose among")
    weights: list[Number] | None = Field(None, description="relative weights, one per value")

    @model_validator(mode="after")
    def _check(self):
        if self.weights is not None:
            if len(self.weights) != len(self.choice):
                raise ValueError(
                    f"choice has {len(self.choice)} values but {len(self.weights)} weights"
                )
            if any(w < 0 for w in self.weights) or not sum(self.weights) > 0:
                raise ValueError("choice weights must be >= 0 with a positive sum")
        return self

    def support(self):
        return (min(self.choice), max(self.choice))

    def nominal(self):
        if self.weights is None:
            return sum(self.choice) / len(self.choice)
        total = sum(v * w for v, w in zip(self.choice, self.weights, strict=True))
        return total / sum(self.weights)

    def sample(self, rng):
        if self.weights is None:
            return float(self.choice[int(rng.integers(len(self.choice)))])
        p = np.asarray(self.weights, dtype=float)
        return float(self.choice[int(rng.choice(len(self.choice), p=p / p.sum()))])

    def cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        """The cumulative normalised weights and the values, as arrays."""
        w = np.ones(len(self.choice)) if self.weights is None else np.asarray(self.weights,
                                                                               dtype=float)
        return np.cumsum(w / w.sum()), np.asarray(self.choice, dtype=float)

    def quantile(self, u):
        cum, values = self.cumulative()
        idx = np.minimum(np.searchsorted(cum, np.asarray(u, dtype=float), side="right"),
                         len(self.choice) - 1)
        return values[idx]

    def describe(self):
        return f"choice({_args(*self.choice)})"


DISTRIBUTIONS = {
    "uniform": Uniform,
    "triangular": Triangular,
    "truncnormal": TruncNormal,
    "beta": Beta,
    "choice": Choice,
}
FORM_KEYS = ("value", *DISTRIBUTIONS)


def _tag(v: Any) -> str | None:
    if isinstance(v, bool):
        return None  # YAML's yes/no/true/false are not numbers
    if isinstance(v, (int, float)):
        return "number"  # a non-finite or huge one is refused by `Number`, with its own words
    if isinstance(v, _Form):
        return next(k for k in FORM_KEYS if k in type(v).model_fields)
    if isinstance(v, dict):
        keys = [k for k in FORM_KEYS if k in v]
        return keys[0] if len(keys) == 1 else None
    return None


_QUANTITY_HELP = (
    "expected a number, {value: N, source: ...}, or one distribution: "
    "{uniform: [low, high]}, {triangular: [low, mode, high]}, "
    "{truncnormal: [mean, sd, low, high]}, {beta: [a, b]}, {choice: [v1, v2, ...]}"
)

Quantity = Annotated[
    Annotated[Number, Tag("number")]
    | Annotated[Fixed, Tag("value")]
    | Annotated[Uniform, Tag("uniform")]
    | Annotated[Triangular, Tag("triangular")]
    | Annotated[TruncNormal, Tag("truncnormal")]
    | Annotated[Beta, Tag("beta")]
    | Annotated[Choice, Tag("choice")],
    Discriminator(_tag, custom_error_type="quantity", custom_error_message=_QUANTITY_HELP),
]


class InRange:
    """Validator: the value, or the whole support of a distribution, lies in [lo, hi].

    Also the check of `--vary`, `--param` and event values, so it refuses what is not a finite
    number itself (NaN compares false with everything and would slip through).
    """

    def __init__(self, lo: float | None, hi: float | None, what: str):
        self.lo, self.hi, self.what = lo, hi, what

    def __call__(self, q):
        if isinstance(q, _Form):
            lo, hi = q.support()  # finite: every parameter of a form is a `Number`
        else:
            lo = hi = check_number(q)
        if (self.lo is not None and lo < self.lo) or (self.hi is not None and hi > self.hi):
            shown = fmt_number(lo) if not isinstance(q, _Form) else \
                f"values from {fmt_number(lo)} to {fmt_number(hi)}"
            raise ValueError(f"must be {self.what}; got {shown}")
        return q

    def clip(self, x: float) -> float:
        if self.lo is not None and x < self.lo:
            return self.lo
        if self.hi is not None and x > self.hi:
            return self.hi
        return x


PROB = InRange(0.0, 1.0, "a probability or share in [0, 1]")
STANCE = InRange(-1.0, 1.0, "in [-1, 1] (-1 opposes, +1 supports)")
NONNEG = InRange(0.0, MAX_MAGNITUDE, f"in [0, {_CAP_TEXT}]")

Prob = Annotated[Quantity, AfterValidator(PROB)]
Stance = Annotated[Quantity, AfterValidator(STANCE)]
NonNeg = Annotated[Quantity, AfterValidator(NONNEG)]


def is_distribution(q: Any) -> bool:
    return isinstance(q, _Form) and q.uncertain


def fixed_value(q: Any) -> Any:
    """The plain value of a fixed quantity (number or Fixed); other things pass through."""
    return q.value if isinstance(q, Fixed) else q


class WholeRange(InRange):
    """Validator for a whole-number parameter: a whole number, `{value: N}` or a `choice` of
    whole numbers, inside [lo, hi]."""

    def __call__(self, q):
        if isinstance(q, (int, float)):
            values = [check_number(q)]
        elif isinstance(q, Fixed):
            values = [q.value]
        elif isinstance(q, Choice):
            values = q.choice
        else:
            raise ValueError("a whole-number parameter takes a whole number or "
                             "{choice: [whole numbers]}")
        if not all(float(v).is_integer() for v in values):
            raise ValueError("must be a whole number; got "
                             + ", ".join(fmt_number(v) for v in values))
        return super().__call__(q)


ROUNDS = WholeRange(0.0, 520.0, "a whole number of rounds from 0 to 520")
AT_LEAST_ONE = WholeRange(1.0, 1000.0, "a whole number from 1 to 1000")
POSITIVE = InRange(1e-9, MAX_MAGNITUDE, f"> 0 and at most {_CAP_TEXT}")

Rounds = Annotated[Quantity, AfterValidator(ROUNDS)]
AtLeastOne = Annotated[Quantity, AfterValidator(AT_LEAST_ONE)]
Positive = Annotated[Quantity, AfterValidator(POSITIVE)]


class FlagForm(BaseModel):
    """A true/false setting with its source note."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: StrictBool
    source: str | None = Field(None, description="Where the setting comes from, or 'assumption'.")


#: a true/false setting: `true`, or `{value: true, source: "..."}`
Flag = StrictBool | FlagForm


def flag_value(f) -> bool:
    return f.value if isinstance(f, FlagForm) else bool(f)
