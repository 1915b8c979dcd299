"""The explorer: its logic (controls, overrides, saving, the step-through run) and the page in a
real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.analysis.summary import newcombe
from sim.cli import main
from sim.explorer import files
from sim.explorer import logic as explorer
from sim.scenario import get_path, load_scenario
from sim.tracing import trace_run

from .conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# ----------------------------------------------------------------------------- logic


@pytest.fixture(scope="module")
def folders():
    return files.Folders.of(None)


def test_controls_keep_what_the_scenario_says(baseline):
    ctl = {c.path: c for c in explorer.controls(baseline)}
    assert ctl["israel.threat.Turkey"].initial == 1.0 and not ctl["israel.threat.Turkey"].uncertain
    pakistan = ctl["israel.threat.Pakistan"]
    assert pakistan.uncertain and pakistan.movable and pakistan.support == (0.2, 0.5)
    assert pakistan.describe() == "uniform(0.2, 0.5)"
    assert (pakistan.low, pakistan.high) == (0.0, 1.0)  # the parameter's valid range
    assert ctl["countries.UAE.willingness"].support == (-0.9, -0.6)
    assert ctl["countries.UAE.willingness"].low == -1.0
    assert "countries.Pakistan.domestic.opposition_strength" in ctl
    assert "countries.Egypt.domestic.opposition_strength" not in ctl  # no domestic block
    assert "convener.pressure" in ctl
    assert not any(p.startswith("countries.Iran") for p in ctl)  # influencers send nothing
    # the unnamed candidates have one slider, their template's (a file names none of them)
    assert not any("Other 1" in p for p in ctl)
    assert ctl["others.country.willingness"].label.startswith("Unnamed candidates (Other 1 to")
    assert ctl["israel.default_threat"].support == (0.1, 0.3)


def test_every_slider_gives_a_valid_scenario_that_keeps_its_distribution(baseline, folders):
    """Each slider moved (a distribution's range shifted and squeezed, a number changed) makes
    overrides the schema accepts, and a moved distribution is still that distribution."""
    mandate = list(baseline.scenario.mandate)
    for c in explorer.controls(baseline):
        if c.movable:
            a, b = c.support
            width = max(b - a, 0.02)
            lo = min(max(c.low, a + width / 2), c.high - width / 2)
            setting = {"range": (round(lo, 2), round(lo + width / 2, 2))}
        else:
            setting = {"fix": c.high if c.initial < c.high else c.low}
        sets = explorer.overrides(baseline, {c.path: setting}, mandate)
        assert len(sets) == 1, (c.path, sets)
        loaded = explorer.load(folders, "baseline.yaml", sets)  # validated by the schema
        value = get_path(loaded.tree, c.path)
        if c.movable:
            assert type(value) is type(c.original), (c.path, value)
            lo, hi = explorer.valid_setting(c, setting)["range"]
            assert value.support() == pytest.approx((lo, hi)), c.path
        else:
            assert float(value) == setting["fix"], c.path


def test_overrides_only_for_what_changed(baseline, folders):
    mandate = list(baseline.scenario.mandate)
    pak = "israel.threat.Pakistan"
    assert explorer.overrides(baseline, {}, mandate) == []
    # a distribution touched and put back (its own range) is not changed
    assert explorer.overrides(baseline, {pak: {"range": (0.2, 0.5)}}, mandate) == []
    assert explorer.overrides(baseline, {pak: {"range": (0.2, 0.5 + 1e-12)}}, mandate) == []
    # a moved range keeps the distribution: uniform stays uniform, over the new range
    moved = explorer.overrides(baseline, {pak: {"range": (0.5, 0.75)}}, mandate)
    assert moved == ["israel.threat.Pakistan={uniform: [0.5, 0.75]}"]
    loaded = explorer.load(folders, "baseline.yaml", moved)
    assert dict(loaded.uncertain)[pak].support() == (0.5, 0.75)
    # only the switch fixes a value, and then the value is the one shown
    assert explorer.overrides(baseline, {pak: {"fix": 0.9}}, mandate) == [f"{pak}=0.9"]
    # a fixed parameter within half a step of its value was not moved
    assert explorer.overrides(baseline, {"israel.threat.Turkey": {"fix": 0.996}}, mandate) == []
    assert explorer.overrides(baseline, {"israel.threat.Turkey": {"fix": 0.6}}, mandate) == \
        ["israel.threat.Turkey=0.6"]
    # the unnamed candidates through their template: each still draws its own value
    sets = explorer.overrides(baseline, {"others.country.willingness": {"range": (0.0, 0.6)}},
                              mandate)
    assert sets == ["others.country.willingness={uniform: [0.0, 0.6]}"]
    loaded = explorer.load(folders, "baseline.yaml", sets)
    assert dict(loaded.uncertain)["countries.Other 3.willingness"].support() == (0.0, 0.6)
    no_disarm = [t for t in mandate if t != "disarmament"]
    out = explorer.overrides(baseline, {}, no_disarm)
    assert out == ["mandate=[" + ", ".join(no_disarm) + "]"]
    assert "disarmament" not in explorer.load(folders, "baseline.yaml", out).scenario.mandate


@pytest.mark.parametrize("form, lo, hi, expected", [
    ({"uniform": [0.2, 0.4]}, 0.5, 0.9, {"uniform": [0.5, 0.9]}),
    ({"triangular": [0.2, 0.3, 0.4]}, 0.4, 0.8, {"triangular": [0.4, 0.6, 0.8]}),
    ({"triangular": [0.2, 0.4, 0.4]}, 0.1, 0.7, {"triangular": [0.1, 0.7, 0.7]}),
    ({"truncnormal": [0.5, 0.1, 0.2, 0.6]}, 0.0, 0.8, {"truncnormal": [0.6, 0.2, 0.0, 0.8]}),
    ({"beta": [2, 3]}, 0.2, 0.6, {"beta": [2.0, 3.0, 0.2, 0.6]}),
    ({"choice": [0.1, 0.3], "weights": [1, 3]}, 0.5, 0.9,
     {"choice": [0.5, 0.9], "weights": [1.0, 3.0]}),
])
def test_a_moved_distribution_keeps_its_shape(form, lo, hi, expected):
    assert explorer.moved(explorer.form_of(form), lo, hi) == expected


_FORMS = st.sampled_from([
    {"uniform": [0.2, 0.4]}, {"triangular": [0.1, 0.15, 0.6]}, {"triangular": [0.0, 0.0, 1.0]},
    {"triangular": [0.3, 0.5, 0.5]}, {"truncnormal": [0.4, 0.2, 0.1, 0.9]},
    {"truncnormal": [1.5, 0.3, 0.0, 1.0]}, {"beta": [0.5, 4]}, {"beta": [2, 2, 0.3, 0.4]},
    {"choice": [0.1, 0.2, 0.9], "weights": [3, 1, 1]}])


@given(form=_FORMS, a=st.floats(-1.5, 1.5), b=st.floats(-1.5, 1.5))
def test_moving_a_range_keeps_the_support_inside_the_bounds_and_the_shape(form, a, b):
    """Whatever the browser sends, the range stays inside the parameter's bounds (here
    [-1, 1], as a stance's), the distribution keeps its form and its shape relative to the
    range, and the schema accepts it."""
    c = explorer.Control("x", "x", "g", -1.0, 1.0, explorer.form_of(form))
    setting = explorer.valid_setting(c, {"range": (a, b)})
    if "fix" in setting:  # squeezed to less than a step: a fixed value, inside the bounds
        clipped = sorted(min(max(x, -1.0), 1.0) for x in (a, b))
        assert clipped[1] - clipped[0] < c.step and -1.0 <= setting["fix"] <= 1.0
        return
    lo, hi = setting["range"]
    assert -1.0 <= lo < hi <= 1.0
    new = explorer.range_of(c, lo, hi)
    dist = explorer.form_of(new)  # the schema's own model of the form
    assert type(dist) is type(c.original)
    assert dist.support() == pytest.approx((lo, hi), abs=1e-6)
    lo, hi = dist.support()  # as written: to 6 decimals
    assert -1.0 <= lo < hi <= 1.0
    old_lo, old_hi = c.support

    def rel(x, lo_, hi_):
        return (x - lo_) / (hi_ - lo_)

    if "triangular" in new:  # the mode where it was, relative to the range, and inside it
        mode = new["triangular"][1]
        assert lo <= mode <= hi
        assert rel(mode, lo, hi) == pytest.approx(
            rel(form["triangular"][1], old_lo, old_hi), abs=1e-4 / (hi - lo))
    if "truncnormal" in new:
        mean, sd = new["truncnormal"][:2]
        assert rel(mean, lo, hi) == pytest.approx(rel(form["truncnormal"][0], old_lo, old_hi),
                                                  abs=1e-4 / (hi - lo))
        assert sd / (hi - lo) == pytest.approx(form["truncnormal"][1] / (old_hi - old_lo),
                                               rel=1e-3, abs=1e-5 / (hi - lo))
    if "beta" in new:
        assert new["beta"][:2] == [float(x) for x in form["beta"][:2]]
    if "choice" in new:
        assert all(lo <= v <= hi for v in new["choice"])
        assert new["weights"] == [float(w) for w in form["weights"]]
    # the quantiles keep their relative place: the same shape over the new range
    u = np.linspace(0.05, 0.95, 7)
    assert rel(dist.quantile(u), lo, hi) == pytest.approx(
        rel(c.original.quantile(u), old_lo, old_hi), abs=1e-4 / (hi - lo))


def test_settings_sent_by_a_browser_are_checked(baseline):
    ctl = {c.path: c for c in explorer.controls(baseline)}
    pak, turkey = ctl["israel.threat.Pakistan"], ctl["israel.threat.Turkey"]
    for bad in (None, "1", {"fix": float("nan")}, {"fix": float("inf")}, {"fix": True},
                {"range": (0.1,)}, {"range": "0.1,0.2"}, {"range": (0.1, float("nan"))},
                {"other": 1}):
        assert explorer.valid_setting(pak, bad) is None, bad
    assert explorer.valid_setting(turkey, {"fix": 7.0}) == {"fix": 1.0}  # clipped to the range
    assert explorer.valid_setting(turkey, {"range": (0.1, 0.2)}) is None  # a number has no range
    assert explorer.valid_setting(pak, {"range": (0.9, 0.1)}) == {"range": (0.1, 0.9)}
    assert explorer.valid_setting(pak, {"range": (-5, 9)}) == {"range": (0.0, 1.0)}
    assert explorer.valid_setting(pak, {"range": (0.3, 0.3)}) == {"fix": 0.3}


def test_round_timeline_reruns_to_any_round(baseline):
    story = explorer.story(baseline, 3)
    full = explorer.run_to(baseline, 3, 10_000)
    assert full.outcome() == trace_run(baseline, 3, counterfactuals=False)["outcome"] \
        == story.outcome
    assert full.round == story.last_round
    # going back a round is re-running from the start: the same state as stepping forward
    stepped = explorer.start_run(baseline, 3)
    for r in range(1, story.last_round + 1):
        stepped.step()
        again = explorer.run_to(baseline, 3, r)
        assert {c: a.status for c, a in again.countries.items()} == \
            {c: a.status for c, a in stepped.countries.items()}, r
        # the timeline lists what changed in each round, as the model's states say
        before = explorer.run_to(baseline, 3, r - 1)
        changed = {c for c, a in again.countries.items()
                   if explorer.shown_status(a) != explorer.shown_status(before.countries[c])}
        listed = {line.split(":")[0] for line in story.changes.get(r, [])
                  if line.split(":")[0] in again.countries}
        assert listed == changed, r
    fig = explorer.network_figure(full, story.decisive_round)
    assert len(fig.axes[0].collections) >= len(full.countries)


def test_the_decisive_round_is_the_last_that_changed_anything(baseline):
    """For a failed run: statuses, mandate and troops never change after the decisive round,
    and they did change in it; for a formed run it is the round the force formed."""
    checked = formed = 0
    for seed in range(1, 16):
        story = explorer.story(baseline, seed)
        if story.outcome["formed"]:
            assert story.decisive_round == story.outcome["formed_round"]
            assert story.decisive_why == "the force formed"
            formed += 1
            continue
        if story.outcome["reason"] == "collapse":
            assert story.decisive_round == story.last_round
            continue

        def state(m):
            return ({c: a.status for c, a in m.countries.items()}, m.mandate,
                    m.israel.mandate_accepted, m.approved_troops(), m.committed_troops())
        at = state(explorer.run_to(baseline, seed, story.decisive_round))
        assert state(explorer.run_to(baseline, seed, story.last_round)) == at
        if story.decisive_round > 1:
            assert state(explorer.run_to(baseline, seed, story.decisive_round - 1)) != at
        checked += story.last_round > story.decisive_round
    assert checked and formed  # some failed runs did end long after their decisive round


def test_a_pledge_that_needs_no_approval_is_not_shown_as_approved(baseline):
    from sim import vocabulary as vocab

    model = explorer.start_run(baseline, 1)
    funder = next(c for c in model.contributors)
    funder.status = vocab.APPROVED
    funder.pledge = {k: 0 for k in vocab.CONTRIBUTION_TYPES} | {"funding": 100}
    assert explorer.shown_status(funder) == explorer.NEEDS_NO_APPROVAL
    label = explorer.status_label(explorer.shown_status(funder))
    assert "approved" not in label and "Israel" not in label
    funder.pledge = {**funder.pledge, "troops": 500}
    assert explorer.shown_status(funder) == vocab.APPROVED
    assert explorer.status_label(vocab.APPROVED) == vocab.STATUS_LABELS[vocab.APPROVED]
    # in a real run: Jordan and Italy pledge police trainers, whom Israel does not review
    end = explorer.run_to(baseline, 1, 10_000)
    rows = {r["country"]: r for r in explorer.country_rows(end)}
    for name in ("Jordan", "Italy"):
        assert end.countries[name].status == vocab.APPROVED
        assert rows[name]["status"] == explorer.NEEDS_NO_APPROVAL
        assert rows[name]["colour"] != explorer.status_colour(vocab.APPROVED)
        assert "police trainers" in rows[name]["pledge"]
    # the legend: every status of the vocabulary (and the page's own category), in its words
    shown = [s for _, _, statuses in explorer.legend() for s in statuses]
    assert sorted(shown) == sorted([*vocab.STATUSES, explorer.NEEDS_NO_APPROVAL])
    for s in vocab.STATUSES:
        assert explorer.status_colour(s) != explorer.UNKNOWN_COLOUR, s
        assert explorer.status_label(s) == vocab.STATUS_LABELS[s]
    assert explorer.status_colour("a_status_added_later") == explorer.UNKNOWN_COLOUR
    assert explorer.status_label("a_status_added_later") == "a status added later"


def test_batch_history_gives_differences_with_their_interval():
    def batch(number, formed, runs=300):
        summary = {"runs": runs, "formation": [{"runs": formed}]}
        return explorer.Batch(number, [], 1, summary, "baseline")

    batches = [batch(1, 81), batch(2, 15), batch(3, 90), batch(4, 86)]
    rows = explorer.history_rows(batches)
    assert rows[0]["diff"] is None and rows[0]["exceeds_noise"] is None
    d, lo, hi = rows[1]["diff"]
    assert rows[1]["reference"] == 1 and d == pytest.approx(15 / 300 - 81 / 300)
    assert (d, lo, hi) == pytest.approx(newcombe(15, 300, 81, 300))
    assert lo < d < hi < 0 and rows[1]["exceeds_noise"]  # a fall this large: beyond noise
    assert rows[3]["diff"] == pytest.approx(newcombe(86, 300, 90, 300))
    assert rows[3]["exceeds_noise"] is False  # 86 vs 90 of 300: within Monte Carlo noise
    chosen = explorer.history_rows(batches, reference=1)
    assert [r["reference"] for r in chosen] == [None, 1, 1, 1]
    assert chosen[3]["diff"] == pytest.approx(newcombe(86, 300, 81, 300))
    # a chosen batch that has left the history: back to the previous batch
    assert [r["reference"] for r in explorer.history_rows(batches[1:], reference=1)] == \
        [None, 2, 3]
    assert explorer.pp(-0.22) == "-22.0 pp"


def test_a_batch_gives_the_numbers_run_py_gives(baseline):
    """The page's batch (no counterfactual replays, no round table) has the same runs and so
    the same odds as `run.py run` with this seed."""
    from sim.analysis.summary import summarise
    from sim.experiments import run_experiment

    batch = explorer.run_batch(baseline, 100, 5, settings=["x=1"], number=3)
    full = run_experiment(baseline, 100, 5, rounds=True, log=lambda m: None)
    s = summarise(full.runs, baseline, 5)
    assert batch.formed == s["formation"][0]["runs"] and batch.runs == 100
    assert batch.summary["reasons"] == s["reasons"]
    assert batch.summary["countries"] == s["countries"]
    assert (batch.number, batch.settings, batch.scenario) == (3, ["x=1"], baseline.name)
    assert batch.seconds > 0
    # a browser may send any number of runs: clipped to the slider's range
    assert explorer.run_batch(baseline, 10**9, 5).runs == explorer.RUNS_MAX


def test_save_writes_a_scenario_run_py_accepts(tmp_path):
    user = files.Folders.of(tmp_path)
    sets = ["israel.threat.Pakistan=0.9", "convener.pressure=0.6",
            "countries.Pakistan.domestic.opposition_strength={uniform: [0.5, 0.9]}"]
    loaded = explorer.load(user, "baseline.yaml", sets)
    path = explorer.save_scenario(user, loaded, BASELINE, sets, "mine.yaml", "mine")
    assert path == tmp_path / "mine.yaml"
    saved = load_scenario(path)
    assert saved.name == "mine"
    assert saved.tree["israel"]["threat"]["Pakistan"] == 0.9
    assert saved.tree["convener"]["pressure"] == 0.6
    assert dict(saved.uncertain)["countries.Pakistan.domestic.opposition_strength"].support() \
        == (0.5, 0.9)
    assert saved.sources["convener.pressure"].startswith("ASSUMPTION")
    assert main(["validate", str(path)]) == 0
    before = path.read_bytes()
    with pytest.raises(files.FileRefused, match="exists already"):
        explorer.save_scenario(user, loaded, BASELINE, [], "mine.yaml", "again")
    assert path.read_bytes() == before
    with pytest.raises(files.FileRefused, match="ending in .yaml"):
        explorer.save_scenario(user, loaded, BASELINE, [], "x.txt", "x")


def test_page_handlers_show_one_plain_line_and_log_the_details(capsys):
    pytest.importorskip("solara")
    from sim.explorer import app
    from sim.scenario import ScenarioError

    shown = []

    @app.guarded("Not saved", shown.append)
    def crash(detail):
        raise RuntimeError(detail)

    @app.guarded("Not loaded", shown.append)
    def refuse():
        raise files.FileRefused("/etc/passwd: outside the folders the explorer may read")

    @app.guarded("Not loaded", shown.append)
    def invalid():
        raise ScenarioError([("x.yaml", "name", "required key is missing")])

    crash("internal detail 0xdeadbeef")
    refuse()
    invalid()
    assert shown[0] == "Not saved failed (RuntimeError); the details are in the server's log"
    assert shown[1] == "Not loaded: /etc/passwd: outside the folders the explorer may read"
    assert shown[2] == "Not loaded: x.yaml: name: required key is missing"
    err = capsys.readouterr().err
    assert "Traceback" in err and "0xdeadbeef" in err  # the details: on the server's stderr


def test_web_assets_are_complete():
    from sim.explorer import webassets

    assert webassets.missing() == [], "run: python -m sim.explorer.webassets"


# ----------------------------------------------------------------------------- the page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The explorer as `run.py explore` starts it, with a user folder of its own; yields its
    address, the user folder and the file its terminal output goes to."""
    pytest.importorskip("solara")
    port = _free_port()
    user = tmp_path_factory.mktemp("user_folder")
    log = tmp_path_factory.mktemp("server") / "terminal.txt"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "explore", "--port",
                                 str(port), "--no-open", "--user-folder", str(user)], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            assert proc.poll() is None, "the explorer did not start: " + log.read_text()
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the explorer did not answer within 90 s")
    yield url, user, log
    proc.terminate()  # run.py became the server (exec): this stops it, no orphan is left
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    sync = pytest.importorskip("playwright.sync_api")
    with sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _probability(page, number: int) -> float:
    text = page.get_by_text(re.compile(rf"Batch {number}: P\(force forms by")).inner_text(
        timeout=90_000)
    return float(re.search(r"= ([\d.]+)%", text).group(1)) / 100


def _slider(page, label: str):
    return page.locator(".v-input", has=page.get_by_text(label, exact=True)).get_by_role(
        "slider")


def _press(page, locator, key: str, then):
    """Press `key` on a slider, then wait for `then` (a locator the result shows): one key at
    a time, so that the server's answer to one cannot overtake the next."""
    from playwright.sync_api import expect

    locator.focus()
    # the slider takes keys once it knows which thumb has the focus
    expect(locator).to_have_class(re.compile(r"thumb-container--focused"), timeout=30_000)
    page.keyboard.press(key)
    then.wait_for(timeout=30_000)


def _changed(page) -> str:
    shown = page.locator(".isf-changed")
    return shown.inner_text() if shown.count() else ""


PAKISTAN = "Israel's threat score of Pakistan"


@pytest.mark.threads_end_with_module("Playwright's event loop, of the module's `browser`, "
                                     "starts its worker threads at the first page")
def test_the_page_in_a_real_browser(server, browser):
    url, user, log = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    failed, outside = [], []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
        (url, url.replace("http", "ws"), "data:", "blob:")) else None)
    page.goto(url, wait_until="networkidle", timeout=90_000)
    page.wait_for_function("document.title === 'ISF formation explorer'", timeout=60_000)

    # sliders show their numbers: the value in words, and the numbers on the thumbs (a
    # distribution's slider has two ends)
    page.get_by_text(f"{PAKISTAN}: uniform(0.2, 0.5) (as in the scenario)").wait_for()
    thumbs = _slider(page, PAKISTAN)
    assert thumbs.count() == 2
    labels = page.locator(".v-input", has=page.get_by_text(PAKISTAN, exact=True)).locator(
        ".v-slider__thumb-label")
    assert labels.all_inner_texts() == ["0.2", "0.5"]
    assert _slider(page, "Runs").get_attribute("aria-valuenow") == "1000"

    # batch 1; then the distribution's range moved: it stays a uniform distribution, over the
    # new range, and the schema accepts it (the batch runs with it); put back, nothing changed
    # and the odds are exactly as before (the old page replaced the distribution by its
    # midpoint: 27% -> 5% without the user changing anything)
    page.get_by_role("button", name="Run batch").click()
    first = _probability(page, 1)
    moved = "israel.threat.Pakistan={uniform: [0.2, 0.51]}"
    _press(page, thumbs.nth(1), "ArrowRight", page.locator(".isf-changed", has_text=moved))
    page.get_by_text(f"{PAKISTAN}: uniform(0.2, 0.51), moved from the scenario's "
                     "uniform(0.2, 0.5)").wait_for()
    assert labels.all_inner_texts() == ["0.2", "0.51"]
    page.get_by_role("button", name="Run batch").click()
    _probability(page, 2)
    history = page.locator(".isf-history")
    assert moved.split("=", 1)[1] in history.locator("tr[data-batch='2']").inner_text()
    _press(page, thumbs.nth(1), "ArrowLeft", page.get_by_text(
        f"{PAKISTAN}: uniform(0.2, 0.5) (as in the scenario)"))
    page.locator(".isf-changed").wait_for(state="detached", timeout=30_000)
    page.get_by_role("button", name="Run batch").click()
    assert _probability(page, 3) == first
    row = history.locator("tr[data-batch='3']").inner_text()
    assert "as in the scenario file" in row and "vs batch 2" in row

    # fixing the value is a deliberate switch; at the maximum the odds fall, and the history
    # shows the difference from a chosen batch, with its interval, beyond Monte Carlo noise
    page.locator(".v-input--switch", has=page.get_by_text("fix one value")).first.click()
    page.get_by_text(re.compile(rf"{PAKISTAN}: fixed at 0.35")).wait_for(timeout=30_000)
    fixed = _slider(page, PAKISTAN)
    assert fixed.count() == 1
    _press(page, fixed, "End", page.locator(".isf-changed",
                                            has_text="israel.threat.Pakistan=1.0"))
    page.get_by_role("button", name="Run batch").click()
    fourth = _probability(page, 4)
    assert fourth < first - 0.05, (first, fourth)  # Pakistan is now always rejected
    page.locator(".v-select", has=page.get_by_label("Compare each batch with")).locator(
        ".v-select__slot").click()
    page.get_by_role("option", name="batch 1", exact=True).click()
    history.locator("tr[data-batch='4']", has_text="vs batch 1").wait_for(timeout=30_000)
    row = history.locator("tr[data-batch='4']").inner_text()
    diff = re.search(r"([+-]\d+\.\d) pp vs batch 1\s+([+-]\d+\.\d) pp to ([+-]\d+\.\d) pp\s+"
                     r"(yes|no)", row)
    assert diff, row
    d, lo, hi = (float(x) for x in diff.groups()[:3])
    assert d == pytest.approx((fourth - first) * 100, abs=0.051) and lo < d < hi < 0
    assert diff.group(4) == "yes"
    assert history.locator("tr[data-batch]").count() == 4  # every batch kept

    # with "run a batch whenever a setting changes", the odds follow the slider
    page.locator(".v-input--switch", has=page.get_by_text("whenever a setting changes")).click()
    _probability(page, 5)  # switching it on runs one
    _press(page, fixed, "ArrowLeft", page.locator(".isf-changed",
                                                  has_text="israel.threat.Pakistan=0.99"))
    _probability(page, 6)
    page.locator(".v-input--switch", has=page.get_by_text("whenever a setting changes")).click()

    # one run: the round timeline goes forward, back, to a chosen round, to the end and to
    # the decisive round
    page.get_by_role("tab", name=re.compile("One run")).click()
    page.get_by_text("Press Next round").wait_for(timeout=30_000)
    for _ in range(2):
        page.get_by_role("button", name="Next round").click()
    page.get_by_text(re.compile(r"^Round 2 \(2026-01-04")).wait_for(timeout=30_000)
    page.get_by_role("button", name="Previous round").click()
    page.get_by_text(re.compile(r"^Round 1 \(2025-12-21")).wait_for(timeout=30_000)
    timeline = _slider(page, "Round")
    for r in (2, 3, 4):
        _press(page, timeline, "ArrowRight", page.get_by_text(re.compile(rf"^Round {r} \(")))
    jumps = page.locator(".isf-jump")
    target = next(int(m.group(1)) for t in jumps.all_inner_texts()
                  if (m := re.match(r"round (\d+)", t, re.I)) and int(m.group(1)) > 4)
    jumps.filter(has_text=re.compile(rf"^round {target}\b", re.I)).click()
    page.get_by_text(re.compile(rf"^Round {target} \(")).wait_for(timeout=30_000)
    assert timeline.get_attribute("aria-valuenow") == str(target)
    page.get_by_role("button", name="Run to the end").click()
    outcome = page.locator(".isf-outcome").inner_text(timeout=30_000)
    decisive = int(re.search(r"Decisive round \((\d+)\)", page.get_by_role(
        "button", name=re.compile("Decisive round")).inner_text(), re.I).group(1))
    last = int(timeline.get_attribute("aria-valuenow"))
    if decisive != last:  # the run went on after it was decided: both rounds are shown
        assert f"decided in round {decisive}" in outcome
        page.locator(".isf-decisive", has_text=f"The decisive round: round {decisive}") \
            .wait_for(timeout=30_000)
        page.get_by_text(re.compile(rf"^Round {last} \(")).wait_for(timeout=30_000)

    # statuses in the vocabulary's words: a pledge that sends no one into Gaza (police
    # trainers, money) needs no approval and is not shown as approved
    countries = page.locator(".isf-countries")
    no_review = countries.locator("tr[data-status='needs_no_approval']")
    assert no_review.count() >= 1
    for text in no_review.all_inner_texts():
        assert "needs no approval" in text and "approved" not in text, text
    for text in countries.locator("tr[data-status='approved']").all_inner_texts():
        assert "troops" in text or "logistics" in text, text  # approved: it sends people
    shots = ROOT / "results" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "explorer.png"), full_page=True)
    assert (shots / "explorer.png").stat().st_size > 50_000
    page.get_by_role("button", name=re.compile("Decisive round")).click()
    page.get_by_text(re.compile(rf"^Round {decisive} \(")).wait_for(timeout=30_000)

    # a second session has its own model and history: round 0, no changed settings
    other = browser.new_context().new_page()
    other.goto(url, wait_until="networkidle", timeout=90_000)
    other.get_by_text("Press Run batch").wait_for(timeout=30_000)
    other.get_by_role("tab", name=re.compile("One run")).click()
    other.get_by_text("Press Next round").wait_for(timeout=30_000)
    assert other.locator(".isf-changed").count() == 0
    other.close()

    # files outside the permitted folders: a plain message, never a traceback, nothing read
    box = page.get_by_label("Or a scenario file (path)")
    for path in ("/etc/passwd", "../../../../etc/hostname", "/dev/zero"):
        box.fill(path)
        box.press("Enter")
        page.get_by_role("button", name="Load file").click()
        page.get_by_text(re.compile(rf"Not loaded: {re.escape(path)}: outside the folders")) \
            .wait_for(timeout=30_000)
    shown = page.locator("body").inner_text()
    assert "root:x:0" not in shown and "Traceback" not in shown
    save_box = page.get_by_label("Save as (file name)")
    save_box.fill("../escaped.yaml")
    save_box.press("Enter")
    page.get_by_role("button", name="Save settings as a scenario").click()
    page.get_by_text(re.compile("Not saved: ../escaped.yaml: files are saved only in")) \
        .wait_for(timeout=30_000)
    assert not (user.parent / "escaped.yaml").exists()

    # save the settings in the user folder as a scenario file that run.py accepts
    save_box.fill("from_the_page.yaml")
    save_box.press("Enter")
    page.get_by_role("button", name="Save settings as a scenario").click()
    page.get_by_text(re.compile("Saved ")).wait_for(timeout=30_000)
    saved = user / "from_the_page.yaml"
    assert load_scenario(saved).tree["israel"]["threat"]["Pakistan"] == 0.99

    # and load it back by its name in the user folder
    box.fill("from_the_page.yaml")
    box.press("Enter")
    page.get_by_role("button", name="Load file").click()
    page.get_by_text(f"{PAKISTAN}: 0.99 (as in the scenario)").wait_for(timeout=30_000)
    assert _slider(page, PAKISTAN).get_attribute("aria-valuenow") == "0.99"
    assert failed == [] and outside == [], (failed, outside)

    # a quiet terminal: no version nag, no warning per session, no traceback
    terminal = log.read_text()
    for noise in ("New version", "samesite", "Warning", "Traceback", "pip install"):
        assert noise not in terminal, terminal


def test_the_asset_proxy_neither_deletes_nor_fetches(server):
    """Solara's own proxy deletes a cached folder named in a request and downloads what it
    lacks; the explorer's server serves installed files only."""
    from sim.explorer import webassets

    url, _, _ = server
    probe = webassets.cdn_dir() / "isf-probe@0.0.0"
    (probe / "sub").mkdir(parents=True, exist_ok=True)
    (probe / "sub" / "keep.js").write_text("// a file that must survive\n")
    try:
        for path in ("isf-probe@0.0.0/sub", "left-pad@1.3.0/index.js", "isf-probe@0.0.0/../.."):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(f"{url}_solara/cdn/{path}", timeout=30)
            assert e.value.code == 404, path
        assert (probe / "sub" / "keep.js").exists()
        assert not (webassets.cdn_dir() / "left-pad@1.3.0").exists()
        with urllib.request.urlopen(f"{url}_solara/cdn/isf-probe@0.0.0/sub/keep.js") as r:
            assert b"must survive" in r.read()  # what is installed is still served
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def test_explore_needs_its_extra(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "solara" else real(name, *a))
    assert main(["explore", "--no-open"]) == 2
    assert ".[explore]" in capsys.readouterr().err


