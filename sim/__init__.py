"""Agent-based simulator of how the International Stabilization Force for Gaza gets formed.

The names below are imported when first used (a command pays only for what it needs)."""

from ._lazy import exports

_NAMES = {
    "render_summary": ".analysis.summary:render", "summarise": ".analysis.summary",
    "open_result": ".api", "present": ".api", "run_experiment": ".api", "trace": ".api",
    "trace_result": ".api", "Experiment": ".experiments.store",
    "load_result": ".experiments.store", "run_seed": ".experiments.seeds",
    "NegotiationModel": ".model.model", "simulate": ".model.run",
    "LoadedScenario": ".scenario.loader", "ScenarioError": ".scenario.loader",
    "load_scenario": ".scenario.loader",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = sorted(_NAMES)
