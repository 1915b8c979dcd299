"""Benchmark of the experiment runner on the baseline scenario.

    python benchmarks/bench_runner.py            # full benchmark (about 10 minutes on 2 cores)
    python benchmarks/bench_runner.py --quick    # smaller counts, for a smoke check

Reports: runs per second with 1 and 2 workers (the runner only, and end to end with merging,
summary, plots and report); the ratio to `mesa.batch_run` running the same model for the same
runs with the same number of processes; and the peak memory (resident set size) of the main
process and of the largest worker at 10,000 and 100,000 runs. Targets (2-core machine): at
least 1,000 runs/s with 2 workers; 2 workers at least 1.8 times as fast as 1; at least 3 times
the throughput of `mesa.batch_run`; peak memory at 100,000 runs within 10% of that at 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BASELINE = ROOT / "scenarios" / "baseline.yaml"

import mesa  # noqa: E402
from mesa.datacollection import DataCollector  # noqa: E402

from sim.model import NegotiationModel, own_containers, run_seeds  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

_LOADED = None


class BatchModel(NegotiationModel):
    """The same model, packaged as mesa.batch_run needs it: keyword parameters, a data
    collector that collects every step, the same sampling and seeding as the runner."""

    def __init__(self, seed: int = 0):
        global _LOADED
        if _LOADED is None:
            _LOADED = load_scenario(BASELINE)
        prng, drng = run_seeds(seed)
        tree, _ = _LOADED.sample(prng)
        super().__init__(own_containers(tree, _LOADED.event_paths), rng=drng,
                         bounds=_LOADED.bounds)
        self.datacollector = DataCollector(model_reporters={
            "formed": lambda m: m.formed, "round": lambda m: m.formed_round,
            "troops": lambda m: m.approved_troops()[0], "vetoes": lambda m: m.vetoes})

    def step(self):
        super().step()
        self.datacollector.collect(self)


def bench_batch_run(runs: int, processes: int) -> float:
    from mesa.batchrunner import batch_run

    t0 = time.perf_counter()
    out = batch_run(BatchModel, parameters={"seed": range(runs)}, number_processes=processes,
                    iterations=1, data_collection_period=-1, max_steps=100,
                    display_progress=False)
    wall = time.perf_counter() - t0
    assert len(out) == runs
    return runs / wall


def bench_runner(runs: int, workers: int, rounds: bool = True) -> tuple[float, float]:
    """(runs/s of the runner alone, in memory; runs/s end to end: the results folder with
    runs.parquet and rounds.parquet, then summary, plots and report, as `python run.py run`)."""
    from sim.analysis.present import present
    from sim.experiments import run_experiment

    loaded = load_scenario(BASELINE)
    t0 = time.perf_counter()
    run_experiment(loaded, runs, 1, workers=workers, rounds=rounds, log=_quiet)
    runner = runs / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_experiment(loaded, runs, 1, out=tmp, workers=workers, rounds=rounds,
                             log=_quiet)
        present(res.folder, verified=True)
        total = runs / (time.perf_counter() - t0)
    return runner, total


def _quiet(*_):
    pass


def _memory_child(runs: int, workers: int) -> None:
    from sim.analysis.present import present
    from sim.experiments import run_experiment

    with tempfile.TemporaryDirectory() as tmp:
        res = run_experiment(load_scenario(BASELINE), runs, 1, out=tmp, workers=workers,
                             log=_quiet)
        present(res.folder, verified=True)
    kib = 1024 if sys.platform != "darwin" else 1
    print(json.dumps({
        "main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib / 2**20,
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * kib / 2**20}))


def bench_memory(runs: int, workers: int) -> dict:
    p = subprocess.run([sys.executable, __file__, "--memory-child", str(runs), str(workers)],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        _memory_child(*args.memory_child)
        return
    n = 4_000 if args.quick else 20_000
    mem_sizes = (2_000, 20_000) if args.quick else (10_000, 100_000)
    print(f"machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
          f"Mesa {mesa.__version__}")
    r1, t1 = bench_runner(n, 1)
    r2, t2 = bench_runner(n, 2)
    print(f"runner, {n:,} runs:  1 worker {r1:,.0f} runs/s   2 workers {r2:,.0f} runs/s   "
          f"speed-up {r2 / r1:.2f}x")
    print(f"end to end (with results folder): 1 worker {t1:,.0f} runs/s   2 workers "
          f"{t2:,.0f} runs/s")
    n1, _ = bench_runner(n, 1, rounds=False)
    n2, _ = bench_runner(n, 2, rounds=False)
    print(f"runner without the rounds table (--no-rounds): 1 worker {n1:,.0f} runs/s   "
          f"2 workers {n2:,.0f} runs/s")
    b2 = bench_batch_run(n, 2)
    print(f"mesa.batch_run, {n:,} runs, 2 processes: {b2:,.0f} runs/s   runner / batch_run: "
          f"{r2 / b2:.2f}x (end to end {t2 / b2:.2f}x)")
    mems = {k: bench_memory(k, 2) for k in mem_sizes}
    for k, m in mems.items():
        print(f"peak memory at {k:,} runs (2 workers): main {m['main_mib']:.0f} MiB, largest "
              f"worker {m['worker_mib']:.0f} MiB")
    a, b = (mems[k]["main_mib"] for k in mem_sizes)
    print(f"peak memory of the main process, {mem_sizes[1]:,} vs {mem_sizes[0]:,} runs: "
          f"{b / a - 1:+.1%}")
    targets = [("2 workers >= 1,000 runs/s", r2 >= 1000), ("speed-up >= 1.8", r2 / r1 >= 1.8),
               ("runner >= 3x batch_run", r2 / b2 >= 3), ("memory within 10%", b / a <= 1.1)]
    print("targets: " + "; ".join(f"{t}: {'met' if ok else 'MISSED'}" for t, ok in targets))


if __name__ == "__main__":
    main()
