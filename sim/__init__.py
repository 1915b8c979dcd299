"""Agent-based simulator of how the International Stabilization Force for Gaza gets formed."""

from .experiment import run_experiment, run_seed
from .model import NegotiationModel, run_one
from .scenario import LoadedScenario, ScenarioError, load_scenario
from .summary import render as render_summary
from .summary import summarise

__all__ = [
    "LoadedScenario", "NegotiationModel", "ScenarioError", "load_scenario", "render_summary",
    "run_experiment", "run_one", "run_seed", "summarise",
]
