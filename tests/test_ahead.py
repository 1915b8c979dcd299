"""The kernel compiled ahead of time (sim/model/ahead.py): what it computes is what numba's
just-in-time kernel computes, bit for bit; it loads without numba; it refuses arguments it was
not compiled for rather than misread them; it lets other threads run; a stale or damaged
build is never loaded; and a failed build falls back to numba's kernel, once."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings

from sim.model import ahead, fast
from sim.model import kernel as jit  # numba's settings are read now, before a test changes
from sim.rng import run_seeds
from sim.scenario import load_scenario

from .conftest import ROOT, SCENARIOS, loaded_of
from .test_fast import worlds

needs_tools = pytest.mark.skipif(ahead.missing_tools() is not None,
                                 reason=f"cannot build here: {ahead.missing_tools()}")


def _outputs(compiled, loaded, seeds, rounds=True):
    """Every array the kernel writes, for these runs, counterfactual replays included."""
    plan = fast._plan(loaded)
    params = fast._param_arguments(loaded, plan, np.asarray(seeds, dtype=np.int64))
    compiled.param_block(*params)
    args, _ = fast._block_arguments(plan, params[-3], params[0],
                                    np.ones(len(seeds), np.bool_), rounds)
    compiled.block(*args)
    return [a for a in (*params[-3:], *args) if isinstance(a, np.ndarray)]


def _both(loaded):
    built = fast.kernel(loaded)
    assert isinstance(built, ahead.Compiled), "the suite should test the kernel built ahead"
    return built, jit


def _assert_same(loaded, seeds, rounds=True):
    built, jit = _both(loaded)
    mine, theirs = _outputs(built, loaded, seeds, rounds), _outputs(jit, loaded, seeds, rounds)
    assert len(mine) == len(theirs)
    for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        assert a.dtype == b.dtype and a.shape == b.shape, i
        assert a.tobytes() == b.tobytes(), f"array {i} differs"


@needs_tools
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_ahead_and_just_in_time_kernels_agree_on_every_shipped_scenario(path):
    loaded = load_scenario(path)
    _assert_same(loaded, run_seeds(41, 0, 300))
    _assert_same(loaded, run_seeds(42, 0, 200), rounds=False)


@needs_tools
@settings(deadline=None, max_examples=40)
@given(world=worlds())
def test_ahead_and_just_in_time_kernels_agree_on_generated_worlds(world):
    loaded = loaded_of(world)
    if any(not math.isfinite(v) for v in loaded.base):
        return
    _assert_same(loaded, run_seeds(43, 0, 40))


@needs_tools
def test_a_command_computes_runs_without_loading_numba(tmp_path, baseline):
    """The point of building ahead: a process that runs the kernel loads neither numba nor
    LLVM (0.6-1.0 s and 100 MB or more when it did)."""
    fast.kernel(baseline)  # built, if this process is the first to need it
    code = ("import sys, numpy as np; from sim.scenario import load_scenario; "
            "from sim.model.fast import simulate_block; "
            "b = simulate_block(load_scenario('scenarios/baseline.yaml'), np.arange(50), "
            "rounds=True); "
            "print(len(b['seeds']), sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('numba', 'llvmlite')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split(None, 1)
    assert out == ["50", "[]\n"]


@needs_tools
def test_the_built_kernel_refuses_arguments_it_was_not_compiled_for(baseline):
    """An array of another element type or layout would be read as if it were the right
    one (silently wrong numbers): each is refused, naming the argument."""
    built = fast.kernel(baseline)
    args = list(fast.kernel_arguments(baseline)["block"])
    for i, bad in ((0, np.asfortranarray(np.zeros((2, 5)))[:, ::2]),  # not C-contiguous
                   (1, args[1].astype(np.int32)),                     # another element type
                   (2, args[2][None, :]),                              # another dimension
                   (29, float(args[29]))):                             # a float for an int
        wrong = args.copy()
        wrong[i] = bad
        with pytest.raises(TypeError, match=f"as argument {i}, not"):
            built.block(*wrong)
    with pytest.raises(TypeError, match="takes 51 arguments, not 50"):
        built.block(*args[:-1])
    built.block(*args)  # the right ones pass


@needs_tools
def test_the_built_kernel_lets_other_threads_run(baseline):
    """Like numba's nogil kernel, it releases the GIL while it computes, so the runner's
    threads compute at once: the main thread keeps running while a block is computed in
    another thread (with the GIL held, it could not run at all between the block's start
    and end)."""
    built = fast.kernel(baseline)
    plan = fast._plan(baseline)
    seeds = run_seeds(44, 0, 3000)
    params = fast._param_arguments(baseline, plan, seeds)
    built.param_block(*params)
    args, _ = fast._block_arguments(plan, params[-3], seeds, np.ones(len(seeds), np.bool_),
                                    False)
    span = []

    def compute():
        span.append(time.perf_counter())
        built.block(*args)
        span.append(time.perf_counter())

    worker = threading.Thread(target=compute)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
    worker.join()
    inside = [t for t in ticks if span[0] < t < span[1]]
    assert span[1] - span[0] > 0.01  # long enough to tell
    assert len(inside) > 100


def _copy_sources(tmp_path):
    """The sources the build depends on, copied, so that a test can change one."""
    root = tmp_path / "sim"
    for name in ahead.SOURCES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes((ahead._SIM / name).read_bytes())
    return root


def test_the_fingerprint_follows_every_source_file_and_nothing_else(tmp_path, monkeypatch):
    root = _copy_sources(tmp_path)
    monkeypatch.setattr(ahead, "_SIM", root)
    first = ahead.key()
    (root / "model" / "outcome.py").write_text("# not a source of the kernel\n")
    assert ahead.key() == first
    for name in ahead.SOURCES:
        before = (root / name).read_bytes()
        (root / name).write_bytes(before + b"\n# changed\n")
        assert ahead.key() != first, name
        (root / name).write_bytes(before)
    assert ahead.key() == first


def test_a_stale_or_damaged_build_is_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert ahead.folder() == tmp_path.resolve()
    assert ahead.load() is None  # nothing built there
    file = ahead.path()
    file.write_bytes(b"\x7fELF not a library")
    file.with_name(file.name.split(".")[0] + ".json").write_text('{"block": []}')
    assert ahead.load() is None  # damaged
    file.write_bytes(b"")
    file.with_name(file.name.split(".")[0] + ".json").write_text("not json")
    assert ahead.load() is None


def test_a_failed_build_falls_back_to_numba_once(tmp_path, monkeypatch, baseline):
    """A build that fails (no compiler after all, a full disk) leaves numba's kernel to do
    the work, and the failure is remembered for this fingerprint: later processes do not
    spend a minute trying again."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(ahead, "missing_tools", lambda: None)
    monkeypatch.setattr(fast, "_KERNEL", None)
    tries = []

    def failing(arguments):
        tries.append(arguments)
        raise RuntimeError("the linker gave up")

    monkeypatch.setattr(ahead, "build", failing)
    assert not fast.compiled_on_disk() or ahead.failure()
    assert fast._compile(baseline) is jit
    assert len(tries) == 1 and set(tries[0]) == {"block", "param_block"}
    assert ahead.failure() == "RuntimeError: the linker gave up"
    assert not ahead.buildable()
    assert fast.kernel(baseline) is jit
    assert len(tries) == 1  # not tried again
