"""Inside the trial process, under the local agent: each epoch and the run's end into the store.

The trial side of the process boundary: train_sweep.py (and any program written for the local
agent) imports this, never the controller. The agent hands the run id and store path in the
environment (YOLOSWEEP_RUN_ID, YOLOSWEEP_STORE).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .states import EndedBy, RunState
from .store import Store, StoreError
from .trial import TrialFailed


class StoreSink:
    """Per-epoch metrics and the final state of one run into the local store."""

    def __init__(self, store: Store, run_id: str):
        self.store, self.run_id = store, run_id

    @classmethod
    def from_env(cls) -> "StoreSink | None":
        run_id, path = os.environ.get("YOLOSWEEP_RUN_ID"), os.environ.get("YOLOSWEEP_STORE")
        return cls(Store(path), run_id) if run_id and path else None

    def log_epoch(self, epoch: int, row: dict[str, Any], summary: dict[str, Any]) -> None:
        # An epoch the agent cannot see cannot be judged by Hyperband: end the run instead of training blind.
        try:
            self.store.log_epoch(self.run_id, epoch, row, summary)
        except StoreError as err:
            raise TrialFailed(str(err), EndedBy.DISK_FULL if "disk full" in str(err) else EndedBy.ERROR) from None

    def end(self, state: RunState, reason: str, summary: dict[str, Any], ended_by: EndedBy) -> None:
        try:
            self.store.end_run(self.run_id, state, reason, summary, ended_by)
        except StoreError as err:  # the agent records the end itself when it can; say why here
            print(f"yolosweep: could not record the end of run {self.run_id}: {err}", file=sys.stderr, flush=True)
