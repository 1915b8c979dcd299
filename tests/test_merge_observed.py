"""What the merge does besides writing runs.parquet: it hashes the file as it grows, and it
shows every row group to `on_rows` (the command line adds up its summary from them instead of
reading the file again); and the command line's choice of allocator for Arrow."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import run_experiment
from sim.analysis import present as present_module
from sim.analysis.present import context_of, summarise_file, write_summary
from sim.analysis.summary import Accumulator
from sim.cli import main
from sim.experiments import files

from .conftest import ROOT, _Stop, _stop_after

BASELINE = ROOT / "scenarios" / "baseline.yaml"


def _quiet(*_):
    pass


def test_a_growing_file_hashed_in_steps_has_the_hash_of_the_whole(tmp_path):
    """Hashed after each append, in pieces of every size (empty ones too, and across the
    1 MB blocks it reads), the hash is the file's."""
    f = tmp_path / "grows.bin"
    f.write_bytes(b"")
    grown = files.GrowingHash(f)
    whole = b""
    for size in (0, 1, 1 << 20, 0, 3, (1 << 20) + 7, 12_345):
        piece = bytes((i * 7 + size) % 256 for i in range(size))
        with open(f, "ab") as out:
            out.write(piece)
        whole += piece
        grown.update()
        assert grown.size == len(whole)
    assert grown.hexdigest() == hashlib.sha256(whole).hexdigest() == files.sha256_file(f)


def test_row_groups_are_shown_once_each_in_order_and_add_up_to_the_files_summary(
        tmp_path, baseline):
    """Chunks that straddle the row groups (3,001 runs in chunks of 700), some runs not
    replayed: `on_rows` sees each row group of runs.parquet once, in row order, the same rows
    the file holds, and the summary they add up to is the file's, key for key; the checksums
    of the folder, hashed as the files grew, are those of the files."""
    seen = []
    acc = Accumulator(1_234)

    def on_rows(table):
        seen.append(table.column("run").to_pylist())
        acc.add(table)

    res = run_experiment(baseline, runs=25_001, seed=3, chunk=3_001, workers=2,
                         counterfactuals=1_234, out=tmp_path, log=_quiet, on_rows=on_rows)
    assert [len(s) for s in seen] == [10_000, 10_000, 5_001]
    assert [r for s in seen for r in s] == list(range(25_001))
    meta = res.metadata
    from_file = summarise_file(res.folder / "runs.parquet", context_of(meta))
    assert acc.result(context_of(meta)) == from_file
    for name, info in meta["files"].items():
        assert files.sha256_file(res.folder / name) == info["sha256"], name
        assert (res.folder / name).stat().st_size == info["bytes"], name


def test_a_resumed_experiment_shows_every_row_group_too(tmp_path, baseline):
    """Chunks computed before an interruption are merged from disk when the command resumes:
    their rows reach `on_rows` as the new ones do."""
    with pytest.raises(_Stop):
        run_experiment(baseline, runs=14_000, seed=5, chunk=2_000, out=tmp_path, log=_quiet,
                       on_progress=_stop_after(6_000))
    rows = []
    res = run_experiment(baseline, runs=14_000, seed=5, chunk=2_000, out=tmp_path,
                         log=_quiet, on_rows=lambda t: rows.extend(t.column("run").to_pylist()))
    assert res.metadata["runs_resumed"] >= 6_000
    assert rows == list(range(14_000))


def test_the_command_prints_the_summary_added_up_during_the_merge(tmp_path, monkeypatch,
                                                                   capsys):
    """`run` does not read runs.parquet again for its summary; what it writes is what the
    file gives."""
    calls = []
    real = present_module.summarise_file
    monkeypatch.setattr(present_module, "summarise_file",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    assert main(["run", str(BASELINE), "--runs", "260", "--seed", "8", "--out",
                 str(tmp_path), "--no-progress", "--counterfactual-runs", "100"]) == 0
    assert calls == []
    (folder,) = (tmp_path / "baseline").iterdir()
    meta = json.loads((folder / "metadata.json").read_text())
    saved = json.loads((folder / "summary.json").read_text())
    assert saved == json.loads(json.dumps(real(folder / "runs.parquet", context_of(meta))))
    assert "260 runs" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", ["runs", "counterfactuals"])
def test_an_accumulator_that_does_not_match_the_folder_is_not_used(tmp_path, baseline,
                                                                   wrong):
    """Fewer runs than the folder holds, or other counterfactual runs: the summary is read
    from the file instead, and is right."""
    res = run_experiment(baseline, runs=300, seed=2, out=tmp_path, log=_quiet)
    meta = res.metadata
    acc = Accumulator(meta["counterfactual_runs"] + (1 if wrong == "counterfactuals" else 0))
    table = pq.read_table(res.folder / "runs.parquet")
    acc.add(table.slice(0, 299) if wrong == "runs" else table)
    got = write_summary(res.folder, meta, accumulated=acc)
    assert got == summarise_file(res.folder / "runs.parquet", context_of(meta))


def test_the_command_line_uses_the_c_librarys_allocator_unless_told_otherwise():
    """Arrow's buffers come from the C library's allocator in a command (70 MB less held in
    a large experiment's run phase than with Arrow's mimalloc), unless the user chose one."""
    code = ("import sim.cli, pyarrow as pa; pa.table({'a': [1]}); "
            "print(pa.default_memory_pool().backend_name)")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    for chosen, expected in ((None, "system"), ("mimalloc", "mimalloc")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env=env if chosen is None else
                             {**env, "ARROW_DEFAULT_MEMORY_POOL": chosen})
        assert out.stdout.strip() == expected


def test_round_records_are_written_whole_as_soon_as_their_runs_are_in(tmp_path, baseline,
                                                                      monkeypatch):
    """The round records of the first 90 of 400 runs end inside a chunk: the last row group of
    rounds.parquet is written when the chunks before that row are merged, not at the end (it
    no longer waits for the runs without records), and the file is the same, byte for byte,
    as the one of chunks that end where the records end, or of one chunk."""
    from sim.experiments import store

    writes = []
    original = store.Merger._write

    def recorded(self, kind, table):
        writes.append((kind, self.next, table.num_rows))
        original(self, kind, table)

    monkeypatch.setattr(store.Merger, "_write", recorded)
    folders = []
    for i, chunk in enumerate((40, 90, 400)):
        writes.clear()
        res = run_experiment(baseline, 400, seed=3, rounds=90, chunk=chunk,
                             out=tmp_path / f"c{chunk}", log=_quiet)
        folders.append(res.folder)
        rounds = [w for w in writes if w[0] == "rounds"]
        assert sum(w[2] for w in rounds) == pq.read_metadata(
            res.folder / "rounds.parquet").num_rows > 90
        if i == 0:  # written once the chunk holding run 89 (80-119) is in, before run 120
            assert rounds[-1][1] == 120
            assert writes.index(rounds[-1]) < len(writes) - 1  # runs were written after it
    for name in ("rounds.parquet", "runs.parquet"):
        assert len({(f / name).read_bytes() for f in folders}) == 1, name


def test_rows_of_a_table_after_its_end_are_refused(tmp_path, baseline):
    """A chunk with round records past the row the merge was told they end at is an error,
    never rows written after the file's last row group."""
    from sim.experiments import runner, store

    tables = runner.compute_chunk(baseline, 3, 0, 20, rounds=20, counterfactuals=0)
    later = runner.compute_chunk(baseline, 3, 20, 40, rounds=40, counterfactuals=0)
    chunks = store.ChunkStore(tmp_path, {}, ["runs", "rounds"], _quiet)
    merger = store.Merger(tmp_path, chunks, [(0, 20), (20, 40)], lambda a, b, t: t,
                          ends={"rounds": 20})
    merger.ready(0, dict(zip(["runs", "rounds"], tables, strict=True)))
    assert "rounds" in merger.complete
    with pytest.raises(RuntimeError, match="rounds rows after"):
        merger.ready(20, dict(zip(["runs", "rounds"], later, strict=True)))
    merger.abort()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "cc", "", "é"])),
                         max_size=12), max_size=5), st.data())
def test_text_in_order_of_appearance_is_what_dictionary_encode_gives(pieces, data):
    """A row group's text column, given in chunks each dictionary-encoded with its own
    dictionary in any order (as the workers send round records), or plain, or sliced, comes
    out as `dictionary_encode` makes it from the plain texts: the same dictionary (values
    in order of first appearance), the same indices, nulls null with index 0."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from sim.experiments.tables import in_order_of_appearance

    chunks = []
    for piece in pieces:
        labels = sorted({v for v in piece if v is not None})
        labels = data.draw(st.permutations(labels)) + data.draw(
            st.lists(st.sampled_from(["zz", "a", "unused"]), max_size=2))  # extra, repeated
        how = data.draw(st.sampled_from(["dictionary", "plain", "sliced"]))
        if how == "plain":
            chunks.append(pa.array(piece, pa.string()))
            continue
        codes = [None if v is None else labels.index(v) for v in piece]
        encoded = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()),
                                                 pa.array(labels, pa.string()))
        if how == "sliced":  # the same values, cut out of a longer array
            longer = pa.DictionaryArray.from_arrays(
                pa.array([0] * 3 + codes + [0] * 2, pa.int32()) if labels else
                pa.array([None] * 3 + codes + [None] * 2, pa.int32()),
                pa.array(labels, pa.string()))
            encoded = longer.slice(3, len(codes))
        chunks.append(encoded)
    plain = pa.array([v for piece in pieces for v in piece], pa.string())
    got = in_order_of_appearance(pa.chunked_array(chunks, pa.string()) if not chunks
                                 else _as_one_type(chunks))
    want = pc.dictionary_encode(plain)
    assert got.dictionary.equals(want.dictionary)
    assert got.indices.equals(want.indices)
    assert got.indices.buffers()[1].to_pybytes()[:4 * len(plain)] == \
        want.indices.buffers()[1].to_pybytes()[:4 * len(plain)]


def _as_one_type(chunks):
    """Chunks of one type, as a table's column holds them: plain chunks dictionary-encoded
    where the others are encoded (a column has one type)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if any(pa.types.is_dictionary(c.type) for c in chunks):
        chunks = [c if pa.types.is_dictionary(c.type) else pc.dictionary_encode(c)
                  for c in chunks]
    return pa.chunked_array(chunks)
