"""Shared helpers: a small hand-built world whose every number the tests control."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from sim.model import NegotiationModel
from sim.scenario import deep_merge, from_mapping, load_scenario

# Property tests without their own `max_examples` follow the profile: a modest number of cases
# by default (CI), at least 2,000 with `pytest --hypothesis-profile=slow`. This file is loaded
# before the option is read, so both profiles exist by then.
_PROFILE = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("default", max_examples=25, **_PROFILE)
settings.register_profile("slow", max_examples=2_000, **_PROFILE)

ROOT = Path(__file__).resolve().parent.parent

#: how long a test's threads may take to end after it
_THREADS_GRACE_S = 5.0


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "threads_end_with_module(why): the test's threads belong to a fixture of "
        "its module and end with it (exempt from `_no_thread_outlives_its_test`)")


@pytest.fixture(autouse=True)
def _no_thread_outlives_its_test(request):
    """No test leaves a thread running: a test process with another thread in it no longer
    forks its drawing processes (`forked.can_fork`), so every later test on that worker would
    silently skip its fork checks or take the in-process path instead (a Dask client's threads
    once did that to three tests of tests/test_plots.py). Threads a test started get a few
    seconds to end; one still running fails the test that left it."""
    import threading
    import time

    if request.node.get_closest_marker("threads_end_with_module"):
        yield
        return
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + _THREADS_GRACE_S
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"threads left running by this test: {[t.name for t in left]}"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

#: Two eager, unconditioned states of 600 troops each, a target of 1,000, no noise, no
#: pressure, no domestic politics: the force forms in round 1 unless a test changes something.
SMALL_WORLD = {
    "name": "small",
    "calendar": {"start": "2026-01-01", "round_days": 14, "rounds": 10},
    "environment": {"un_authorised": True, "ceasefire": 1.0, "armed_group_acceptance": 1.0,
                    "alignment": 0.0},
    "tasks": {
        "patrol": {"label": "patrol", "risk": 0.0, "alignment": 0.0},
        "disarm": {"label": "disarm", "risk": 0.5, "alignment": 0.5, "softer": "monitor"},
        "monitor": {"label": "monitor", "risk": 0.1, "alignment": 0.1},
    },
    "mandate": ["patrol", "disarm"],
    "weights": {"solidarity": 0, "standing": 0, "us_ties": 0, "regional_threat": 0,
                "mandate_fit": 0, "spillover": 0, "decision_noise": 0, "red_line": -0.6,
                "full_pledge": 0.5, "min_contingent": 0, "audience_cost": 0,
                "revision_step": 0.1, "support_exposure": 0.5},
    "convener": {"target_troops": 1000, "min_contributors": 1, "deploy_rounds": 0,
                 "clarity": 1.0, "clarity_step": 0, "pressure": 0, "pressure_step": 0,
                 "max_pressure": 0, "leverage": 0, "incentive_step": 0, "max_incentive": 0,
                 "resolve": 1.0, "israel_deference": 0, "wave_after": 2},
    "israel": {"tolerance": 0.5, "pressure_effect": 0.5, "default_threat": 0.0,
               "mandate_pressure_effect": 1.0},
    "countries": {
        "Alpha": {"relations_with_israel": True, "capacity": {"troops": 600},
                  "willingness": 0.5, "casualty_aversion": 0},
        "Beta": {"relations_with_israel": True, "capacity": {"troops": 600},
                 "willingness": 0.5, "casualty_aversion": 0},
    },
}


def world(changes: dict | None = None) -> dict:
    """The small world with `changes` deep-merged onto it."""
    return deep_merge(copy.deepcopy(SMALL_WORLD), changes or {})


def loaded_of(changes: dict | None = None):
    return from_mapping(world(changes), "small.yaml")


def model_of(changes: dict | None = None, seed: int = 0, trace: bool = True, **kw):
    """A model of the small world, not yet stepped."""
    return NegotiationModel(loaded_of(changes), seed, trace=trace, **kw)


def notes(model, kind: str | None = None, actor: str | None = None, **match) -> list[dict]:
    """The structured events of a model, filtered by kind, actor and data values."""
    return [e for e in model.journal if (kind is None or e["kind"] == kind)
            and (actor is None or e["actor"] == actor)
            and all(e.get(k) == v for k, v in match.items())]


@pytest.fixture(scope="session")
def baseline():
    return load_scenario(ROOT / "scenarios" / "baseline.yaml")


@pytest.fixture
def summaries_only(monkeypatch):
    """Present results folders without their plots and report (summary.json and summary.csv
    only), for tests whose subject is not the presentation: drawing a report takes seconds,
    and the presentation has tests of its own."""
    from sim.analysis import present

    monkeypatch.setattr(present, "draw", lambda folder, meta, summary, *a, **k:
                        present.write_summary_csv(folder, summary))


class _Stop(Exception):
    """Raised by `_stop_after` to stop an experiment part way, as a killed command would."""


def _stop_after(runs: int):
    """A progress callback that stops the experiment once `runs` runs are done."""
    def stop(done, _):
        if done >= runs:
            raise _Stop
    return stop
