"""Distributions: samples stay in their support and follow their shape (many draws)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from sim.scenario.quantity import Prob, Quantity, fmt_number, parse_number

Q = TypeAdapter(Quantity)
P = TypeAdapter(Prob)
N = 20_000


@pytest.mark.parametrize("spec, mean", [
    ({"uniform": [2, 4]}, 3.0),
    ({"triangular": [0, 0, 3]}, 1.0),
    ({"truncnormal": [0.5, 0.2, 0.0, 1.0]}, 0.5),
    ({"beta": [2, 6]}, 0.25),
    ({"beta": [2, 2, 10, 20]}, 15.0),
    ({"choice": [1, 2, 3], "weights": [1, 0, 3]}, 2.5),
])
def test_samples_in_support_with_right_mean(spec, mean):
    q = Q.validate_python(spec)
    rng = np.random.default_rng(5)
    xs = np.array([q.sample(rng) for _ in range(N)])
    lo, hi = q.support()
    assert xs.min() >= lo and xs.max() <= hi
    sd = xs.std()
    assert abs(xs.mean() - mean) < 4 * sd / np.sqrt(N) + 1e-9  # 4 standard errors


def test_truncation_is_respected_far_in_the_tail():
    q = Q.validate_python({"truncnormal": [0.0, 1.0, 3.0, 3.5]})
    rng = np.random.default_rng(1)
    xs = [q.sample(rng) for _ in range(2000)]
    assert min(xs) >= 3.0 and max(xs) <= 3.5


def test_choice_with_zero_weight_is_never_drawn():
    q = Q.validate_python({"choice": [1, 2], "weights": [0, 1]})
    rng = np.random.default_rng(0)
    assert {q.sample(rng) for _ in range(500)} == {2}


@pytest.mark.parametrize("bad", [
    {"uniform": [3, 1]}, {"triangular": [0, 5, 3]}, {"truncnormal": [0, -1, 0, 1]},
    {"beta": [0, 1]}, {"choice": []}, {"choice": [1, 2], "weights": [1]},
    {"uniform": [0, 1], "triangular": [0, 0, 1]}, "0.5", True, float("nan"),
    float("inf"), 10**400, 2e9, {"value": "0.5"}, {"uniform": [0, "1"]}, {"beta": [2, 2, 0]},
    {"beta": [1e-4, 2]}, {"choice": [1, True]}, {"truncnormal": [0, float("inf"), 0, 1]},
])
def test_invalid_forms_rejected(bad):
    with pytest.raises(ValidationError):
        Q.validate_python(bad)


def test_range_checked_on_the_whole_support():
    assert P.validate_python({"uniform": [0.2, 0.9]}).support() == (0.2, 0.9)
    with pytest.raises(ValidationError, match="values from 0.5 to 1.5"):
        P.validate_python({"uniform": [0.5, 1.5]})
    with pytest.raises(ValidationError):
        P.validate_python({"beta": [2, 2, 0, 2]})
    assert P.validate_python({"value": 0.3, "source": "x"}).value == 0.3


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10**20, 10**20))
def test_numbers_are_shown_unrounded(x):
    """What a message shows reads back to exactly the number given (1.0000001 is no '1')."""
    assert float(fmt_number(x)) == float(x)


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999", "1_0", "0x1", "", "e5",
                                  "1e", "2e9", "--1"])
def test_command_line_numbers_refuse_what_is_not_a_finite_number(text):
    with pytest.raises(ValueError):
        parse_number(text)


@pytest.mark.parametrize("text, value", [("0.5", 0.5), (" -1 ", -1.0), (".5", 0.5),
                                         ("1e3", 1000.0), ("5.", 5.0), ("1e9", 1e9)])
def test_command_line_numbers(text, value):
    assert parse_number(text) == value and math.isfinite(value)
