"""Agent-based simulator of how the International Stabilization Force for Gaza gets formed."""

from .analysis.summary import render as render_summary
from .analysis.summary import summarise
from .api import (
    compare_table,
    feature_scores,
    open_result,
    over_time,
    plot_compare,
    plot_countries_over_time,
    plot_country_status,
    plot_feature_scores,
    plot_formation,
    plot_over_time,
    present,
    run_experiment,
    summary_of,
    trace,
    trace_result,
)
from .experiments import Experiment, load_result
from .experiments.seeds import run_seed
from .model import NegotiationModel, simulate
from .scenario import LoadedScenario, ScenarioError, load_scenario

__all__ = [
    "Experiment", "LoadedScenario", "NegotiationModel", "ScenarioError", "compare_table",
    "feature_scores", "load_result", "load_scenario", "open_result", "over_time",
    "plot_compare", "plot_countries_over_time", "plot_country_status", "plot_feature_scores",
    "plot_formation", "plot_over_time", "present", "render_summary", "run_experiment",
    "run_seed", "simulate", "summarise", "summary_of", "trace", "trace_result",
]
