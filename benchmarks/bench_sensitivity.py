"""Benchmark of the Sobol sensitivity analysis (issue target: under 5 minutes on 2 cores).

    python benchmarks/bench_sensitivity.py            # 10 parameters, 512 base samples with
                                                      # second-order indices: 11,264 points
                                                      # x 10 runs, 2 workers
    python benchmarks/bench_sensitivity.py --quick    # 64 base samples

The 10 parameters are the first 10 uncertain parameters of the baseline scenario.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.analysis.studies import sensitivity  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-rounds", action="store_true", help="without the rounds table")
    args = ap.parse_args()
    loaded = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    params = [(p, tuple(map(float, d.support()))) for p, d in loaded.uncertain][:10]
    base = 64 if args.quick else 512
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:  # as the command line: runs saved, then analysed
        study = sensitivity(loaded, "sobol", params, base, runs=10, seed=1, workers=args.workers,
                            second_order=True, out=tmp, rounds=not args.no_rounds,
                            log=lambda *a: None)
    wall = time.perf_counter() - t0
    points = study.info["points"]
    print(f"Sobol analysis: {len(params)} parameters, {base} base samples, {points:,} points x "
          f"10 runs = {points * 10:,} runs, {args.workers} workers: {wall:.0f} s "
          f"({points * 10 / wall:,.0f} runs/s); target under 300 s: "
          f"{'met' if wall < 300 else 'MISSED'}")
    top = study.table[study.table["output"] == "formed"].head(3)
    for _, r in top.iterrows():
        print(f"  {r['rank']}. {r['parameter']}: ST {r['ST']:.3f} ± {r['ST_conf']:.3f}")


if __name__ == "__main__":
    main()
