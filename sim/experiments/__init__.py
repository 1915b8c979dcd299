"""Running experiments: one entry point (`run_experiment`), seeded runs in chunks over any
executor, and checked, resumable results folders. Names are imported when first used."""

from .._lazy import exports

_NAMES = {"RootError": ".files", "StorageError": ".files", "safe_name": ".files",
          "MAX_RUNS": ".limits", "MAX_WORKERS": ".limits", "ExperimentError": ".limits",
          "compute_chunk": ".runner", "run_experiment": ".runner", "run_seed": ".seeds",
          "Experiment": ".store", "ResultError": ".store", "load_result": ".store"}
__getattr__, __dir__ = exports(__name__, _NAMES)
__all__ = sorted(_NAMES)
