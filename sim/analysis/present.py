"""Presenting a results folder: its summary (JSON and CSV), plots and report, computed from the
saved runs alone (it never re-runs the model). A parameter study's folder gets the study's
table, plots and report instead. `python run.py report FOLDER` calls `present`.

The summary comes first and is cheap (Arrow only: pandas is not even imported before it is
printed), so that the command line can print it before the plots, curves over time, feature
scores and report are drawn (pandas, matplotlib, scikit-learn and Jinja2 are imported only then).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.parquet as pq

from .. import forked
from ..experiments import files
from ..experiments.store import load_result
from .fmt import display_name
from .summary import Accumulator, flat_rows

if TYPE_CHECKING:
    import pandas as pd

ROW_GROUP = 10_000


def summarise_file(path: Path, context: dict) -> dict:
    """The summary of a runs.parquet file, read in batches (flat memory) and counted by Arrow."""
    pf = pq.ParquetFile(path)
    acc = Accumulator(context.get("counterfactual_runs"))
    for batch in pf.iter_batches(batch_size=ROW_GROUP, columns=Accumulator.columns(
            pf.schema_arrow.names)):
        acc.add(batch)
    return acc.result(context)


def formed_troops(path: Path) -> np.ndarray:
    """Troops of every run in which a force formed (read from runs.parquet)."""
    t = pq.read_table(path, columns=["formed", "force_troops"])
    formed = t.column("formed").to_numpy(zero_copy_only=False)
    return t.column("force_troops").to_numpy()[formed]


def targets(path: Path) -> np.ndarray:
    """The target of every run (read from runs.parquet)."""
    return pq.read_table(path, columns=["target"]).column("target").to_numpy()


def context_of(meta: dict) -> dict:
    """What the summary needs from an experiment's metadata."""
    cal = meta["calendar"]
    return {"scenario": display_name(meta["scenario"]), "seed": meta["seed"],
            "start": cal["start"], "deadline": cal["deadline"],
            "milestones": cal["milestones"],
            "counterfactual_runs": meta.get("counterfactual_runs")}


def write_summary(folder: Path, meta: dict,
                  on_summary: Callable[[dict], None] | None = None,
                  accumulated: Accumulator | None = None) -> dict:
    """Compute an experiment's summary from its runs and write summary.json;
    `on_summary(summary)` is called once it is written. summary.csv, which needs pandas
    (0.4 s to import), is written by `draw`, with the plots: by a `Presenter` that has
    imported pandas while the runs were computed, if one was started.

    `accumulated`: an `Accumulator` that was given every row group of runs.parquet as it was
    written (`run_experiment`'s `on_rows`), so the file need not be read again (1.9 s for a
    million runs); used only if it holds every run and the same counterfactual runs as the
    folder says, else the file is read."""
    context = context_of(meta)
    if accumulated is not None and accumulated.n == meta["total_runs"] and \
            accumulated.limit == meta.get("counterfactual_runs"):
        summary = accumulated.result(context)
    else:
        summary = summarise_file(folder / "runs.parquet", context)
    files.write_json(folder / "summary.json", summary)
    if on_summary is not None:
        on_summary(summary)
    return summary


def write_summary_csv(folder: Path, summary: dict) -> None:
    with files.writing(folder / "summary.csv") as tmp:
        summary_frame(summary).to_csv(tmp, index=False)


def summary_frame(summary: dict) -> pd.DataFrame:
    """summary.csv: one row per measure, its value, 95% interval and runs as numbers, and the
    date of the date quantiles in a column of their own."""
    import pandas as pd

    t = pd.DataFrame(flat_rows(summary), columns=["metric", "value", "ci_low", "ci_high",
                                                  "runs", "date"])
    for c in ("value", "ci_low", "ci_high"):
        t[c] = pd.to_numeric(t[c]).round(4)
    t["runs"] = t["runs"].astype("Int64")
    return t


def parts(summary: dict, feature_scores: bool = True) -> list[str]:
    """The parts of an experiment's presentation, each drawn on its own (side by side with
    `workers` > 1), the longest first: the feature scores (2.4-3.2 s for the baseline's 300
    runs, measured by benchmarks/bench_speed.py; left out with `feature_scores` False), the
    curves over time (1.6-2.1 s), then the outcome plots (0.2-0.9 s each). The report is
    written last, from what they return."""
    from . import plots

    first = ["feature_scores"] if feature_scores else []
    return [*first, "over_time", *plots.to_draw(summary)]


def draw_part(name: str, folder: Path, meta: dict, summary: dict):
    """Draw one part of a presentation into `folder` (files written whole or not at all) and
    return what the report needs of it (the curves over time, the feature scores), or None."""
    from . import features, overtime, plots

    if name == "over_time":
        ot = overtime.of_folder(folder, meta, summary["scenario"])
        if ot is not None:
            with files.writing(folder / "over_time.csv") as tmp:
                overtime.tidy(ot).to_csv(tmp, index=False)
            plots.save(overtime.envelopes(ot), folder, "over_time")
            plots.save(overtime.countries_over_time(ot), folder, "countries_over_time")
        return ot
    if name == "feature_scores":
        fs = features.of_folder(folder, meta)
        if not fs.scores.empty:  # else the report says why nothing was scored
            with files.writing(folder / "feature_scores.csv") as tmp:
                features.tidy(fs).to_csv(tmp, index=False)
            plots.save(features.plot(fs, summary["scenario"]), folder, "feature_scores")
        return fs
    runs = folder / "runs.parquet"
    extra = (formed_troops(runs), targets(runs)) if name == "force_size" else ()
    plots.save(plots.draw_one(name, summary, *extra), folder, name)
    return None


def draw(folder: Path, meta: dict, summary: dict, workers: int = 1,
         presenter: Presenter | None = None, feature_scores: bool = True) -> dict | None:
    """The slow part of a presentation, from the saved tables and summary: summary.csv, the
    plots, the curves over time (from rounds.parquet, if kept), the feature scores of the
    uncertain parameters, and report.html (written last). With `workers` > 1 the parts are
    drawn side by side in that many processes where they can be forked (`_can_fork`; the
    same files, byte for byte). Without `feature_scores`, the page says how to add them
    (`report`).
    Returns what it computed, or None when a `Presenter` (a process started earlier, its
    libraries imported meanwhile) drew it."""
    if presenter is not None and presenter.alive():
        presenter.draw(folder, meta, summary, workers, feature_scores)
        return None
    from . import report

    write_summary_csv(folder, summary)
    names = parts(summary, feature_scores)
    done = _draw_parts(names, folder, meta, summary, workers)
    scores = done.get("feature_scores")
    report.experiment_report(folder, summary, meta, done["over_time"], scores)
    return {"over_time": done["over_time"], "feature_scores": scores}


def _can_fork() -> bool:
    """Whether drawing processes can be forked from this one (`forked.can_fork`: on Linux,
    while no other thread runs). Otherwise the parts are drawn here, one after the other: a
    process started afresh would run an unguarded script again, and a notebook runs threads
    of its own."""
    return forked.can_fork()


def _release_memory() -> None:
    """Give the memory this process no longer uses back to the system: before drawing
    processes are forked from it (the buffers of the runs just computed and merged stay with
    the allocators, Arrow's pool and the C library's heap, otherwise, and would count in every
    forked process that touches a page of them), and in a drawing process after each part
    (what the curves over time or the feature scores took stayed resident while the next,
    small parts were drawn: a million runs, 459 MB at the command's peak against 506 MB)."""
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not the GNU C library
        pass


def _drawing_process(command: int) -> None:
    """Set up a process that draws parts of a presentation: Ctrl-C is left to the command
    (which stops the drawing), and the process ends by itself once the command is gone
    (killed, say), so that nothing is ever left behind."""
    import signal
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: files.abandon(1))

    def watch():
        while os.getppid() == command:
            time.sleep(0.2)
        files.abandon(1)  # its temporary files removed, then ended

    threading.Thread(target=watch, name="watch-command", daemon=True).start()


def _draw_parts(names: list[str], folder: Path, meta: dict, summary: dict,
                workers: int) -> dict:
    workers = min(workers, os.cpu_count() or 1, len(names))
    if workers <= 1 or not _can_fork():
        return {n: draw_part(n, folder, meta, summary) for n in names}
    import concurrent.futures as cf
    import gc
    import multiprocessing as mp

    _release_memory()
    # the objects alive now are kept out of the drawing processes' garbage collections, which
    # would otherwise write to every one of them and so copy every page that holds one
    # (measured: 20-40 MB less at the peak of a 200,000-run command, three pairs)
    gc.freeze()
    try:
        pool = cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"),
                                      initializer=_drawing_process, initargs=(os.getpid(),))
        try:  # the drawing processes are forked at the first submit
            futures = {n: pool.submit(_draw_part_portable, n, folder, meta, summary)
                       for n in names}
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    finally:
        gc.unfreeze()
    try:
        done = {n: f.result() for n, f in futures.items()}
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return done


#: what drawing needs, imported by a `Presenter` while the runs are computed (what every
#: part needs: 0.7-0.9 s). Not scikit-learn (1.3-1.9 s, about 75 MB), which only the feature
#: scores need: the drawing process that scores imports it, while the other one draws. The
#: presenter imported it too for experiments of 2,000 runs or more until the forests became
#: cheaper (`features.MAX_DEPTH`); measured without it, in turn with the code that did, whole
#: command: 4,000 runs 7.66-8.14 s against 7.82-8.80 s (four pairs); 100,000 runs 11.6 and
#: 13.6 s against 13.0 and 13.2 s, peak 560 and 572 against 559 and 554 MB; a million runs
#: 66.6 and 57.3 s against 64.5 and 61.2 s, peak 606 and 624 against 653 and 643 MB (the
#: presenter held 178 MB at the end of the runs, when the command held most)
DRAWING_MODULES = ("pandas", "matplotlib.figure", "matplotlib.backends.backend_agg",
                   "matplotlib.backends.backend_svg", "matplotlib.font_manager", "jinja2",
                   "sim.analysis.plots", "sim.analysis.overtime", "sim.analysis.report")


#: experiments of fewer runs have their presenter import the drawing libraries while the runs
#: are computed; larger ones, as it draws (about 0.8 s, 2% of a million runs' command): the
#: libraries hold 60-70 MB, which beside a large experiment's runs made the command's peak
#: (a million runs, the runs computed apart (`forked`): 472-478 MB at the end of the runs
#: against 570-584 MB with the libraries imported)
EAGER_RUNS = 200_000


class Presenter:
    """A drawing process forked at the start of a command, before its runs are computed.

    Drawing needs pandas, matplotlib and Jinja2: about 1 s of imports (measured by
    benchmarks/bench_speed.py), which a command used to pay after its runs, once in each
    drawing process. The presenter imports them at once (`DRAWING_MODULES`), behind the
    command's work (a thread of the lowest priority, `_ImportsBehind`: on the processor time
    the command leaves idle while it loads the model and computes the runs), until the runs
    are done (what is left is imported by the part that needs it; for a large experiment, only
    as it draws: `EAGER_RUNS`), then waits; `draw` hands it
    the results folder and its summary, and it draws the presentation exactly as `draw`
    would (the drawing processes of `_draw_parts` are forked from it, so they share its
    libraries instead of importing them each). It is started only where drawing processes
    can be forked (`_can_fork`), and it never outlives the command: `close` ends it (the
    command's `with` does), it ends by itself if the command is killed, and it leaves Ctrl-C
    to the command. A failure while drawing is raised in the command as it was raised here,
    with the drawing process's traceback as a note."""

    def __init__(self, eager: bool = True):
        import multiprocessing as mp
        import signal

        ctx = mp.get_context("fork")
        self._conn, theirs = ctx.Pipe()
        self._idle = False  # a presentation drawn, and none under way
        self.exitcode: int | None = None  # once closed
        # not a daemon: a daemonic process may not start the drawing processes
        self._process = ctx.Process(target=_presenter_loop,
                                    args=(theirs, self._conn, os.getpid(), eager),
                                    name="presenter")
        # Ctrl-C is held back during the fork: raised inside the fork's handlers, it was lost
        # and left a lock of `logging` held in this process (the runs then deadlocked)
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._process.start()
        finally:
            theirs.close()
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a Ctrl-C held is raised
            except BaseException:
                if self._process.pid is not None:
                    self.close()
                raise

    @classmethod
    def start(cls, eager: bool = True) -> Presenter | None:
        """A presenter, or None where drawing processes cannot be forked (the parts are then
        drawn in the command itself, as when the fork fails for want of memory or
        processes). `eager`: it imports the drawing libraries at once (else as it draws:
        `EAGER_RUNS`)."""
        if not _can_fork():
            return None
        try:
            return cls(eager)
        except OSError:
            return None

    def alive(self) -> bool:
        return self.exitcode is None and self._process.is_alive()

    def draw(self, folder: Path, meta: dict, summary: dict, workers: int,
             feature_scores: bool = True) -> None:
        """Draw `folder`'s presentation (what `draw` draws) and wait until it is written. A
        presenter that died meanwhile (killed, out of memory) is told as a drawing process
        that died: `BrokenProcessPool`, as with the drawing processes themselves."""
        from concurrent.futures.process import BrokenProcessPool

        _release_memory()  # this process only waits meanwhile: its runs' buffers are spare
        self._idle = False
        try:
            self._conn.send((str(folder), meta, summary, workers, feature_scores))
            failure = self._conn.recv()
        except (EOFError, OSError):  # its end of the pipe closed, or reset
            self._process.join(timeout=5)
            raise BrokenProcessPool(
                "the drawing process ended before the presentation was drawn (exit code "
                f"{self._process.exitcode})") from None
        self._idle = True
        if failure is not None:
            raise failure

    def close(self) -> None:
        """End the presenter and reap it. One that drew a presentation and waits for the next
        reads the end of its pipe and returns; one that drew nothing (a reused folder, an
        error before) or is drawing still (Ctrl-C, an error) is ended at once (SIGTERM: it
        removes the temporary files it was writing, and its drawing processes, which watch
        it, theirs)."""
        self._conn.close()
        if self._idle:
            self._process.join(timeout=1)
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self.exitcode = self._process.exitcode
        self._process.close()  # its pipes to this process

    def __enter__(self) -> Presenter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _ImportsBehind:
    """Import `modules` one after the other on a thread of the lowest priority (nice 19: the
    Linux scheduler gives it the processor only when the command's runs leave a core idle,
    about 1/70 of one otherwise), until `stop`, which waits for the module being imported.

    At the command's priority, the imports (about 0.9 s of processor time) took their share
    of the two cores from the runs: 100,000 runs, computed by three threads (two workers and
    the merge), took about 0.5 s longer. Behind them, they fill the cores' idle moments (the
    runs' start and tail), and what is left is imported at full speed once the runs are
    done; the drawing, on the presenter's main thread and the processes forked from it, keeps
    the command's priority. `stop` is called before any drawing process is forked, so none is
    forked while this thread runs."""

    def __init__(self, modules: tuple[str, ...]):
        import threading

        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(modules,),
                                        name="imports", daemon=True)
        self._thread.start()

    def _run(self, modules) -> None:
        import importlib
        import threading

        try:  # Linux: this thread's own priority (its id is a process id to setpriority)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (OSError, AttributeError):
            pass
        for name in modules:
            if self._stopping.is_set():
                return
            try:
                importlib.import_module(name)
            except ImportError:  # drawing will say what is missing, if it needs it
                pass

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()


def _presenter_loop(conn, commands_end, command: int, eager: bool) -> None:
    """A presenter's life: import the drawing libraries (`DRAWING_MODULES`), then draw each
    presentation it is sent, answering None (drawn) or the exception, until the command
    closes the pipe. Not `eager`: the libraries are imported as the drawing needs them."""
    import signal

    commands_end.close()  # this process's copy: the pipe ends when the command closes its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to handle
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held during the fork
    signal.signal(signal.SIGTERM, lambda *_: files.abandon(1))  # `close`, or the command died
    forked.end_with(command)
    importing = _ImportsBehind(DRAWING_MODULES) if eager else None
    while True:
        try:
            folder, meta, summary, workers, feature_scores = conn.recv()
        except EOFError:
            return
        finally:
            if importing is not None:  # the runs are done: the rest is imported on use
                importing.stop()
                importing = None
        try:
            draw(Path(folder), meta, summary, workers, feature_scores=feature_scores)
            answer = None
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the command
            answer = forked.portable(e, "the drawing process")
        try:
            conn.send(answer)
        except OSError:  # the command no longer listens (Ctrl-C as the drawing ended)
            return


def _draw_part_portable(name: str, folder: Path, meta: dict, summary: dict):
    """`draw_part` in a drawing process: its failure is sent back as an exception that
    unpickles (`forked.portable`); one that did not would break the pool and be told as a process
    that died."""
    try:
        return draw_part(name, folder, meta, summary)
    except BaseException as e:  # noqa: BLE001 - every failure goes back to the command
        raise forked.portable(e, "the drawing process") from None
    finally:  # what the part used goes back to the system before the next part
        _release_memory()


def present(folder: str | Path, verified: bool = False,
            on_summary: Callable[[dict], None] | None = None, workers: int = 1,
            presenter: Presenter | None = None, accumulated: Accumulator | None = None,
            feature_scores: bool = True):
    """Write the presentation of a complete results folder from its saved tables and return it:
    for an experiment, summary.json, summary.csv, the plots and report.html (returns the
    summary; `on_summary(summary)` is called as soon as the summary is written, before the
    plots are drawn); for a parameter study, its table, plots and report (returns the
    `Study`). Each file is written whole or not at all. The folder is checked against its
    checksums first (unless the caller just did). `workers` > 1 draws the parts of an
    experiment's presentation side by side in that many processes (at most one per core);
    a `presenter` started before the runs draws it. `accumulated`: the runs already added up
    as they were written (`write_summary`). Without `feature_scores`, an experiment's page
    says how to add them (`report` of the folder) instead of showing them."""
    folder = Path(folder)
    meta = json.loads((folder / "metadata.json").read_text()) if verified else \
        load_result(folder).metadata
    if meta.get("study"):
        from .study_report import present_study

        return present_study(folder, meta)
    summary = write_summary(folder, meta, on_summary, accumulated)
    draw(folder, meta, summary, workers, presenter, feature_scores)
    return summary
