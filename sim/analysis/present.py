"""Presenting a results folder: its summary (JSON and CSV), plots and report, computed from the
saved runs alone (it never re-runs the model). A parameter study's folder gets the study's
table, plots and report instead. `python run.py report FOLDER` calls `present`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..experiments import files
from ..experiments.store import load_result
from . import plots, report
from .summary import Accumulator, flat_rows

ROW_GROUP = 10_000
#: longest scenario name shown in titles and tables
DISPLAY_WIDTH = 100


def summarise_file(path: Path, context: dict) -> dict:
    """The summary of a runs.parquet file, read in batches (flat memory)."""
    pf = pq.ParquetFile(path)
    acc = Accumulator(context.get("counterfactual_runs"))
    for batch in pf.iter_batches(batch_size=ROW_GROUP, columns=Accumulator.columns(
            pf.schema_arrow.names)):
        acc.add(batch.to_pandas())
    return acc.result(context)


def formed_troops(path: Path) -> np.ndarray:
    """Troops of every run in which a force formed (read from runs.parquet)."""
    t = pq.read_table(path, columns=["formed", "force_troops"])
    formed = t.column("formed").to_numpy(zero_copy_only=False)
    return t.column("force_troops").to_numpy()[formed]


def display_name(name: str, width: int = DISPLAY_WIDTH) -> str:
    """A scenario's name as titles and tables show it: cut to `width` characters (the whole
    name stays in metadata.json); a name of thousands of characters would make every plot
    title and table unreadable, and slow to draw."""
    return name if len(name) <= width else name[:width - 1] + "…"


def present(folder: str | Path, verified: bool = False):
    """Write the presentation of a complete results folder from its saved tables and return it:
    for an experiment, summary.json, summary.csv, the plots and report.html (returns the
    summary); for a parameter study, its table, plots and report (returns the `Study`). Each
    file is written whole or not at all. The folder is checked against its checksums first
    (unless the caller just did)."""
    folder = Path(folder)
    meta = json.loads((folder / "metadata.json").read_text()) if verified else \
        load_result(folder).metadata
    if meta.get("study"):
        from .study_report import present_study

        return present_study(folder, meta)
    cal = meta["calendar"]
    ctx = {"scenario": display_name(meta["scenario"]), "seed": meta["seed"],
           "start": cal["start"],
           "deadline": cal["deadline"], "milestones": cal["milestones"],
           "counterfactual_runs": meta.get("counterfactual_runs")}
    summary = summarise_file(folder / "runs.parquet", ctx)
    files.write_json(folder / "summary.json", summary)
    with files.writing(folder / "summary.csv") as tmp:
        pd.DataFrame(flat_rows(summary)).to_csv(tmp, index=False)
    plots.write_all(summary, formed_troops(folder / "runs.parquet"), folder)
    report.experiment_report(folder, summary, meta)
    return summary
