"""The shipped scenarios' sources: every number and setting carries one, the baseline cites
nothing after 21 Dec 2025, and every quotation is found word for word in the sources
(docs/sources/: the two seed articles and the facts file)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import yaml

from .conftest import ROOT, SCENARIOS

SEEDS = " ".join((ROOT / "docs" / "sources" / f).read_text(encoding="utf-8")
                 for f in ("seed-000.txt", "seed-003.txt"))
FACTS = (ROOT / "docs" / "sources" / "facts-to-2025-12-21.md").read_text(encoding="utf-8")
#: the facts file paraphrases; only what it puts in double quotes is somebody's words
FACT_QUOTES = re.findall(r'"([^"]+)"', FACTS)
CITED = re.compile(r"seed 00\d|facts|ASSUMPTION|Res\. 2803|\d{4}", re.I)
FORMS = ("value", "uniform", "triangular", "truncnormal", "beta", "choice")


def _normal(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_number_and_setting_carries_its_source(path):
    """A number or a true/false setting is written {value: ..., source: ...} or as a
    distribution with a source, or bare with a source in a comment on its line."""
    text = path.read_text()
    data = yaml.safe_load(text)

    def walk(node, where):
        if isinstance(node, dict):
            if any(k in node for k in FORMS):
                assert CITED.search(node.get("source") or ""), f"{path.name}: {where} uncited"
                return
            for k, v in node.items():
                if k in ("set", "add", "calendar", "runs", "seed", "round", "from_round",
                         "until_round", "count", "collapse"):
                    continue  # event targets, run settings and an event's own switch
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")
        elif isinstance(node, (int, float)):
            key = where.rsplit(".", 1)[-1]
            lines = [ln for ln in text.splitlines() if re.match(rf"\s*-?\s*{key}:", ln)]
            assert any("#" in ln and CITED.search(ln.split("#", 1)[1]) for ln in lines), \
                f"{path.name}: {where} = {node} has no source"

    walk(data, "")


def test_every_state_has_sourced_relations_with_israel(baseline):
    raw = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())
    states = {**raw["countries"], "others": raw["others"]["country"]}
    for name, spec in states.items():
        rel = spec["relations_with_israel"]
        assert isinstance(rel, dict) and CITED.search(rel["source"]), name


QUOTE = re.compile(r"(?<![A-Za-z])'((?:[^'\n]|'(?=[A-Za-z]))+?)'(?![A-Za-z])")


def _quotations(path) -> list[str]:
    quotes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        quotes += [q for q in QUOTE.findall(line) if len(q) > 3]
    return quotes


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_quotation_is_found_word_for_word_in_the_sources(path):
    """Text in single quotes in a scenario file (sources, notes, comments) is a quotation: it
    must be words of a seed article, or words the facts file quotes; a paraphrase carries no
    quote marks."""
    seeds = _normal(SEEDS)
    quoted = [_normal(q) for q in FACT_QUOTES]
    quotes = _quotations(path)
    if path.stem == "baseline":
        assert len(quotes) > 30
    for q in quotes:
        text = _normal(q).rstrip(".,;")
        assert text in seeds or any(text in f for f in quoted), \
            f"{path.name}: '{q}' is not quoted in the sources"


def test_baseline_cites_nothing_after_21_december_2025(baseline):
    """Every dated statement cited in the baseline is from 21 Dec 2025 or before (a date after
    'until' is a term known then, such as the mandate's end)."""
    months = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                          "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
    cutoff = dt.date(2025, 12, 21)
    text = (ROOT / "scenarios" / "baseline.yaml").read_text()
    found = 0
    for until, day, month, year in re.findall(
            r"(until )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* "
            r"(\d{4})", text):
        found += 1
        if not until:
            assert dt.date(int(year), months[month], int(day)) <= cutoff
    assert found > 30
    assert str(baseline.scenario.calendar.start) == "2025-12-21"


def test_every_assumption_in_the_baseline_is_a_range(baseline):
    """Item 8 of the Model 2 issue: a number marked as an assumption is a distribution over its
    defensible range, so that sensitivity analysis and discovery vary it by default. A fixed
    value is allowed only where its source is a fact (or the assumption is structural: a
    normalising weight or the unphased force)."""
    uncertain = {p for p, _ in baseline.uncertain}
    structural = {"israel.demands.disarmament.weight", "convener.first_phase"}
    fixed = [p for p, src in baseline.sources.items()
             if p not in uncertain and src.startswith("ASSUMPTION") and p not in structural]
    assert fixed == []
    assert len(uncertain) > 150


def test_model_1_keys_get_a_migration_message(tmp_path, capsys):
    from sim.cli import main

    old = tmp_path / "old.yaml"
    old.write_text(f"extends: {ROOT / 'scenarios' / 'baseline.yaml'}\nname: old\n"
                   "convener:\n  invite: [Pakistan]\n  concession_prob: 0.1\n"
                   "israel:\n  threshold: 0.5\n")
    assert main(["validate", str(old)]) == 2
    err = capsys.readouterr().err
    assert "convener.invite: a Model 1 key" in err and "israel.threshold" in err
    assert "renamed 'tolerance'" in err and "resolve" in err


def test_baseline_has_the_stated_stories(baseline):
    """The facts the baseline must carry, in Model 2's terms: Turkey is refused in any role
    (so the convener never invites it: tests/test_model.py), Israel demands disarmament and
    a softer form exists, Pakistan consults Turkey and Iran, refuses to disarm Hamas and needs
    its parliament; Egypt joins only a US-led force doing no combat."""
    s, public = baseline.scenario, baseline.public
    assert public["israel.threat.Turkey"] == 1.0
    assert "disarmament" in s.israel.demands and s.tasks["disarmament"].softer
    assert s.countries["Pakistan"].consults == ["Turkey", "Iran"]
    assert s.countries["Iran"].role == "influencer"
    assert "disarmament" in s.countries["Pakistan"].domestic.rejected_tasks
    assert [b.body for b in s.countries["Pakistan"].domestic.ratification] == \
        ["cabinet", "parliament"]
    assert baseline.tree["countries"]["Pakistan"]["capacity"]["troops"].support()[1] == 3500
    assert s.countries["Egypt"].roles == ["non_combat"]
    assert s.countries["Egypt"].conditions.us_led
    assert s.others.count > 0 and "Other 1" in s.countries
