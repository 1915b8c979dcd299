"""The single-run trace: told from the model's structured events, reproducible byte for byte,
and consistent with the outcome and the scenario."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from sim.cli import main
from sim.tracing import as_text, event_text, trace_run
from sim.vocabulary import REASON_LABELS

from .conftest import ROOT

BASELINE = str(ROOT / "scenarios" / "baseline.yaml")


def _cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True,
                          cwd=ROOT, check=True).stdout


def test_same_run_same_trace_byte_for_byte():
    a = _cli("trace", BASELINE)
    assert a == _cli("trace", BASELINE) and len(a) > 2000
    ja = _cli("trace", BASELINE, "--json")
    assert ja == _cli("trace", BASELINE, "--json")


def test_json_trace_holds_the_events_the_text_tells(capsys):
    assert main(["trace", BASELINE, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"] == "baseline"
    kinds = {e["kind"] for e in data["events"]}
    assert {"round", "invite", "convener", "decide"} <= kinds
    assert main(["trace", BASELINE]) == 0
    text = capsys.readouterr().out
    for e in data["events"]:
        line = event_text(e, data["labels"])
        if line is not None and e["kind"] != "round":
            assert line in text


def test_a_json_trace_is_strict_json_when_a_number_is_unbounded(tmp_path, capsys):
    """A state Israel is expected to veto at any pressure needs an infinite pressure: the JSON
    trace says null there (JSON has no Infinity; a strict reader refuses it), the text says
    "at any pressure". Found by the generated-scenario test."""
    import yaml

    from .conftest import world

    path = tmp_path / "hard.yaml"
    path.write_text(yaml.safe_dump(world({"israel": {"default_threat": 1.0}})))
    assert main(["trace", str(path), "--json"]) == 0

    def refuse(constant):
        raise AssertionError(f"{constant} in the JSON trace")

    data = json.loads(capsys.readouterr().out, parse_constant=refuse)
    passed = [p for e in data["events"] if e["kind"] == "invite" for p in e["not_invited"]]
    assert passed and all(need is None for _, need in passed)
    assert main(["trace", str(path)]) == 0
    text = capsys.readouterr().out
    assert "Israel expected to veto it at any pressure" in text
    told = [event_text(e, data["labels"]) for e in data["events"] if e["kind"] == "invite"]
    assert all(line in text for line in told)  # the JSON events tell what the text tells


def test_every_kind_of_event_is_told(baseline):
    """No event falls through to the raw fallback ("kind: {...}") on 60 runs of the
    baseline and of the scenarios with a phased force and with Turkey admitted."""
    from sim.scenario import load_scenario

    for path in ("baseline.yaml", "phased_force.yaml", "turkey_admitted.yaml"):
        loaded = load_scenario(ROOT / "scenarios" / path)
        for seed in range(20):
            t = trace_run(loaded, seed)
            for e in t["events"]:
                line = event_text(e, t["labels"])
                assert line is None or not line.startswith(f"{e['kind']}: {{"), e


def test_trace_tells_the_story(baseline):
    for seed in range(1, 40):
        t = trace_run(baseline, seed)
        text = as_text(t)
        out = t["outcome"]
        assert text.startswith("Scenario 'baseline'")
        assert "Round 1: 2025-12-21 to 2026-01-04" in text
        if out["reason"] == "collapse" and out["rounds_run"] == 1:
            continue  # a regional war before the first invitation
        assert re.search(r"invites \(wave 1, expecting Israel's approval at pressure "
                         r"\d\.\d\d\): \w", text)
        assert "Turkey (Israel expected to veto it at any pressure)" in text
        assert "OUTCOME" in text
        # every sampled parameter lies within its declared distribution's support
        for path, d in t["sampled"].items():
            lo, hi = dict(baseline.uncertain)[path].support()
            assert lo <= d["value"] <= hi
        # a veto always shows the numbers behind it
        for line in text.splitlines():
            if "Israel: vetoes" in line and "hard line" not in line:
                assert re.search(r"threat \d\.\d\d vs tolerance -?\d\.\d\d", line), line
        if out["formed"]:
            assert f"The force formed on {out['formed_date']}" in text
            assert "MILESTONE: force formed" in text
        else:
            assert f"Main reason: {REASON_LABELS[out['reason']]}." in text
        for key, status in out.items():
            if key.startswith("status.") and status == "vetoed":
                assert f"vetoes {key[7:]}" in text
            if key.startswith("status.") and status == "blocked_at_home":
                assert f"{key[7:]}: ratification failed" in text
        if out["lifts_tried"]:
            assert "Counterfactuals (the same run, one blocker lifted)" in text


def test_trace_of_the_default_run_from_the_command_line():
    text = _cli("trace", BASELINE).decode()
    assert "Uncertain parameters drawn for this run:" in text
    assert "Countries:" in text and "Turkey       not invited" in text


@pytest.mark.parametrize("override", ["israel.mandate_pressure_effect=0",
                                      "israel.threat.Pakistan=1", "convener.max_pressure=0"])
def test_every_event_read_back_from_json_tells_what_it_told_in_memory(override):
    """Events read back from a JSON trace (where an infinite number is null) are told word for
    word as the events in memory, for every kind of event, unbounded pressures included
    ("hold" once broke on a null)."""
    from sim.scenario import load_scenario
    from sim.tracing import as_json

    loaded = load_scenario(BASELINE, [override])
    for seed in range(4):
        tr = trace_run(loaded, seed)
        back = json.loads(as_json(tr))
        assert len(back["events"]) == len(tr["events"])
        for mine, read in zip(tr["events"], back["events"], strict=True):
            told = event_text(mine, tr["labels"])
            assert event_text(read, back["labels"]) == told
            assert told is None or "inf" not in told.split()
