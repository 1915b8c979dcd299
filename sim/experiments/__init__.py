"""Running experiments: seeded runs in chunks over any executor, and results folders."""

from .runner import run_rows, run_tasks
from .seeds import run_seed
from .store import Result, ResultError, load_result, run_to_folder, slug

__all__ = ["Result", "ResultError", "load_result", "run_rows", "run_seed", "run_tasks",
           "run_to_folder", "slug"]
