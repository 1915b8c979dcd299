"""The Dask back end's checks, run by `tests/test_analysis.py` in a process of their own:
a Dask client and a local cluster leave threads behind in the process that made them (the
client's event loop, its offload pool), and a test process with threads in it no longer forks
its drawing processes (`forked.can_fork`), so later tests would skip or take another path.

    python -m tests.dask_checks CHECK FOLDER    (exit 0: passed; an assertion's traceback else)
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pandas as pd

from sim.api import run_experiment
from sim.cli import main
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
OPPOSITION = "countries.Pakistan.domestic.opposition_strength"


def results_identical(tmp: Path, cluster, client) -> None:
    baseline = load_scenario(BASELINE)
    kw = dict(runs=400, seed=12, log=lambda *a: None)
    remote = run_experiment(baseline, out=tmp / "dask", executor=client.get_executor(), **kw)
    local = run_experiment(baseline, out=tmp / "local", workers=2, **kw)
    for name in ("runs.parquet", "rounds.parquet"):
        assert (remote.folder / name).read_bytes() == (local.folder / name).read_bytes(), name
    points = [{OPPOSITION: v} for v in (0.1, 0.9)]
    pd.testing.assert_frame_equal(
        run_experiment(baseline, 30, 1, points=points, executor=client.get_executor()).runs,
        run_experiment(baseline, 30, 1, points=points).runs)
    # to a folder, a remote worker sends the runs without their parameters (as a chunk file
    # keeps them): drawn again here, for the points too, they give the same file
    kw = dict(runs=40, seed=2, points=points, chunk=30, log=lambda *a: None)
    remote = run_experiment(baseline, out=tmp / "dask-points", executor=client.get_executor(),
                            **kw)
    local = run_experiment(baseline, out=tmp / "local-points", workers=1, **kw)
    assert (remote.folder / "runs.parquet").read_bytes() == \
        (local.folder / "runs.parquet").read_bytes()


def scheduler_option(tmp: Path, cluster, client) -> None:
    def cli(*args) -> tuple[int, str]:
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            return main(list(args)), err.getvalue()

    assert cli("run", str(BASELINE), "--runs", "60", "--scheduler", cluster.scheduler_address,
               "--out", str(tmp / "a"), "--no-progress")[0] == 0
    assert cli("run", str(BASELINE), "--runs", "60", "--workers", "1", "--out", str(tmp / "b"),
               "--no-progress")[0] == 0
    a = next((tmp / "a" / "baseline").iterdir()) / "runs.parquet"
    b = next((tmp / "b" / "baseline").iterdir()) / "runs.parquet"
    assert a.read_bytes() == b.read_bytes()
    for address in ("tcp://127.0.0.1:1", "not an address", "tcp://127.0.0.1:notaport",
                    "nosuchprotocol://x:1"):
        code, err = cli("run", str(BASELINE), "--runs", "10", "--scheduler", address,
                        "--out", str(tmp / "c"), "--no-progress")
        assert code == 2, (address, err)
        assert f"--scheduler {address}: cannot connect" in err and "Traceback" not in err, err
    assert not (tmp / "c").exists()


CHECKS = {"results_identical": results_identical, "scheduler_option": scheduler_option}


if __name__ == "__main__":
    import distributed

    check, folder = CHECKS[sys.argv[1]], Path(sys.argv[2])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        check(folder, cluster, client)
    print("passed")
