"""Where the chunks of an experiment run: the current process, a process pool made here, or any
`concurrent.futures` executor (a Dask client's, say).

A pool made here is safe to start from a plain script without an `if __name__ == "__main__"`
guard and from a notebook, and its workers die with the process that made them.
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from .limits import MAX_WORKERS, ExperimentError, whole

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def start_method() -> str | None:
    """How to start worker processes here; None means run in the current process.

    Mesa's batch runner forces the global start method to "spawn" when imported, and spawn
    (like forkserver) re-runs the caller's main script in every worker, which breaks a script
    without an `if __name__ == "__main__"` guard. So the choice is made here, not inherited:
    - Linux, a notebook (ipykernel), a REPL or `python -c` (nothing to re-run, but perhaps
      other threads, which make fork unsafe): forkserver;
    - Linux, a script with a guard while other threads run: forkserver;
    - Linux, any other script (guarded or not): fork (nothing is re-run; workers start at
      once; no other thread can hold a lock across the fork);
    - elsewhere (fork is unsafe on macOS): spawn, if the main script is guarded or there is
      none; otherwise the current process, since its workers would re-run the script.
    """
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    interactive = main_file is None or "ipykernel" in sys.modules
    if sys.platform.startswith("linux"):
        if interactive or (threading.active_count() > 1 and _guarded(main_file)):
            return "forkserver"
        return "fork"
    if interactive or _guarded(main_file):
        return "spawn"
    return None


def _guarded(path: str) -> bool:
    """Whether a script has a top-level `if __name__ == "__main__":` block."""
    try:
        tree = ast.parse(open(path, encoding="utf-8").read())
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return False
    return any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
               for node in tree.body)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def die_with_parent(main_pid: int) -> None:
    """Make this worker end when the main process ends, even by SIGKILL (which gives the main
    process no chance to stop its pool).

    A worker forked by the main process asks the kernel for SIGKILL when its parent dies
    (Linux: prctl PR_SET_PDEATHSIG). A worker forked by a forkserver has the server as its
    parent, and the server lives as long as any worker holds its pipe, so a thread watches the
    main process itself (through a pidfd where there is one, else by polling).
    """
    if os.getppid() == main_pid and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if not _alive(main_pid):  # it died before the signal was armed
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    if not _alive(main_pid):
        os._exit(1)
    try:
        pidfd = os.pidfd_open(main_pid)
    except (AttributeError, OSError):
        pidfd = None

    def watch():
        if pidfd is not None:
            select.select([pidfd], [], [])  # readable once the process has ended
        else:
            while _alive(main_pid):
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="watch-main-process", daemon=True).start()


def check_workers(workers: int, log: Callable[[str], None]) -> int:
    """`workers` if sane: refused beyond MAX_WORKERS (each is a process with its own memory),
    a warning beyond the cores (they would only take turns)."""
    cores = os.cpu_count() or 1
    if not whole(workers) or workers < 1:
        raise ExperimentError(f"--workers {workers!r}: expected a whole number of at least 1")
    workers = int(workers)
    if workers > MAX_WORKERS:
        raise ExperimentError(f"--workers {workers:,}: at most {MAX_WORKERS} worker processes "
                              f"(this machine has {cores} cores)")
    if workers > cores:
        log(f"Warning: --workers {workers} is more than the {cores} cores of this machine; "
            f"the runs will not go faster than with {cores}.")
    return workers


@contextlib.contextmanager
def executor_for(workers: int, executor: cf.Executor | None, initializer: Callable,
                 initargs: tuple, log: Callable[[str], None]) -> Iterator[tuple]:
    """Yield (executor, own): the given executor, a process pool of `workers` made here (own),
    or (None, False) for the current process. A pool made here is shut down on leaving;
    on an interruption or an error, without waiting for its queued work."""
    if executor is not None:
        yield executor, False
        return
    method = start_method() if workers > 1 else None
    if workers > 1 and method is None:
        log("Running in this process: a script that starts several worker processes on this "
            "system needs an `if __name__ == \"__main__\":` guard.")
    if method is None:
        yield None, False
        return
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":  # the server imports the runner once; workers fork from it
        ctx.set_forkserver_preload(["__main__", __name__.rsplit(".", 1)[0] + ".runner"])
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                  initializer=initializer, initargs=(os.getpid(), *initargs))
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
