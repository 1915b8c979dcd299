"""The tables of an experiment, built from the columns the model declares (`outcome_fields`,
`round_fields`), never from a sample run: the runs table (one row per run) and the rounds table
(one row per run and round), as Arrow tables, chunk files and the layout of their Parquet files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..model import outcome_fields, round_fields

_ARROW = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}


@dataclass(frozen=True)
class Layout:
    """How a table is written to its Parquet file. Row groups have a fixed number of rows,
    whatever the chunk size, so the file is the same byte for byte however the runs were cut."""

    file: str
    row_group: int
    options: dict = field(default_factory=dict)
    #: store string columns as dictionaries (pandas reads them as categoricals)
    dictionary: bool = False
    #: Parquet statistics (each row group's least and greatest value, which let a reader
    #: skip row groups) only for the columns of numbers and booleans that are not sampled
    #: parameters: the readers here filter on `run` and `point`; the statistics of the text
    #: columns and of the parameters were a sixth of the writing time (57 against 70 ms a row
    #: group of the baseline's runs)
    lean_statistics: bool = False

    def prepare(self, table: pa.Table) -> pa.Table:
        """A row group as written: with `dictionary`, its text columns (plain or already
        dictionary-encoded, chunk by chunk) as one dictionary array each, whose dictionary
        follows the rows' order (`in_order_of_appearance`), so it does not depend on the
        chunks; its other columns combined."""
        if not self.dictionary:
            return table
        columns = [in_order_of_appearance(col) if _is_text(f.type) else col.combine_chunks()
                   for f, col in zip(table.schema, table.columns, strict=True)]
        return pa.Table.from_arrays(columns, schema=self.schema(table.schema))

    def writer_options(self, schema: pa.Schema) -> dict:
        """The Parquet writer's options: Parquet's dictionary encoding for the text columns
        only (numbers drawn from distributions barely repeat: encoding them took three quarters
        of the writing time and made the file larger)."""
        text = [f.name for f in schema if _is_text(f.type)]
        options = {"use_dictionary": text, **self.options}
        if self.lean_statistics:
            options["write_statistics"] = [f.name for f in schema if f.name not in text
                                           and not f.name.startswith(PARAM)]
        return options

    def schema(self, schema: pa.Schema) -> pa.Schema:
        if not self.dictionary:
            return schema
        return pa.schema([pa.field(f.name, pa.dictionary(pa.int32(), pa.string()), f.nullable)
                          if pa.types.is_string(f.type) else f for f in schema])


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_dictionary(kind)


def in_order_of_appearance(column: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """A text column, plain or dictionary-encoded (each chunk with its own dictionary, in any
    order), as one dictionary array whose dictionary holds each value once, in the order the
    values first appear in the rows; nulls stay null (index 0). For plain text this is what
    `pyarrow.compute.dictionary_encode` gives; for chunks already encoded (a worker's round
    records), it is computed from their indices, without making or hashing the texts again."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    ids: dict[str, int] = {}
    parts = [np.empty(0, np.int64)]
    for chunk in chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        # each of this chunk's dictionary entries as an id shared by the row group; -1: null
        lookup = np.array([ids.setdefault(v, len(ids)) for v in chunk.dictionary.to_pylist()]
                          + [-1], dtype=np.int64)
        parts.append(lookup[to_numpy(chunk.indices, fill=-1)])
    codes = np.concatenate(parts)
    # the ids in order of first appearance, and each row's place among them: Arrow's hashing
    # of the row group's ids (a tenth of the time of sorting them)
    encoded = pc.dictionary_encode(from_numpy(codes, pa.int64(), mask=codes < 0))
    values = list(ids)
    return pa.DictionaryArray.from_arrays(
        encoded.indices, texts(values[i] for i in to_numpy(encoded.dictionary)))


RUNS = Layout("runs.parquet", 10_000, lean_statistics=True)
#: one row per run and round: long and repetitive (the same statuses and dates again and
#: again), so dictionary-encoded and compressed
ROUNDS = Layout("rounds.parquet", 65_536, {"compression": "zstd"}, dictionary=True,
                lean_statistics=True)  # statistics of its texts: a third of the writing


def arrow_field(name: str, kind: str) -> pa.Field:
    """An Arrow field from a declared column type ("bool", "int", "float", "str"; "?" = may be
    null)."""
    base = kind.rstrip("?")
    if base not in _ARROW:
        raise ValueError(f"column {name}: unknown declared type '{kind}'")
    return pa.field(name, _ARROW[base], nullable=kind.endswith("?"))


#: the NumPy type of each Arrow number type a table holds
_NUMPY = {pa.int32(): np.dtype(np.int32), pa.int64(): np.dtype(np.int64),
          pa.float64(): np.dtype(np.float64)}
_BOOL_ID = pa.bool_().id


def from_numpy(values: np.ndarray, kind: pa.DataType, mask: np.ndarray | None = None) -> pa.Array:
    """An Arrow array of numbers or booleans (`kind`) made from the buffers of a NumPy array
    (`mask`: True where null). Made by `pa.array`, it would cost the first call 0.4 s, for
    pyarrow imports pandas to see whether the values are a pandas object: that import would
    come before the summary is printed. Values are never converted with a loss: a float array
    for a whole-number column is refused, as `pa.array` refuses a fraction."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"expected one dimension, got an array of shape {values.shape}")
    if kind.id == _BOOL_ID:
        if values.dtype != np.bool_:
            raise TypeError(f"expected booleans, got NumPy {values.dtype}")
        data = np.packbits(values, bitorder="little")
    else:
        dtype = _NUMPY[kind]
        if values.dtype != dtype:
            # a whole number widened, or a float to a wider float; never int to float (2**53
            # + 1 has no float), float to int, or narrower
            kinds = (values.dtype.kind, dtype.kind)
            if kinds not in (("i", "i"), ("u", "i"), ("f", "f")) or \
                    not np.can_cast(values.dtype, dtype, "safe"):
                raise TypeError(f"NumPy {values.dtype} cannot be stored as {kind} without loss")
            values = values.astype(dtype)
        data = values if values.flags.c_contiguous else np.ascontiguousarray(values)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != values.shape:
            raise TypeError(f"the mask must be booleans of shape {values.shape}, got "
                            f"{mask.dtype} of shape {mask.shape}")
    if mask is None or not mask.any():
        return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(data)])
    validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
    return pa.Array.from_buffers(kind, len(values), [validity, pa.py_buffer(data)],
                                 null_count=int(np.count_nonzero(mask)))


def to_numpy(column: pa.Array | pa.ChunkedArray, fill=None) -> np.ndarray:
    """A column of int32, int64, float64 or boolean values as a NumPy array, read from its
    buffers (`column.to_numpy()` would import pandas, as `pa.array` does). A null is `fill`;
    without one, a column with nulls is refused."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    kind = column.type
    boolean = pa.types.is_boolean(kind)
    dtype = np.dtype(bool) if boolean else _NUMPY[kind]
    parts = []
    for c in chunks:
        if not len(c):
            continue
        if c.null_count and fill is None:
            raise ValueError(f"a {kind} column with {c.null_count:,} nulls")
        validity, buffer = c.buffers()[:2]
        data = np.frombuffer(buffer, dtype=np.uint8 if boolean else dtype)
        if boolean:
            data = np.unpackbits(data, count=c.offset + len(c), bitorder="little").view(bool)
        data = data[c.offset:c.offset + len(c)]
        if c.null_count:
            valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8),
                                  count=c.offset + len(c), bitorder="little")
            data = np.where(valid[c.offset:].view(bool), data, fill)
        parts.append(data)
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def texts(values) -> pa.Array:
    """An Arrow array of text from Python strings (None: null), made from its buffers (as
    `from_numpy`, without importing pandas)."""
    values = list(values)
    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError("more than 2 GB of text in one column")
    nulls = np.array([v is None for v in values], dtype=bool)
    validity = pa.py_buffer(np.packbits(~nulls, bitorder="little")) if nulls.any() else None
    return pa.Array.from_buffers(pa.string(), len(values),
                                 [validity, pa.py_buffer(offsets.astype(np.int32)),
                                  pa.py_buffer(b"".join(encoded))],
                                 null_count=int(nulls.sum()))


def param_paths(loaded, point_paths=()) -> list[str]:
    """The parameters of the `param.*` columns: the scenario's uncertain parameters, then the
    parameters fixed by points that are not among them."""
    paths = [p for p, _ in loaded.uncertain]
    return paths + [p for p in point_paths if p not in paths]


def runs_schema(loaded, point_paths=(), points: bool = False) -> pa.Schema:
    key = [pa.field("point", pa.int64(), nullable=False)] if points else []
    return pa.schema([
        *key, pa.field("run", pa.int64(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        *(pa.field(f"param.{p}", pa.float64(), nullable=False)
          for p in param_paths(loaded, point_paths)),
        *(arrow_field(n, k) for n, k in outcome_fields(loaded))])


def rounds_schema(loaded, points: bool = False) -> pa.Schema:
    key = [pa.field("point", pa.int64(), nullable=False)] if points else []
    return pa.schema([*key, pa.field("run", pa.int64(), nullable=False),
                      *(arrow_field(n, k) for n, k in round_fields(loaded))])


class TableBuilder:
    """Collects rows column by column and checks them against the declared columns."""

    def __init__(self, schema: pa.Schema, what: str):
        self.schema, self.what = schema, what
        self.names = schema.names
        self.columns: dict[str, list] = {n: [] for n in self.names}
        self.checked = False

    def add(self, rows: list[dict], **same) -> None:
        """Add `rows`, each completed by the values `same` (the run's index, say)."""
        if not rows:
            return
        if not self.checked:  # once per table: the model and its declaration must agree
            keys = {*rows[0], *same}
            missing = [n for n in self.names if n not in keys]
            extra = [k for k in keys if k not in self.columns]
            if missing or extra:
                raise RuntimeError(f"the model's {self.what} does not match its declared "
                                   f"columns: missing {missing}, undeclared {extra}")
            self.checked = True
        for n, col in self.columns.items():
            if n in same:
                col.extend([same[n]] * len(rows))
            else:
                col.extend([r[n] for r in rows])

    def table(self) -> pa.Table:
        table = pa.Table.from_pydict(self.columns, schema=self.schema)
        for f, col in zip(self.schema, table.columns, strict=True):
            if not f.nullable and col.null_count:
                raise RuntimeError(f"the model left {self.what} column '{f.name}' empty, "
                                   "which its declaration does not allow")
        return table


#: the prefix of the parameter columns of the runs table
PARAM = "param."


def stored_part(table: pa.Table) -> pa.Table:
    """A runs table as its chunk file keeps it: without the `param.*` columns, which follow
    from the run seeds and the points (`runner.with_params` draws them again, for a chunk
    read from disk or sent by a remote worker). They are random doubles that do not compress,
    about 85% of the bytes: without them a chunk file of the baseline is a seventh of the size
    (653 KB instead of 4.5 MB for 2,000 runs), and as much faster to write, hash and read."""
    keep = [i for i, name in enumerate(table.column_names) if not name.startswith(PARAM)]
    return table.select(keep)


def to_chunk(table: pa.Table) -> bytes:
    """One chunk's table as the bytes of its chunk file: Arrow IPC with lz4 compression
    (several times faster to write and read than Parquet; the chunk files only live until the
    merge, which encodes each row group afresh, so the files do not depend on the chunks)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema,
                           options=pa.ipc.IpcWriteOptions(compression="lz4")) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_chunk(data: bytes) -> pa.Table:
    """A chunk file's table."""
    return pa.ipc.open_stream(data).read_all()
