"""Result folders: `results/<scenario>/<run id>/`, written so that none ever looks complete
before it is.

The run id is derived from what determines the results (the scenario, the master seed, the
number of runs and the model's code), so rerunning a command finds its own earlier folder:
a complete one is reused, never overwritten; a `.partial` one (interrupted or killed) is resumed.
Everything is written inside `<run id>.partial/` and the folder is renamed to `<run id>/` only
when the last file is in place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

from ..scenario import LoadedScenario
from .runner import ScenarioSpec, clear, default_chunk_size, execute, merge

PACKAGES = ("mesa", "numpy", "pandas", "pyarrow", "matplotlib", "pydantic", "PyYAML")
SIM_DIR = Path(__file__).resolve().parent.parent
#: the code a run's results depend on (presentation code is not part of it)
RESULT_CODE = ("vocabulary.py", "model", "scenario", "experiments")


def code_fingerprint() -> str:
    """SHA-256 of the source files the runs' results depend on."""
    h = hashlib.sha256()
    files = []
    for part in RESULT_CODE:
        p = SIM_DIR / part
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    for f in files:
        h.update(str(f.relative_to(SIM_DIR)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def run_id(spec: ScenarioSpec, seed: int, runs: int) -> str:
    h = hashlib.sha256(f"{spec.fingerprint}|{seed}|{runs}|{code_fingerprint()}".encode())
    return f"seed{seed}-runs{runs}-{h.hexdigest()[:10]}"


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "scenario"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = importlib_metadata.version(p)
        except importlib_metadata.PackageNotFoundError:
            pass
    return out


def git_revision() -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=SIM_DIR, capture_output=True,
                           text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


@dataclass
class Result:
    """A complete results folder: its runs, its metadata and (once presented) its summary."""

    folder: Path
    reused: bool
    metadata: dict
    summary: dict | None = None

    @property
    def runs_file(self) -> Path:
        return self.folder / "runs.parquet"


class ResultError(Exception):
    """A results folder that cannot be used (reported like a scenario error, exit 2)."""


def load_result(folder: str | Path) -> Result:
    """A complete results folder (runs.parquet and metadata.json); its summary if presented."""
    folder = Path(folder)
    meta, summ = folder / "metadata.json", folder / "summary.json"
    if not (meta.exists() and (folder / "runs.parquet").exists()):
        hint = " (an unfinished run: rerun its command to resume)" \
            if folder.name.endswith(".partial") else ""
        raise ResultError(f"{folder}: not a complete results folder{hint}")
    summary = json.loads(summ.read_text()) if summ.exists() else None
    return Result(folder, True, json.loads(meta.read_text()), summary)


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")


def run_to_folder(loaded: LoadedScenario, *, runs: int | None = None, seed: int | None = None,
                  out: str | Path = "results", workers: int = 1, chunk: int | None = None,
                  executor=None, progress: bool = True, overrides: list[str] | None = None,
                  command: str | None = None, log=print) -> Result:
    """Run an experiment into its results folder (runs.parquet and metadata.json), or reuse
    the folder if it is complete. Presenting the results is the analysis layer's job."""
    runs = loaded.scenario.runs if runs is None else runs
    seed = loaded.scenario.seed if seed is None else seed
    spec = ScenarioSpec.of(loaded)
    rid = run_id(spec, seed, runs)
    final = Path(out) / slug(loaded.name) / rid
    partial = final.with_name(final.name + ".partial")
    if final.exists():
        result = load_result(final)
        log(f"Reusing the complete results in {final} (same scenario, seed, runs and code).")
        return result
    chunk = chunk or default_chunk_size(runs)
    plan = {"scenario_sha256": spec.fingerprint, "seed": seed, "runs": runs, "chunk": chunk,
            "code": code_fingerprint()}
    plan_file = partial / "plan.json"
    if partial.exists():
        old = json.loads(plan_file.read_text()) if plan_file.exists() else None
        if old == plan:
            log(f"Resuming the unfinished run in {partial}.")
        else:
            log(f"Starting again: {partial} was made with other settings.")
            clear(partial)
    partial.mkdir(parents=True, exist_ok=True)
    _write_json(plan_file, plan)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    reused = execute(spec, seed, runs, partial, chunk=chunk, workers=workers, executor=executor,
                     progress=progress)
    wall = time.perf_counter() - t0
    merge(partial, runs, partial / "runs.parquet")
    cal = loaded.scenario.calendar
    meta = {
        "scenario": loaded.name, "description": loaded.scenario.description,
        "scenario_file": loaded.path, "scenario_sha256": spec.fingerprint,
        "scenario_files_sha256": loaded.digest,
        "scenario_texts": loaded.texts, "resolved_scenario": loaded.scenario.model_dump(
            mode="json"),
        "calendar": {"start": str(cal.start), "deadline": str(cal.start + dt.timedelta(
            days=cal.round_days * cal.rounds)), "milestones": [str(m) for m in cal.milestones]},
        "uncertain_parameters": {p: d.describe() for p, d in loaded.uncertain},
        "overrides": overrides or [], "seed": seed, "runs": runs, "chunk": chunk,
        "workers": workers if executor is None else type(executor).__name__,
        "runs_resumed": reused, "run_id": rid, "code_sha256": plan["code"],
        "git_revision": git_revision(), "versions": versions(), "started": started.isoformat(
            timespec="seconds"), "wall_s": wall, "runs_per_s": (runs - reused) / wall
        if wall > 0 else None, "command": command or " ".join(sys.argv),
    }
    _write_json(partial / "metadata.json", meta)
    clear(partial / "chunks")
    plan_file.unlink()
    os.replace(partial, final)
    return Result(final, False, meta)
