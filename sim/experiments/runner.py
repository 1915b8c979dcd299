"""The experiment runner: seeded runs in chunks over any `concurrent.futures` executor.

The runs of an experiment are cut into chunks of consecutive run indices. Each chunk is run by a
worker (`run_chunk`), which returns an Arrow table; the main process writes it to its own file
in the experiment's `.partial` folder as soon as it arrives, so memory stays flat and an
interrupted experiment can resume. When every chunk is in, the chunk files are merged in run
order into `runs.parquet` with row groups of a fixed size. A run's seed depends only on the
master seed and its index, so the result is the same, byte for byte, for any number of workers,
any chunk size and any order of completion.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..model import outcome_fields, simulate
from ..scenario import LoadedScenario, from_mapping
from .seeds import run_seed

ROW_GROUP = 10_000  # rows per row group of runs.parquet (independent of the chunk size)


def run_rows(loaded: LoadedScenario, master: int, indices) -> list[dict]:
    """Run the given replications; one flat row each (index, seed, sampled inputs, outcome)."""
    rows = []
    for i in indices:
        seed = run_seed(master, i)
        rec = simulate(loaded, seed, counterfactuals=True)
        row = {"run": i, "seed": seed}
        row.update({f"param.{k}": v for k, v in rec.params.items()})
        row.update(rec.outcome)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class ScenarioSpec:
    """What a worker needs to rebuild a scenario: small, picklable, hashable by content."""

    raw: dict
    file: str
    texts: dict

    @classmethod
    def of(cls, loaded: LoadedScenario) -> ScenarioSpec:
        return cls(raw=loaded.raw, file=loaded.path, texts=loaded.texts)

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.raw, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


_CACHE: dict[str, LoadedScenario] = {}
_SCHEMAS: dict[str, pa.Schema] = {}


def loaded_of(spec: ScenarioSpec) -> LoadedScenario:
    key = spec.fingerprint
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = from_mapping(spec.raw, spec.file, spec.texts)
    return _CACHE[key]


_ARROW = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}


def runs_schema(loaded: LoadedScenario) -> pa.Schema:
    """The columns of runs.parquet, in order, with fixed types (declared by the model)."""
    fields = [pa.field("run", pa.int64()), pa.field("seed", pa.int64())]
    fields += [pa.field(f"param.{p}", pa.float64()) for p, _ in loaded.uncertain]
    fields += [pa.field(name, _ARROW[kind.rstrip("?")]) for name, kind in
               outcome_fields(loaded)]
    return pa.schema(fields)


def run_chunk(spec: ScenarioSpec, master: int, start: int, stop: int) -> pa.Table:
    """Run replications start..stop-1 of an experiment; the worker-side task."""
    loaded = loaded_of(spec)
    if spec.fingerprint not in _SCHEMAS:
        _SCHEMAS[spec.fingerprint] = runs_schema(loaded)
    return pa.Table.from_pylist(run_rows(loaded, master, range(start, stop)),
                                schema=_SCHEMAS[spec.fingerprint])


def default_chunk_size(runs: int) -> int:
    """Chunks of 1/50 of the runs, between 50 and 2,000 (independent of the worker count, so
    an interrupted experiment can resume with another number of workers)."""
    return max(50, min(2000, runs // 50))


def chunk_ranges(runs: int, chunk: int) -> list[tuple[int, int]]:
    return [(s, min(runs, s + chunk)) for s in range(0, runs, chunk)]


class Progress:
    """A progress bar with runs/s and time left on a terminal; plain lines otherwise."""

    def __init__(self, total: int, done: int = 0, stream=None, label: str = "runs"):
        self.total, self.done, self.stream = total, done, stream or sys.stderr
        self.t0 = self.last = time.perf_counter()
        self.start_done = done
        self.bar = None
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit=" runs", file=self.stream,
                            dynamic_ncols=True, smoothing=0.1, desc=label)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.perf_counter()
        if now - self.last >= 5 or self.done == self.total:
            self.last = now
            rate = (self.done - self.start_done) / max(now - self.t0, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(f"  {self.done:,}/{self.total:,} runs ({self.done / self.total:.0%}), "
                  f"{rate:,.0f} runs/s, about {_duration(left)} left", file=self.stream,
                  flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(s: float) -> str:
    if s == float("inf"):
        return "?"
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _chunk_path(folder: Path, start: int, stop: int) -> Path:
    return folder / f"{start:010d}-{stop:010d}.parquet"


def _write_atomic_table(table: pa.Table, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def run_tasks(func, tasks, on_result, *, workers: int = 1,
              executor: cf.Executor | None = None) -> None:
    """Call `func(*task)` for every task and `on_result(index, value)` as each one finishes.

    With `executor` given it is used as is (for example a Dask client's executor); otherwise a
    process pool of `workers` processes, or the current process when `workers` is 1. At most
    two tasks per worker are in flight, so memory stays flat however many tasks there are; on
    an interruption, a pool this function made is shut down without waiting.
    """
    if executor is None and workers <= 1:
        for i, task in enumerate(tasks):
            on_result(i, func(*task))
        return
    own = executor is None
    pool = executor or cf.ProcessPoolExecutor(max_workers=workers)
    queue = iter(enumerate(tasks))
    pending: dict[cf.Future, int] = {}
    try:
        while True:
            for i, task in queue:
                pending[pool.submit(func, *task)] = i
                if len(pending) >= 2 * max(1, workers):
                    break
            if not pending:
                break
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                on_result(pending.pop(fut), fut.result())
    except BaseException:
        if own:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        pool.shutdown()


def execute(spec: ScenarioSpec, master: int, runs: int, partial: Path, *,
            chunk: int | None = None, workers: int = 1, executor: cf.Executor | None = None,
            progress: bool = True) -> int:
    """Run every chunk not yet on disk in `partial/chunks`; return how many runs were reused.

    Each chunk is written to its own file as soon as it arrives (see `run_tasks` for where
    the chunks run).
    """
    chunk = chunk or default_chunk_size(runs)
    chunks_dir = partial / "chunks"
    chunks_dir.mkdir(parents=True, exist_ok=True)
    todo = [(a, b) for a, b in chunk_ranges(runs, chunk) if not _chunk_path(chunks_dir, a, b)
            .exists()]
    reused = runs - sum(b - a for a, b in todo)
    bar = Progress(runs, reused) if progress else None

    def save(i, table):
        a, b = todo[i]
        _write_atomic_table(table, _chunk_path(chunks_dir, a, b))
        if bar:
            bar.update(b - a)

    try:
        run_tasks(run_chunk, [(spec, master, a, b) for a, b in todo], save, workers=workers,
                  executor=executor)
    finally:
        if bar:
            bar.close()
    return reused


def merge(partial: Path, runs: int, dest: Path) -> None:
    """Merge the chunk files, in run order, into one Parquet file with fixed row groups."""
    files = sorted((partial / "chunks").glob("*.parquet"))
    covered = 0
    for f in files:
        a, b = (int(x) for x in f.stem.split("-"))
        if a != covered:
            raise RuntimeError(f"chunk files do not cover the runs: gap at run {covered}")
        covered = b
    if covered != runs:
        raise RuntimeError(f"chunk files cover {covered} of {runs} runs")
    schema = pq.read_schema(files[0])
    tmp = dest.with_suffix(".tmp")
    buffer: list[pa.Table] = []
    buffered = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for f in files:
            t = pq.read_table(f)
            buffer.append(t)
            buffered += t.num_rows
            while buffered >= ROW_GROUP:
                table = pa.concat_tables(buffer)
                writer.write_table(table.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                rest = table.slice(ROW_GROUP)
                buffer, buffered = [rest], rest.num_rows
        if buffered:
            writer.write_table(pa.concat_tables(buffer), row_group_size=ROW_GROUP)
    os.replace(tmp, dest)


def clear(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
