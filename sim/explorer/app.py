"""The interactive explorer: move a slider and see the odds change; watch one negotiation unfold.

Launch with `python run.py explore`. Every browser session builds its own models (state lives in
the page component, which Solara instantiates per session), so two sessions never share one.

Whatever a browser sends (a path, a slider value, a seed) is treated as hostile: files go
through `files` (confined to the permitted folders), numbers are checked and clipped, and every
event handler catches every exception, shows one plain line on the page and logs the details
to the server's stderr, never to the page.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import io
import os
import sys
import threading
import traceback
from pathlib import Path

import matplotlib.pyplot as plt
import solara

from sim.analysis import plots
from sim.explorer import files
from sim.explorer import logic as explorer
from sim.scenario import ScenarioError
from sim.tracing import event_text
from sim.vocabulary import REASON_LABELS

#: batches kept in the history of a session (older ones are dropped)
MAX_BATCHES = 10
RUNS_MIN, RUNS_MAX = explorer.RUNS_MIN, explorer.RUNS_MAX
SEED_MAX = 2**63 - 1
GROUPS = ("Willingness", "Domestic opposition", "Israel", "Convener")


def _folders():
    try:
        return files.Folders.from_environment(), ""
    except files.FileRefused as e:
        return None, f"The explorer's user folder is unusable: {e}"


FOLDERS, FOLDERS_ERROR = _folders()


def _warm_up() -> None:
    """Load the fast path's compiled kernel in the background as the server starts (see
    `logic.warm_up`); if it fails, the first batch loads it and reports any problem."""
    try:
        explorer.warm_up(FOLDERS, log=lambda message: print(f"explorer: {message}",
                                                            file=sys.stderr, flush=True))
    except Exception:  # noqa: BLE001 - optional: the first batch does the same
        pass


if FOLDERS is not None and os.environ.get(files.USER_FOLDER_ENV):  # started by run.py explore
    threading.Thread(target=_warm_up, name="isf-warm-up", daemon=True).start()


def _log_failure(what: str) -> None:
    print(f"explorer: {what} failed:", file=sys.stderr)
    traceback.print_exc(file=sys.stderr)


def guarded(what: str, show):
    """An event handler that cannot fail loudly: expected refusals (a bad path, an invalid
    scenario) are shown as they are; anything else as one plain line, with the traceback on
    the server's stderr only."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (ScenarioError, files.FileRefused) as e:
                show(f"{what}: {e.format() if isinstance(e, ScenarioError) else e}")
            except Exception as e:  # noqa: BLE001 - the page must never show a traceback
                _log_failure(what)
                show(f"{what} failed ({type(e).__name__}); the details are in the server's log")
        return run
    return wrap


def _safe(what: str, fn, default=None):
    """Run `fn` for a render; on failure log it and return (default, message)."""
    try:
        return fn(), ""
    except (ScenarioError, files.FileRefused) as e:
        return default, f"{what}: {e.format() if isinstance(e, ScenarioError) else e}"
    except Exception as e:  # noqa: BLE001
        _log_failure(what)
        return default, f"{what} failed ({type(e).__name__}); the details are in the server's log"


# ----------------------------------------------------------------------------- controls


@solara.component
def ControlView(control: explorer.Control, setting, set_setting):
    """One parameter: its value in words, a slider that shows its numbers, and for a
    distribution a range slider (moving or stretching the range keeps the distribution and its
    shape) and a switch that fixes one value instead."""
    setting = explorer.valid_setting(control, setting)
    fixed = setting is not None and "fix" in setting
    text, _ = _safe("The setting", lambda: explorer.describe_setting(control, setting),
                    default=control.describe())
    solara.Text(f"{control.label}: {text}", style={"display": "block", "font-size": "0.85rem"},
                classes=["isf-control-value"])
    with solara.Column(style={"padding-top": "26px"}):  # room for the numbers above the thumb
        if control.movable and not fixed:
            value = setting["range"] if setting else control.support
            solara.SliderRangeFloat(control.label, value=tuple(value), min=control.low,
                                    max=control.high, step=control.step, thumb_label="always",
                                    on_value=lambda v: set_setting({"range": v}))
        elif not control.uncertain or fixed:
            value = setting["fix"] if fixed else control.initial
            solara.SliderFloat(control.label, value=value, min=control.low, max=control.high,
                               step=control.step, thumb_label="always",
                               on_value=lambda v: set_setting({"fix": v}))
    if control.uncertain:
        solara.Switch(label="fix one value", value=fixed,
                      on_value=lambda on: set_setting({"fix": control.initial} if on else None))


# ----------------------------------------------------------------------------- one run


def _events_html(model, round_: int, title: str, css: str = "") -> str:
    labels = {t: spec.label for t, spec in model.scenario.scenario.tasks.items()}
    lines = [(e, event_text(e, labels)) for e in model.journal
             if e["round"] == round_ and e["kind"] != "round"]
    items = "".join(f"<li><b>{html.escape(e['actor'] or 'World')}</b>: "
                    f"{html.escape(text)}</li>" for e, text in lines if text) or \
        "<li>nothing new</li>"
    return (f"<div class='{css}'><p><b>{html.escape(title)}</b> ({model.round_start(round_)} "
            f"to {model.round_end(round_)})</p><ul class='isf-events'>{items}</ul></div>")


@solara.component
def RoundEvents(model, story):
    """The events of the model's current round and, once the run is over, of its decisive
    round (the round that settled the outcome, which may lie long before the last)."""
    if model.round == 0:
        solara.Markdown("*Press **Next round** to start the negotiation, or move the round "
                        "timeline.*")
        return
    parts = [_events_html(model, model.round, f"Round {model.round}", "isf-round")]
    if story is not None and not model.running and story.decisive_round != model.round:
        parts.insert(0, _events_html(
            model, story.decisive_round, f"The decisive round: round {story.decisive_round} "
            f"({story.decisive_why})", "isf-decisive"))
    solara.HTML(tag="div", unsafe_innerHTML="".join(parts))


def _countries_html(model) -> str:
    """Each country's status in words, with its colour (the drawing's legend, as text)."""
    rows = "".join(
        f"<tr data-country='{html.escape(r['country'])}' data-status='{html.escape(r['status'])}'>"
        f"<td><span class='isf-swatch' style='background:{r['colour']}'></span></td>"
        f"<td>{html.escape(r['country'])}</td><td class='isf-status'>{html.escape(r['label'])}"
        f"</td><td>{html.escape(r['pledge'])}</td></tr>" for r in explorer.country_rows(model))
    return ("<table class='isf-countries'><tr><th></th><th>Country</th><th>Status</th>"
            "<th>Pledge</th></tr>" + rows + "</table>")


def _legend_html() -> str:
    items = "".join(f"<li><span class='isf-swatch' style='background:{colour}'></span>"
                    f"{html.escape(label)}</li>" for colour, label, _ in explorer.legend())
    return f"<ul class='isf-legend'>{items}</ul>"


_STYLE = """<style>
.isf-history td, .isf-history th, .isf-countries td, .isf-countries th {padding: 2px 8px;
  text-align: left; border-bottom: 1px solid #ddd; vertical-align: top}
.isf-swatch {display: inline-block; width: 14px; height: 14px; border: 1px solid #333;
  border-radius: 7px; margin-right: 6px; vertical-align: middle}
.isf-legend {list-style: none; padding-left: 0; columns: 2; font-size: 0.85rem}
.isf-decisive {background: #FFF4D6; padding: 4px 8px; border-left: 4px solid #E69F00}
.isf-noise-yes {font-weight: bold}
</style>"""


@solara.component
def Timeline(story, round_, go_to):
    """The rounds in which something changed, each a button that jumps to it."""
    with solara.Details("Rounds in which something changed (click one to go there)",
                        expand=True):
        with solara.Column(style={"max-height": "260px", "overflow-y": "auto", "gap": "0"},
                           classes=["isf-timeline"]):
            for r, lines in sorted(story.changes.items()):
                mark = " (decisive)" if r == story.decisive_round else ""
                summary = "; ".join(lines[:3]) + (f"; and {len(lines) - 3} more"
                                                  if len(lines) > 3 else "")
                solara.Button(f"Round {r}{mark}: {summary}", text=True,
                              on_click=lambda r=r: go_to(r), classes=["isf-jump"],
                              style={"justify-content": "flex-start", "text-transform": "none",
                                     "font-weight": "bold" if r == round_ else "normal",
                                     "max-width": "100%", "overflow": "hidden"})


@solara.component
def OneRun(loaded, seed: int):
    """One run on a round timeline. Its own component (remounted, back at round 0, whenever
    the settings or the seed change), so that stepping re-renders only this part."""
    round_, set_round = solara.use_state(0)
    message, set_message = solara.use_state("")
    story, story_error = solara.use_memo(
        lambda: _safe("The run", lambda: explorer.story(loaded, seed)), [])
    # the model at the chosen round: re-run from the start (the run is deterministic)
    model, model_error = solara.use_memo(
        lambda: _safe("The run", lambda: explorer.run_to(loaded, seed, round_)), [round_])
    network, network_error = solara.use_memo(
        lambda: _safe("The drawing", lambda: _closed(explorer.network_figure(
            model, story.decisive_round if story else None))) if model else (None, ""),
        [round_])
    if model is None or story is None:
        solara.Error(model_error or story_error or "The run could not be made")
        return
    last = story.last_round

    @guarded("The run", set_message)
    def go_to(r):
        set_round(min(max(int(r), 0), last))

    with solara.Row(style={"flex-wrap": "wrap"}):
        solara.Button("Previous round", on_click=lambda: go_to(round_ - 1),
                      disabled=round_ <= 0)
        solara.Button("Next round", on_click=lambda: go_to(round_ + 1), color="primary",
                      disabled=round_ >= last)
        solara.Button("Run to the end", on_click=lambda: go_to(last), disabled=round_ >= last)
        solara.Button(f"Decisive round ({story.decisive_round})",
                      on_click=lambda: go_to(story.decisive_round))
        solara.Button("Restart", on_click=lambda: go_to(0), disabled=round_ == 0)
    solara.SliderInt("Round", value=min(round_, last), min=0, max=max(last, 1),
                     thumb_label="always", tick_labels="end_points", on_value=go_to)
    if message:
        solara.Error(message)
    Timeline(story, round_, go_to)
    with solara.Columns([3, 2]):
        with solara.Column():
            if network is not None:
                solara.FigureMatplotlib(network, format="png", dependencies=[round_])
            else:
                solara.Error(network_error)
            solara.HTML(tag="div", unsafe_innerHTML=_STYLE + _countries_html(model))
            with solara.Details("Legend: every status and its colour", expand=False):
                solara.HTML(tag="div", unsafe_innerHTML=_legend_html())
        RoundEvents(model, story)
    if not model.running:
        out = model.outcome()
        decided = f"; decided in round {story.decisive_round} ({story.decisive_why})" \
            if story.decisive_round != model.round else ""
        solara.Text("Outcome: " + (f"the force formed on {out['formed_date']} (round "
                                   f"{out['formed_round']})" if out["formed"] else
                                   f"no force ({REASON_LABELS.get(out['reason'], out['reason'])})"
                                   f"{decided}"),
                    style={"display": "block", "font-weight": "bold"}, classes=["isf-outcome"])


# ----------------------------------------------------------------------------- batches


def _history_html(rows: list[dict]) -> str:
    head = ("<tr><th>Batch</th><th>Scenario</th><th>Settings changed from the file</th>"
            "<th>Seed</th><th>Runs</th><th>P(force forms)</th><th>95% interval</th>"
            "<th>Difference</th><th>95% interval of the difference</th>"
            "<th>Beyond Monte Carlo noise?</th><th>Time</th></tr>")
    body = []
    for r in reversed(rows):
        lo, hi = r["ci"]
        if r["diff"] is None:
            diff = ci = noise = "-"
        else:
            d, dlo, dhi = r["diff"]
            diff = f"{explorer.pp(d)} vs batch {r['reference']}"
            ci = f"{explorer.pp(dlo)} to {explorer.pp(dhi)}"
            noise = "yes" if r["exceeds_noise"] else "no"
        cells = [str(r["batch"]), html.escape(r["scenario"]), html.escape(r["settings"]),
                 str(r["seed"]), f"{r['runs']:,}", f"{r['p']:.1%}", f"{lo:.1%} to {hi:.1%}",
                 html.escape(diff), html.escape(ci),
                 f"<span class='isf-noise-{noise}'>{noise}</span>", f"{r['seconds']:.2f} s"]
        body.append(f"<tr data-batch='{r['batch']}'>"
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (_STYLE + "<table class='isf-history' style='border-collapse: collapse'>" + head
            + "".join(body) + "</table>")


@solara.component
def BatchHistory(batches, reference, set_reference):
    numbers = [b.number for b in batches]
    options = ["the previous batch", *[f"batch {n}" for n in numbers]]
    chosen = "the previous batch" if reference not in numbers else f"batch {reference}"

    def choose(text):
        if isinstance(text, str) and text.startswith("batch ") and text[6:].isdigit():
            set_reference(int(text[6:]))
        else:
            set_reference(None)

    solara.Markdown(f"#### The last {MAX_BATCHES} batches")
    solara.Select("Compare each batch with", values=options, value=chosen, on_value=choose)
    solara.HTML(tag="div", unsafe_innerHTML=_history_html(
        explorer.history_rows(batches, reference)))
    solara.Text("Differences are in percentage points (pp), with Newcombe's 95% interval; a "
                "difference is beyond Monte Carlo noise when its interval excludes zero. "
                "Batches with the same seed share their random draws, so the interval (which "
                "assumes independent batches) is conservative. The intervals say nothing about "
                "whether the scenario's assumptions are right.",
                style={"display": "block", "font-size": "0.85rem"})


@solara.component
def BatchPlots(latest):
    """The plots of the latest batch, on request: drawing them takes several times as long as
    the batch itself, so they are off by default (the odds can then follow a slider), and
    drawn in a thread, after the odds are shown."""
    show, set_show = solara.use_state(False)

    def draw():
        return _safe("The plots", lambda: _batch_images(latest)) if show else None

    result = solara.use_thread(draw, dependencies=[latest.number, show],
                               intrusive_cancel=False)
    solara.Switch(label="Draw the plots of each batch (they take longer than the batch)",
                  value=show, on_value=set_show)
    if not show:
        return
    if result.state != solara.ResultState.FINISHED or result.value is None:
        solara.Text("Drawing the plots...")
        return
    images, error = result.value
    if images is None:
        solara.Error(error)
        return
    with solara.Columns([1, 1]):
        solara.Image(images[0])
        solara.Image(images[1])
    solara.Image(images[2])


# ----------------------------------------------------------------------------- the page


@solara.component
def Odds(loaded, scenario_name: str, overrides: tuple, seed: int):
    """Batches of runs and their history (`loaded` is None while the settings are not a valid
    scenario). Its own component, holding the history, so that a batch's progress and its
    result re-render only this part of the page, not the sliders."""
    batches, set_batches = solara.use_state([])
    runs, set_runs = solara.use_state(RUNS_MAX)
    batch_request, set_batch_request = solara.use_state(0)
    progress, set_progress = solara.use_state(0.0)
    reference, set_reference = solara.use_state(None)
    message, set_message = solara.use_state("")
    follow, set_follow = solara.use_state(False)

    def batch(cancel):
        if batch_request == 0 or loaded is None:
            return None

        def on_progress(done, total):
            if cancel.is_set():
                raise _Cancelled
            set_progress(min(1.0, done / total))

        try:  # the same runs as `run.py run` with this seed, through the one entry point
            result = explorer.run_batch(loaded, runs, seed, settings=overrides,
                                        scenario=scenario_name, on_progress=on_progress)
        except _Cancelled:
            return None
        except Exception as e:  # noqa: BLE001 - shown as one line, logged in full
            _log_failure("a batch")
            set_message(f"The batch failed ({type(e).__name__}); the details are in the "
                        "server's log")
            return None
        set_batches(lambda old: [*old, dataclasses.replace(
            result, number=(old[-1].number + 1) if old else 1)][-MAX_BATCHES:])
        return True

    # checked by hand in on_progress: Solara's intrusive cancel traces every line of Python
    # the batch runs, which makes it several times slower
    result = solara.use_thread(batch, dependencies=[batch_request], intrusive_cancel=False)
    latest = batches[-1] if batches else None

    def start():
        set_progress(0.0)
        set_message("")
        set_batch_request(lambda n: n + 1)

    def follow_settings():
        if follow and loaded is not None:
            start()

    # with "follow the settings" on, every change of the settings (or the seed) runs a batch
    solara.use_effect(follow_settings, [follow, overrides, seed, scenario_name])

    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        with solara.Column(style={"padding-top": "26px", "min-width": "260px"}):
            solara.SliderInt("Runs", value=runs, min=RUNS_MIN, max=RUNS_MAX, step=100,
                             thumb_label="always", on_value=guarded("Not changed", set_message)(
                                 lambda v: set_runs(min(max(int(v), RUNS_MIN), RUNS_MAX))))
        solara.Button("Run batch", on_click=guarded("The batch", set_message)(start),
                      color="primary", disabled=loaded is None)
        solara.Switch(label="Run a batch whenever a setting changes", value=follow,
                      on_value=set_follow)
    with solara.Column():
        if message:
            solara.Error(message)
        if result.state == solara.ResultState.RUNNING:
            solara.ProgressLinear(progress)
            solara.Text(f"Running {runs:,} runs... {progress:.0%}")
    if latest is None:
        if result.state != solara.ResultState.RUNNING:
            solara.Markdown("Press **Run batch** to see the odds under these settings.")
        return
    s = latest.summary
    f = s["formation"][0]
    solara.Markdown(f"### Batch {latest.number}: P(force forms by {s['deadline']}) = "
                    f"**{f['probability']:.1%}** (95% interval {f['ci_low']:.1%} to "
                    f"{f['ci_high']:.1%}, {s['runs']:,} runs in {latest.seconds:.2f} s)")
    BatchHistory(batches, reference, set_reference)
    BatchPlots(latest)


@solara.component
def Settings(base, settings, set_settings, mandate, set_mandate, set_message):
    """The sliders and the mandate's switches of a scenario."""
    sliders = solara.use_memo(lambda: explorer.controls(base), [id(base)])

    def set_setting(path):
        def apply(value):
            if value is None:
                set_settings(lambda old: {k: v for k, v in old.items() if k != path})
            else:
                set_settings(lambda old: {**old, path: value})
        return guarded("Not changed", set_message)(apply)

    for group in GROUPS:
        with solara.Details(group, expand=group in ("Israel", "Convener")):
            for c in sliders:
                if c.group == group:
                    ControlView(c, settings.get(c.path), set_setting(c.path))
    with solara.Details("Mandate tasks", expand=False):
        @guarded("Not changed", set_message)
        def toggle(task, on):
            chosen = (set(mandate) | {task}) if on else (set(mandate) - {task})
            set_mandate([x for x in base.scenario.tasks if x in chosen])

        for t, spec in base.scenario.tasks.items():
            solara.Checkbox(label=spec.label, value=t in mandate,
                            on_value=lambda on, t=t: toggle(t, on))
    solara.Button("Reset to the scenario", on_click=guarded("Not reset", set_message)(
        lambda: (set_settings({}), set_mandate(list(base.scenario.mandate)))))


class _Cancelled(Exception):
    """A newer batch replaced this one."""


@solara.component
def Page():
    scenario_name, set_scenario_name = solara.use_state("baseline.yaml")
    settings, set_settings = solara.use_state({})
    seed, set_seed = solara.use_state(1)
    save_name, set_save_name = solara.use_state("my_scenario.yaml")
    message, set_message = solara.use_state("")
    file_input, set_file_input = solara.use_state("")
    load_message, set_load_message = solara.use_state("")

    solara.Title("ISF formation explorer")
    base, base_error = solara.use_memo(
        lambda: _safe(f"Cannot load {scenario_name}",
                      lambda: explorer.load(FOLDERS, scenario_name)), [scenario_name])
    mandate, set_mandate = solara.use_state(list(base.scenario.mandate) if base else [])
    current_overrides, overrides_error = solara.use_memo(
        lambda: _safe("These settings cannot be used", lambda: tuple(
            explorer.overrides(base, settings, mandate)), default=()) if base else ((), ""),
        [scenario_name, repr(settings), tuple(mandate)])
    # validated once per change of settings, not on every render
    loaded, error = solara.use_memo(
        lambda: _safe("These settings are not a valid scenario",
                      lambda: explorer.load(FOLDERS, scenario_name, list(current_overrides)))
        if base else (None, base_error), [scenario_name, current_overrides])
    listed = solara.use_memo(lambda: files.listing(FOLDERS) if FOLDERS else [], [message])
    if FOLDERS is None:  # after every hook: hooks run in the same order on every render
        solara.Error(FOLDERS_ERROR)
        return

    @guarded("Not loaded", set_load_message)
    def on_scenario(name):
        new = explorer.load(FOLDERS, name)  # refused here, before the page's state changes
        set_scenario_name(name)
        set_settings({})
        set_mandate(list(new.scenario.mandate))
        set_load_message("")

    @guarded("Not loaded", set_load_message)
    def load_file():
        on_scenario(file_input)

    @guarded("Not changed", set_message)
    def on_seed(v):
        set_seed(min(max(int(v or 0), 0), SEED_MAX))

    @guarded("Not saved", set_message)
    def save():
        base_path = files.find(FOLDERS, scenario_name)
        path = explorer.save_scenario(FOLDERS, base, base_path, list(current_overrides),
                                      save_name, Path(save_name.strip()).stem)
        shown = FOLDERS.shown(path)
        set_message(f"Saved {shown}. Run it with: python run.py run {shown}")

    with solara.Sidebar():
        solara.Markdown("## Scenario")
        solara.Select("Scenario", values=listed if scenario_name in listed else
                      [*listed, scenario_name], value=scenario_name, on_value=on_scenario)
        solara.InputText("Or a scenario file (path)", value=file_input,
                         on_value=set_file_input)
        solara.Text(f"Files are read from {FOLDERS.describe()} only, and saved to "
                    f"{FOLDERS.shown(FOLDERS.user)}.", style={"display": "block"})
        solara.Button("Load file", on_click=load_file, disabled=not file_input)
        with solara.Column():
            if load_message:
                solara.Error(load_message)
        solara.InputInt("Seed", value=seed, on_value=on_seed)
        with solara.Column():
            if base is not None:
                Settings(base, settings, set_settings, mandate, set_mandate, set_message)
        solara.Markdown("## Save")
        solara.InputText("Save as (file name)", value=save_name, on_value=set_save_name)
        solara.Button("Save settings as a scenario", on_click=save, color="primary",
                      disabled=base is None)
        if message:
            solara.Info(message)

    solara.Markdown("# How the Gaza stabilisation force gets formed")
    # conditional parts sit inside a fixed container: a part appearing must not shift the
    # components after it, which would remount them and lose their state (a running batch)
    with solara.Column():
        if current_overrides:
            solara.Text("Changed from the scenario: " + ", ".join(current_overrides),
                        style={"display": "block"}, classes=["isf-changed"])
    problem = overrides_error or error or base_error or \
        ("" if loaded is not None else "No scenario loaded")
    with solara.Column():
        if problem:
            solara.Error(problem)
    # the tabs stay mounted while the settings are not valid, so the history is kept
    with solara.lab.Tabs():
        with solara.lab.Tab("Odds (batch of runs)"):
            Odds(None if problem else loaded, scenario_name, current_overrides, seed)
        with solara.lab.Tab("One run, round by round"):
            with solara.Column():
                if not problem:
                    OneRun(loaded, seed).key(f"{scenario_name}|{current_overrides}|{seed}")


def _closed(fig):
    """Detach a figure from pyplot (it is drawn once into the page and then dropped)."""
    plt.close(fig)
    return fig


def _batch_images(batch) -> list[bytes]:
    """The batch's plots as PNG images (drawn here, in the plots' thread, not in a render)."""
    out = []
    s = batch.summary
    for fig in (plots.country_status(s), plots.outcome_breakdown(s),
                plots.formation_over_time(s)):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        out.append(buffer.getvalue())
    return out
