"""Results folders: `<out>/<scenario>/<experiment id>/`, written so that none ever looks complete
before it is, and checked before it is used again.

The experiment id is derived from what determines the results (the scenario, the master seed,
the number of runs, the points, whether rounds are kept, and the model's code), so rerunning a
command finds its own earlier folder: a complete one is verified and reused, never overwritten;
a `.partial` one (interrupted or killed) is resumed from its chunk files, each of which carries
its identity and checksum. Everything is written inside `<id>.partial/`, and the folder is
renamed to `<id>/` only when metadata.json, which holds the hashes of the tables, is in place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

if TYPE_CHECKING:  # pandas is imported by pyarrow when a table is converted
    import pandas as pd

from . import files
from .tables import ROUNDS, RUNS, Layout, from_chunk

PACKAGES = ("mesa", "numpy", "pandas", "pyarrow", "matplotlib", "pydantic", "PyYAML")
SIM_DIR = Path(__file__).resolve().parent.parent
#: the code a run's results depend on (presentation code is not part of it): the run seeds and
#: random draws (rng.py) too; tests/test_runner.py checks that every module a run loads is here
#: or is plumbing that cannot change a result
RESULT_CODE = ("vocabulary.py", "rng.py", "model", "scenario", "experiments")
#: the libraries whose versions a run's numbers depend on: the arrays and seeds, the inverse
#: distribution functions, the compiled model, the encoding of the tables
RESULT_LIBRARIES = ("numpy", "scipy", "numba", "pyarrow")
LAYOUTS = {"runs": RUNS, "rounds": ROUNDS}


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of the source files the runs' results depend on."""
    h = hashlib.sha256()
    found = []
    for part in RESULT_CODE:
        p = SIM_DIR / part
        found += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    for f in found:
        h.update(str(f.relative_to(SIM_DIR)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def scenario_sha256(loaded) -> str:
    """SHA-256 of the scenario as run: the merged mapping, overrides applied."""
    text = json.dumps(loaded.raw, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def points_sha256(points) -> str | None:
    if points is None:
        return None
    text = json.dumps([list(p.items()) for p in points], default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def experiment_id(identity: dict) -> str:
    """`seed<S>-runs<N>-<hash>` (a study's prefixed with its kind): readable, and unique to
    everything that determines the results."""
    h = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    kind = (identity.get("study") or {}).get("kind")
    prefix = f"{kind}-" if kind else ""
    return f"{prefix}seed{identity['seed']}-runs{identity['total_runs']}-{h.hexdigest()[:10]}"


def _versions(packages, missing: str | None) -> dict[str, str]:
    """Python's version and each package's (`missing` for one not installed; None: left out)."""
    out = {"python": platform.python_version()}
    for p in packages:
        try:
            out[p] = importlib_metadata.version(p)
        except importlib_metadata.PackageNotFoundError:
            if missing is not None:
                out[p] = missing
    return out


def versions() -> dict[str, str]:
    return _versions(PACKAGES, None)


@functools.cache
def result_libraries() -> dict[str, str]:
    """Python's version and those of `RESULT_LIBRARIES`: the chunks of one experiment are all
    computed with the same ones (a resumed run never mixes rows of two versions)."""
    return _versions(RESULT_LIBRARIES, "absent")


def git_revision() -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=SIM_DIR, capture_output=True,
                           text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


#: libyaml's emitter when PyYAML has it (a tenth of the time of the pure-Python one: 0.2 s of
#: every run command for the baseline); both write YAML that loads to the same data
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def describe(loaded, identity: dict) -> dict:
    """The part of metadata.json that describes the scenario and the design."""
    cal = loaded.scenario.calendar
    return {
        "scenario": loaded.name, "description": loaded.scenario.description,
        "scenario_file": loaded.path, "scenario_sha256": identity["scenario_sha256"],
        "scenario_files_sha256": loaded.digest, "scenario_texts": loaded.texts,
        # the merged scenario as run (extends resolved, overrides applied): `trace --results`
        # rebuilds the scenario from it, exactly
        "scenario_yaml": yaml.dump(loaded.raw, Dumper=SAFE_DUMPER, sort_keys=False,
                                   allow_unicode=True),
        "resolved_scenario": loaded.scenario.model_dump(mode="json"),
        "calendar": {"start": str(cal.start), "deadline": str(cal.start + dt.timedelta(
            days=cal.round_days * cal.rounds)), "milestones": [str(m) for m in cal.milestones]},
        "uncertain_parameters": {p: d.describe() for p, d in loaded.uncertain},
        "overrides": list(loaded.overrides),
    }


class ResultError(Exception):
    """A results folder that cannot be used (reported like a scenario error, exit 2)."""


@dataclass
class Experiment:
    """The result of an experiment: its runs table (one row per run), its rounds table (one row
    per run and round, if kept) and its metadata; from a results folder (`folder`) or held in
    memory."""

    metadata: dict
    folder: Path | None = None
    reused: bool = False
    summary: dict | None = None
    tables: dict[str, pa.Table] = field(default_factory=dict, repr=False)

    @property
    def experiment_id(self) -> str:
        return self.metadata["experiment_id"]

    @property
    def runs_file(self) -> Path:
        return self._file("runs")

    @property
    def rounds_file(self) -> Path | None:
        return self._file("rounds") if self.metadata.get("rounds") else None

    def _file(self, kind: str) -> Path:
        if self.folder is None:
            raise ValueError("this experiment was run in memory (no results folder)")
        return self.folder / LAYOUTS[kind].file

    def table(self, kind: str = "runs", columns: list[str] | None = None) -> pa.Table | None:
        """The runs or rounds table as Arrow (only `columns`, if given)."""
        if kind == "rounds" and not self.metadata.get("rounds"):
            return None
        if kind in self.tables:
            t = self.tables[kind]
            return t.select(columns) if columns is not None else t
        return pq.read_table(self._file(kind), columns=columns)

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run: point (if any), run, seed, `param.*`, the outcome fields."""
        return self.table("runs").to_pandas()

    @property
    def rounds(self) -> pd.DataFrame | None:
        """One row per run and round (None if the experiment did not keep them)."""
        t = self.table("rounds")
        return None if t is None else t.to_pandas()


# ---------------------------------------------------------------------------- chunk files


class ChunkStore:
    """The chunk files of an unfinished experiment, in `<partial>/chunks/`.

    A chunk of rows start..stop-1 is one Arrow file per table and a manifest written last
    (`<start>-<stop>.json`): the chunk's identity (scenario, master seed, points, code, range)
    and the SHA-256 of each file. A chunk counts as done only if its manifest matches this
    experiment and every file matches its checksum; anything else is reported and recomputed.
    """

    def __init__(self, partial: Path, identity: dict, kinds: list[str],
                 log: Callable[[str], None]):
        self.dir = partial / "chunks"
        self.identity, self.kinds, self.log = identity, kinds, log

    def _stem(self, start: int, stop: int) -> str:
        return f"{start:010d}-{stop:010d}"

    def _file(self, start: int, stop: int, kind: str) -> Path:
        return self.dir / f"{self._stem(start, stop)}.{kind}.arrow"

    def _manifest(self, start: int, stop: int) -> Path:
        return self.dir / f"{self._stem(start, stop)}.json"

    def expected(self, start: int, stop: int) -> dict:
        return {**self.identity, "start": start, "stop": stop}

    def save(self, start: int, stop: int, blobs: dict[str, bytes]) -> None:
        for kind, data in blobs.items():
            files.write_bytes(self._file(start, stop, kind), data)
        files.write_json(self._manifest(start, stop), {
            "identity": self.expected(start, stop),
            "files": {k: {"sha256": files.sha256_bytes(v), "bytes": len(v)}
                      for k, v in blobs.items()}})

    def _problem(self, start: int, stop: int) -> str | None:
        """Why the chunk cannot be used (None: it can)."""
        try:
            manifest = json.loads(self._manifest(start, stop).read_text(encoding="utf-8"))
            identity, listed = manifest["identity"], manifest["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return "its manifest is missing or damaged"
        expected = self.expected(start, stop)
        if identity != expected:
            names = {"seed": "another master seed", "scenario_sha256": "another scenario",
                     "code": "another version of the code", "points_sha256": "other points",
                     "libraries": "other versions of Python or of " + ", ".join(
                         RESULT_LIBRARIES),
                     "start": "another run range", "stop": "another run range"}
            diff = [names.get(k, k) for k in expected if identity.get(k) != expected[k]]
            return "it was made with " + (", ".join(dict.fromkeys(diff)) or "other settings")
        for kind in self.kinds:
            f = self._file(start, stop, kind)
            info = listed.get(kind) if isinstance(listed, dict) else None
            if not info or not f.exists():
                return f"its {kind} file is missing"
            if f.stat().st_size != info.get("bytes"):
                return f"its {kind} file has the wrong size (truncated?)"
            if files.sha256_file(f) != info.get("sha256"):
                return f"its {kind} file does not match its checksum (damaged)"
        return None

    def done(self, ranges: list[tuple[int, int]]) -> set[tuple[int, int]]:
        """The ranges whose chunks are on disk and sound. Unsound ones are reported and
        removed; files that belong to no range of this experiment are removed."""
        files.make_dirs(self.dir)
        good = set()
        wanted = set()
        for a, b in ranges:
            stems = [self._manifest(a, b), *(self._file(a, b, k) for k in self.kinds)]
            wanted.update(p.name for p in stems)
            if not any(p.exists() for p in stems):
                continue
            problem = self._problem(a, b)
            if problem is None:
                good.add((a, b))
            else:
                self.log(f"Chunk of runs {a:,}-{b - 1:,} in {self.dir}: {problem}; computing "
                         "it again.")
                for p in stems:
                    p.unlink(missing_ok=True)
        for p in self.dir.iterdir():
            if p.name not in wanted:  # leftovers of a killed writer
                files.remove_tree(p)
        return good

    def read(self, start: int, stop: int, kind: str) -> pa.Table:
        """A chunk's table, checked against its manifest once more as it is read."""
        f = self._file(start, stop, kind)
        with files.storage(f):
            data = f.read_bytes()
            manifest = json.loads(self._manifest(start, stop).read_text(encoding="utf-8"))
        if files.sha256_bytes(data) != manifest["files"][kind]["sha256"]:
            f.unlink(missing_ok=True)
            raise files.StorageError(f, "this chunk file changed on disk while the experiment "
                                        "ran; rerun the same command to compute it again")
        return from_chunk(data)


class Merger:
    """Writes runs.parquet (and rounds.parquet) while the chunks arrive: each chunk is appended
    as soon as every chunk before it is in, so the merge overlaps the computing, and only the
    last chunks remain to be written at the end. Row groups have a fixed number of rows, so
    the files are the same however the runs were cut and in whatever order chunks finished.
    A chunk that arrives early waits (in memory: at most the few chunks in flight; a resumed
    one on disk)."""

    def __init__(self, folder: Path, chunks: ChunkStore, ranges: list[tuple[int, int]],
                 restore: Callable[[int, int, pa.Table], pa.Table],
                 on_rows: Callable[[pa.Table], None] | None = None,
                 ends: dict[str, int] | None = None):
        self.folder, self.chunks, self.kinds = folder, chunks, chunks.kinds
        #: restore(start, stop, table): a runs table read from a chunk file, made whole
        self.restore = restore
        #: on_rows(table): each row group of runs.parquet as it is written, in row order
        self.on_rows = on_rows
        #: ends[kind]: the row of the experiment from which that table has no more rows (the
        #: round records of the first runs, say): its last row group is written as soon as
        #: the rows before it are in, while the runs go on, not at the end
        self.ends = dict(ends or {})
        self.complete: set[str] = set()
        self.starts = {a: b for a, b in ranges}
        self.next = 0
        self.waiting: dict[int, dict[str, bytes] | None] = {}
        self.tmp = {k: files.temporary(folder / LAYOUTS[k].file) for k in self.kinds}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.hashes = {k: files.GrowingHash(self.tmp[k]) for k in self.kinds}
        self.buffers: dict[str, list[pa.Table]] = {k: [] for k in self.kinds}
        self.buffered = dict.fromkeys(self.kinds, 0)

    def ready(self, start: int, got: dict[str, pa.Table | bytes] | None = None) -> None:
        """Chunk `start` is saved: its tables (or the bytes of its chunk files) in hand, or
        None: read it from disk."""
        self.waiting[start] = got
        while self.next in self.waiting:
            a = self.next
            got = self.waiting.pop(a)
            b = self.starts[a]
            for kind in self.kinds:
                item = got[kind] if got else None
                if isinstance(item, pa.Table):
                    table = item
                else:  # a chunk file, on disk or in hand: the runs without their parameters
                    table = self.chunks.read(a, b, kind) if item is None else from_chunk(item)
                    if kind == "runs":
                        table = self.restore(a, b, table)
                self._append(kind, table)
            self.next = b
            for kind in self.kinds:
                if kind not in self.complete and self.next >= self.ends.get(kind, math.inf):
                    self._last_group(kind)

    def _append(self, kind: str, table: pa.Table) -> None:
        layout: Layout = LAYOUTS[kind]
        if kind in self.complete:
            if table.num_rows:
                raise RuntimeError(f"{kind} rows after the row its table was said to end at")
            return
        with files.storage(self.tmp[kind]):
            if kind not in self.writers:
                self.writers[kind] = pq.ParquetWriter(self.tmp[kind],
                                                      layout.schema(table.schema),
                                                      **layout.writer_options(table.schema))
            self.buffers[kind].append(table)
            self.buffered[kind] += table.num_rows
            while self.buffered[kind] >= layout.row_group:
                whole = pa.concat_tables(self.buffers[kind])
                self._write(kind, whole.slice(0, layout.row_group))
                rest = whole.slice(layout.row_group)
                self.buffers[kind], self.buffered[kind] = [rest], rest.num_rows

    def _write(self, kind: str, table: pa.Table) -> None:
        """Write one row group, hash what the file gained, and show the runs to `on_rows`."""
        layout = LAYOUTS[kind]
        group = layout.prepare(table) if layout.dictionary else _numbers_as_chunks(table)
        self.writers[kind].write_table(group, row_group_size=layout.row_group)
        self.hashes[kind].update()
        if kind == "runs" and self.on_rows is not None:
            self.on_rows(group)

    def _last_group(self, kind: str) -> None:
        """Write the rows of `kind` still buffered (its last row group): no more will come."""
        if self.buffered[kind]:
            with files.storage(self.tmp[kind]):
                self._write(kind, pa.concat_tables(self.buffers[kind]))
        self.buffers[kind], self.buffered[kind] = [], 0
        self.complete.add(kind)

    def finish(self) -> dict:
        """Write what is left, put the files in place; return their sizes and hashes."""
        if self.next != max(self.starts.values(), default=0) or self.waiting:
            raise RuntimeError(f"chunks missing: the merge stopped at row {self.next:,}")
        listed = {}
        for kind in self.kinds:
            layout = LAYOUTS[kind]
            dest = self.folder / layout.file
            with files.storage(dest):
                self._last_group(kind)
                self.writers.pop(kind).close()
                digest = self.hashes[kind].update()  # the footer, and anything not yet hashed
                if digest.size != self.tmp[kind].stat().st_size:  # never: the file only grows
                    raise files.StorageError(self.tmp[kind], "the file changed while it was "
                                             "written; rerun the same command")
                os.replace(self.tmp[kind], dest)
                files.settled(self.tmp[kind])
            listed[layout.file] = {"sha256": digest.hexdigest(), "bytes": digest.size}
        return listed

    def abort(self) -> None:
        for kind, writer in self.writers.items():
            with contextlib.suppress(Exception):
                writer.close()
            files.settled(self.tmp[kind])
        self.writers.clear()


#: the Parquet writer's page size (pyarrow's default `data_page_size`)
PAGE_BYTES = 1024 * 1024


def _numbers_as_chunks(table: pa.Table) -> pa.Table:
    """A row group as written: its columns of numbers and booleans as the chunks that make it
    (not copied into one array: 20 MB for each row group of the baseline's runs, most of the
    merge's working set), its other columns combined. The file is the same either way: the
    Parquet writer takes a column chunk by chunk, in batches of rows from each chunk's start,
    and checks the page's size after each batch, so where a page ends could depend on where
    the chunks end; a column of numbers holds at most 8 bytes a row, 80 KB a row group of
    `RUNS`, far below a page (1 MB), while a text column may not (a dictionary of more than
    1 MB is given up at a batch's end)."""
    fixed = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    if table.num_rows * 8 >= PAGE_BYTES:  # a page could fill: all combined (never for RUNS)
        return table.combine_chunks()
    columns = [col if any(k(f.type) for k in fixed) else col.combine_chunks()
               for f, col in zip(table.schema, table.columns, strict=True)]
    return pa.Table.from_arrays(columns, schema=table.schema)


# ---------------------------------------------------------------------------- reading back


def read_first_runs(path: Path, columns: list[str] | Callable[[list[str]], list[str]],
                    cap: int | None = None) -> pa.Table:
    """The `columns` (or those a function picks from the file's names) of the rows of a runs
    or rounds file whose `run` is below `cap` (every row for None), in the file's order: the
    row groups whose statistics say they may hold such a run, read through one
    `ParquetFile`, then cut or filtered. Arrow's filtered scan (`pq.read_table` with `filters`)
    gives the same rows but decodes the file's footer twice, and `pq.read_schema` once more:
    99 MB against 49 MB for 10,000 runs of a million (the curves over time: 168 against 81 MB
    more at their peak). Rows in run order (a results folder's, without points) are cut where
    the runs reach `cap`, without a copy of the table that filtering makes."""
    f = pq.ParquetFile(path)
    columns = list(columns(f.schema_arrow.names) if callable(columns) else columns)
    if cap is None:
        return f.read(columns=columns)
    wanted = columns if "run" in columns else [*columns, "run"]
    meta, at = f.metadata, f.schema_arrow.get_field_index("run")
    groups = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(at).statistics
        if stats is None or not stats.has_min_max or stats.min < cap:
            groups.append(g)
    table = f.read_row_groups(groups, columns=wanted)
    run = table.column("run").to_numpy()
    if bool((run[1:] >= run[:-1]).all()):  # in run order (or no rows): the first rows
        table = table.slice(0, int(np.searchsorted(run, cap)))  # no copy
    else:  # runs by point, say: each row looked at
        import pyarrow.compute as pc

        table = table.filter(pc.less(table.column("run"), cap))
    return table.select(columns)


def _read_metadata(folder: Path) -> dict:
    f = folder / "metadata.json"
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultError(f"{folder}: not a complete results folder (no metadata.json)"
                          + _partial_hint(folder)) from None
    except OSError as e:
        raise ResultError(f"{f}: cannot read it ({e.strerror or e})") from None
    except ValueError:
        raise ResultError(f"{f}: damaged (not valid JSON)") from None
    if not isinstance(meta, dict):
        raise ResultError(f"{f}: damaged (not a JSON object)")
    return meta


def _partial_hint(folder: Path) -> str:
    return " (an unfinished run: rerun its command to resume)" \
        if folder.name.endswith(".partial") else ""


def verify(folder: Path, meta: dict) -> None:
    """Check the folder's tables against the hashes in its metadata (ResultError if not)."""
    listed = meta.get("files")
    if not isinstance(listed, dict) or "runs.parquet" not in listed:
        raise ResultError(f"{folder}: metadata.json lists no checksums (made by an older "
                          "version?); run its command again to make a checkable folder")
    for name, info in listed.items():
        f = folder / name
        if not f.is_file():
            raise ResultError(f"{folder}: {name} is missing; delete the folder and run its "
                              "command again")
        try:
            digest = files.sha256_file(f)
        except files.StorageError as e:
            raise ResultError(f"{f}: cannot read it ({e.problem})") from None
        if not isinstance(info, dict) or digest != info.get("sha256"):
            raise ResultError(f"{f}: does not match the checksum in metadata.json (changed or "
                              "damaged); delete the folder and run its command again")


def load_result(folder: str | Path, expect: dict | None = None) -> Experiment:
    """A complete results folder, verified (its tables against the hashes in metadata.json,
    and its metadata against `expect`); its summary if presented."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultError(f"{folder}: not a results folder (no such folder)")
    meta = _read_metadata(folder)
    for key, value in (expect or {}).items():
        if meta.get(key) != value:
            raise ResultError(f"{folder}: its metadata.json does not match the experiment that "
                              f"should be there ({key}); delete the folder and run again")
    verify(folder, meta)
    summary = None
    s = folder / "summary.json"
    if s.exists() and (folder / "report.html").exists():  # the report is written last
        try:
            summary = json.loads(s.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = None  # presentation files are rebuilt from the tables
    return Experiment(meta, folder, True, summary)


def scenario_of(meta: dict, folder: Path | str = "results folder"):
    """The scenario of a results folder exactly as it ran (extends resolved, overrides
    applied), rebuilt from its metadata.json and checked against the hash recorded there."""
    from ..scenario import ScenarioError, from_mapping

    try:
        data = yaml.safe_load(meta["scenario_yaml"])
        loaded = from_mapping(data, meta.get("scenario_file", "<results>"),
                              meta.get("scenario_texts") or {})
    except KeyError:
        raise ResultError(f"{folder}: metadata.json holds no scenario_yaml (made by an older "
                          "version?)") from None
    except (yaml.YAMLError, ScenarioError) as e:
        raise ResultError(f"{folder}: its scenario cannot be rebuilt ({e})") from None
    loaded.overrides = list(meta.get("overrides") or [])
    if scenario_sha256(loaded) != meta.get("scenario_sha256"):
        raise ResultError(f"{folder}: the scenario in metadata.json does not match its hash")
    return loaded


def stamp(started: dt.datetime) -> str:
    return started.isoformat(timespec="seconds")


def command_line() -> str:
    return " ".join(["python run.py", *sys.argv[1:]])
