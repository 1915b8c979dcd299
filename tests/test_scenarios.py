"""Shipped scenarios, their sources, and every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.scenario import ScenarioError, from_mapping

from .conftest import ROOT, SCENARIOS, world


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_validates_and_runs(path, capsys, tmp_path):
    assert main(["validate", str(path)]) == 0
    assert main(["run", str(path), "--runs", "40", "--seed", "3", "--workers", "1",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Probability that the force forms" in out and "40 runs" in out
    (folder,) = (tmp_path / path.stem).iterdir()
    assert (folder / "report.html").stat().st_size > 10_000


def test_at_least_five_alternatives():
    names = {p.stem for p in SCENARIOS}
    assert {"baseline", "israel_hard_line", "us_pressure", "pakistan_backlash",
            "no_disarmament", "turkey_admitted"} <= names


# ----------------------------------------------------------------------------- bad input

BAD = {
    "empty": ("", "", "the file is empty"),
    "malformed": ("name: x\n  bad: [\n", "", "malformed YAML: line 2"),
    "list": ("- a\n- b\n", "", "top level must be a mapping"),
    "unknown_key": ("extends: base.yaml\nname: t\ncountries:\n  Pakistan:\n    domestic:\n"
                    "      oppositon_strength: 0.5\n",
                    "countries.Pakistan.domestic.oppositon_strength",
                    "did you mean 'opposition_strength'?"),
    "wrong_type": ("extends: base.yaml\nname: t\ncountries:\n  Pakistan:\n"
                   "    capacity: {troops: lots}\n", "countries.Pakistan.capacity.troops",
                   "expected a number"),
    "bool_not_number": ("extends: base.yaml\nname: t\nisrael: {tolerance: yes}\n",
                        "israel.tolerance", "expected a number"),
    "probability_range": ("extends: base.yaml\nname: t\ncountries:\n  Pakistan:\n"
                          "    domestic: {opposition_strength: 1.4}\n",
                          "countries.Pakistan.domestic.opposition_strength", "[0, 1]; got 1.4"),
    "distribution_range": ("extends: base.yaml\nname: t\nenvironment:\n"
                           "  ceasefire: {uniform: [0.5, 1.3]}\n", "environment.ceasefire",
                           "got values from 0.5 to 1.3"),
    "negative_troops": ("extends: base.yaml\nname: t\ncountries:\n  Pakistan:\n"
                        "    capacity: {troops: -5}\n", "countries.Pakistan.capacity.troops",
                        "must be in [0, 1e9]; got -5"),
    "bad_distribution": ("extends: base.yaml\nname: t\nenvironment:\n"
                         "  ceasefire: {triangular: [0.9, 0.5, 0.7]}\n", "environment.ceasefire",
                         "low <= mode <= high"),
    "unknown_form": ("extends: base.yaml\nname: t\nenvironment:\n"
                     "  ceasefire: {unifrm: [0.5, 0.7]}\n", "environment.ceasefire",
                     "did you mean 'uniform'?"),
    "unknown_country": ("extends: base.yaml\nname: t\ncountries:\n  Pakistan:\n"
                        "    consults: [Iran, Turky]\n", "countries.Pakistan.consults[1]",
                        "unknown country 'Turky' (did you mean 'Turkey'?)"),
    "unknown_threat_country": ("extends: base.yaml\nname: t\nisrael:\n  threat: {Narnia: 0.5}\n",
                               "israel.threat.Narnia", "unknown country 'Narnia'"),
    "unknown_task": ("extends: base.yaml\nname: t\nmandate: [disarmament, police]\n",
                     "mandate[1]", "did you mean 'police_training'?"),
    "duplicate_country": ("extends: base.yaml\nname: t\ncountries:\n  Egypt: {}\n  Egypt: {}\n",
                          "", "duplicate key 'Egypt'"),
    "missing_extends": ("extends: nothere.yaml\nname: t\n", "extends", "not found"),
    "missing_key": ("name: t\ncalendar: {start: 2026-01-01}\n", "environment",
                    "required key is missing"),
    "event_path": ("extends: base.yaml\nname: t\nevents:\n  - {name: x, round: 3, "
                   "set: {environment.ceasfire: 0.2}}\n", "events[0].set.environment.ceasfire",
                   "did you mean 'environment.ceasefire'?"),
    "event_trigger": ("extends: base.yaml\nname: t\nevents:\n  - {name: x, "
                      "add: {environment.ceasefire: 0.2}}\n", "events[0]",
                      "exactly one of 'round'"),
    "self_consult": ("extends: base.yaml\nname: t\ncountries:\n  Egypt: {consults: [Egypt]}\n",
                     "countries.Egypt.consults", "cannot consult itself"),
}


def _write_bad(tmp_path, text):
    (tmp_path / "base.yaml").write_text((ROOT / "scenarios" / "baseline.yaml").read_text())
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    return f


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_a_clear_message(case, tmp_path, capsys):
    text, key, problem = BAD[case]
    f = _write_bad(tmp_path, text)
    for argv in (["validate", str(f)], ["run", str(f), "--runs", "5", "--out", str(tmp_path)],
                 ["trace", str(f), "--seed", "1"], ["compare", str(f), str(f), "--out",
                                                    str(tmp_path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert str(f) in err, err
        assert key in err and problem in err, err
        assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "base.yaml"]


def test_circular_extends(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    assert main(["validate", str(tmp_path / "a.yaml")]) == 2
    assert "circular extends: a.yaml -> b.yaml -> a.yaml" in capsys.readouterr().err


def test_missing_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_bad_input_from_the_real_command_line(tmp_path):
    f = _write_bad(tmp_path, BAD["probability_range"][0])
    p = subprocess.run([sys.executable, str(ROOT / "run.py"), "run", str(f)],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "opposition_strength" in p.stderr
    assert p.stdout == ""
    assert not (tmp_path / "results").exists()
    p = subprocess.run([sys.executable, str(ROOT / "run.py"), "run", str(f), "--runs", "0"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2 and "--runs" in p.stderr


def test_several_problems_reported_together(tmp_path, capsys):
    f = _write_bad(tmp_path, "extends: base.yaml\nname: t\nisrael: {tolerance: 2, "
                             "default_threat: -1}\n")
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert "israel.tolerance" in err and "israel.default_threat" in err


# ----------------------------------------------------------------------------- schema


def test_schema_is_json_schema_the_baseline_satisfies(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    data = json.loads(json.dumps(yaml.safe_load((ROOT / "scenarios" / "baseline.yaml")
                                                .read_text()), default=str))
    jsonschema.validate(data, schema)
    data["countries"]["Pakistan"]["oppositon"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


# ----------------------------------------------------------------------------- fuzzing

_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                  st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                  st.lists(st.integers(-5, 5), max_size=4),
                  st.dictionaries(st.sampled_from(["uniform", "value", "beta", "choice", "x"]),
                                  st.lists(st.floats(-2, 2), max_size=5), max_size=2))


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


_BASE = world()
_ALL_PATHS = sorted(_paths(_BASE), key=repr)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_ALL_PATHS), _leaf), min_size=1, max_size=4))
def test_mutated_scenarios_validate_or_fail_cleanly(mutations):
    import copy

    data = copy.deepcopy(_BASE)
    for path, value in mutations:
        node = data
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        loaded = from_mapping(data, "fuzz.yaml")
    except ScenarioError as e:
        assert e.problems and all(p[0] == "fuzz.yaml" and p[2] for p in e.problems)
        return
    from sim.model import simulate

    simulate(loaded, 1)  # a valid scenario must also run


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _leaf, max_size=6))
def test_arbitrary_mappings_fail_cleanly(data):
    with pytest.raises(ScenarioError):
        from_mapping(data, "fuzz.yaml")
