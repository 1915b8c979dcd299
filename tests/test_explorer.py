"""The explorer: its logic (controls, overrides, saving, the step-through run) and the page in a
real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from sim.cli import main
from sim.explorer import logic as explorer
from sim.scenario import load_scenario
from sim.trace import trace_run

from .conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# ----------------------------------------------------------------------------- logic


def test_controls_start_at_the_scenario_values(baseline):
    ctl = {c.path: c for c in explorer.controls(baseline)}
    assert ctl["israel.threat.Turkey"].initial == 0.9
    assert ctl["israel.threat.Pakistan"].initial == pytest.approx(0.375)  # uniform's centre
    assert ctl["countries.UAE.willingness"].initial == -0.8
    assert "countries.Pakistan.domestic.opposition_strength" in ctl
    assert "countries.Egypt.domestic.opposition_strength" not in ctl  # no domestic block
    assert "convener.pressure" in ctl
    assert not any(p.startswith("countries.Iran") for p in ctl)  # influencers send nothing


def test_overrides_only_for_what_moved(baseline):
    mandate = list(baseline.scenario.mandate)
    assert explorer.overrides(baseline, {"israel.threat.Pakistan": 0.38}, mandate) == []
    assert explorer.overrides(baseline, {"israel.threat.Pakistan": 0.9}, mandate) == \
        ["israel.threat.Pakistan=0.9"]
    no_disarm = [t for t in mandate if t != "disarmament"]
    out = explorer.overrides(baseline, {}, no_disarm)
    assert out == ["mandate=[" + ", ".join(no_disarm) + "]"]
    loaded = explorer.load("baseline.yaml", out)
    assert "disarmament" not in loaded.scenario.mandate


def test_step_through_run_is_the_traced_run(baseline):
    model = explorer.start_run(baseline, 3)
    while model.running:
        model.step()
    assert model.outcome() == trace_run(baseline, 3)["outcome"]
    fig = explorer.network_figure(model)
    assert len(fig.axes[0].collections) >= len(model.countries)


def test_save_writes_a_scenario_run_py_accepts(tmp_path, capsys):
    loaded = explorer.load("baseline.yaml", ["israel.threat.Pakistan=0.9", "convener.pressure=0.6"])
    dest = tmp_path / "mine.yaml"
    path = explorer.save_scenario(loaded, BASELINE, ["israel.threat.Pakistan=0.9",
                                                     "convener.pressure=0.6"], dest, "mine")
    saved = load_scenario(path)
    assert saved.name == "mine"
    assert saved.tree["israel"]["threat"]["Pakistan"] == 0.9
    assert saved.tree["convener"]["pressure"] == 0.6
    assert saved.sources["convener.pressure"].startswith("ASSUMPTION")
    assert main(["validate", str(path)]) == 0
    with pytest.raises(ValueError, match="exists already"):
        explorer.save_scenario(loaded, BASELINE, [], dest, "again")
    with pytest.raises(ValueError, match="ends in .yaml"):
        explorer.save_scenario(loaded, BASELINE, [], tmp_path / "x.txt", "x")


def test_web_assets_are_complete():
    from sim.explorer import webassets

    assert webassets.missing() == [], "run: python -m sim.explorer.webassets"


# ----------------------------------------------------------------------------- the page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("solara")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "explore", "--port", str(port),
                             "--no-open"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            assert proc.poll() is None, "the explorer did not start"
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the explorer did not answer within 90 s")
    yield url
    proc.terminate()
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


def test_the_page_in_a_real_browser(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    failed, outside = [], []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
        (server, server.replace("http", "ws"), "data:", "blob:")) else None)
    page.goto(server, wait_until="networkidle", timeout=90_000)
    page.wait_for_function("document.title === 'ISF formation explorer'", timeout=60_000)

    # a small batch, then Israel's stance on Pakistan moved to the maximum, then again
    page.get_by_role("button", name="Run batch").click()
    before = _probability(page, 1)
    slider = page.locator(".v-input", has=page.get_by_text(
        "Israel's threat score of Pakistan", exact=True)).get_by_role("slider")
    slider.focus()
    page.keyboard.press("End")
    page.get_by_text("israel.threat.Pakistan=1.0").wait_for(timeout=30_000)
    page.get_by_role("button", name="Run batch").click()
    after = _probability(page, 2)
    assert after < before - 0.05, (before, after)  # Pakistan is now always rejected

    # step one run round by round
    page.get_by_role("tab", name=re.compile("One run")).click()
    page.get_by_text("Press Next round").wait_for(timeout=30_000)
    for _ in range(2):
        page.get_by_role("button", name="Next round").click()
    page.get_by_text(re.compile(r"Round 2 \(2026-01-04")).wait_for(timeout=30_000)
    page.get_by_text("rejects the mandate").first.wait_for(timeout=30_000)
    shots = ROOT / "results" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "explorer.png"), full_page=True)
    assert (shots / "explorer.png").stat().st_size > 50_000

    # a second session has its own model: still at round 0, with no changed settings
    other = browser.new_context().new_page()
    other.goto(server, wait_until="networkidle", timeout=90_000)
    other.get_by_role("tab", name=re.compile("One run")).click()
    other.get_by_text("Press Next round").wait_for(timeout=30_000)
    assert other.get_by_text("Changed from the scenario").count() == 0
    other.close()

    # save the settings as a scenario file that run.py accepts
    dest = tmp_path / "from_the_page.yaml"
    box = page.get_by_label("Save as (path)")
    box.fill(str(dest))
    box.press("Enter")
    page.get_by_role("button", name="Save settings as a scenario").click()
    page.get_by_text(re.compile("Saved ")).wait_for(timeout=30_000)
    assert load_scenario(dest).tree["israel"]["threat"]["Pakistan"] == 1.0

    # and load it back as a scenario file
    box = page.get_by_label("Or a scenario file (path)")
    box.fill(str(dest))
    box.press("Enter")
    page.get_by_role("button", name="Load file").click()
    page.get_by_text(dest.name).first.wait_for(timeout=30_000)
    assert page.locator(".v-input", has=page.get_by_text(
        "Israel's threat score of Pakistan", exact=True)).get_by_role("slider").get_attribute(
        "aria-valuenow") == "1"
    assert failed == [] and outside == [], (failed, outside)


def test_explore_needs_its_extra(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "solara" else real(name, *a))
    assert main(["explore", "--no-open"]) == 2
    assert ".[explore]" in capsys.readouterr().err


