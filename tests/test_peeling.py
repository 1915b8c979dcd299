"""PRIM's peeling computed column by column (`sim.analysis.peeling`) gives the `prim`
package's own peeling trajectory, box by box, limits and statistics alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import prim
import pytest

from sim.analysis.peeling import Prim
from sim.api import run_experiment

from .conftest import ROOT


def _both(x, y, **kw):
    ours, theirs = Prim(x, y, threshold=None, **kw), prim.Prim(x, y, threshold=None, **kw)
    return ours.find_box(), theirs.find_box()


def _same(a, b):
    pd.testing.assert_frame_equal(a.peeling_trajectory, b.peeling_trajectory)
    assert len(a._box_lims) == len(b._box_lims)
    for la, lb in zip(a._box_lims, b._box_lims, strict=True):
        assert la.dtype == lb.dtype
        for n in la.dtype.names:
            np.testing.assert_array_equal(la[n], lb[n])
    np.testing.assert_array_equal(a.yi, b.yi)


def _data(seed: int):
    """A world of 3-25 parameters and 150-1,500 runs whose outcome hangs on two of them, with
    noise; some columns are ties-heavy (few values, as whole-number parameters are), one may be
    whole numbers stored as integers (the package's own discrete peel)."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(150, 1500)), int(rng.integers(3, 26))
    x = pd.DataFrame({f"p{j}": rng.random(n) for j in range(d)})
    for j in rng.choice(d, size=min(d, 2), replace=False):
        x[f"p{j}"] = np.floor(x[f"p{j}"] * rng.integers(2, 6)).astype(float)
    if seed % 3 == 0:
        x["count"] = rng.integers(1, 5, n)
    signal = (x["p0"] > rng.uniform(0.2, 0.6)) & (x[f"p{d - 1}"] < rng.uniform(0.5, 0.9))
    y = (signal ^ (rng.random(n) < rng.uniform(0, 0.15))).to_numpy()
    if not 0 < y.sum() < n:
        y[:2] = [True, False]
    return x, y


@pytest.mark.parametrize("seed", range(40))
def test_the_peeling_is_the_package_s_on_generated_data(seed):
    x, y = _data(seed)
    rng = np.random.default_rng(seed + 1000)
    alpha = float(rng.choice([0.05, 0.1, 0.2]))
    ours, theirs = _both(x, y, peel_alpha=alpha, mass_min=float(rng.choice([0.02, 0.05, 0.1])))
    assert len(ours.peeling_trajectory) > 1  # a box was peeled: the comparison has content
    _same(ours, theirs)


def test_the_peeling_is_the_package_s_on_the_baseline_runs():
    """The outcome the README's example asks about, over every other of the 261 parameters
    (the package's own peeling takes 20 s with all of them)."""
    runs = run_experiment(ROOT / "scenarios" / "baseline.yaml", runs=400, seed=5,
                          rounds=False, counterfactuals=0).runs
    x = runs[[c for c in runs.columns if c.startswith("param.")][::2]].reset_index(drop=True)
    x.columns = [c.replace(".", "_") for c in x.columns]
    y = (runs["formed"] & (runs["status.Pakistan"] == "deployed")).to_numpy()
    assert 0 < y.sum() < len(y)
    ours, theirs = _both(x, y, peel_alpha=0.05, mass_min=0.05)
    assert len(ours.peeling_trajectory) > 10
    _same(ours, theirs)


def test_a_column_of_another_type_gets_the_package_s_error():
    x = pd.DataFrame({"a": np.arange(50.0), "b": pd.to_datetime(np.arange(50), unit="D")})
    y = np.arange(50) < 20
    with pytest.raises(prim.PrimError, match="no peel operation"):
        Prim(x, y, threshold=None).find_box()
