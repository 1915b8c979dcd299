"""The one way to run experiments: `run_experiment` (the EMA Workbench's `perform_experiments`).

An experiment runs a scenario `runs` times from one master seed; run i's seed depends only on
the master seed and i. With `points` (dicts of fixed parameter values, as a sweep or a
sensitivity design makes them) every point is run with the same run seeds. The result is a runs
table (one row per run: point, run, seed, the sampled parameters as `param.<path>`, every
outcome field) and a rounds table (one row per run and round).

The runs are cut into chunks of consecutive rows, computed by `compute_chunk` in the current
thread, worker threads or any `concurrent.futures` executor (Dask). With a results folder (`out`),
each chunk is written to its own checked file in `<id>.partial/` as soon as it arrives (memory
stays flat, and an interrupted experiment resumes), then the chunks are merged in row order into
runs.parquet and rounds.parquet with fixed row groups: the same bytes for any number of workers,
any chunk size and any order of completion.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import math
import numbers
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..scenario import LoadedScenario, ScenarioError, load_scenario
from . import files, store
from .limits import ExperimentError, check_runs, check_seed
from .pool import check_workers, executor_for, run_tasks
from .progress import Progress
from .seeds import run_seeds
from .store import ChunkStore, Experiment, Merger, ResultError
from .tables import (
    PARAM,
    ROUNDS,
    from_numpy,
    rounds_schema,
    runs_schema,
    stored_part,
    texts,
    to_chunk,
)

# ---------------------------------------------------------------------------- one chunk


#: by default the first 10,000 runs of an experiment are replayed for counterfactual
#: attribution (docs/ODD.md R13): enough for shares within about 1 percentage point, without
#: multiplying the cost of a million runs
COUNTERFACTUAL_RUNS = 10_000
#: by default the round-by-round records of the first 10,000 runs are kept (rounds.parquet):
#: bands over time within about a percentage point, without 26 rows per run of a million
ROUND_RUNS = 10_000
#: with engine "auto", at most this many runs are computed by the Mesa model while the fast
#: path is not compiled yet: about 20 ms a run on one core, so 2,000 runs take about as long
#: as the compile itself (about a minute); a larger experiment waits for the compile
REFERENCE_RUNS = 2_000
ENGINES = ("auto", "fast", "reference")


def counterfactual_runs(asked: int | None, points=None) -> int:
    """How many runs an experiment replays for counterfactual attribution: as asked, else
    COUNTERFACTUAL_RUNS, none for the points of a study."""
    if asked is not None:
        return asked
    return 0 if points else COUNTERFACTUAL_RUNS


def compute_chunk(loaded: LoadedScenario, master: int, start: int, stop: int,
                  points: Mapping[int, dict] | Sequence[dict] | None = None,
                  rounds: int = 0, runs: int | None = None,
                  counterfactuals: int = COUNTERFACTUAL_RUNS, engine: str = "fast"
                  ) -> tuple[pa.Table, pa.Table | None]:
    """Rows start..stop-1 of an experiment: (runs table, rounds table or None). The rounds
    table holds the runs with an index below `rounds` (None if `rounds` is 0), its text
    columns dictionary-encoded, as rounds.parquet keeps them.

    Without points, row i is run i. With points, row r is run r % `runs` of point r // `runs`,
    and `points[k]` gives point k's fixed values (a list, or a mapping holding at least the
    chunk's points). Runs with an index below `counterfactuals` are replayed with each of
    their blockers lifted (R13). The one place where runs are computed: by the fast path
    (`engine` "fast": `sim.model.fast`), or run by run by the Mesa model ("reference"), which
    gives the same tables (the tests prove the files byte-identical).
    """
    if engine == "fast":
        from ..model.fast import simulate_block
    elif engine == "reference":
        from ..model.run import reference_block as simulate_block
    else:
        raise ValueError(f"compute_chunk: unknown engine {engine!r}")

    has_points = points is not None
    if has_points and not runs:
        raise ValueError("compute_chunk: `runs` (per point) is needed with points")
    point_paths = list(points[start // runs]) if has_points else []
    runs_schema_ = runs_schema(loaded, point_paths, has_points)
    # the round records' texts stay codes into their labels (dictionary-encoded), as
    # rounds.parquet keeps them: a tenth of the bytes of the texts, which the merge would
    # otherwise make, then hash and encode again
    rounds_schema_ = ROUNDS.schema(rounds_schema(loaded, has_points))
    parts, round_parts = [], []
    for run_idx, point_idx, seeds, fixed, with_rounds in _blocks(master, start, stop, points,
                                                                 rounds, runs):
        block = simulate_block(loaded, seeds, fixed=fixed, counterfactuals=run_idx <
                               counterfactuals, rounds=with_rounds)
        key = {"point": point_idx, "run": run_idx} if has_points else {"run": run_idx}
        parts.append(_table(runs_schema_, {**key, "seed": block["seeds"],
                                           **block["columns"]}))
        if with_rounds:
            rc = block["rounds"]
            row = rc["run"]  # the row of the run in the block
            rkey = {"point": point_idx[row], "run": run_idx[row]} if has_points else \
                {"run": run_idx[row]}
            round_parts.append(_table(rounds_schema_, {**rc, **rkey}))
    runs_table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    if not rounds:
        return runs_table, None
    if not round_parts:  # not `Schema.empty_table()`, which imports pandas (0.3-0.8 s)
        return runs_table, pa.Table.from_batches([], schema=rounds_schema_)
    return runs_table, (pa.concat_tables(round_parts).unify_dictionaries()
                        if len(round_parts) > 1 else round_parts[0])


def _blocks(master: int, start: int, stop: int, points, rounds: int, runs: int | None):
    """Rows start..stop-1 as blocks, each one call of the kernel: (run indices, point
    indices, run seeds, fixed values or None, with round records?). The rows are cut into
    segments of one point, and where the round records stop; consecutive segments with the
    same `rounds` flag make one block."""
    has_points = points is not None
    point_paths = list(points[start // runs]) if has_points else []
    segments = []
    r = start
    while r < stop:
        point, run = divmod(r, runs) if has_points else (0, r)
        end = min(stop, (point + 1) * runs) if has_points else stop
        if run < rounds < run + (end - r):  # the runs with round records, then the others
            end = r + (rounds - run)
        segments.append((point, run, run + (end - r), run < rounds))
        r = end
    blocks: list[list[tuple]] = []
    for seg in segments:
        if blocks and blocks[-1][-1][3] == seg[3]:
            blocks[-1].append(seg)
        else:
            blocks.append([seg])
    for block_segments in blocks:
        run_idx = np.concatenate([np.arange(a, b, dtype=np.int64)
                                  for _, a, b, _ in block_segments])
        point_idx = np.concatenate([np.full(b - a, p, dtype=np.int64)
                                    for p, a, b, _ in block_segments])
        seeds = np.concatenate([run_seeds(master, a, b) for _, a, b, _ in block_segments])
        fixed = {path: np.array([points[p][path] for p in point_idx]) for path in point_paths} \
            if has_points else None
        yield run_idx, point_idx, seeds, fixed, block_segments[0][3]


def with_params(loaded: LoadedScenario, master: int, start: int, stop: int, points,
                runs: int | None, table: pa.Table) -> pa.Table:
    """A runs table of rows start..stop-1 kept without its `param.*` columns (a chunk file:
    `stored_part`) made whole again: the parameters follow from the run seeds and the points,
    so they are drawn again, the same values `compute_chunk` gave (a chunk file is used only
    by the same code, scenario and master seed that wrote it: its manifest says so)."""
    from ..model.fast import param_columns

    has_points = points is not None
    point_paths = list(points[start // runs]) if has_points else []
    schema = runs_schema(loaded, point_paths, has_points)
    params: dict[str, list[np.ndarray]] = {}
    for _, _, seeds, fixed, _ in _blocks(master, start, stop, points, 0, runs):
        for name, values in param_columns(loaded, seeds, fixed).items():
            params.setdefault(name, []).append(values)
    columns = []
    for f in schema:
        if f.name.startswith(PARAM):
            columns.append(from_numpy(np.concatenate(params[f.name]), f.type))
        else:
            columns.append(table.column(f.name))
    return pa.Table.from_arrays(columns, schema=schema)


def _table(schema: pa.Schema, columns: dict) -> pa.Table:
    """An Arrow table of `schema` from the model's columns: numpy arrays (-1 in a nullable
    whole-number column, a round never reached, becomes null) and coded text (`Labels`: codes
    into labels, -1 null), decoded by Arrow in compiled code."""
    from ..model.fast import Labels

    missing = [n for n in schema.names if n not in columns]
    if missing:  # the model and its declaration must agree
        undeclared = [n for n in columns if n not in schema.names]
        raise RuntimeError(f"the model's record does not match its declared columns: missing "
                           f"{missing}, undeclared {undeclared}")
    arrays = []
    for f in schema:
        values = columns[f.name]
        if isinstance(values, Labels):
            codes = values.codes
            indices = from_numpy(codes.astype(np.int32), pa.int32(), mask=codes < 0)
            labels = _dictionary(values.labels)
            arrays.append(pa.DictionaryArray.from_arrays(indices, labels)
                          if pa.types.is_dictionary(f.type) else labels.take(indices))
        elif pa.types.is_dictionary(f.type):  # the reference model's texts
            arrays.append(pc.dictionary_encode(texts(values)))
        elif f.nullable and pa.types.is_integer(f.type):
            values = np.asarray(values, dtype=np.int64)
            arrays.append(from_numpy(values, f.type, mask=values < 0))
        elif pa.types.is_string(f.type):
            arrays.append(texts(values))
        else:
            arrays.append(from_numpy(values, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


#: the text arrays of the label sets met so far (`_dictionary`), up to this many
_DICTIONARIES_KEPT = 256
_DICTIONARIES: dict[tuple, pa.Array] = {}


def _dictionary(labels: tuple) -> pa.Array:
    """The labels as an Arrow text array, made once for the label sets that every chunk has
    (the statuses, the roles, the dates)."""
    found = _DICTIONARIES.get(labels)
    if found is None:
        found = texts(labels)
        if len(_DICTIONARIES) < _DICTIONARIES_KEPT:
            _DICTIONARIES[labels] = found
    return found


def _chunk_task(loaded: LoadedScenario, master: int, start: int, stop: int, points,
                rounds: int, runs: int, counterfactuals: int, keep: bool, encode: bool,
                engine: str = "fast"):
    """One chunk, on a worker thread here or on an executor's worker elsewhere (Dask):
    (its tables if `keep`, else None; the bytes of its chunk files if `encode`, else None).
    Encoding on the worker keeps the main thread free for merging."""
    tables = compute_chunk(loaded, master, start, stop, points, rounds, runs, counterfactuals,
                           engine)
    blobs = (to_chunk(stored_part(tables[0])),
             None if tables[1] is None else to_chunk(tables[1])) if encode else None
    return (tables if keep else None), blobs


# ---------------------------------------------------------------------------- the design


def default_chunk_size(rows: int) -> int:
    """Chunks of 1/50 of the rows, up to 2,000, and, for a small experiment, halves of it up
    to 250 runs: each chunk costs a few milliseconds besides its runs (its tables and file),
    which 50-run chunks made a quarter of `python run.py`'s run phase (0.08 s in paired runs
    against 6 chunks of 50). Independent of the worker count, so an interrupted experiment
    can resume with another number of workers."""
    return max(1, min(250, -(-rows // 2)), min(2000, rows // 50))


def chunk_ranges(rows: int, chunk: int) -> list[tuple[int, int]]:
    return [(s, min(rows, s + chunk)) for s in range(0, rows, chunk)]


def check_points(loaded: LoadedScenario, points) -> tuple[dict, ...] | None:
    """Points as given, checked: every point fixes the same numeric parameters to finite
    values inside their ranges (keys in the first point's order)."""
    if points is None:
        return None
    points = list(points)
    if not points:
        raise ExperimentError("points: an empty list (give at least one point, or none)")
    paths = list(points[0])
    if not paths:
        raise ExperimentError("points: a point must fix at least one parameter")
    out = []
    for i, p in enumerate(points):
        if not isinstance(p, Mapping) or set(p) != set(paths):
            raise ExperimentError(f"points[{i}]: every point must fix the same parameters "
                                  f"({', '.join(paths)})")
        fixed = {}
        for path in paths:
            value = p[path]
            if path not in loaded.bounds:
                raise ScenarioError([(loaded.path, path, "points: no numeric parameter here")])
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                    not math.isfinite(value):
                raise ScenarioError([(loaded.path, path, f"points[{i}]: expected a finite "
                                      f"number, got {value!r}")])
            try:
                loaded.bounds[path](value)
            except ValueError as e:
                raise ScenarioError([(loaded.path, path, f"points[{i}]: {e}")]) from None
            fixed[path] = float(value)
        out.append(fixed)
    return tuple(out)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the entry point


def run_experiment(scenario: LoadedScenario | str | Path, runs: int | None = None,
                   seed: int | None = None, *, points: Sequence[dict] | None = None,
                   rounds: bool | int = True, out: str | Path | None = None, workers: int = 1,
                   executor: cf.Executor | None = None, chunk: int | None = None,
                   progress: bool = False,
                   on_progress: Callable[[int, int], None] | None = None,
                   log: Callable[[str], None] | None = None, study: dict | None = None,
                   command: str | None = None,
                   counterfactuals: int | None = None, engine: str = "fast",
                   on_rows: Callable[[pa.Table], None] | None = None) -> Experiment:
    """Run an experiment: `runs` runs of `scenario` (a loaded scenario or a file) from master
    seed `seed` (defaults: the scenario's own), at every point of `points` if given.

    - `rounds`: also keep the round-by-round table (one row per run and round): True, of the
      first 10,000 runs (none for the points of a study); a number N, of the first N runs (of
      each point); False: none.
    - `out`: a results root; the experiment is written to (or, if already complete and sound,
      reused from) `<out>/<scenario>/<experiment id>/`. Without it the tables stay in memory.
    - `workers`: processes of a pool made here (1: the current process); `executor`: any
      `concurrent.futures` executor instead (a Dask client's `get_executor()`, say).
    - `chunk`: rows per chunk (does not change the results).
    - `progress`: a bar (or plain lines) on stderr; `on_progress(done, total)`: called in this
      thread after each chunk (raise from it to stop).
    - `study`: a description of the analysis the runs are for (kept in metadata.json).
    - `counterfactuals`: how many runs (the first, by index) are replayed with each blocker
      lifted (docs/ODD.md R13); default 10,000, none for the points of a study.
    - `engine`: what computes the runs: "fast", the compiled fast path; "reference", the Mesa
      model run by run (about 100 times slower: to check the fast path, say); "auto" (the
      command line's), the fast path, unless it is not compiled yet and at most 2,000 runs
      are to be computed here: then the Mesa model computes them while the fast path
      compiles in the background for the next command. The results are the same, byte for
      byte, whatever the engine.
    - `on_rows(table)`: with `out`, called in this thread with each row group of runs.parquet
      (10,000 runs, the last fewer) as it is written, in row order, so that a caller can add
      them up while the runs are computed (the command line's summary) instead of reading
      the file again; not called for a folder reused whole.

    Returns an `Experiment` with `.runs` and `.rounds` (pandas DataFrames), `.metadata` and,
    with `out`, `.folder`. The tables are the same for any workers, executor or chunk size.
    """
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    log = log or _stderr
    points = check_points(loaded, points)
    n_points = len(points) if points else 1
    runs = check_runs(loaded.scenario.runs if runs is None else runs, n_points)
    seed = check_seed(loaded.scenario.seed if seed is None else seed)
    total = runs * n_points
    chunk = default_chunk_size(total) if chunk is None else check_runs(chunk, what="--chunk-size")
    if executor is None:
        workers = check_workers(workers, log)
    if engine not in ENGINES:
        raise ExperimentError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if rounds is True:  # the default: as for counterfactuals, none for the points of a study
        rounds = 0 if points else ROUND_RUNS
    round_runs = min(runs, 0 if rounds in (False, None) else
                     check_runs(rounds, what="--round-runs"))
    counterfactuals = counterfactual_runs(counterfactuals, points)
    counterfactuals = check_runs(counterfactuals, what="--counterfactual-runs") \
        if counterfactuals else 0
    identity = {"scenario_sha256": store.scenario_sha256(loaded), "seed": seed, "runs": runs,
                "counterfactual_runs": counterfactuals,
                "total_runs": total, "points_sha256": store.points_sha256(points),
                "rounds": round_runs, "study": study, "code": store.code_fingerprint()}
    job = _Job(loaded, identity, points, chunk, workers, executor, progress, on_progress, log,
               engine, on_rows)
    if out is None:
        return job.in_memory()
    root = files.check_root(out)
    final = root / files.safe_name(loaded.name) / store.experiment_id(identity)
    return job.to_folder(final, command)


class _Job:
    """One call of `run_experiment`: the chunks to compute and where they go."""

    def __init__(self, loaded, identity, points, chunk, workers, executor, progress,
                 on_progress, log, engine="fast", on_rows=None):
        self.loaded, self.identity, self.points, self.engine = loaded, identity, points, engine
        self.on_rows = on_rows
        self.chunk, self.workers, self.executor = chunk, workers, executor
        self.progress, self.on_progress, self.log = progress, on_progress, log
        self.seed, self.runs = identity["seed"], identity["runs"]
        self.rounds, self.total = identity["rounds"], identity["total_runs"]
        self.counterfactuals = identity["counterfactual_runs"]
        self.ranges = chunk_ranges(self.total, chunk)

    # --- computing

    def _compute(self, todo: list[tuple[int, int]], on_chunk, encode: bool,
                 done_before: int = 0) -> None:
        """Compute the chunks `todo`; `on_chunk(start, stop, tables, blobs)` as each one
        arrives, in this thread: the tables (None from a remote executor when `encode`) and,
        with `encode`, the bytes of the chunk files."""
        engine = self._engine(sum(b - a for a, b in todo))
        bar = Progress(self.total, done_before, show=self.progress, callback=self.on_progress,
                       label=_short(self.loaded.name))
        try:
            with executor_for(self.workers, self.executor) as (pool, local):
                keep = local or not encode  # a remote worker sends only what is needed
                tasks = ((self.loaded, self.seed, a, b, self._points_for(a, b), self.rounds,
                          self.runs, self.counterfactuals, keep, encode, engine)
                         for a, b in todo)

                def arrived(i, result):
                    a, b = todo[i]
                    on_chunk(a, b, *result)
                    bar.update(b - a)

                # three chunks per worker in flight keep every worker busy while this thread
                # merges (writing a row group, 0.1-0.3 s, outlasted two: the workers waited
                # 0.1-0.4 s in all for 100,000 runs, 0-0.15 s with three); an executor made
                # elsewhere does not say how many workers it has
                inflight = 3 * self.workers if local else max(2 * self.workers, 16)
                run_tasks(_chunk_task, tasks, arrived, executor=pool, inflight=inflight)
        finally:
            bar.close()

    def _engine(self, rows: int) -> str:
        """The engine that computes `rows` runs here ("auto" resolved, and said)."""
        if self.engine != "auto":
            return self.engine
        if not rows:
            return "fast"
        from ..model import compile as background
        from ..model import fast

        if self.executor is not None or fast.compiled():
            return "fast"
        source = Path(self.loaded.path)
        if rows > REFERENCE_RUNS or not source.is_file():
            self.log("Compiling the fast path once (about a minute on this machine); later "
                     "commands start at once.")
            return "fast"
        started = background.compile_in_background(str(source.resolve()))
        these = "this run" if rows == 1 else f"these {rows:,} runs"
        self.log(f"The fast path is not compiled yet: the Mesa model computes {these} instead "
                 "(the same results, about 20 ms a run)"
                 + (", and the fast path compiles in the background (about a minute) for "
                    "the next command." if started else "."))
        return "reference"

    def _points_for(self, start: int, stop: int):
        """The points a chunk needs (not the whole design, which may be large)."""
        if self.points is None:
            return None
        first, last = start // self.runs, (stop - 1) // self.runs
        return {k: self.points[k] for k in range(first, last + 1)}

    def _metadata(self, experiment_id: str, started: dt.datetime, wall: float, reused: int,
                  command: str | None) -> dict:
        ident = self.identity
        point_paths = list(self.points[0]) if self.points else []
        return {
            **store.describe(self.loaded, ident),
            "experiment_id": experiment_id, "seed": self.seed, "runs": self.runs,
            "points": len(self.points) if self.points else None,
            "point_parameters": point_paths, "points_sha256": ident["points_sha256"],
            "total_runs": self.total, "rounds": self.rounds, "study": ident["study"],
            "counterfactual_runs": self.counterfactuals,
            "chunk": self.chunk,
            "workers": self.workers if self.executor is None else type(self.executor).__name__,
            "runs_resumed": reused, "code_sha256": ident["code"],
            "git_revision": store.git_revision(), "versions": store.versions(),
            "started": store.stamp(started), "wall_s": wall,
            "runs_per_s": (self.total - reused) / wall if wall > 0 else None,
            "command": command or store.command_line(),
        }

    # --- in memory

    def in_memory(self) -> Experiment:
        parts: dict[tuple[int, int], tuple] = {}
        started, t0 = dt.datetime.now(dt.UTC), time.perf_counter()
        self._compute(self.ranges, lambda a, b, t, _: parts.__setitem__((a, b), t),
                      encode=False)
        wall = time.perf_counter() - t0
        ordered = [parts[r] for r in self.ranges]  # in row order, whatever order they finished
        tables = {"runs": pa.concat_tables([p[0] for p in ordered])}
        if self.rounds:  # encoded row group by row group, as rounds.parquet is: same frames
            layout = store.LAYOUTS["rounds"]
            whole = pa.concat_tables([p[1] for p in ordered])
            tables["rounds"] = pa.concat_tables([
                layout.prepare(whole.slice(i, layout.row_group))
                for i in range(0, max(whole.num_rows, 1), layout.row_group)])
        meta = self._metadata(store.experiment_id(self.identity), started, wall, 0, None)
        return Experiment(meta, None, False, None, tables)

    # --- into a results folder

    def _reuse(self, final: Path) -> Experiment:
        expect = {k: self.identity[k] for k in ("scenario_sha256", "seed", "runs", "rounds")}
        expect["experiment_id"] = final.name
        result = store.load_result(final, expect)
        self.log(f"Reusing the complete results in {final} (same scenario, seed, runs and "
                 "code; checksums verified).")
        if self.on_progress is not None:
            self.on_progress(self.total, self.total)
        return result

    def to_folder(self, final: Path, command: str | None) -> Experiment:
        if final.exists():
            return self._reuse(final)
        partial = files.partial_of(final)
        lock = files.FolderLock(partial, on_wait=self.log)
        while not lock.acquire():
            pass
        try:
            if final.exists():  # finished by another process while this one waited
                files.remove_tree(partial)
                return self._reuse(final)
            return self._build(final, partial, command)
        except KeyboardInterrupt:
            self.log(f"\nInterrupted: the finished chunks are kept in {partial}; rerun the "
                     "same command to resume.")
            raise
        except (files.StorageError, cf.BrokenExecutor):
            self.log(f"The finished chunks are kept in {partial}; once the problem is fixed, "
                     "the same command resumes from them.")
            raise
        finally:
            lock.release()

    def _build(self, final: Path, partial: Path, command: str | None) -> Experiment:
        # the chunks of one experiment come from one version of the code and the libraries
        made_with = {**self.identity, "libraries": store.result_libraries()}
        plan = {**made_with, "chunk": self.chunk}
        plan_file = partial / "plan.json"
        if any(partial.iterdir()):
            try:
                old = json.loads(plan_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = None
            if old == plan:
                self.log(f"Resuming the unfinished run in {partial}.")
            else:
                self.log(f"Starting again: {partial} was made with other settings.")
                files.empty_folder(partial)
        for leftover in partial.iterdir():  # half-written tables of a killed merge, say
            if leftover.name not in ("plan.json", "chunks"):
                files.remove_tree(leftover)
        files.write_json(plan_file, plan)
        kinds = ["runs", "rounds"] if self.rounds else ["runs"]
        chunks = ChunkStore(partial, made_with, kinds, self.log)
        done = chunks.done(self.ranges)
        todo = [r for r in self.ranges if r not in done]
        reused = sum(b - a for a, b in done)
        merger = Merger(partial, chunks, self.ranges, lambda a, b, table: with_params(
            self.loaded, self.seed, a, b, self._points_for(a, b), self.runs, table),
            self.on_rows, ends=None if self.points else {"rounds": self.rounds})
        started, t0 = dt.datetime.now(dt.UTC), time.perf_counter()

        def save(a, b, tables, encoded):
            blobs = {k: blob for k, blob in zip(kinds, encoded, strict=False)
                     if blob is not None}
            chunks.save(a, b, blobs)
            merger.ready(a, blobs if tables is None else dict(zip(kinds, tables, strict=False)))

        try:
            for a, _ in sorted(done):
                merger.ready(a)
            self._compute(todo, save, encode=True, done_before=reused)
            listed = merger.finish()
        except BaseException:
            merger.abort()
            raise
        wall = time.perf_counter() - t0
        meta = self._metadata(final.name, started, wall, reused, command)
        meta["files"] = listed
        files.remove_tree(partial / "chunks")
        plan_file.unlink()
        files.write_json(partial / "metadata.json", meta)  # written last: the folder is whole
        files.publish(partial, final)
        return Experiment(meta, final, False)


def _short(name: str, width: int = 30) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"


__all__ = ["Experiment", "ExperimentError", "ResultError", "check_points", "chunk_ranges",
           "compute_chunk", "default_chunk_size", "run_experiment"]
