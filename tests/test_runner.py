"""The experiment runner and its results folders: reproducibility, the rounds table, reuse and
its checks, interruption and resumption, damaged chunks, concurrent commands, killed parents,
full disks, progress, and rebuilding a presentation."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim import run_experiment
from sim.analysis.present import present
from sim.cli import main
from sim.experiments import ExperimentError, files, load_result, store
from sim.model import outcome_fields, round_fields
from sim.scenario import load_scenario

from .conftest import ROOT, _Stop, _stop_after

BASELINE = ROOT / "scenarios" / "baseline.yaml"
OPPOSITION = "countries.Pakistan.domestic.opposition_strength"
CEASEFIRE = "environment.ceasefire"
REPRODUCIBLE = ("runs.parquet", "rounds.parquet", "summary.json", "summary.csv",
                "formation_over_time.svg", "country_status.png", "over_time.csv",
                "over_time.svg", "feature_scores.csv", "feature_scores.svg")


def _quiet(*_):
    pass


def _run(tmp, loaded, **kw):
    """Run into a results folder and present it, as `python run.py run` does."""
    res = run_experiment(loaded, out=tmp, log=_quiet, **kw)
    if res.summary is None:
        res.summary = present(res.folder)
    return res


def test_default_chunks_keep_both_workers_busy_without_tiny_chunks():
    """A small experiment is cut in two or more chunks (two workers compute it at once), of
    no fewer than 150 runs up to 2,500 runs (each chunk costs its tables and file besides its
    runs); a large one in chunks of a fiftieth, at most 2,000 runs; every run in one chunk."""
    from sim.experiments.runner import chunk_ranges, default_chunk_size

    for rows in (*range(1, 400), 1000, 2500, 4000, 12_500, 20_000, 100_000, 1_000_000):
        size = default_chunk_size(rows)
        ranges = chunk_ranges(rows, size)
        assert ranges[0][0] == 0 and ranges[-1][1] == rows
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
        assert 1 <= size <= 2000
        assert len(ranges) >= 2 or rows == 1
        assert len(ranges) <= 51 or size == 2000
        if 300 <= rows <= 2500:
            assert size >= 150
    assert len(chunk_ranges(300, default_chunk_size(300))) == 2  # python run.py


def test_identical_for_any_workers_and_chunk_size(tmp_path, baseline):
    settings = [dict(workers=1, chunk=37), dict(workers=2, chunk=100),
                dict(workers=2, chunk=7), dict(workers=1)]
    folders = [_run(tmp_path / f"r{i}", baseline, runs=250, seed=4, **kw).folder
               for i, kw in enumerate(settings)]
    for name in REPRODUCIBLE:
        blobs = {(f / name).read_bytes() for f in folders}
        assert len(blobs) == 1, name
    runs = pd.read_parquet(folders[0] / "runs.parquet")
    assert list(runs["run"]) == list(range(250)) and runs["seed"].is_unique


def test_a_row_group_is_the_same_bytes_wherever_its_chunks_end():
    """The merge writes a row group of runs from the chunks that make it, its columns of
    numbers uncopied (`store._numbers_as_chunks`). The Parquet writer checks a page's size at
    batch ends counted from each chunk's start, so a text column whose dictionary outgrows a
    page (a scenario of many states: long, varied compositions) was given up at a place that
    depended on the chunks: the file must not (the first assertion shows the case is met)."""
    import hashlib

    n = store.RUNS.row_group
    rng = np.random.default_rng(3)
    table = pa.table({"run": np.arange(n), "x": rng.random(n), "ok": rng.random(n) < 0.5,
                      "composition": [f"{i:0150d}" for i in rng.permutation(n)]})

    def written(t):
        buf = pa.BufferOutputStream()
        with pq.ParquetWriter(buf, t.schema, **store.RUNS.writer_options(t.schema)) as w:
            w.write_table(t, row_group_size=n)
        return hashlib.sha256(buf.getvalue().to_pybytes()).hexdigest()

    def cut(sizes):
        starts = np.cumsum([0, *sizes[:-1]])
        return pa.concat_tables([table.slice(a, k) for a, k in zip(starts, sizes, strict=True)])

    cuts = [[n], [37, 5000, 4963], [700] * 14 + [200], [3000, 7000], [1] * 9 + [n - 9]]
    assert len({written(cut(c)) for c in cuts}) > 1  # as given, the chunks show
    assert len({written(store._numbers_as_chunks(cut(c))) for c in cuts}) == 1
    assert written(store._numbers_as_chunks(cut(cuts[1]))) == written(table)


def test_text_columns_are_the_labels_they_code(baseline, monkeypatch):
    """A chunk's text columns hold each run's label (null where it has none), whether the
    text arrays of its label sets were made for it, kept from a chunk before, or not kept
    because enough were kept already (`runner._dictionary`)."""
    from sim.experiments import runner
    from sim.experiments.tables import runs_schema
    from sim.model.fast import Labels, simulate_block
    from sim.rng import run_seeds

    block = simulate_block(baseline, run_seeds(3, 0, 300))
    columns = {"run": np.arange(300), "seed": block["seeds"], **block["columns"]}
    labels = {k: list(v.strings()) for k, v in columns.items() if isinstance(v, Labels)}
    assert any(None in v for v in labels.values())  # nulls among them
    schema = runs_schema(baseline)
    monkeypatch.setattr(runner, "_DICTIONARIES", {})
    made = [runner._table(schema, columns) for _ in range(2)]  # made, then kept
    assert runner._DICTIONARIES
    monkeypatch.setattr(runner, "_DICTIONARIES_KEPT", 0)
    monkeypatch.setattr(runner, "_DICTIONARIES", {})
    made.append(runner._table(schema, columns))
    assert not runner._DICTIONARIES
    for table in made:
        assert {k: table.column(k).to_pylist() for k in labels} == labels
        assert all(table.column(k).type == pa.string() for k in labels)


def test_runs_file_keeps_the_statistics_readers_filter_on(tmp_path, baseline, summaries_only):
    """runs.parquet keeps each row group's least and greatest `run` (and other numbers), so
    that reading the first runs skips the other row groups; not those of the text columns
    and the sampled parameters, which cost writing time and nobody here filters on."""
    res = _run(tmp_path, baseline, runs=25_000, seed=2, chunk=2_500, rounds=0,
               counterfactuals=0)
    meta = pq.ParquetFile(res.folder / "runs.parquet").metadata
    assert meta.num_row_groups == 3
    names = meta.schema.names
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        stats = {names[i]: group.column(i).statistics for i in range(group.num_columns)}
        assert (stats["run"].min, stats["run"].max) == (g * 10_000, min(25_000, g * 10_000
                                                                         + 10_000) - 1)
        assert stats["formed"] is not None and stats["rounds_run"] is not None
        assert all(stats[n] is None for n in names if n.startswith("param."))
        assert stats["reason"] is None and stats["composition"] is None
    first = pq.read_table(res.folder / "runs.parquet", columns=["run"],
                          filters=[("run", "<", 100)])
    assert first.column("run").to_pylist() == list(range(100))
    # the round records keep their numbers' statistics (`run` above all), not their texts'
    rounds = _run(tmp_path / "rounds", baseline, runs=6_000, seed=2, chunk=1_500,
                  rounds=6_000, counterfactuals=0)
    meta = pq.ParquetFile(rounds.folder / "rounds.parquet").metadata
    assert meta.num_row_groups >= 2
    names = meta.schema.names
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        stats = {names[i]: group.column(i).statistics for i in range(group.num_columns)}
        assert stats["run"] is not None and stats["run"].has_min_max
        assert stats["round"] is not None and stats["pressure"] is not None
        assert stats["date"] is None and stats["mandate"] is None
        assert all(stats[n] is None for n in names if n.startswith("status."))
    _same_first_runs(rounds.folder / "rounds.parquet", ["run", "round"], 3_000)
    # the presentation's reader of the first runs gives the rows of Arrow's filtered scan
    for cap in (0, 1, 9_999, 10_000, 10_001, 24_999, 25_000, None):
        _same_first_runs(res.folder / "runs.parquet", ["run", "formed", "target"], cap)


def _same_first_runs(path, columns, cap):
    """`store.read_first_runs` gives the rows (and their order) of Arrow's filtered scan."""
    got = store.read_first_runs(path, columns, cap)
    want = pq.read_table(path, columns=columns,
                         filters=None if cap is None else [("run", "<", cap)])
    assert got.equals(want.select(columns)), (path.name, cap)
    picked = store.read_first_runs(path, lambda names: [n for n in names if n in columns], cap)
    assert picked.equals(got)


def test_first_runs_of_a_folders_rounds_are_cut_not_filtered(tmp_path, baseline,
                                                              summaries_only, monkeypatch):
    """A results folder's rows are in run order, so its first runs are the rows before the
    first run at the cap: cut there (no copy of the table), the rows of Arrow's filtered scan
    at every row-group edge, rounds.parquet (several rows a run) as runs.parquet."""
    res = _run(tmp_path, baseline, runs=3_000, seed=4, chunk=700, counterfactuals=0)
    rounds = res.folder / "rounds.parquet"
    meta = pq.ParquetFile(rounds).metadata
    assert meta.num_row_groups >= 2
    edge = pq.ParquetFile(rounds).read_row_group(0, columns=["run"]).column("run")
    last = edge[len(edge) - 1].as_py()  # the run that straddles the first row groups' edge
    caps = (0, 1, last, last + 1, 2_999, 3_000, 5_000, None)
    for cap in caps:
        _same_first_runs(rounds, ["run", "round", "date", "status.Pakistan"], cap)
        _same_first_runs(res.folder / "runs.parquet", ["run", "formed"], cap)

    def no_filter(*_a, **_k):
        raise AssertionError("a folder's first runs were filtered (copied), not cut")

    import pyarrow.compute as pc

    monkeypatch.setattr(pc, "less", no_filter)  # what the filtering reader compares with
    for cap in caps:
        assert store.read_first_runs(rounds, ["run"], cap).num_rows == \
            sum(1 for r in pq.read_table(rounds, columns=["run"]).column("run").to_pylist()
                if cap is None or r < cap)


def test_first_runs_of_a_study_and_its_rounds(tmp_path, baseline, summaries_only):
    """With points the runs restart at 0 for each point: the first runs are those of every
    point, in the file's order, as Arrow's filtered scan reads them; rounds.parquet too."""
    res = _run(tmp_path, baseline, runs=7_000, seed=5, chunk=1_500, rounds=3_000,
               counterfactuals=0, points=[{"convener.max_pressure": 0.3},
                                          {"convener.max_pressure": 0.9}])
    for cap in (0, 5, 2_999, 3_000, 6_999, 7_000, None):
        _same_first_runs(res.folder / "runs.parquet", ["point", "run", "formed"], cap)
        _same_first_runs(res.folder / "rounds.parquet", ["point", "run", "round", "date"],
                         cap)
    assert pq.ParquetFile(res.folder / "rounds.parquet").metadata.num_row_groups >= 2


def test_api_gives_the_command_line_results(tmp_path, baseline):
    assert main(["run", str(BASELINE), "--runs", "120", "--seed", "9", "--workers", "2",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    (folder,) = (tmp_path / "baseline").iterdir()
    cli = pd.read_parquet(folder / "runs.parquet")
    cli_rounds = pd.read_parquet(folder / "rounds.parquet")
    api = run_experiment(baseline, runs=120, seed=9)
    pd.testing.assert_frame_equal(api.runs, cli)
    pd.testing.assert_frame_equal(api.rounds, cli_rounds)
    other = run_experiment(baseline, runs=120, seed=9, workers=2, chunk=11)
    pd.testing.assert_frame_equal(other.runs, cli)
    pd.testing.assert_frame_equal(other.rounds, cli_rounds)
    from sim.analysis.summary import summarise

    saved = json.loads((folder / "summary.json").read_text())
    s = summarise(api.runs, baseline, 9, counterfactual_runs=api.metadata["counterfactual_runs"])
    assert json.loads(json.dumps(s, default=str)) == saved


def test_results_folder_contents(tmp_path, baseline):
    res = _run(tmp_path, baseline, runs=60, seed=1)
    f = res.folder
    for name in ("runs.parquet", "rounds.parquet", "summary.json", "summary.csv",
                 "metadata.json", "report.html"):
        assert (f / name).stat().st_size > 0, name
    for plot in ("outcome_breakdown", "country_status", "force_size", "formation_over_time",
                 "top_compositions"):
        assert (f / f"{plot}.png").stat().st_size > 5000
        assert (f / f"{plot}.svg").read_text().count("<path") > 5
    meta = json.loads((f / "metadata.json").read_text())
    assert meta["seed"] == 1 and meta["runs"] == 60 and meta["rounds"] == 60
    assert meta["experiment_id"] == f.name and "run_id" not in meta
    assert meta["scenario_sha256"] and "baseline.yaml" in meta["scenario_file"]
    assert meta["versions"]["mesa"] == "3.3.1"
    assert any("name: baseline" in t for t in meta["scenario_texts"].values())
    pakistan = meta["resolved_scenario"]["countries"]["Pakistan"]
    assert pakistan["relations_with_israel"]["value"] is False
    for name in ("runs.parquet", "rounds.parquet"):
        assert meta["files"][name]["sha256"] == files.sha256_file(f / name)
    runs = pd.read_parquet(f / "runs.parquet")
    declared = [n for n, _ in outcome_fields(baseline)]
    params = [f"param.{p}" for p, _ in baseline.uncertain]
    assert list(runs.columns) == ["run", "seed", *params, *declared]
    html = (f / "report.html").read_text()
    assert html.count("<svg") == 10 and "Provenance" in html and "Pakistan" in html
    for plot in ("over_time", "countries_over_time", "feature_scores"):  # issue 10
        assert (f / f"{plot}.png").stat().st_size > 5000
    assert "How the negotiation unfolds, round by round" in html
    assert "What the answer hinges on" in html
    assert not list(tmp_path.rglob("*.partial"))


def test_rounds_table(tmp_path, baseline, summaries_only):
    res = _run(tmp_path, baseline, runs=40, seed=3, chunk=9)
    f = pq.ParquetFile(res.folder / "rounds.parquet")
    declared = dict(round_fields(baseline))
    assert f.schema_arrow.names == ["run", *declared]
    for name, kind in declared.items():  # strings are stored as dictionaries
        is_dict = str(f.schema_arrow.field(name).type).startswith("dictionary")
        assert is_dict == (kind.rstrip("?") == "str"), name
    assert f.metadata.row_group(0).column(0).compression == "ZSTD"
    rounds = res.rounds
    assert sorted(rounds["run"].unique()) == list(range(40))
    for run, rows in rounds.groupby("run"):  # each run's rounds, in order, from the first
        numbers = rows["round"].tolist()
        assert numbers == list(range(1, len(numbers) + 1)), run


def test_rounds_in_memory_and_in_the_folder_agree_over_row_groups(tmp_path, baseline,
                                                                  monkeypatch):
    from sim.experiments import store, tables

    small = tables.Layout("rounds.parquet", 100, tables.ROUNDS.options, dictionary=True)
    monkeypatch.setitem(store.LAYOUTS, "rounds", small)  # many row groups from a few runs
    saved = run_experiment(baseline, runs=30, seed=5, chunk=7, out=tmp_path, log=_quiet)
    assert pq.ParquetFile(saved.rounds_file).metadata.num_row_groups > 3
    memory = run_experiment(baseline, runs=30, seed=5, chunk=11)
    pd.testing.assert_frame_equal(memory.rounds, saved.rounds)


def test_no_rounds(tmp_path, baseline, summaries_only):
    with_rounds = _run(tmp_path, baseline, runs=30, seed=2)
    without = _run(tmp_path, baseline, runs=30, seed=2, rounds=False)
    assert without.folder != with_rounds.folder
    assert not (without.folder / "rounds.parquet").exists() and without.rounds is None
    assert without.metadata["rounds"] == 0 and "rounds.parquet" not in \
        without.metadata["files"]
    assert (without.folder / "runs.parquet").read_bytes() == \
        (with_rounds.folder / "runs.parquet").read_bytes()
    assert main(["run", str(BASELINE), "--runs", "30", "--seed", "2", "--no-rounds",
                 "--workers", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    assert len(list((tmp_path / "baseline").iterdir())) == 2  # the same folder, reused


def test_round_records_of_the_first_runs(tmp_path, baseline):
    """--round-runs N keeps the round records of runs 0..N-1 (of each point), the same records
    as an experiment that keeps them all, whatever the chunks; the runs table is unchanged."""
    every = run_experiment(baseline, runs=90, seed=4, chunk=25)
    some = _run(tmp_path, baseline, runs=90, seed=4, rounds=37, chunk=20)
    assert some.metadata["rounds"] == 37
    assert sorted(some.rounds["run"].unique()) == list(range(37))
    def plain(df):  # the categories of a text column depend on which rows are in the table
        return df.astype({c: str for c in df.select_dtypes("category")}).reset_index(drop=True)

    pd.testing.assert_frame_equal(plain(some.rounds), plain(every.rounds[every.rounds["run"] < 37]))
    pd.testing.assert_frame_equal(some.runs, every.runs)
    points = [{"convener.max_pressure": 0.3}, {"convener.max_pressure": 0.8}]
    swept = run_experiment(baseline, runs=20, seed=4, points=points, rounds=6, chunk=7)
    assert sorted(set(zip(swept.rounds["point"], swept.rounds["run"], strict=True))) == \
        [(p, r) for p in (0, 1) for r in range(6)]
    assert run_experiment(baseline, runs=5, seed=4, rounds=True).metadata["rounds"] == 5
    study = run_experiment(baseline, runs=5, seed=4, points=points)  # a study: none by default
    assert study.metadata["rounds"] == 0 and study.rounds is None
    for bad in (-1, 2.5, "x"):
        with pytest.raises(ExperimentError, match="--round-runs"):
            run_experiment(baseline, runs=5, seed=4, rounds=bad)


def test_rerun_reuses_and_never_overwrites(tmp_path, baseline):
    first = _run(tmp_path, baseline, runs=40, seed=2)
    stamp = {p.name: p.stat().st_mtime_ns for p in first.folder.iterdir()}
    again = _run(tmp_path, baseline, runs=40, seed=2)
    assert again.reused and again.folder == first.folder
    assert {p.name: p.stat().st_mtime_ns for p in again.folder.iterdir()} == stamp
    other = _run(tmp_path, baseline, runs=40, seed=3)
    assert other.folder != first.folder and len(list((tmp_path / "baseline").iterdir())) == 2


def _flip_bit(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip", "truncate", "metadata"])
def test_damaged_complete_folder_is_reported_not_reused(tmp_path, baseline, damage, capsys,
                                                        summaries_only):
    args = ["run", str(BASELINE), "--runs", "50", "--seed", "6", "--workers", "1", "--out",
            str(tmp_path), "--no-progress"]
    assert main(args) == 0
    (folder,) = (tmp_path / "baseline").iterdir()
    if damage == "flip":
        _flip_bit(folder / "runs.parquet")
    elif damage == "truncate":
        data = (folder / "rounds.parquet").read_bytes()
        (folder / "rounds.parquet").write_bytes(data[: len(data) // 2])
    else:
        (folder / "metadata.json").write_text("{not json")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(folder) in err and "Traceback" not in err
    assert {"flip": "runs.parquet", "truncate": "rounds.parquet",
            "metadata": "metadata.json"}[damage] in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # left as it was
    # and the same check guards every reader of a results folder
    assert main(["compare", str(folder), str(BASELINE), "--out", str(tmp_path)]) == 2
    assert main(["report", str(folder)]) == 2


def _cli(tmp_path, runs, seed=5, *extra):
    return [sys.executable, str(ROOT / "run.py"), "run", str(BASELINE), "--runs", str(runs),
            "--seed", str(seed), "--workers", "1", "--chunk-size", "50", "--out",
            str(tmp_path), "--no-progress", *extra]


def _ctrl_c_as_at_a_terminal():
    """In the command's process, before it starts: Ctrl-C (SIGINT) handled as at a terminal,
    even when the tests themselves run with it ignored (a shell's background job does)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _start(tmp_path, runs, seed=5, *extra):
    cmd = _cli(tmp_path, runs, seed, *extra)
    return cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                                 preexec_fn=_ctrl_c_as_at_a_terminal)


def _wait_for_chunks(where: Path, n, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        chunks = list(where.rglob("chunks/*.json"))
        if len(chunks) >= n:
            return chunks
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    raise AssertionError("no chunks written")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_leaves_nothing_complete_and_resumes(tmp_path, sig, baseline):
    cmd, proc = _start(tmp_path, 1500)
    _wait_for_chunks(tmp_path, 3, proc)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, proc.stderr.read().decode()
        assert "rerun the same command to resume" in proc.stderr.read().decode()
    folders = list((tmp_path / "baseline").iterdir())
    assert len(folders) == 1 and folders[0].name.endswith(".partial")
    assert not (folders[0] / "metadata.json").exists()
    assert not (folders[0] / "runs.parquet").exists()
    with pytest.raises(Exception, match="not a complete results folder"):
        load_result(folders[0])
    done_before = len(list(folders[0].glob("chunks/*.json")))
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "Resuming the unfinished run" in p.stderr
    (final,) = (tmp_path / "baseline").iterdir()
    assert not final.name.endswith(".partial")
    assert json.loads((final / "metadata.json").read_text())["runs_resumed"] == 50 * done_before
    clean = run_experiment(baseline, 1500, 5, chunk=50, workers=2, out=tmp_path / "clean",
                           log=_quiet)
    for name in ("runs.parquet", "rounds.parquet"):
        assert (clean.folder / name).read_bytes() == (final / name).read_bytes()


def test_partial_with_other_settings_starts_clean(tmp_path, baseline):
    cmd, proc = _start(tmp_path, 2000)
    _wait_for_chunks(tmp_path, 2, proc)
    proc.kill()
    proc.wait()
    logs: list[str] = []
    res = run_experiment(baseline, runs=2000, seed=5, chunk=80, out=tmp_path, log=logs.append)
    assert any("Starting again" in m for m in logs)
    assert res.metadata["runs_resumed"] == 0


def test_bad_chunks_are_reported_and_recomputed(tmp_path, baseline):
    """A chunk from another master seed, one flipped bit, a truncated file, a missing
    manifest: each is named and computed again, and the result is as if nothing happened."""
    kw = dict(runs=400, chunk=50, workers=1, log=_quiet)
    partial = {}
    for seed in (5, 6):  # two unfinished experiments: stop each after its chunks are written
        with pytest.raises(_Stop):
            run_experiment(baseline, seed=seed, out=tmp_path / str(seed),
                           on_progress=_stop_after(400), **kw)
        (partial[seed],) = (tmp_path / str(seed) / "baseline").iterdir()
    chunks = partial[5] / "chunks"
    other = partial[6] / "chunks"
    assert len(list(chunks.glob("*.json"))) == 8
    stem = "0000000050-0000000100"  # from another seed: all its files, manifest included
    for f in other.glob(f"{stem}.*"):
        (chunks / f.name).write_bytes(f.read_bytes())
    _flip_bit(chunks / "0000000100-0000000150.runs.arrow")
    data = (chunks / "0000000200-0000000250.rounds.arrow").read_bytes()
    (chunks / "0000000200-0000000250.rounds.arrow").write_bytes(data[:100])
    (chunks / "0000000300-0000000350.json").unlink()
    logs: list[str] = []
    res = run_experiment(baseline, seed=5, out=tmp_path / "5", **{**kw, "log": logs.append})
    said = "\n".join(logs)
    assert "runs 50-99" in said and "another master seed" in said
    assert "runs 100-149" in said and "checksum" in said
    assert "runs 200-249" in said and "truncated" in said
    assert "runs 300-349" in said and "manifest" in said
    assert res.metadata["runs_resumed"] == 400 - 4 * 50
    clean = run_experiment(baseline, seed=5, out=tmp_path / "clean", **kw)
    for name in ("runs.parquet", "rounds.parquet"):
        assert (clean.folder / name).read_bytes() == (res.folder / name).read_bytes()


def _stopped_then_resumed(out: Path, baseline, **kw):
    """Run until half the rows are done, stop (an exception from the progress callback),
    then run the same call again: it resumes from the chunk files."""
    total = kw.get("runs", 0) * max(1, len(kw.get("points") or [1]))
    with pytest.raises(_Stop):
        run_experiment(baseline, out=out, on_progress=_stop_after(total // 2), log=_quiet, **kw)
    res = run_experiment(baseline, out=out, log=_quiet, **kw)
    assert 0 < res.metadata["runs_resumed"] < total
    return res


def test_chunk_files_keep_runs_without_parameters_and_resume_whole(tmp_path, baseline):
    """Chunk files leave out the `param.*` columns, which follow from the run seeds (and the
    points); a resumed experiment draws them again. Its files are the same bytes as one run
    at once, for plain runs and for study points (whose fixed values are parameters too)."""
    kw = dict(runs=240, seed=3, chunk=40, workers=1)
    res = _stopped_then_resumed(tmp_path / "resumed", baseline, **kw)
    clean = run_experiment(baseline, out=tmp_path / "clean", log=_quiet, **kw)
    for name in ("runs.parquet", "rounds.parquet"):
        assert (clean.folder / name).read_bytes() == (res.folder / name).read_bytes()
    assert any(c.startswith("param.") for c in clean.runs.columns)
    points = [{OPPOSITION: v, CEASEFIRE: w} for v, w in ((0.1, 0.9), (0.5, 0.4), (0.9, 0.2))]
    kw = dict(runs=70, seed=4, chunk=30, workers=2, points=points)
    res = _stopped_then_resumed(tmp_path / "points-resumed", baseline, **kw)
    clean = run_experiment(baseline, out=tmp_path / "points-clean", log=_quiet, **kw)
    assert (clean.folder / "runs.parquet").read_bytes() == \
        (res.folder / "runs.parquet").read_bytes()
    runs = clean.runs
    assert sorted(set(runs[f"param.{OPPOSITION}"])) == [0.1, 0.5, 0.9]


def test_a_chunk_file_holds_no_parameter_column(tmp_path, baseline):
    with pytest.raises(_Stop):
        run_experiment(baseline, 100, 1, chunk=50, workers=1, out=tmp_path, log=_quiet,
                       on_progress=_stop_after(0))
    (arrow,) = tmp_path.glob("baseline/*.partial/chunks/*.runs.arrow")
    names = pa.ipc.open_stream(arrow.read_bytes()).read_all().column_names
    assert "formed" in names and "seed" in names
    assert not [n for n in names if n.startswith("param.")]


def test_the_code_fingerprint_covers_every_module_a_run_loads():
    """A results folder is reused, and a chunk resumed, only by the same code: the fingerprint
    must cover every module of this package that computing runs loads (rng.py, which draws
    the seeds and parameters, was once left out). Only plumbing may be outside it."""
    code = """
import sys
from sim.experiments import run_experiment
from sim.scenario import load_scenario
run_experiment(load_scenario(sys.argv[1]), 20, 1, log=lambda *a: None)
print("\\n".join(m.__file__ for n, m in sys.modules.items()
                  if (n == "sim" or n.startswith("sim.")) and getattr(m, "__file__", None)))
"""
    p = subprocess.run([sys.executable, "-c", code, str(BASELINE)], capture_output=True,
                       text=True, cwd=ROOT, check=True)
    sim_dir = ROOT / "sim"
    loaded = {Path(f).resolve().relative_to(sim_dir).as_posix() for f in p.stdout.split()}
    plumbing = {"__init__.py", "_lazy.py"}  # the package's lazy attribute map
    covered = {f for f in loaded if f.split("/")[0] in store.RESULT_CODE}
    assert "rng.py" in covered and "model/fast.py" in covered
    assert loaded - covered - plumbing == set()


def test_chunks_of_other_library_versions_are_not_resumed(tmp_path, baseline, monkeypatch):
    """Chunks computed with other versions of the numerical libraries are not mixed with new
    ones: the run starts again."""
    kw = dict(runs=200, seed=2, chunk=50, workers=1, out=tmp_path)
    real = store.result_libraries()
    monkeypatch.setattr(store, "result_libraries", lambda: {**real, "numpy": "0.0-old"})
    with pytest.raises(_Stop):
        run_experiment(baseline, on_progress=_stop_after(100), log=_quiet, **kw)
    monkeypatch.setattr(store, "result_libraries", lambda: real)
    logs: list[str] = []
    res = run_experiment(baseline, log=logs.append, **kw)
    assert any("Starting again" in m for m in logs)
    assert res.metadata["runs_resumed"] == 0


def test_an_error_in_a_run_to_a_folder_comes_out_as_itself_in_a_fresh_process(tmp_path):
    """Nothing in the error path may rely on a module some earlier import happened to load
    (`concurrent.futures.process` was one): in a fresh interpreter, an exception from inside
    the run is the one the caller sees."""
    code = f"""
import sys
from sim import run_experiment
class Stop(Exception):
    pass
def stop(done, total):
    raise Stop
try:
    run_experiment({str(BASELINE)!r}, 50, 1, out={str(tmp_path)!r}, on_progress=stop,
                   log=lambda *a: None)
except Stop:
    sys.exit(0)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr


def test_two_identical_commands_one_waits_for_the_other(tmp_path):
    cmd = _cli(tmp_path, 1500)
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                              text=True) for _ in range(2)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    waited = [e for e in errs if "Waiting: another process" in e]
    assert len(waited) == 1 and "Reusing the complete results" in waited[0], errs
    (final,) = (tmp_path / "baseline").iterdir()
    assert not final.name.endswith(".partial")
    assert load_result(final).metadata["total_runs"] == 1500


def test_a_held_lock_makes_the_command_wait(tmp_path, baseline):
    """While another process holds the experiment's folder, the command waits (saying so),
    then does the work itself if the holder left it unfinished."""
    probe = run_experiment(baseline, 60, 3, chunk=20, log=_quiet)
    partial = files.partial_of(tmp_path / "baseline" / probe.experiment_id)
    lock = files.FolderLock(partial)
    assert lock.acquire()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "run", str(BASELINE),
                             "--runs", "60", "--seed", "3", "--workers", "1", "--out",
                             str(tmp_path), "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT, text=True)
    try:
        said = [proc.stderr.readline() for _ in range(2)]  # "Running ...", then "Waiting ..."
        assert "Waiting: another process" in said[1], said
        time.sleep(1)
        assert proc.poll() is None and not list(partial.iterdir())  # nothing written meanwhile
    finally:
        lock.release()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = load_result(tmp_path / "baseline" / probe.experiment_id)
    pd.testing.assert_frame_equal(result.runs, probe.runs)


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process, from /proc."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            out[int(d.name)] = (int(fields[1]), fields[0])
    return out


def _descendants(pid: int) -> set[int]:
    procs = _processes()
    found, stack = set(), [pid]
    while stack:
        p = stack.pop()
        for child, (parent, _) in procs.items():
            if parent == p and child not in found:
                found.add(child)
                stack.append(child)
    return found


def _living(pids: set[int]) -> set[int]:
    procs = _processes()
    return {p for p in pids if p in procs and procs[p][1] != "Z"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["script", "notebook"])
def test_workers_leave_nothing_behind(tmp_path, how):
    """The workers are threads of one process: from code without a main file (as in a
    notebook), a run with two workers starts no other process; from the command line, only
    its presenter and the process that computes the runs (forked, and ending with the
    command), so SIGKILL of the command (which can clean up nothing) leaves nothing behind."""
    if how == "script":
        cmd = _cli(tmp_path, 20000)
        cmd[cmd.index("--workers") + 1] = "2"
    else:
        code = ("from sim import run_experiment\n"
                f"run_experiment({str(BASELINE)!r}, runs=20000, seed=1, workers=2, chunk=50, "
                f"out={str(tmp_path)!r})\n")
        cmd = [sys.executable, "-c", code]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for_chunks(tmp_path, 2, proc)
    others = _descendants(proc.pid)
    presenters = {p for p in others if _is_fork_of(p, proc.pid)}
    assert others == presenters and len(presenters) == (2 if how == "script" else 0)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _living(presenters) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _living(presenters) == set()


def _is_fork_of(pid: int, parent: int) -> bool:
    """A process forked from `parent` (its command line), not one it ran (git, say)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes() == \
            Path(f"/proc/{parent}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_drawing_processes_end_with_the_command(tmp_path):
    """The processes that draw a presentation side by side (forked by the presenter, itself
    forked by the command) end by themselves when the command is killed while they draw
    (SIGKILL: the command can clean up nothing)."""
    cmd = _cli(tmp_path, 200)
    cmd[cmd.index("--workers") + 1] = "2"
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    drawing: set[int] = set()
    while not drawing and proc.poll() is None and time.monotonic() < deadline:
        forks = {p for p in _descendants(proc.pid) if _is_fork_of(p, proc.pid)}
        parents = {p: _processes().get(p, (None, ""))[0] for p in forks}
        drawing = {p for p in forks if parents[p] != proc.pid}  # the presenter's children
        time.sleep(0.05)
    assert drawing, "no drawing process was seen: the presentation was not drawn side by side"
    drawing |= forks
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _living(drawing) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _living(drawing) == set()


def test_workers_compute_chunks_side_by_side(baseline, monkeypatch):
    """--workers 2: the chunks are computed on two threads at once, in this process."""
    import threading

    from sim.experiments import runner

    real, seen, active = runner.compute_chunk, set(), []
    lock = threading.Lock()
    overlap = threading.Event()

    def watched(*args):
        with lock:
            seen.add(threading.get_ident())
            active.append(1)
            if len(active) > 1:
                overlap.set()
        try:
            overlap.wait(2)  # hold the chunk until another one runs too (or 2 s pass)
            return real(*args)
        finally:
            with lock:
                active.pop()

    monkeypatch.setattr(runner, "compute_chunk", watched)
    res = run_experiment(baseline, 200, 1, workers=2, chunk=50, log=lambda *a: None)
    assert len(res.runs) == 200 and overlap.is_set() and len(seen) == 2
    assert threading.get_ident() not in seen


def test_full_disk_is_an_environment_failure_and_resumes(tmp_path, baseline, monkeypatch,
                                                          capsys, summaries_only):
    args = ["run", str(BASELINE), "--runs", "300", "--seed", "8", "--workers", "1",
            "--chunk-size", "50", "--out", str(tmp_path), "--no-progress"]
    real, calls = files._write, []

    def full(path, data):
        calls.append(path)
        if len(calls) > 5:  # two chunks get through, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(files, "_write", full)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert "the same command resumes" in err
    (partial,) = (tmp_path / "baseline").iterdir()
    assert partial.name.endswith(".partial") and not (partial / "metadata.json").exists()
    assert not list(partial.rglob("*.tmp"))  # no half-written file
    monkeypatch.setattr(files, "_write", real)
    assert main(args) == 0
    (final,) = (tmp_path / "baseline").iterdir()
    clean = _run(tmp_path / "clean", baseline, runs=300, seed=8, chunk=50)
    assert (final / "runs.parquet").read_bytes() == (clean.folder / "runs.parquet").read_bytes()


def test_progress_lines_when_not_a_terminal(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "run.py"), "run", str(BASELINE), "--runs",
                        "100", "--workers", "1", "--out", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0
    assert "100/100 runs (100%)" in p.stderr and "runs/s" in p.stderr
    q = subprocess.run([sys.executable, str(ROOT / "run.py"), "run", str(BASELINE), "--runs",
                        "100", "--seed", "2", "--workers", "1", "--out", str(tmp_path),
                        "--no-progress"], capture_output=True, text=True, cwd=ROOT)
    assert q.returncode == 0 and "runs/s" not in q.stderr


def test_report_rebuilds_the_presentation(tmp_path, baseline, capsys):
    res = _run(tmp_path, baseline, runs=80, seed=4)
    kept = {p.name: p.read_bytes() for p in res.folder.iterdir()}
    for name in ("summary.json", "summary.csv", "report.html", "country_status.png"):
        (res.folder / name).unlink()
    assert main(["report", str(res.folder)]) == 0
    assert "Probability that the force forms" in capsys.readouterr().out
    for name in ("summary.json", "summary.csv", "country_status.png", "runs.parquet"):
        assert (res.folder / name).read_bytes() == kept[name], name
    assert (res.folder / "report.html").exists()
    assert main(["report", str(tmp_path)]) == 2  # not a results folder
    assert "not a complete results folder" in capsys.readouterr().err
    # a presentation cut short (no report.html, written last) is drawn again on reuse
    (res.folder / "report.html").unlink()
    again = run_experiment(baseline, runs=80, seed=4, out=tmp_path, log=_quiet)
    assert again.reused and again.summary is None
    assert main(["run", str(BASELINE), "--runs", "80", "--seed", "4", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert (res.folder / "report.html").exists()


def test_presentation_drawn_side_by_side_is_the_same(tmp_path, baseline):
    """The plots, tables and report drawn in two processes (`report --workers 2`, forked from
    a command that runs no other thread) are the files drawn in one, byte for byte; a part
    that fails in a drawing process fails the presentation with its own error."""
    res = _run(tmp_path, baseline, runs=120, seed=6)
    drawn = {p.name: p.read_bytes() for p in res.folder.iterdir()
             if p.suffix in (".png", ".svg", ".csv", ".html")}
    assert {"report.html", "feature_scores.svg", "over_time.png", "force_size.png"} <= set(drawn)
    for name in drawn:
        (res.folder / name).unlink()
    subprocess.run([sys.executable, str(ROOT / "run.py"), "report", str(res.folder),
                    "--workers", "2"], cwd=ROOT, check=True, capture_output=True)
    again = {p.name: p.read_bytes() for p in res.folder.iterdir()
             if p.suffix in (".png", ".svg", ".csv", ".html")}
    assert again.keys() == drawn.keys()
    assert [n for n in drawn if again[n] != drawn[n]] == []
    code = ("import json, pathlib, sys\n"
            "from sim.analysis import present as p\n"
            "f = pathlib.Path(sys.argv[1]); meta = json.loads((f / 'metadata.json').read_text())\n"
            "print('fork', p._can_fork(), flush=True)\n"
            "p._draw_parts(['over_time', 'no_such_plot'], f, meta, p.write_summary(f, meta), 2)\n")
    failed = subprocess.run([sys.executable, "-c", code, str(res.folder)], cwd=ROOT,
                            capture_output=True, text=True)
    assert "fork True" in failed.stdout
    assert failed.returncode == 1 and "no outcome plot named 'no_such_plot'" in failed.stderr



_PRESENTER = """
import json, os, pathlib, signal, sys, time
from concurrent.futures.process import BrokenProcessPool
from sim.analysis import plots
from sim.analysis import present as p
from sim.experiments.files import StorageError
f = pathlib.Path(sys.argv[1]); meta = json.loads((f / 'metadata.json').read_text())
command, draw, draw_one = os.getpid(), p.draw, plots.draw_one

class Odd(Exception):  # cannot be rebuilt from its args: not sent as it is
    def __init__(self, a, b):
        super().__init__(f"odd {a} {b}")

def fail(name, *a):
    if case == 'storage':
        raise StorageError(f / 'force_size.png', 'no space left on device')
    raise Odd(1, 2)

def dies(*a, **k):
    if os.getpid() != command:
        os._exit(3)
    return draw(*a, **k)

for case in sys.argv[2:]:  # each case patches, then forks its own presenter
    plots.draw_one = fail if case in ('storage', 'odd') else draw_one
    p.draw = dies if case == 'died' else draw
    with p.Presenter.start() as presenter:
        print(case, 'presenter', presenter._process.pid, flush=True)
        if case == 'killed':
            os.kill(presenter._process.pid, signal.SIGKILL)
            presenter._process.join()
            (f / 'report.html').unlink()
        elif case == 'orphan':
            time.sleep(60)  # the test kills this command
        try:
            p.present(f, verified=True, workers=2, presenter=presenter)
            print(case, 'drawn', (f / 'report.html').exists())
        except StorageError as e:
            print(case, 'storage', e.path.name, '|', e.problem, '|',
                  'drawing process' in str(e.__notes__))
        except BrokenProcessPool as e:
            print(case, 'broken', str(e).splitlines()[0])
        except RuntimeError as e:
            print(case, 'runtime', str(e).splitlines()[0])
    print(case, 'alive', presenter.alive(), presenter.exitcode, flush=True)
"""


def _gone(pid: int, within: float) -> bool:
    """Whether process `pid` has ended (or is a zombie) within `within` seconds."""
    end = time.monotonic() + within
    while True:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z":
                return True
        except (OSError, IndexError):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drawing processes: Linux")
def test_presenter_failures_reach_the_command(tmp_path, baseline):
    """A presentation drawn by a presenter (the drawing process forked before the runs) fails
    in the command with the drawing's own error; a presenter that died is told, not waited
    for; and a presenter never outlives its command, closed or killed."""
    res = _run(tmp_path, baseline, runs=60, seed=2)

    out = subprocess.run([sys.executable, "-c", _PRESENTER, str(res.folder), "storage", "odd",
                          "died", "killed"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300).stdout
    assert "storage storage force_size.png | no space left on device | True" in out  # whole
    # closed: ended by itself, or at once if it was slow to (a busy machine)
    assert "storage alive False 0" in out or "storage alive False 1" in out
    assert "odd runtime Odd: odd 1 2 (raised in the drawing process)" in out
    # while drawing
    assert "died broken the drawing process ended before the presentation was drawn (exit " \
        "code 3)" in out
    # before the runs were done: the command draws itself
    assert "killed drawn True" in out and "killed alive False -9" in out
    # the command killed while its presenter waits: the presenter ends too
    cmd = subprocess.Popen([sys.executable, "-c", _PRESENTER, str(res.folder), "orphan"],
                           cwd=ROOT, stdout=subprocess.PIPE, text=True)
    presenter = int(cmd.stdout.readline().split()[2])
    cmd.kill()
    cmd.wait()
    assert _gone(presenter, within=10)



_INTERRUPTED = """
import os, pathlib, signal, sys, threading, time
from multiprocessing.context import ForkProcess
from sim.analysis import present as p
from sim.experiments import files
f = pathlib.Path(sys.argv[1])
if sys.argv[2] == 'fork':  # Ctrl-C as the presenter is forked: in the fork's own handlers
    os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGINT))
    start = ForkProcess.start
    def start_and_tell(self):
        start(self)
        print('forked', self.pid, flush=True)
    ForkProcess.start = start_and_tell
    try:
        p.Presenter.start()
        print('not interrupted')
    except KeyboardInterrupt:
        print('interrupted', flush=True)
    sys.exit(0)
save, command = files.writing, os.getpid()
def slow(path):  # every file drawn by the presenter takes a minute to write
    cm = save(path)
    class Slow:
        def __enter__(self):
            tmp = cm.__enter__()
            if os.getpid() != command:
                tmp.write_bytes(b'half')
                print('writing', tmp.name, flush=True)
                time.sleep(60)
            return tmp
        def __exit__(self, *a):
            return cm.__exit__(*a)
    return Slow()
files.writing = slow
for name in ('report.html', 'over_time.csv', 'feature_scores.csv'):
    (f / name).unlink(missing_ok=True)
with p.Presenter.start() as presenter:
    threading.Timer(6, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    try:
        p.present(f, verified=True, workers=int(sys.argv[2]), presenter=presenter)
    except KeyboardInterrupt:
        print('interrupted', flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drawing processes: Linux")
def test_presenter_interrupted_leaves_nothing(tmp_path, baseline):
    """Ctrl-C as the presenter is forked is raised in the command, which ends the presenter
    (the interrupt was once lost inside the fork, and the runs deadlocked); Ctrl-C while the
    presenter draws ends it and its drawing processes, and the temporary files they were
    writing are removed (a terminated process runs no `finally`)."""
    res = _run(tmp_path, baseline, runs=60, seed=2)
    out = subprocess.run([sys.executable, "-c", _INTERRUPTED, str(res.folder), "fork"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "interrupted" in out and "not interrupted" not in out
    forked = int(out.split("forked ")[1].split()[0])
    assert _gone(forked, within=5)
    for workers in ("1", "2"):
        proc = subprocess.run([sys.executable, "-c", _INTERRUPTED, str(res.folder), workers],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert "interrupted" in proc.stdout and "writing" in proc.stdout, proc.stderr
        deadline = time.monotonic() + 5  # the drawing processes notice within 0.2 s
        while list(res.folder.glob(".*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(res.folder.glob(".*.tmp")) == [], workers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork")
def test_abandon_removes_only_this_processs_temporary_files(tmp_path):
    """`files.abandon` (a presenter or drawing process told to stop) removes the temporary
    files this process was writing, and not those of the process it was forked from."""
    code = ("import os, pathlib, sys\n"
            "from sim.experiments import files\n"
            "f = pathlib.Path(sys.argv[1])\n"
            "mine = files.temporary(f / 'a.png'); mine.write_bytes(b'parent')\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    files.temporary(f / 'b.png').write_bytes(b'child')\n"
            "    files.abandon(3)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "print(os.waitstatus_to_exitcode(status), sorted(p.name[:6] for p in f.iterdir()))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.split(" ", 1) == ["3", "['.a.png']\n"], out.stderr

def test_no_presenter_where_it_cannot_fork(monkeypatch):
    from sim.analysis import present as p

    monkeypatch.setattr(p, "_can_fork", lambda: False)
    assert p.Presenter.start() is None
    monkeypatch.setattr(p, "_can_fork", lambda: True)
    from multiprocessing.context import ForkProcess

    def no_fork(self):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(ForkProcess, "start", no_fork)  # fork(): EAGAIN
    assert p.Presenter.start() is None  # the command draws itself


def test_presenter_imports_what_drawing_needs_but_not_scikit_learn():
    """The presenter imports what every part needs while the runs are computed; not
    scikit-learn (about 75 MB and over a second), which only the drawing process that
    scores imports: every module it lists exists, and none of them loads scikit-learn."""
    from sim.analysis import present as p

    code = (f"import importlib, sys\nfor name in {p.DRAWING_MODULES!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    assert "sim.analysis.plots" in p.DRAWING_MODULES


_BEHIND = """
import os, sys, threading
sys.path.insert(0, sys.argv[1])
from sim.analysis import present as p
main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
importing = p._ImportsBehind(("probe_first", "probe_slow", "probe_never"))
import probe_slow_started  # noqa: set up by the test: an Event the slow module sets
probe_slow_started.event.wait(30)
importing.stop()  # while probe_slow sleeps: it ends, probe_never is not imported
import probe_first
print(main, probe_first.nice, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
      "probe_slow" in sys.modules, "probe_never" in sys.modules, threading.active_count())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own priority")
def test_the_presenter_imports_behind_the_runs_and_stops_before_drawing(tmp_path):
    """The presenter's imports run on a thread of the lowest priority (nice 19), so they take
    no processor time from the runs, while its main thread (which draws, and forks the
    drawing processes) keeps the command's; `stop` waits for the module under way and
    imports no other, and leaves no thread behind (a fork beside one is unsafe)."""
    (tmp_path / "probe_first.py").write_text(
        "import os, threading\n"
        "nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())\n")
    (tmp_path / "probe_slow_started.py").write_text(
        "import threading\nevent = threading.Event()\n")
    (tmp_path / "probe_slow.py").write_text(
        "import time, probe_slow_started\nprobe_slow_started.event.set()\ntime.sleep(0.5)\n")
    (tmp_path / "probe_never.py").write_text("raise SystemExit('imported after stop')\n")
    out = subprocess.run([sys.executable, "-c", _BEHIND, str(tmp_path)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    main, imported_at, main_after, slow, never, threads = out.stdout.split()
    assert int(imported_at) == 19 and main_after == main != "19"
    assert (slow, never, threads) == ("True", "False", "1")


_LAZY = """
import pathlib, sys, time
from sim.analysis import present as p
def loaded(pid):  # pandas's compiled modules are mapped into the process once it is imported
    return "pandas/_libs" in pathlib.Path(f"/proc/{pid}/maps").read_text()
folder = pathlib.Path(sys.argv[1])
with p.Presenter.start(eager=True) as eager, p.Presenter.start(eager=False) as lazy:
    t = time.monotonic()
    while not loaded(eager._process.pid) and time.monotonic() - t < 60:
        time.sleep(0.1)
    time.sleep(1)
    print(loaded(eager._process.pid), loaded(lazy._process.pid), flush=True)
    p.present(folder, verified=True, presenter=lazy, workers=2)
    print(loaded(lazy._process.pid), (folder / "report.html").is_file())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_presenter_not_eager_imports_only_to_draw(tmp_path, baseline):
    """For a large experiment the presenter does not import the drawing libraries while the
    runs are computed (`present.EAGER_RUNS`: they would sit beside the runs' working set, the
    command's peak), only once it is given the presentation, which it then draws."""
    res = run_experiment(baseline, 40, 2, out=tmp_path, log=_quiet)
    out = subprocess.run([sys.executable, "-c", _LAZY, str(res.folder)], capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", "True", "True"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drawing processes: Linux")
def test_command_draws_with_its_presenter_the_same_files(tmp_path, baseline):
    """`run` draws its presentation in the presenter it forked before the runs: the same
    files, byte for byte, as drawn in the command's own process, and no process is left."""
    cmd = [sys.executable, str(ROOT / "run.py"), "run", str(BASELINE), "--runs", "90",
           "--seed", "8", "--out", str(tmp_path / "cli"), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    children = set()
    while proc.poll() is None:  # the command's children while it runs
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            try:
                children |= {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                pass
        time.sleep(0.05)
    assert proc.returncode == 0, proc.stderr.read()
    names = {}
    for pid in children:
        try:
            names[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            names[pid] = b"gone"
    assert children, "the command forked no presenter"
    assert all(_gone(pid, within=0) for pid in children), names
    (cli,) = (tmp_path / "cli" / "baseline").iterdir()
    drawn = {p.name: p.read_bytes() for p in cli.iterdir()
             if p.suffix in (".png", ".svg", ".csv", ".html") or p.name == "summary.json"}
    assert {"feature_scores.svg", "over_time.png", "report.html"} <= set(drawn)
    for name in drawn:
        (cli / name).unlink()
    present(cli)  # drawn again here, in this process, one part after the other
    assert [n for n, data in drawn.items() if (cli / n).read_bytes() != data] == []

def test_compare_files_and_folders(tmp_path, capsys, summaries_only):
    # the compared experiments' own plots and reports are not under test here (see
    # test_report_rebuilds_the_presentation): only their summaries are computed
    hard = ROOT / "scenarios" / "israel_hard_line.yaml"
    args = ["--runs", "150", "--seed", "3", "--workers", "1", "--out", str(tmp_path),
            "--no-progress"]
    assert main(["compare", str(BASELINE), str(hard), *args]) == 0
    out = capsys.readouterr().out
    assert "israel_hard_line" in out and "*" in out  # the hard line's effect is real
    (cmp_dir,) = (tmp_path / "compare").iterdir()
    table = pd.read_csv(cmp_dir / "comparison.csv").set_index(["measure", "scenario"])
    row = table.loc[("formed by the deadline", "israel_hard_line")]
    assert row["probability"] == 0.0 and bool(row["exceeds_noise"])
    assert row["difference_pp"] < 0 and row["difference_ci_high_pp"] < 0
    assert not table.loc[("Egypt vetoed by Israel", "israel_hard_line"), "exceeds_noise"]
    for name in ("differences", "formation", "countries", "formation_over_time", "over_time",
                 "force_size"):
        assert (cmp_dir / f"{name}.png").stat().st_size > 5000
    assert (cmp_dir / "report.html").read_text().count("<svg") == 6
    folders = sorted(p for p in tmp_path.iterdir() if p.name != "compare")
    results = [next(f.iterdir()) for f in folders]
    assert main(["compare", *map(str, results), "--out", str(tmp_path / "again")]) == 0
    (cmp2,) = (tmp_path / "again" / "compare").iterdir()
    t2 = pd.read_csv(cmp2 / "comparison.csv").set_index(["measure", "scenario"])
    pd.testing.assert_frame_equal(t2, table)
    # again into the same place: the older comparison is replaced, not duplicated
    assert main(["compare", *map(str, results), "--out", str(tmp_path / "again")]) == 0
    assert len(list((tmp_path / "again" / "compare").iterdir())) == 1


def test_compare_rejects_unusable_folders(tmp_path, capsys):
    bad = tmp_path / "x.partial"
    bad.mkdir()
    assert main(["compare", str(bad), str(BASELINE), "--out", str(tmp_path)]) == 2
    assert "not a complete results folder" in capsys.readouterr().err
    odd = tmp_path / "odd"
    (odd / "metadata.json").mkdir(parents=True)  # unreadable as a file
    (odd / "runs.parquet").write_bytes(b"PAR1")
    assert main(["compare", str(odd), str(BASELINE), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "metadata.json" in err and "cannot read" in err and "Traceback" not in err
    assert not (tmp_path / "compare").exists() and not (tmp_path / "baseline").exists()


def test_models_are_released(baseline):
    from sim.model.run import replay, simulate

    before = len(mesa.Agent._ids)
    for s in range(20):
        simulate(baseline, s, counterfactuals=True)
        replay(baseline, s, lifts=("target",))
    assert len(mesa.Agent._ids) == before


def test_results_independent_of_current_directory(tmp_path, baseline, summaries_only):
    os.chdir(tmp_path)
    try:
        loaded = load_scenario(Path(os.path.relpath(BASELINE, tmp_path)))
        res = _run(tmp_path, loaded, runs=30, seed=1)
        ref = _run(tmp_path / "b", baseline, runs=30, seed=1)
        assert (res.folder / "runs.parquet").read_bytes() == \
            (ref.folder / "runs.parquet").read_bytes()
    finally:
        os.chdir(ROOT)


def test_a_deferred_submodule_runs_only_when_first_used():
    """`defer_submodule` keeps a star import (SciPy's, of numpy) from running numpy.f2py, and
    the module still works, loaded whole, the first time one of its attributes is used; a
    module loaded already, or one that does not exist, is left alone."""
    code = """
import sys
from sim import _lazy
_lazy.defer_submodule("numpy.f2py")
_lazy.defer_submodule("numpy.no_such_module")
_lazy.defer_submodule("json")
import scipy.linalg
import numpy
print("AFTER-SCIPY", "numpy.f2py.crackfortran" in sys.modules, "charset_normalizer" in sys.modules,
      "numpy.no_such_module" in sys.modules, type(sys.modules["json"]).__name__)
import numpy.f2py as f2py
print("AFTER-USE", callable(f2py.run_main), "numpy.f2py.crackfortran" in sys.modules,
      numpy.f2py is f2py)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "AFTER-SCIPY False False False module" in p.stdout, p.stdout
    assert "AFTER-USE True True True" in p.stdout, p.stdout


def test_the_summary_is_printed_before_pandas_and_the_drawing_libraries_load(tmp_path):
    """The summary of a fresh run comes from Arrow alone: pandas (0.4 s to import), matplotlib
    and scikit-learn are loaded only once it is printed (pyarrow imports pandas as soon as an
    array is made with `pa.array` or read with `to_numpy`, so a new call of either in the run
    path fails this test). Nor is numpy's Fortran wrapper generator, which SciPy's array-API
    layer would load through numba (`sim._lazy.defer_submodule`). Nor, where the kernel can
    be built ahead of time, numba and LLVM (0.6-1.0 s)."""
    from sim.model import ahead, fast

    fast.kernel(load_scenario(BASELINE))  # built (or loaded), so the command uses it
    jit = ("numba", "llvmlite") if ahead.missing_tools() is None else ()
    code = f"""
import sys
import sim.analysis.summary as S
render = S.render
def watched(summary):
    heavy = [m for m in ("pandas", "matplotlib", "sklearn", "numpy.f2py.crackfortran",
                         "charset_normalizer", *{jit!r}) if m in sys.modules]
    print("LOADED-AT-SUMMARY", heavy, file=sys.stderr)
    return render(summary)
S.render = watched
from sim.cli import main
code = main(["run", {str(BASELINE)!r}, "--runs", "120", "--out", {str(tmp_path)!r},
             "--no-progress"])
print("PANDAS-IN-COMMAND", "pandas" in sys.modules, file=sys.stderr)
sys.exit(code)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "LOADED-AT-SUMMARY []" in p.stderr, p.stderr
    # summary.csv is written by the presenter, which has pandas loaded: the command never
    # loads it (0.4 s, and its memory, off the whole command)
    assert "PANDAS-IN-COMMAND False" in p.stderr, p.stderr
    assert (next(tmp_path.glob("*/*/summary.csv"))).is_file()
    assert (next(tmp_path.glob("*/*/report.html"))).is_file()  # and then the rest is drawn


@pytest.mark.parametrize("options", [
    "rounds=30, chunk=25",      # chunks past the round records (an empty rounds table each)
    "rounds=False, chunk=40",   # no round records at all
    "rounds=7, chunk=50, points=[{'convener.max_pressure': 0.3}, "
    "{'convener.max_pressure': 0.8}]",  # a study's points, round records of some
])
def test_the_runs_are_computed_and_written_without_pandas(tmp_path, options):
    """pyarrow imports pandas on its first `pa.array`, `pa.table` or `Schema.empty_table`
    (0.3 s calm, 0.8 s beside a busy worker, which waits for the import's lock): the run
    phase, in a fresh process, computes, merges and writes every kind of chunk without it.
    A chunk with no round records made `empty_table` and did: 0.92 of the time of 100,000
    runs without it (eight pairs in turn)."""
    from sim.model import fast

    fast.kernel(load_scenario(BASELINE))  # built, so the subprocess loads it
    code = f"""
import sys
from sim.experiments.runner import run_experiment
e = run_experiment({str(BASELINE)!r}, 120, out={str(tmp_path)!r}, workers=2, {options})
print("PANDAS", "pandas" in sys.modules, len(e.runs))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "PANDAS False" in p.stdout, p.stdout
    assert next(tmp_path.glob("*/*/runs.parquet")).is_file()


@pytest.mark.parametrize("kind, values, mask", [
    (pa.int64(), [3, -1, 7, 0, 2**40], [False, True, False, False, False]),
    (pa.int32(), [5, 6, 7], None),
    (pa.float64(), [0.5, float("inf"), -0.0, 1e-300], [False, False, True, False]),
    (pa.bool_(), [True, False, True, True, False, False, True, False, True], None),
    (pa.bool_(), [False] * 11, [True] + [False] * 10),
    (pa.float64(), [], None),
])
def test_arrays_made_from_buffers_equal_those_pyarrow_makes(kind, values, mask):
    """`from_numpy` and `to_numpy` (Arrow from and to NumPy without pandas) give what
    `pa.array` and `to_numpy` give, nulls, slices and several chunks included."""
    import numpy as np

    from sim.experiments.tables import from_numpy, texts, to_numpy

    dtype = {pa.int64(): np.int64, pa.int32(): np.int32, pa.float64(): float,
             pa.bool_(): bool}[kind]
    arr = np.array(values, dtype=dtype)
    m = None if mask is None else np.array(mask, dtype=bool)
    ours = from_numpy(arr, kind, mask=m)
    theirs = pa.array(arr, type=kind, mask=m)
    assert ours.equals(theirs) and ours.null_count == theirs.null_count
    whole = from_numpy(arr, kind)
    n = len(arr)
    for a, b in [(0, n), (min(1, n), n), (min(2, n), max(min(2, n), n - 1))]:
        part = whole.slice(a, b - a)
        assert np.array_equal(to_numpy(part), part.to_numpy(zero_copy_only=False))
    chunked = pa.chunked_array([whole.slice(0, 1), whole.slice(1)], type=kind)
    assert np.array_equal(to_numpy(chunked), arr)
    words = ["", "Pakistan", None, "Côte d'Ivoire", "a+b"]
    assert texts(words).equals(pa.array(words, type=pa.string()))


def test_arrays_from_buffers_refuse_a_lossy_conversion():
    import numpy as np

    from sim.experiments.tables import from_numpy, to_numpy

    with pytest.raises(TypeError, match="without loss"):
        from_numpy(np.array([1.5]), pa.int64())
    with pytest.raises(TypeError, match="without loss"):  # 2**53 + 1 has no float
        from_numpy(np.array([2**53 + 1]), pa.float64())
    with pytest.raises(TypeError, match="without loss"):
        from_numpy(np.array([1], dtype=np.int64), pa.int32())
    with pytest.raises(TypeError, match="booleans"):
        from_numpy(np.array([1, 0]), pa.bool_())
    for shape in [(2, 3), ()]:  # pa.array takes one dimension only
        with pytest.raises(ValueError, match="one dimension"):
            from_numpy(np.zeros(shape, dtype=np.int64), pa.int64())
    for mask in (np.array([0, 2, 0]), np.array([False, True]), [0, 1, 0]):
        with pytest.raises(TypeError, match="mask must be booleans"):
            from_numpy(np.arange(3), pa.int64(), mask=mask)
    assert from_numpy(np.arange(3, dtype=np.int32), pa.int64()).equals(pa.array([0, 1, 2]))
    with pytest.raises(ValueError, match="nulls"):
        to_numpy(pa.array([1, None]))
    filled = to_numpy(pa.chunked_array([pa.array([1.5, None]), pa.array([None, 2.0])])[1:],
                      fill=np.nan)
    assert np.array_equal(filled, [np.nan, np.nan, 2.0], equal_nan=True)
    flags = pa.array([True, None, True, False] * 5).slice(3)
    assert to_numpy(flags, fill=False).tolist() == [bool(v) for v in flags.to_pylist()]


def test_the_mesa_engine_writes_the_same_files_byte_for_byte(tmp_path, baseline):
    """The Mesa model (engine "reference", run by run) and the fast path write the same
    runs.parquet and rounds.parquet, counterfactual replays and round records included, for
    plain runs and for the points of a study; so a first command may be computed by either."""
    pts = [{OPPOSITION: 0.2}, {OPPOSITION: 0.9}]
    for kw in (dict(runs=60, seed=5, rounds=40, counterfactuals=45, chunk=25),
               dict(runs=20, seed=6, points=pts, chunk=15)):
        digests = []
        for engine in ("fast", "reference"):
            res = run_experiment(baseline, out=tmp_path / engine, workers=2, engine=engine,
                                 log=_quiet, **kw)
            digests.append({f: files.sha256_file(res.folder / f)
                            for f in ("runs.parquet", "rounds.parquet")
                            if (res.folder / f).exists()})
        assert digests[0] == digests[1] and "runs.parquet" in digests[0]


def test_auto_computes_a_small_first_experiment_with_mesa_while_the_kernel_compiles(
        tmp_path, baseline, monkeypatch):
    """engine "auto": while the fast path is not compiled, a small experiment is computed by
    the Mesa model and the compile starts in the background (once); a large one, or one sent
    to another executor, waits for the compile; once compiled, the fast path is used."""
    from sim.experiments import runner
    from sim.model import compile as background
    from sim.model import fast

    started, used = [], []
    monkeypatch.setattr(fast, "compiled", lambda: False)
    monkeypatch.setattr(background, "compile_in_background",
                        lambda f: started.append(f) or True)
    real = runner.compute_chunk
    monkeypatch.setattr(runner, "compute_chunk",
                        lambda *a, **k: used.append(a[-1]) or real(*a, **k))
    logs: list[str] = []
    run_experiment(baseline, 30, 1, engine="auto", workers=1, log=logs.append)
    assert set(used) == {"reference"} and started == [str(BASELINE.resolve())]
    assert any("the Mesa model computes these 30 runs" in m for m in logs)
    used.clear()
    run_experiment(baseline, runner.REFERENCE_RUNS + 1, 1, engine="auto", workers=2,
                   log=logs.append, counterfactuals=0, rounds=False)
    assert set(used) == {"fast"} and len(started) == 1
    assert any("Compiling the fast path once" in m for m in logs)
    monkeypatch.setattr(fast, "compiled", lambda: True)
    used.clear()
    run_experiment(baseline, 30, 2, engine="auto", workers=1, log=_quiet)
    assert set(used) == {"fast"} and len(started) == 1
    with pytest.raises(ExperimentError, match="engine 'mesa': expected one of auto"):
        run_experiment(baseline, 30, 2, engine="mesa", log=_quiet)


def test_one_background_compile_at_a_time(monkeypatch):
    """The background compile starts only when no other process holds its lock, and the
    process it starts is this package's compile module with the scenario file."""
    import fcntl
    import subprocess as sp

    from sim.model import compile as comp

    calls = []
    monkeypatch.setattr(sp, "Popen", lambda cmd, **kw: calls.append((cmd, kw)))
    with open(comp.lock_file(), "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert comp.compile_in_background(str(BASELINE)) is False
        assert comp.main([str(BASELINE)]) == 0  # gives way at once, compiles nothing
        fcntl.flock(held, fcntl.LOCK_UN)
    assert calls == []
    assert comp.compile_in_background(str(BASELINE)) is True
    (cmd, kw), = calls
    assert cmd[1:] == ["-m", "sim.model.compile", str(BASELINE)]
    assert kw["start_new_session"] and kw["stdout"] == sp.DEVNULL


def test_json_files_are_strict_json():
    """What the tool writes as JSON (summary.json, metadata.json, traces) never holds NaN or
    Infinity, which JSON does not have: a number that is not finite is null."""
    import numpy as np

    data = {"p": float("nan"), "ci": (0.1, float("inf")), "x": [np.float64("-inf"), 2.5],
            "n": 3, "deep": {"q": [float("nan")]}}

    def refuse(constant):
        raise AssertionError(constant)

    back = json.loads(files.json_text(data), parse_constant=refuse)
    assert back == {"p": None, "ci": [0.1, None], "x": [None, 2.5], "n": 3, "deep": {"q": [None]}}
