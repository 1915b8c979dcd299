"""The README's table of shipped scenarios: every scenario run 1,000 times (master seed 1), with
formation, entry and full strength by the deadline, the median formation date, the top failure
reasons and the lifts that turn the most failures into a force.

    python docs/scenario_table.py            # prints the Markdown table (about a minute)
    python docs/scenario_table.py --runs 5000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim import load_scenario, run_experiment, summarise  # noqa: E402
from sim.analysis.summary import lift_label  # noqa: E402
from sim.vocabulary import REASON_LABELS  # noqa: E402


def pct(p: float) -> str:
    return f"{100 * p:.0f}%" if p >= 0.005 or p == 0 else "<1%"


def row(path: Path, runs: int, seed: int) -> str:
    loaded = load_scenario(path)
    e = run_experiment(loaded, runs, seed, rounds=False, workers=2, log=lambda *a: None)
    s = summarise(e.runs, loaded, seed, counterfactual_runs=e.metadata["counterfactual_runs"])
    formed = s["formation"][0]
    ms = s["milestones"]
    median = s["formation_date_quantiles"].get("50%") if formed["runs"] else None
    failures = sorted((r for r in s["reasons"] if r["reason"] != "formed" and r["runs"]),
                      key=lambda r: -r["runs"])[:2]
    lifts = s["counterfactuals"]["lifts"][:2] if s.get("counterfactuals") else []
    return (f"| `{path.name}` | {pct(formed['probability'])} ({pct(formed['ci_low'])}-"
            f"{pct(formed['ci_high'])}) | {median or '-'} | "
            f"{pct(ms['entry']['probability'])} | {pct(ms['full_strength']['probability'])} | "
            + "; ".join(f"{REASON_LABELS[r['reason']]} {pct(r['probability'])}"
                        for r in failures)
            + " | "
            + ("; ".join(f"{lift_label(x['lift'])} {pct(x['probability'])}" for x in lifts)
               or "-")
            + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"{args.runs:,} runs each, master seed {args.seed}; formation, entry and full "
          "strength by the deadline; lifts: share of failed runs a single lift turns into a "
          "force.\n")
    print("| scenario | formed (95% CI) | median formation | first entry | full strength | "
          "top failure reasons (share of runs) | top lifts (share of failures) |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        print(row(path, args.runs, args.seed), flush=True)


if __name__ == "__main__":
    main()
