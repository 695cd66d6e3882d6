"""A run as every view reads it, local or W&B: the one typed record the store returns and the analysis reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yolosweep.states import EndedBy, Origin, RunState


@dataclass
class Run:
    id: str
    state: RunState
    reason: str
    params: dict[str, Any]
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    origin: Origin = Origin.SEARCH
    ended_by: EndedBy = EndedBy.COMPLETED
    # Where and when it ran: the local store knows them; a W&B run read through its API leaves them empty.
    sweep_id: str = ""
    created: float = 0.0
    ended: float | None = None
    host: str = ""
    agent_pid: int | None = None
    pid: int | None = None
    wandb_dir: str | None = None

    def __post_init__(self) -> None:  # stored text in, typed values out
        self.state, self.origin, self.ended_by = RunState(self.state), Origin(self.origin), EndedBy(self.ended_by)
