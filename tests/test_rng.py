"""The counter-based random numbers (sim.rng): exact agreement of the scalar and vectorised
forms, independence from grouping and order, and the statistical quality the model relies on."""

from __future__ import annotations

import numpy as np
import pytest

from sim import rng


def test_run_seeds_depend_on_the_master_seed_and_the_index_alone():
    block = rng.run_seeds(7, 0, 1000)
    assert [int(s) for s in block] == [rng.run_seed(7, i) for i in range(1000)]
    assert list(rng.run_seeds(7, 500, 520)) == list(block[500:520])
    assert len(set(block.tolist())) == 1000 and (block >= 0).all()
    assert rng.run_seed(7, 3) != rng.run_seed(8, 3)


def test_scalar_and_vectorised_draws_are_identical():
    seeds = rng.run_seeds(3, 0, 40)
    counters = np.array([rng.slot(rng.name_key("Pakistan"), r) for r in range(26)], np.uint64)
    for stream in (rng.PARAM, rng.NOISE, rng.VOTE, rng.EVENT, rng.ESTIMATE):
        block = rng.uniforms(seeds, stream, counters)
        for i in range(0, 40, 7):
            for j in range(0, 26, 5):
                assert block[i, j] == rng.uniform(int(seeds[i]), stream, int(counters[j]))


def test_a_slot_is_the_same_whatever_else_is_drawn():
    seeds = rng.run_seeds(1, 0, 10)
    a = rng.uniforms(seeds, rng.NOISE, np.array([5, 9, 11], np.uint64))
    b = rng.uniforms(seeds, rng.NOISE, np.array([11, 5], np.uint64))
    assert np.array_equal(a[:, 2], b[:, 0]) and np.array_equal(a[:, 0], b[:, 1])


def test_uniformity_and_independence():
    """Chi-square over 20 bins on 200,000 draws (critical value at p = 0.001 for 19 degrees of
    freedom: 43.8), the correlation of neighbouring runs and slots (|r| < 0.01), and the
    streams apart (|r| < 0.01)."""
    seeds = rng.run_seeds(11, 0, 4000)
    u = rng.uniforms(seeds, rng.NOISE, np.arange(50, dtype=np.uint64))
    counts, _ = np.histogram(u, bins=20, range=(0, 1))
    expected = u.size / 20
    assert ((counts - expected) ** 2 / expected).sum() < 43.8
    assert 0 <= u.min() and u.max() < 1
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 0.03
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.03
    v = rng.uniforms(seeds, rng.VOTE, np.arange(50, dtype=np.uint64))
    assert abs(np.corrcoef(u.ravel(), v.ravel())[0, 1]) < 0.01


def test_symmetric_triangular_noise():
    u = rng.uniforms(rng.run_seeds(2, 0, 20000), rng.NOISE, np.arange(5, dtype=np.uint64))
    e = rng.symmetric_triangular(u, 0.3)
    assert e.min() >= -0.3 and e.max() <= 0.3
    assert e.mean() == pytest.approx(0, abs=0.003)
    assert e.std() == pytest.approx(0.3 / 6 ** 0.5, rel=0.02)
    assert rng.symmetric_triangular(np.array([0.0, 0.5]), 1.0).tolist() == [-1.0, 0.0]


def test_parameters_drawn_one_at_a_time_or_in_a_block_are_identical(baseline):
    seeds = rng.run_seeds(5, 0, 300)
    block = baseline.draw(seeds)
    for i in range(0, 300, 29):
        assert np.array_equal(baseline.draw([seeds[i]])[0], block[i])
    lo = np.array([d.support()[0] for _, d in baseline.uncertain])
    hi = np.array([d.support()[1] for _, d in baseline.uncertain])
    assert (block >= lo).all() and (block <= hi).all()
