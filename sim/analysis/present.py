"""Presenting a results folder: its summary (JSON and CSV), plots and report, computed from the
saved runs alone (it never re-runs the model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from . import plots, report
from .summary import Accumulator, flat_rows

ROW_GROUP = 10_000


def summarise_file(path: Path, context: dict) -> dict:
    """The summary of a runs.parquet file, read in batches (flat memory)."""
    pf = pq.ParquetFile(path)
    acc = Accumulator()
    for batch in pf.iter_batches(batch_size=ROW_GROUP, columns=Accumulator.columns(
            pf.schema_arrow.names)):
        acc.add(batch.to_pandas())
    return acc.result(context)


def formed_troops(path: Path) -> np.ndarray:
    """Troops of every run in which a force formed (read from runs.parquet)."""
    t = pq.read_table(path, columns=["formed", "force_troops"])
    formed = t.column("formed").to_numpy(zero_copy_only=False)
    return t.column("force_troops").to_numpy()[formed]


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def present(folder: str | Path) -> dict:
    """Write summary.json, summary.csv, the plots and report.html into a complete results
    folder; return the summary. Each file is written whole or not at all."""
    folder = Path(folder)
    meta = json.loads((folder / "metadata.json").read_text())
    cal = meta["calendar"]
    ctx = {"scenario": meta["scenario"], "seed": meta["seed"], "start": cal["start"],
           "deadline": cal["deadline"], "milestones": cal["milestones"]}
    summary = summarise_file(folder / "runs.parquet", ctx)
    _atomic_text(folder / "summary.json", json.dumps(summary, indent=1, default=str) + "\n")
    tmp = folder / "summary.csv.tmp"
    pd.DataFrame(flat_rows(summary)).to_csv(tmp, index=False)
    os.replace(tmp, folder / "summary.csv")
    plots.write_all(summary, formed_troops(folder / "runs.parquet"), folder)
    report.experiment_report(folder, summary, meta)
    return summary
