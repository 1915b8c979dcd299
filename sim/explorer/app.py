"""The interactive explorer: move a slider and see the odds change; watch one negotiation unfold.

Launch with `python run.py explore`. Every browser session builds its own models (state lives in
the page component, which Solara instantiates per session), so two sessions never share one.
"""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import solara

from sim.analysis import plots
from sim.analysis.summary import summarise
from sim.experiments.runner import run_rows
from sim.explorer import logic as explorer
from sim.scenario import ScenarioError


@solara.component
def Slider(control: explorer.Control, values, set_values):
    def on_value(v):
        set_values({**values, control.path: float(v)})

    solara.SliderFloat(control.label, value=values.get(control.path, control.initial),
                       min=control.low, max=control.high, step=control.step, on_value=on_value)


@solara.component
def RoundEvents(model, version: int):
    """The events of the model's current round (`version` changes whenever the model steps)."""
    lines = [e for e in model.events_log if e["round"] == model.round and e["kind"] != "round"]
    if model.round == 0:
        solara.Markdown("*Press **Next round** to start the negotiation.*")
        return
    items = "".join(f"<li><b>{html.escape(e['actor'] or 'World')}</b>: "
                    f"{html.escape(e['text'])}</li>" for e in lines)
    solara.HTML(tag="div", unsafe_innerHTML=f"<p><b>Round {model.round}</b> "
                f"({model.round_start(model.round)} to {model.round_end(model.round)})</p>"
                f"<ul class='isf-events'>{items}</ul>")


@solara.component
def Page():
    scenario_name, set_scenario_name = solara.use_state("baseline.yaml")
    base = solara.use_memo(lambda: _load(scenario_name), [scenario_name])
    values, set_values = solara.use_state({})
    mandate, set_mandate = solara.use_state(list(base.scenario.mandate) if base else [])
    seed, set_seed = solara.use_state(1)
    runs, set_runs = solara.use_state(300)
    run_version, set_run_version = solara.use_state(0)
    batch_request, set_batch_request = solara.use_state(0)
    progress, set_progress = solara.use_state(0.0)
    save_name, set_save_name = solara.use_state("scenarios/my_scenario.yaml")
    message, set_message = solara.use_state("")
    steps, set_steps = solara.use_state(0)
    file_input, set_file_input = solara.use_state("")
    load_message, set_load_message = solara.use_state("")

    current_overrides = explorer.overrides(base, values, mandate) if base else []

    def load_current():
        if base is None:
            return None, f"Cannot load {scenario_name}"
        try:
            return explorer.load(scenario_name, current_overrides), ""
        except ScenarioError as e:
            return None, e.format()

    # validated once per change of settings, not on every render (a step re-renders the page)
    loaded, error = solara.use_memo(load_current, [scenario_name, tuple(current_overrides)])

    # the step-through model: rebuilt when the settings, the seed or "Restart" change
    model = solara.use_memo(lambda: explorer.start_run(loaded, seed) if loaded else None,
                            [scenario_name, tuple(current_overrides), seed, run_version])

    def batch(cancel):
        if batch_request == 0 or loaded is None:
            return None
        chunk = max(20, runs // 10)
        rows: list[dict] = []
        for start in range(0, runs, chunk):  # the same runs as `run.py run` with this seed
            if cancel.is_set():
                return None
            rows += run_rows(loaded, seed, range(start, min(runs, start + chunk)))
            set_progress(min(1.0, len(rows) / runs))
        return batch_request, summarise(pd.DataFrame(rows), loaded, seed)

    result = solara.use_thread(batch, dependencies=[batch_request])
    figures = solara.use_memo(lambda: _batch_figures(result.value), [result.value])
    network = solara.use_memo(lambda: _closed(explorer.network_figure(model)) if model else None,
                              [model, steps])

    solara.Title("ISF formation explorer")
    if base is None:
        solara.Error(error)
        return

    def on_scenario(name):
        set_scenario_name(name)
        loaded = _load(name)
        set_values({})
        set_mandate(list(loaded.scenario.mandate) if loaded else [])
        set_run_version(run_version + 1)

    def step():
        if model is not None and model.running:
            model.step()
            set_steps(steps + 1)

    def run_to_end():
        if model is not None:
            while model.running:
                model.step()
            set_steps(steps + 1)


    with solara.Sidebar():
        solara.Markdown("## Scenario")
        shipped = explorer.shipped_scenarios()
        solara.Select("Scenario", values=shipped if scenario_name in shipped else
                      [*shipped, scenario_name], value=scenario_name, on_value=on_scenario)
        solara.InputText("Or a scenario file (path)", value=file_input,
                         on_value=set_file_input)

        def load_file():
            try:
                explorer.load(file_input)
            except ScenarioError as e:
                set_load_message(f"Not loaded: {e.format()}")
                return
            set_load_message("")
            on_scenario(file_input)

        solara.Button("Load file", on_click=load_file, disabled=not file_input)
        if load_message:
            solara.Error(load_message)
        solara.InputInt("Seed", value=seed, on_value=lambda v: set_seed(int(v or 0)))
        sliders = explorer.controls(base)
        for group in ("Willingness", "Domestic opposition", "Israel", "Convener"):
            with solara.Details(group, expand=group in ("Israel", "Convener")):
                for c in sliders:
                    if c.group == group:
                        Slider(c, values, set_values)
        with solara.Details("Mandate tasks", expand=False):
            def toggle(task, on):
                chosen = (set(mandate) | {task}) if on else (set(mandate) - {task})
                set_mandate([x for x in base.scenario.tasks if x in chosen])

            for t, spec in base.scenario.tasks.items():
                solara.Checkbox(label=spec.label, value=t in mandate,
                                on_value=lambda on, t=t: toggle(t, on))
        solara.Markdown("## Save")
        solara.InputText("Save as (path)", value=save_name, on_value=set_save_name)

        def save():
            try:
                path = explorer.save_scenario(base, _path(scenario_name), current_overrides,
                                              save_name, Path(save_name).stem)
                shown = path.relative_to(explorer.ROOT) if path.is_relative_to(explorer.ROOT) \
                    else path
                set_message(f"Saved {shown}. Run it with: python run.py run {shown}")
            except (ValueError, ScenarioError) as e:
                set_message(f"Not saved: {e}")

        solara.Button("Save settings as a scenario", on_click=save, color="primary")
        if message:
            solara.Markdown(message)

    solara.Markdown("# How the Gaza stabilisation force gets formed")
    if current_overrides:
        solara.Markdown("**Changed from the scenario:** `" + "`, `".join(current_overrides)
                        + "`")
    if error:
        solara.Error(error)
        return
    with solara.lab.Tabs():
        with solara.lab.Tab("Odds (batch of runs)"):
            with solara.Row():
                solara.SliderInt("Runs", value=runs, min=100, max=1000, step=100,
                                 on_value=set_runs)
                solara.Button("Run batch", on_click=lambda: (set_progress(0.0),
                                                             set_batch_request(
                                                                 batch_request + 1)),
                              color="primary")
            if result.state == solara.ResultState.RUNNING:
                solara.ProgressLinear(progress)
                solara.Text(f"Running {runs} runs... {progress:.0%}")
            elif result.value is not None:
                number, s = result.value
                f = s["formation"][0]
                solara.Markdown(f"### Batch {number}: P(force forms by {s['deadline']}) = "
                                f"**{f['probability']:.1%}** "
                                f"(95% interval {f['ci_low']:.1%} to {f['ci_high']:.1%}, "
                                f"{s['runs']} runs)")
                with solara.Columns([1, 1]):
                    solara.FigureMatplotlib(figures[0], format="png", dependencies=[number])
                    solara.FigureMatplotlib(figures[1], format="png", dependencies=[number])
                solara.FigureMatplotlib(figures[2], format="png", dependencies=[number])
            else:
                solara.Markdown("Press **Run batch** to see the odds under these settings.")
        with solara.lab.Tab("One run, round by round"):
            with solara.Row():
                solara.Button("Next round", on_click=step, color="primary",
                              disabled=not model.running)
                solara.Button("Run to the end", on_click=run_to_end,
                              disabled=not model.running)
                solara.Button("Restart", on_click=lambda: set_run_version(run_version + 1))
            with solara.Columns([3, 2]):
                solara.FigureMatplotlib(network, format="png", dependencies=[steps, model])
                RoundEvents(model, steps)
            if not model.running:
                out = model.outcome()
                solara.Markdown("**Outcome:** " + (f"the force formed on {out['date']}"
                                                   if out["formed"] else
                                                   f"no force ({out['reason']})"))


def _closed(fig):
    """Detach a figure from pyplot (it is drawn once into the page and then dropped)."""
    plt.close(fig)
    return fig


def _batch_figures(value):
    if value is None:
        return None
    s = value[1]
    return [_closed(f) for f in (plots.country_status(s), plots.outcome_breakdown(s),
                                 plots.formation_over_time(s))]


def _path(name: str) -> Path:
    p = Path(name)
    for candidate in (p, explorer.SCENARIOS / name, explorer.ROOT / name):
        if candidate.exists():
            return candidate
    return p


def _load(name: str):
    try:
        return explorer.load(name)
    except ScenarioError:
        return None
