"""A run as every view reads it: the typed record the store returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yolosweep.states import EndedBy, Origin, RunState


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
    origin: Origin = Origin.SEARCH
    ended_by: EndedBy = EndedBy.COMPLETED
