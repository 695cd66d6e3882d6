"""A run as every view reads it: the typed record the store returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yolosweep.states import EndedBy, RunState


@dataclass
class Run:
    id: str
    sweep_id: str
    params: dict[str, Any]
    state: RunState
    reason: str
    summary: dict[str, Any]
    created: float
    ended: float | None
    host: str
    agent_pid: int | None
    pid: int | None
    wandb_dir: str | None
    history: list[dict[str, Any]]
    origin: str = "search"  # "prior": a configuration given with --prior, run before the search; "noise": the
    # first prior again with another seed (--noise-runs), which measures the seed spread and is hidden from the engine
    ended_by: EndedBy = EndedBy.COMPLETED
