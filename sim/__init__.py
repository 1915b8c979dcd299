"""Agent-based simulator of how the International Stabilization Force for Gaza gets formed."""

from .analysis.summary import render as render_summary
from .analysis.summary import summarise
from .api import open_result, run_experiment, run_scenario
from .experiments.seeds import run_seed
from .model import NegotiationModel, simulate
from .scenario import LoadedScenario, ScenarioError, load_scenario

__all__ = [
    "LoadedScenario", "NegotiationModel", "ScenarioError", "load_scenario", "open_result",
    "render_summary", "run_experiment", "simulate", "run_scenario", "run_seed", "summarise",
]
