"""Disk hygiene: in a sweep, only the best K ended runs keep their weights.

A 100-epoch run leaves last.pt and best.pt (plus any epochN.pt) behind; a sweep of 50 runs
would keep hundreds of MB of checkpoints nobody will load. Each run, when it ends, writes its
summary next to its weights and then removes the weights of the ended runs of the same sweep
folder that are not among the best K. A running run has no summary file yet and keeps its
last checkpoint; so does a run killed before it could write one. This works the same under
both backends because it only reads the sweep's own run folders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yolosweep.objective import Objective

SUMMARY_FILE = "yolosweep_summary.json"


@dataclass
class Pruned:
    runs: list[str]
    freed_bytes: int


def write_summary(save_dir: Path, summary: dict[str, Any]) -> None:
    save_dir.mkdir(parents=True, exist_ok=True)
    (save_dir / SUMMARY_FILE).write_text(json.dumps(summary, default=str))


def prune_weights(sweep_dir: Path, keep: int, objective: Objective) -> Pruned:
    """Delete the weights of ended runs under `sweep_dir` outside the top `keep` by the sweep's metric and goal."""
    ended: list[tuple[float | None, Path]] = []
    for summary_file in sweep_dir.glob(f"*/{SUMMARY_FILE}"):
        try:
            value = objective.value(json.loads(summary_file.read_text()))
        except (OSError, ValueError):
            continue  # being written by a run ending right now: judged by the next one
        ended.append((value, summary_file.parent))
    pruned = Pruned(runs=[], freed_bytes=0)
    for _, run_dir in objective.ranked(ended, lambda item: item[0], tie=lambda item: item[1].name)[keep:]:
        weights = list((run_dir / "weights").glob("*.pt"))
        for path in weights:
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                continue  # another agent pruned it first
            pruned.freed_bytes += size
        if weights:
            pruned.runs.append(run_dir.name)
    return pruned
