"""Running experiments: one entry point (`run_experiment`), seeded runs in chunks over any
executor, and checked, resumable results folders."""

from .files import RootError, StorageError, safe_name
from .limits import MAX_RUNS, MAX_WORKERS, ExperimentError
from .runner import compute_chunk, run_experiment
from .seeds import run_seed
from .store import Experiment, ResultError, load_result

__all__ = ["MAX_RUNS", "MAX_WORKERS", "Experiment", "ExperimentError", "ResultError",
           "RootError", "StorageError", "compute_chunk", "load_result", "run_experiment",
           "run_seed", "safe_name"]
