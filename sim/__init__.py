"""Agent-based simulator of how the International Stabilization Force for Gaza gets formed."""

from .analysis.summary import render as render_summary
from .analysis.summary import summarise
from .api import open_result, present, run_experiment, trace, trace_result
from .experiments import Experiment, load_result
from .experiments.seeds import run_seed
from .model import NegotiationModel, simulate
from .scenario import LoadedScenario, ScenarioError, load_scenario

__all__ = [
    "Experiment", "LoadedScenario", "NegotiationModel", "ScenarioError", "load_result",
    "load_scenario", "open_result", "present", "render_summary", "run_experiment",
    "run_seed", "simulate", "summarise", "trace", "trace_result",
]
