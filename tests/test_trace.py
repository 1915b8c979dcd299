"""The single-run trace: reproducible byte for byte, and consistent with the scenario."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from sim.cli import main
from sim.trace import as_text, trace_run

from .conftest import ROOT

BASELINE = str(ROOT / "scenarios" / "baseline.yaml")


def _cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True,
                          cwd=ROOT, check=True).stdout


def test_same_seed_same_trace_byte_for_byte():
    a = _cli("trace", BASELINE, "--seed", "1")
    b = _cli("trace", BASELINE, "--seed", "1")
    assert a == b and len(a) > 2000
    assert _cli("trace", BASELINE, "--seed", "2") != a
    ja = _cli("trace", BASELINE, "--seed", "1", "--json")
    assert ja == _cli("trace", BASELINE, "--seed", "1", "--json")


def test_json_trace_matches_text_trace(capsys):
    assert main(["trace", BASELINE, "--run-seed", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["seed"] == 1 and data["scenario"] == "baseline"
    kinds = {e["kind"] for e in data["events"]}
    assert {"round", "invite", "propose", "decide", "mandate"} <= kinds
    assert main(["trace", BASELINE, "--run-seed", "1"]) == 0
    text = capsys.readouterr().out
    for e in data["events"]:
        assert e["text"] in text


def test_trace_tells_the_story(baseline):
    for seed in range(1, 40):
        t = trace_run(baseline, seed)
        text = as_text(t)
        out = t["outcome"]
        assert text.startswith("Scenario 'baseline'")
        assert "Round 1: 2025-12-21 to 2026-01-04" in text
        assert "invites Pakistan, Indonesia" in text
        assert "OUTCOME" in text
        # every sampled parameter lies within its declared distribution's support
        for path, d in t["sampled"].items():
            lo, hi = dict(baseline.uncertain)[path].support()
            assert lo <= d["value"] <= hi
        # a rejection always shows the numbers behind it
        for line in text.splitlines():
            if "Israel: rejects" in line and "the mandate" not in line:
                assert re.search(r"threat \d\.\d\d .* vs threshold \d\.\d\d", line), line
        if out["formed"]:
            assert f"THE FORCE FORMS on {out['date']}" in text
        else:
            assert "No force formed. Main reason:" in text
        for key, status in out.items():
            if key.startswith("status.") and status == "vetoed":
                assert f"rejects {key[7:]}" in text
            if key.startswith("status.") and status == "blocked_at_home":
                assert f"{key[7:]}: withdraws its pledge:" in text


def test_trace_of_run_1_runs_from_the_command_line():
    text = _cli("trace", BASELINE, "--run", "1").decode()
    assert "Uncertain parameters drawn for this run:" in text
    assert "Countries:" in text and "Turkey       not invited" in text
