"""Saving the plots: each file drawn once, and the same bytes as a figure saved the slow way."""

from __future__ import annotations

import json

import pytest

from sim import run_experiment
from sim.analysis import features, plots, present

from .conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.yaml"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """A small results folder, its metadata and summary (no presentation drawn)."""
    from sim.analysis.summary import Accumulator

    out = tmp_path_factory.mktemp("plots")
    acc = Accumulator(40)
    res = run_experiment(BASELINE, runs=80, seed=5, out=out, log=lambda *_: None,
                         counterfactuals=40, on_rows=acc.add)
    meta = json.loads((res.folder / "metadata.json").read_text())
    return res.folder, meta, acc.result(present.context_of(meta))


def _figures(folder, meta, summary):
    """Every figure of the presentation but the curves over time (laid out by fixed margins,
    no layout engine), made afresh at each call."""
    runs = folder / "runs.parquet"
    for name in plots.to_draw(summary):
        extra = (present.formed_troops(runs), present.targets(runs)) \
            if name == "force_size" else ()
        yield name, plots.draw_one(name, summary, *extra)
    scores = features.score(_runs(folder), meta["seed"], trees=3, trees_formed=5)
    yield "feature_scores", features.plot(scores, summary["scenario"])


def _runs(folder):
    import pyarrow.parquet as pq

    return pq.read_table(folder / "runs.parquet").to_pandas()


def test_each_file_is_drawn_once(drawn):
    """A figure laid out by `tight_layout` is drawn once per file saved, not twice (matplotlib
    draws a figure that has a layout engine once more before saving it)."""
    folder, meta, summary = drawn
    checked = 0
    for name, fig in _figures(folder, meta, summary):
        if fig.get_layout_engine() is None:
            plots.close(fig)
            continue
        calls = []
        real = fig.draw
        fig.draw = lambda renderer, real=real, calls=calls: calls.append(1) or real(renderer)
        plots.save(fig, folder, f"once_{name}")
        assert len(calls) == 2, (name, len(calls))  # the PNG and the SVG
        checked += 1
    assert checked >= 5  # the outcome plots and the feature scores use tight_layout


def test_settled_figures_save_the_same_bytes(drawn, monkeypatch):
    """Dropping the finished layout's placeholder engine changes no byte of any file."""
    folder, meta, summary = drawn
    fast = dict(_figures(folder, meta, summary))
    for name, fig in fast.items():
        plots.save(fig, folder, f"fast_{name}")
    monkeypatch.setattr(plots, "settled", lambda fig: None)
    slow = dict(_figures(folder, meta, summary))
    for name, fig in slow.items():
        plots.save(fig, folder, f"slow_{name}")
    assert fast.keys() == slow.keys() and len(fast) >= 6
    for name in fast:
        for ext in ("png", "svg"):
            assert (folder / f"fast_{name}.{ext}").read_bytes() == \
                (folder / f"slow_{name}.{ext}").read_bytes(), f"{name}.{ext}"


def test_drawing_processes_leave_the_parents_objects_alone(tmp_path, monkeypatch):
    """The drawing processes are forked with the parent's objects frozen (kept out of their
    garbage collections, which would otherwise copy every page that holds one), and the
    parent's own collections are whole again afterwards."""
    import gc

    if not present._can_fork():
        pytest.skip("drawing processes are forked only on Linux, with no other thread")
    monkeypatch.setattr(present, "draw_part", lambda name, *_: gc.get_freeze_count())
    before = gc.get_freeze_count()
    frozen = present._draw_parts(["a", "b", "c"], tmp_path, {}, {}, workers=2)
    assert all(n > 10_000 for n in frozen.values()), frozen  # the parent's objects, in each
    assert gc.get_freeze_count() == before == 0


@pytest.mark.parametrize("where", ["pool", "submit"])
def test_a_failed_fork_leaves_nothing_frozen(tmp_path, monkeypatch, where):
    """Whether the drawing pool cannot be made or a part cannot be handed to it (no memory
    or processes left), the error reaches the caller and its objects are not left frozen."""
    import concurrent.futures as cf
    import gc

    if not present._can_fork():
        pytest.skip("drawing processes are forked only on Linux, with no other thread")

    class Broken(cf.ProcessPoolExecutor):
        def __init__(self, *a, **k):
            if where == "pool":
                raise OSError("no processes left")
            super().__init__(*a, **k)

        def submit(self, *a, **k):
            raise OSError("no memory left")

    monkeypatch.setattr(cf, "ProcessPoolExecutor", Broken)
    with pytest.raises(OSError, match="left"):
        present._draw_parts(["a", "b"], tmp_path, {}, {}, workers=2)
    assert gc.get_freeze_count() == 0
