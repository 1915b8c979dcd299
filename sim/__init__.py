"""Agent-based simulator of how the International Stabilization Force for Gaza gets formed.

The names below are imported when first used (a command pays only for what it needs)."""

from ._lazy import exports

_API = ("compare_table", "feature_scores", "open_result", "over_time", "plot_compare",
        "plot_countries_over_time", "plot_country_status", "plot_feature_scores",
        "plot_formation", "plot_over_time", "present", "run_experiment", "summary_of", "trace",
        "trace_result")
_NAMES = {
    **dict.fromkeys(_API, ".api"),
    "render_summary": ".analysis.summary:render", "summarise": ".analysis.summary",
    "Experiment": ".experiments.store", "load_result": ".experiments.store",
    "run_seed": ".experiments.seeds", "NegotiationModel": ".model.model",
    "simulate": ".model.run", "LoadedScenario": ".scenario.loader",
    "ScenarioError": ".scenario.loader", "load_scenario": ".scenario.loader",
}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = sorted(_NAMES)
