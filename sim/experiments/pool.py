"""Where the chunks of an experiment run: the current thread, a pool of threads made here, or any
`concurrent.futures` executor (a Dask client's, say).

The runs are computed by the compiled fast path, which releases Python's global lock, so
threads run them side by side on every core: no worker process to start (each would load the
compiled code again), nothing to copy between processes, nothing that outlives the command when
it is killed, and a plain script or a notebook needs no `if __name__ == "__main__"` guard.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
from collections.abc import Callable, Iterable, Iterator

from .limits import MAX_WORKERS, ExperimentError, whole


def check_workers(workers: int, log: Callable[[str], None]) -> int:
    """`workers` if sane: refused beyond MAX_WORKERS (each holds a chunk's tables in memory),
    a warning beyond the cores (they would only take turns)."""
    cores = os.cpu_count() or 1
    if not whole(workers) or workers < 1:
        raise ExperimentError(f"--workers {workers!r}: expected a whole number of at least 1")
    workers = int(workers)
    if workers > MAX_WORKERS:
        raise ExperimentError(f"--workers {workers:,}: at most {MAX_WORKERS} workers "
                              f"(this machine has {cores} cores)")
    if workers > cores:
        log(f"Warning: --workers {workers} is more than the {cores} cores of this machine; "
            f"the runs will not go faster than with {cores}.")
    return workers


@contextlib.contextmanager
def executor_for(workers: int, executor: cf.Executor | None) -> Iterator[tuple]:
    """Yield (executor, local): the given executor (not local), a pool of `workers` threads
    made here, or None for the current thread. A pool made here is shut down on leaving; on an
    interruption or an error, without waiting for its queued work."""
    if executor is not None:
        yield executor, False
        return
    if workers <= 1:
        yield None, True
        return
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runs")
    try:
        yield pool, True
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def run_tasks(func: Callable, tasks: Iterable[tuple], on_result: Callable,
              executor: cf.Executor | None = None, inflight: int = 2) -> None:
    """Call `func(*task)` for every task and `on_result(index, value)` as each one finishes
    (in the current process when `executor` is None). At most `inflight` tasks are queued at
    once, so memory stays flat however many tasks there are."""
    if executor is None:
        for i, task in enumerate(tasks):
            on_result(i, func(*task))
        return
    queue = iter(enumerate(tasks))
    pending: dict[cf.Future, int] = {}
    try:
        while True:
            for i, task in queue:
                pending[executor.submit(func, *task)] = i
                if len(pending) >= inflight:
                    break
            if not pending:
                break
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in sorted(done, key=pending.__getitem__):
                on_result(pending.pop(fut), fut.result())
    except BaseException:
        for fut in pending:  # an executor not made here keeps running: drop what is queued
            fut.cancel()
        raise
