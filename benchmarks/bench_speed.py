"""The speed targets (issue "Speed near the limit"), measured on this machine, whole commands
where the target says so. Prints one line per figure and writes them to
benchmarks/latest.txt.

    python benchmarks/bench_speed.py            # every target (about 15 minutes on 2 cores)
    python benchmarks/bench_speed.py --quick    # smaller counts, a smoke check (no targets)

Figures: `python run.py` (300 runs: results folder, summary, plots and report) until its
summary is printed and until it ends, also on a new install (numba's cache empty: the Mesa
model computes the runs while the fast path compiles in the background); `run --runs 4000
--workers 2` and 100,000 and 1,000,000 runs, whole command (runs/s; peak memory from one more
command, sampled, since sampling takes a quarter of a core: `command`); the runner
against `mesa.batch_run` on the same Mesa model and runs; a Sobol analysis of 10 parameters
(N=512, second order, 10 runs a point); counterfactual attribution on 10,000 runs; the cost of
one run in the Mesa reference model and in the compiled fast path, and how the fast path's
time divides.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BASELINE = ROOT / "scenarios" / "baseline.yaml"
LINES: list[str] = []


def say(line: str) -> None:
    print(line, flush=True)
    LINES.append(line)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def _pss_mb(pid: int) -> float:
    """Proportional set size of a process tree in MB: each page shared by n processes counts
    1/n in each, so the sum is the memory the tree holds (forked drawing processes included)."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
    return total / 1024


class Peak:
    """Samples a process tree's PSS every 20 ms in a thread; `.mb` is the largest seen."""

    def __init__(self, pid: int):
        import threading
        self.pid, self.mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.mb = max(self.mb, _pss_mb(self.pid))
            self._stop.wait(0.02)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.mb


#: the environment of the commands timed: this one, but with Python's bytecode cache as Python
#: has it by default (this workspace's shell sets PYTHONDONTWRITEBYTECODE, which makes every
#: start compile the package's modules again until they have been run once without it: 0.1 s
#: of `python run.py`'s start, measured in pairs)
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def command(args: list[str], out: str, env: dict | None = None, sample: bool = False
            ) -> tuple[float, float | None, float | None, float | None]:
    """Run `python run.py ARGS --out OUT`: (wall seconds, seconds until the summary's first
    line was printed, with `sample` the peak memory in MB (the largest PSS of the command and
    every process it started, summed, sampled every 20 ms, so this command's alone; None
    without), and the seconds the command reports for computing and writing its runs: "N
    runs, master seed S, in X s", read from its results folder's metadata.json, or None
    without one).

    A sampled command is not a timed one: each sample reads the processes' page tables
    (`smaps_rollup`), about 9 ms of processor time for the 360 MB of 100,000 runs, a quarter
    of a core at this rate: 100,000 runs took 1.10-1.26 times as long sampled (four pairs).
    So the times come from commands left alone, and the memory from one more, sampled."""
    cmd = [sys.executable, str(ROOT / "run.py"), *args, "--out", out, "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=USER_ENV if env is None else env)
    peak = Peak(proc.pid) if sample else None
    first = None
    for line in proc.stdout:
        if first is None and line.strip():
            first = time.perf_counter() - t0
    if proc.wait() != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    wall = time.perf_counter() - t0
    made = list(Path(out).glob("*/*/metadata.json"))
    seconds = json.loads(made[0].read_text())["wall_s"] if len(made) == 1 else None
    return wall, first, None if peak is None else peak.stop(), seconds


def peak_of(args: list[str]) -> float:
    """The peak memory of one more command `run.py ARGS`, sampled (`command`)."""
    with tempfile.TemporaryDirectory() as tmp:
        return command(args, tmp, sample=True)[2]


def bench_default_command(repeats: int) -> None:
    """`python run.py`: the baseline, 300 runs, into a fresh results folder each time, after
    one run untimed (as a user's second command: the package's bytecode written)."""
    firsts, walls = [], []
    for i in range(repeats + 1):
        with tempfile.TemporaryDirectory() as tmp:
            wall, first, _, _ = command(["run", str(BASELINE.relative_to(ROOT))], tmp)
        if i == 0:
            continue
        firsts.append(first)
        walls.append(wall)
    f, w = statistics.median(firsts), statistics.median(walls)
    say(f"python run.py (baseline, 300 runs, new results folder): summary printed after "
        f"{f:.2f} s, command done (plots and report) after {w:.2f} s (median of {repeats}, "
        f"after one untimed: Python's bytecode cache written, as by default); target summary "
        f"within 1 s: {verdict(f < 1.0)}")


def _cmdline(f: Path) -> bytes:
    try:
        return f.read_bytes()
    except OSError:  # the process ended meanwhile
        return b""


def bench_first_command() -> None:
    """`python run.py` on a new install: numba's cache is empty (NUMBA_CACHE_DIR a new folder),
    so the Mesa model computes the 300 runs while the fast path compiles in the background;
    then the wait for that compile to end (the lock it holds)."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        wall, first, peak, _ = command(["run", str(BASELINE.relative_to(ROOT))], tmp,
                                       env={**USER_ENV, "NUMBA_CACHE_DIR": cache},
                                       sample=True)  # its times only told, not targets
        while any(b"sim.model.compile" in _cmdline(f)  # the background compile
                  for f in Path("/proc").glob("[0-9]*/cmdline")):
            time.sleep(0.2)
        compiled = time.perf_counter() - t0
    say(f"python run.py on a new install (numba's cache empty): the Mesa model computes the 300 "
        f"runs while the fast path compiles in the background; summary printed after "
        f"{first:.1f} s, command done after {wall:.1f} s (peak {peak:.0f} MB); the background "
        f"compile ended {compiled:.0f} s after the start")


def bench_runs(runs: int, target: float | None, workers: int = 2,
               options: tuple[str, ...] = (), whole: bool = True, repeats: int = 1) -> float:
    """A run of `runs` runs: the whole command's rate and the rate of its runs as the command
    reports them (computed and written, the summary and drawing not counted). The target is
    judged on the whole command (`whole`: the issue's 4,000 runs, "whole command") or on the
    runs (its 100,000 runs: the issue's baseline figure for them, 1,085 runs/s, is the
    runner's rate). With `repeats`, the command is run that many times, each into a new
    folder, and the medians are given with the range of the judged figure: this machine's
    speed drifts by a fifth from minute to minute, which one run cannot tell from a change."""
    args = ["run", str(BASELINE), "--runs", str(runs), "--workers", str(workers), *options]
    walls, secs = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            wall, _, _, seconds = command(args, tmp)
        walls.append(wall)
        secs.append(seconds)
    wall, seconds = statistics.median(walls), statistics.median(secs)
    mb = peak_of(args)
    rate = runs / wall
    runs_rate = runs / seconds
    judged = rate if whole else runs_rate
    spread = ""
    if repeats > 1:
        rates = sorted(runs / v for v in (walls if whole else secs))
        spread = (f" (median of {repeats}: {', '.join(f'{r:,.0f}' for r in rates)} "
                  f"runs/s {'whole command' if whole else 'for its runs'})")
    goal = (f"; target >= {target:,.0f} runs/s ({'whole command' if whole else 'its runs'}): "
            f"{verdict(judged >= target)}") if target else ""
    say(f"run --runs {runs:,} --workers {workers}{''.join(' ' + o for o in options)}: whole "
        f"command {wall:.1f} s, {rate:,.0f} runs/s; its runs (as the command reports them) "
        f"{seconds:.1f} s, {runs_rate:,.0f} runs/s; peak memory {mb:,.0f} MB (one more "
        f"command, sampled){spread}{goal}")
    return wall


def bench_million(runs: int) -> None:
    args = ["run", str(BASELINE), "--runs", str(runs), "--workers", "2"]
    with tempfile.TemporaryDirectory() as tmp:
        wall, _, _, seconds = command(args, tmp)
    mb = peak_of(args)
    say(f"run --runs {runs:,} --workers 2 (whole command): {wall:.1f} s ({runs / wall:,.0f} "
        f"runs/s; its runs, as the command reports them, {seconds:.1f} s, "
        f"{runs / seconds:,.0f} runs/s), peak memory {mb:,.0f} MB (one more command, "
        f"sampled); target under 60 s: {verdict(wall < 60)}, under 500 MB: {verdict(mb < 500)}")


# ------------------------------------------------------------------ against mesa.batch_run

import mesa  # noqa: E402
from mesa.datacollection import DataCollector  # noqa: E402

from sim.model.model import NegotiationModel  # noqa: E402
from sim.rng import run_seed  # noqa: E402

_LOADED = None


class BatchModel(NegotiationModel):
    """The reference model as mesa.batch_run runs it: keyword parameters, a data collector of
    the outcome collected every round (batch_run reads the last); run i has the runner's seed
    for run i of master seed 1."""

    def __init__(self, run: int = 0):
        global _LOADED
        if _LOADED is None:
            from sim.scenario import load_scenario
            _LOADED = load_scenario(BASELINE)
        super().__init__(_LOADED, run_seed(1, run))
        self.datacollector = DataCollector(model_reporters={
            "formed": lambda m: m.milestone["formed"] is not None})

    def step(self):
        super().step()
        self.datacollector.collect(self)


def bench_batch_run(runs: int) -> None:
    from mesa.batchrunner import batch_run

    from sim.experiments import run_experiment
    from sim.scenario import load_scenario

    t0 = time.perf_counter()
    out = batch_run(BatchModel, parameters={"run": range(runs)}, number_processes=2, iterations=1,
                    data_collection_period=-1, max_steps=1000, display_progress=False)
    batch = runs / (time.perf_counter() - t0)
    assert len(out) == runs
    loaded = load_scenario(BASELINE)
    run_experiment(loaded, 50, 1, workers=2, log=lambda *a: None)  # the kernel loaded
    t0 = time.perf_counter()
    res = run_experiment(loaded, runs, 1, workers=2, rounds=False, counterfactuals=0,
                         log=lambda *a: None)
    ours = runs / (time.perf_counter() - t0)
    formed_batch = sorted(r["run"] for r in out if r["formed"])
    formed_ours = sorted(int(i) for i in res.runs.loc[res.runs["formed"], "run"])
    same = formed_batch == formed_ours
    say(f"mesa.batch_run, {runs:,} runs of the Mesa model, 2 processes: {batch:,.0f} runs/s; "
        f"run_experiment, the same runs, 2 workers: {ours:,.0f} runs/s; ratio "
        f"{ours / batch:,.1f}x (same runs formed: {'yes' if same else 'NO'}); "
        f"target >= 10x: {verdict(ours / batch >= 10 and same)}")


# ------------------------------------------------------------------ studies and replays

def bench_sobol(base: int) -> None:
    from sim.analysis.studies import sensitivity
    from sim.scenario import load_scenario

    loaded = load_scenario(BASELINE)
    params = [(p, tuple(map(float, d.support()))) for p, d in loaded.uncertain][:10]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        study = sensitivity(loaded, "sobol", params, base, runs=10, seed=1, workers=2,
                            second_order=True, out=tmp, log=lambda *a: None)
    wall = time.perf_counter() - t0
    points = study.info["points"]
    say(f"Sobol analysis, {len(params)} parameters, N={base}, second order, 10 runs a point: "
        f"{points:,} points, {points * 10:,} runs, 2 workers, runs saved then analysed: "
        f"{wall:.1f} s; target under 30 s: {verdict(wall < 30)}")


def bench_counterfactuals(runs: int) -> None:
    from sim.experiments import run_experiment
    from sim.scenario import load_scenario

    loaded = load_scenario(BASELINE)
    timing = {}
    for cf in (0, runs):
        t0 = time.perf_counter()
        run_experiment(loaded, runs, 1, workers=2, rounds=False, counterfactuals=cf,
                       log=lambda *a: None)
        timing[cf] = time.perf_counter() - t0
    say(f"counterfactual attribution on {runs:,} baseline runs (2 workers): {timing[runs]:.2f} s "
        f"with the replays, {timing[0]:.2f} s without; target under 10 s: "
        f"{verdict(timing[runs] < 10)}")


# ------------------------------------------------------------------ where the time goes

def _timed(call) -> float:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def bench_per_run(runs: int) -> None:
    from sim.experiments.runner import compute_chunk
    from sim.model import fast, simulate
    from sim.rng import run_seeds
    from sim.scenario import load_scenario

    loaded = load_scenario(BASELINE)
    seeds = run_seeds(1, 0, runs)
    n_ref = max(50, runs // 20)
    t0 = time.perf_counter()
    for s in seeds[:n_ref]:
        simulate(loaded, int(s))
    ref = (time.perf_counter() - t0) / n_ref
    t0 = time.perf_counter()
    for s in seeds[:n_ref]:
        simulate(loaded, int(s), counterfactuals=True)
    ref_cf = (time.perf_counter() - t0) / n_ref
    fast.simulate_block(loaded, seeds[:10])
    plan = fast._plan(loaded)
    draw = min(_timed(lambda: fast.parameter_matrix(loaded, seeds)) for _ in range(3)) / runs
    t0 = time.perf_counter()
    fast.simulate_block(loaded, seeds, counterfactuals=False)
    whole = (time.perf_counter() - t0) / runs
    t0 = time.perf_counter()
    fast.simulate_block(loaded, seeds, counterfactuals=True)
    whole_cf = (time.perf_counter() - t0) / runs
    t0 = time.perf_counter()
    compute_chunk(loaded, 1, 0, runs, counterfactuals=0)
    chunk = (time.perf_counter() - t0) / runs
    t0 = time.perf_counter()
    compute_chunk(loaded, 1, 0, runs, rounds=runs, counterfactuals=0)
    chunk_rounds = (time.perf_counter() - t0) / runs
    n_states = plan.k.shape[0]
    say(f"one baseline run ({n_states} states that may contribute, up to {plan.rounds} rounds): "
        f"Mesa reference {ref * 1e3:.2f} ms ({ref_cf * 1e3:.2f} ms with counterfactual "
        f"replays); fast path {whole * 1e6:.0f} us ({whole_cf * 1e6:.0f} us with replays), "
        f"{ref / whole:,.0f}x the reference")
    say(f"fast path, per run: parameters drawn {draw * 1e6:.1f} us (best of 3); kernel and "
        f"outcome columns "
        f"{whole * 1e6:.0f} us; as an Arrow table {chunk * 1e6:.0f} us; with its round records "
        f"{chunk_rounds * 1e6:.0f} us (one core, {runs:,} runs)")


def _median_wall(code: str, repeats: int = 3) -> float:
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=USER_ENV)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def bench_fixed_costs() -> None:
    """What a command pays before its first run: the interpreter, this package and the
    scenario; the libraries the runs and the summary load; the compiled kernel."""
    start = _median_wall("pass")
    ours = _median_wall("import sim.cli; from sim.scenario import load_scenario; "
                        f"load_scenario({str(BASELINE)!r})")
    libs = _median_wall("import numba, scipy.linalg, pandas, pyarrow.parquet")
    runs_libs = _median_wall("import pyarrow.parquet, pyarrow.compute")
    first = _median_wall("from sim.scenario import load_scenario; "
                         "from sim.experiments.runner import compute_chunk; "
                         f"compute_chunk(load_scenario({str(BASELINE)!r}), 1, 0, 1, None, 0, 1, 0)")
    from sim.model import ahead, fast
    from sim.scenario import load_scenario

    kernel = fast.kernel(load_scenario(BASELINE))
    how = ("built ahead of time, loaded without numba" if isinstance(kernel, ahead.Compiled)
           else "numba's just-in-time kernel, from its cache")
    say(f"before the first run (median of 3): Python starts in {start:.2f} s; this package and "
        f"the baseline scenario {ours:.2f} s; pyarrow as the runs use it {runs_libs:.2f} s "
        f"(numba, scipy.linalg, pandas and pyarrow, which a command loaded before the kernel "
        f"was built ahead of time: {libs:.2f} s); all of it and the first run {first:.2f} s "
        f"(the kernel {how})")


def bench_presentation(runs: int) -> None:
    """The presentation of one results folder (`report FOLDER`, whole command: summary, plots,
    curves over time, feature scores, report) in 1 and 2 processes, and each part's cost."""
    import json

    from sim.analysis import present as P
    from sim.experiments import run_experiment
    from sim.scenario import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        res = run_experiment(load_scenario(BASELINE), runs, 1, workers=2, out=tmp,
                             log=lambda *a: None)
        folder = str(res.folder)
        walls = {}
        for w in (1, 2):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "run.py"), "report", folder,
                            "--workers", str(w)], cwd=ROOT, check=True, env=USER_ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            walls[w] = time.perf_counter() - t0
        meta = json.loads((res.folder / "metadata.json").read_text())
        summary = P.write_summary(res.folder, meta)
        costs = {}
        for name in P.parts(summary):
            t0 = time.perf_counter()
            P.draw_part(name, res.folder, meta, summary)
            costs[name] = time.perf_counter() - t0
    parts = ", ".join(f"{n.replace('_', ' ')} {c:.2f}" for n, c in
                      sorted(costs.items(), key=lambda kv: -kv[1]))
    say(f"presentation of {runs:,} runs (report FOLDER, whole command): {walls[1]:.1f} s in one "
        f"process, {walls[2]:.1f} s in two; its parts in seconds (one process, libraries "
        f"already loaded except on first use): {parts}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import numba

    say(f"machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}; Mesa "
        f"{mesa.__version__}; numba {numba.__version__}; {time.strftime('%Y-%m-%d')}")
    from sim.model.fast import announce_compilation
    announce_compilation()
    q = args.quick
    bench_per_run(2_000 if q else 10_000)
    bench_fixed_costs()
    bench_presentation(300)
    bench_presentation(300 if q else 4_000)
    bench_default_command(2 if q else 5)
    if not q:
        bench_first_command()
    bench_runs(4_000, None if q else 2_000)
    bench_runs(4_000, None, options=("--no-feature-scores",))  # the report without its slowest part
    bench_runs(20_000 if q else 100_000, None if q else 20_000, whole=False,
               repeats=1 if q else 3)
    if not q:
        bench_million(1_000_000)
    bench_batch_run(300 if q else 2_000)
    bench_counterfactuals(2_000 if q else 10_000)
    bench_sobol(16 if q else 512)
    if not q:
        (ROOT / "benchmarks" / "latest.txt").write_text("\n".join(LINES) + "\n")


if __name__ == "__main__":
    main()
