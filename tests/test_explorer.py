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

import pytest

from sim.analysis.summary import newcombe
from sim.cli import main
from sim.explorer import files
from sim.explorer import logic as explorer
from sim.scenario import load_scenario
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
    assert ctl["israel.threat.Turkey"].initial == 0.9 and not ctl["israel.threat.Turkey"].uncertain
    pakistan = ctl["israel.threat.Pakistan"]
    assert pakistan.uncertain and pakistan.support == (0.25, 0.5)  # a distribution, kept
    assert pakistan.describe() == "uniform(0.25, 0.5)"
    assert (pakistan.low, pakistan.high) == (0.0, 1.0)  # the parameter's valid range
    assert ctl["countries.UAE.willingness"].initial == -0.8
    assert ctl["countries.UAE.willingness"].low == -1.0
    assert "countries.Pakistan.domestic.opposition_strength" in ctl
    assert "countries.Egypt.domestic.opposition_strength" not in ctl  # no domestic block
    assert "convener.pressure" in ctl
    assert not any(p.startswith("countries.Iran") for p in ctl)  # influencers send nothing


def test_overrides_only_for_what_changed(baseline, folders):
    mandate = list(baseline.scenario.mandate)
    pak = "israel.threat.Pakistan"
    assert explorer.overrides(baseline, {}, mandate) == []
    # a distribution touched and put back (its own range) is not changed
    assert explorer.overrides(baseline, {pak: {"range": (0.25, 0.5)}}, mandate) == []
    # a moved range keeps the distribution: uniform stays uniform, over the new range
    moved = explorer.overrides(baseline, {pak: {"range": (0.5, 0.75)}}, mandate)
    assert moved == ["israel.threat.Pakistan={uniform: [0.5, 0.75]}"]
    loaded = explorer.load(folders, "baseline.yaml", moved)
    assert dict(loaded.uncertain)[pak].support() == (0.5, 0.75)
    # only the switch fixes a value, and then the value is the one shown
    assert explorer.overrides(baseline, {pak: {"fix": 0.9}}, mandate) == [f"{pak}=0.9"]
    # a fixed parameter within half a step of its value was not moved
    assert explorer.overrides(baseline, {"israel.threat.Turkey": {"fix": 0.904}}, mandate) == []
    assert explorer.overrides(baseline, {"convener.pressure": {"fix": 0.6}}, mandate) == \
        ["convener.pressure=0.6"]
    no_disarm = [t for t in mandate if t != "disarmament"]
    out = explorer.overrides(baseline, {}, no_disarm)
    assert out == ["mandate=[" + ", ".join(no_disarm) + "]"]
    assert "disarmament" not in explorer.load(folders, "baseline.yaml", out).scenario.mandate


@pytest.mark.parametrize("form, lo, hi, expected", [
    ({"uniform": [0.2, 0.4]}, 0.5, 0.9, {"uniform": [0.5, 0.9]}),
    ({"triangular": [0.2, 0.3, 0.4]}, 0.4, 0.8, {"triangular": [0.4, 0.6, 0.8]}),
    ({"truncnormal": [0.5, 0.1, 0.2, 0.6]}, 0.0, 0.8, {"truncnormal": [0.6, 0.2, 0.0, 0.8]}),
    ({"beta": [2, 3]}, 0.2, 0.6, {"beta": [2.0, 3.0, 0.2, 0.6]}),
    ({"choice": [0.1, 0.3], "weights": [1, 3]}, 0.5, 0.9,
     {"choice": [0.5, 0.9], "weights": [1.0, 3.0]}),
])
def test_a_moved_distribution_keeps_its_shape(form, lo, hi, expected):
    from sim.scenario.quantity import DISTRIBUTIONS

    key = next(k for k in form if k in DISTRIBUTIONS)
    dist = DISTRIBUTIONS[key].model_validate(form)
    assert explorer.moved(dist, lo, hi) == expected


def test_settings_sent_by_a_browser_are_checked(baseline):
    ctl = {c.path: c for c in explorer.controls(baseline)}
    pak, turkey = ctl["israel.threat.Pakistan"], ctl["israel.threat.Turkey"]
    for bad in (None, "1", {"fix": float("nan")}, {"fix": float("inf")}, {"fix": True},
                {"range": (0.1,)}, {"range": "0.1,0.2"}, {"other": 1}):
        assert explorer.valid_setting(pak, bad) is None, bad
    assert explorer.valid_setting(turkey, {"fix": 7.0}) == {"fix": 1.0}  # clipped to the range
    assert explorer.valid_setting(turkey, {"range": (0.1, 0.2)}) is None  # a number has no range
    assert explorer.valid_setting(pak, {"range": (0.9, 0.1)}) == {"range": (0.1, 0.9)}
    assert explorer.valid_setting(pak, {"range": (0.3, 0.3)}) == {"fix": 0.3}


def test_round_timeline_reruns_to_any_round(baseline):
    story = explorer.story(baseline, 3)
    full = explorer.run_to(baseline, 3, 10_000)
    assert full.outcome() == trace_run(baseline, 3)["outcome"] == story.outcome
    assert full.round == story.last_round
    # going back a round is re-running from the start: the same state as stepping forward
    stepped = explorer.start_run(baseline, 3)
    for r in range(1, story.last_round + 1):
        stepped.step()
        again = explorer.run_to(baseline, 3, r)
        assert {c: a.status for c, a in again.countries.items()} == \
            {c: a.status for c, a in stepped.countries.items()}, r
    fig = explorer.network_figure(full, story.decisive_round)
    assert len(fig.axes[0].collections) >= len(full.countries)


def test_the_decisive_round_is_the_last_that_changed_anything(baseline):
    """For a failed run: statuses, mandate and troops never change after the decisive round,
    and they did change in it."""
    checked = 0
    for seed in range(1, 12):
        story = explorer.story(baseline, seed)
        if story.outcome["formed"]:
            assert story.decisive_round == story.outcome["round"] == story.last_round
            continue
        def state(m):
            return ({c: a.status for c, a in m.countries.items()}, m.mandate,
                    m.israel.mandate_accepted, m.approved_troops())
        at = state(explorer.run_to(baseline, seed, story.decisive_round))
        assert state(explorer.run_to(baseline, seed, story.last_round)) == at
        if story.decisive_round > 1:
            assert state(explorer.run_to(baseline, seed, story.decisive_round - 1)) != at
        checked += story.last_round > story.decisive_round
    assert checked  # some failed runs did end long after their decisive round


def test_a_pledge_that_needs_no_approval_is_not_shown_as_approved_by_israel(baseline):
    from sim import vocabulary as vocab

    model = explorer.start_run(baseline, 1)
    funder = next(c for c in model.contributors)
    funder.status = vocab.APPROVED
    funder.pledge = {k: 0 for k in vocab.CONTRIBUTION_TYPES} | {"funding": 100}
    assert explorer.shown_status(funder) == explorer.NEEDS_NO_APPROVAL
    assert "Israel" not in explorer.status_label(explorer.shown_status(funder))
    funder.pledge = {**funder.pledge, "troops": 500}
    assert explorer.shown_status(funder) == vocab.APPROVED
    assert explorer.status_label(vocab.APPROVED) == "approved by Israel"
    # every status of the vocabulary has its own colour; an unknown one gets the fallback
    for s in (vocab.NOT_INVITED, vocab.UNDECIDED, vocab.PLEDGED, vocab.VETOED, vocab.DEPLOYED,
              vocab.BLOCKED_AT_HOME, vocab.DECLINED_MANDATE, vocab.INFLUENCER):
        assert explorer.status_colour(s) != explorer.UNKNOWN_COLOUR, s
    assert explorer.status_colour("a_status_added_later") == explorer.UNKNOWN_COLOUR
    assert explorer.status_label("a_status_added_later") == "a status added later"


def test_batch_history_gives_differences_with_their_interval():
    def batch(number, formed, runs=300):
        summary = {"runs": runs, "formation": [{"runs": formed}]}
        return explorer.Batch(number, [], 1, summary)

    batches = [batch(1, 81), batch(2, 15), batch(3, 90)]
    rows = explorer.history_rows(batches)
    assert rows[0]["diff"] is None
    d, lo, hi = rows[1]["diff"]
    assert rows[1]["reference"] == 1 and d == pytest.approx(15 / 300 - 81 / 300)
    assert lo < d < hi < 0  # a fall this large is beyond Monte Carlo noise
    assert (lo, hi) == pytest.approx(newcombe(15, 300, 81, 300)[1:])
    chosen = explorer.history_rows(batches, reference=1)
    assert [r["reference"] for r in chosen] == [None, 1, 1]
    assert explorer.pp(-0.22) == "-22.0 pp"


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


def _press(page, locator, *keys):
    locator.focus()
    page.wait_for_timeout(300)
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(300)


def _changed(page) -> str:
    shown = page.locator(".isf-changed")
    return shown.inner_text() if shown.count() else ""


PAKISTAN = "Israel's threat score of Pakistan"


def test_the_page_in_a_real_browser(server, browser):
    url, user, log = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    failed, outside = [], []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
        (url, url.replace("http", "ws"), "data:", "blob:")) else None)
    page.goto(url, wait_until="networkidle", timeout=90_000)
    page.wait_for_function("document.title === 'ISF formation explorer'", timeout=60_000)

    # sliders show their numbers: the value in words, and the numbers on the thumbs
    page.get_by_text(f"{PAKISTAN}: uniform(0.25, 0.5) (as in the scenario)").wait_for()
    thumbs = _slider(page, PAKISTAN)
    assert thumbs.count() == 2  # a distribution: its range, two ends
    assert page.locator(".v-slider__thumb-label", has_text=re.compile(r"^0\.25$")).count() >= 1

    # batch 1 (of 100 runs, to keep the test short); then the distribution's slider touched and
    # put back: nothing changed, the odds are exactly the same (the old page replaced the
    # distribution by its midpoint: 27% -> 5%)
    _press(page, _slider(page, "Runs"), "Home")
    assert _slider(page, "Runs").get_attribute("aria-valuenow") == "100"
    page.get_by_role("button", name="Run batch").click()
    first = _probability(page, 1)
    _press(page, thumbs.nth(1), "ArrowRight")
    page.locator(".isf-changed", has_text="israel.threat.Pakistan={uniform: [0.25, 0.51]}") \
        .wait_for(timeout=30_000)
    _press(page, thumbs.nth(1), "ArrowLeft")
    page.locator(".isf-changed").wait_for(state="detached", timeout=30_000)
    page.get_by_role("button", name="Run batch").click()
    assert _probability(page, 2) == first
    history = page.locator(".isf-history")
    assert "+0.0 pp vs batch 1" in history.inner_text()

    # fixing the value is a deliberate switch; at the maximum the odds fall, and the history
    # shows the difference from the previous batch with its interval
    page.locator(".v-input--switch", has=page.get_by_text("fix one value")).first.click()
    page.get_by_text(re.compile(rf"{PAKISTAN}: fixed at 0.375")).wait_for(timeout=30_000)
    fixed = _slider(page, PAKISTAN)
    assert fixed.count() == 1
    _press(page, fixed, "End")
    page.locator(".isf-changed", has_text="israel.threat.Pakistan=1.0").wait_for(timeout=30_000)
    page.get_by_role("button", name="Run batch").click()
    third = _probability(page, 3)
    assert third < first - 0.05, (first, third)  # Pakistan is now always rejected
    row = history.locator("tr", has_text="israel.threat.Pakistan=1.0").inner_text()
    diff = re.search(r"([+-]\d+\.\d) pp vs batch 2\s+([+-]\d+\.\d) pp to ([+-]\d+\.\d) pp", row)
    assert diff, row
    d, lo, hi = (float(x) for x in diff.groups())
    assert d == pytest.approx((third - first) * 100, abs=0.051) and lo < d < hi < 0
    assert len(history.locator("tr").all()) == 4  # a header and three batches, all kept

    # one run: the round timeline goes forward, back, to the end and to the decisive round
    page.get_by_role("tab", name=re.compile("One run")).click()
    page.get_by_text("Press Next round").wait_for(timeout=30_000)
    for _ in range(2):
        page.get_by_role("button", name="Next round").click()
    page.get_by_text(re.compile(r"^Round 2 \(2026-01-04")).wait_for(timeout=30_000)
    page.get_by_role("button", name="Previous round").click()
    page.get_by_text(re.compile(r"^Round 1 \(2025-12-21")).wait_for(timeout=30_000)
    timeline = _slider(page, "Round")
    _press(page, timeline, "ArrowRight", "ArrowRight", "ArrowRight")
    page.get_by_text(re.compile(r"^Round 4 \(")).wait_for(timeout=30_000)
    page.get_by_role("button", name="Run to the end").click()
    outcome = page.locator(".isf-outcome").inner_text(timeout=30_000)
    decisive = int(re.search(r"Decisive round \((\d+)\)", page.get_by_role(
        "button", name=re.compile("Decisive round")).inner_text(), re.I).group(1))
    last = int(timeline.get_attribute("aria-valuenow"))
    if decisive != last:  # the run went on after it was decided: both rounds are shown
        assert f"decided in round {decisive}" in outcome
        page.get_by_text(f"The decisive round: round {decisive}").wait_for(timeout=30_000)
        page.get_by_text(re.compile(rf"^Round {last} \(")).wait_for(timeout=30_000)
    shots = ROOT / "results" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "explorer.png"), full_page=True)
    assert (shots / "explorer.png").stat().st_size > 50_000
    page.get_by_role("button", name=re.compile("Decisive round")).click()
    page.get_by_text(re.compile(rf"^Round {decisive} \(")).wait_for(timeout=30_000)

    # a second session has its own model: still at round 0, with no changed settings
    other = browser.new_context().new_page()
    other.goto(url, wait_until="networkidle", timeout=90_000)
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
    assert load_scenario(saved).tree["israel"]["threat"]["Pakistan"] == 1.0

    # and load it back by its name in the user folder
    box.fill("from_the_page.yaml")
    box.press("Enter")
    page.get_by_role("button", name="Load file").click()
    page.get_by_text(f"{PAKISTAN}: 1 (as in the scenario)").wait_for(timeout=30_000)
    assert _slider(page, PAKISTAN).get_attribute("aria-valuenow") == "1"
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


