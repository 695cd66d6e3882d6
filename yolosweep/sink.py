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
from .store import OUTAGE_S, Store, StoreError, StoreUnreachable
from .trial import TrialFailed


class StoreSink:
    """Per-epoch metrics and the final state of one run into the local store.

    While a PostgreSQL store is out of reach (a restart, a network cut) training goes on: the epochs wait here
    and are written, in order, once it answers again; the run's end waits for it up to OUTAGE_S.
    """

    def __init__(self, store: Store, run_id: str):
        self.store, self.run_id = store, run_id
        self.store.outage_s = 0.0  # an epoch never waits for the store: it is kept for the next one
        self.waiting: list[tuple[int, dict[str, Any], dict[str, Any]]] = []

    @classmethod
    def from_env(cls) -> "StoreSink | None":
        run_id, path = os.environ.get("YOLOSWEEP_RUN_ID"), os.environ.get("YOLOSWEEP_STORE")
        return cls(Store(path), run_id) if run_id and path else None

    def log_epoch(self, epoch: int, row: dict[str, Any], summary: dict[str, Any]) -> None:
        # An epoch the agent cannot see cannot be judged by Hyperband: end the run instead of training blind,
        # unless the store is only out of reach for a while.
        self.waiting.append((epoch, row, summary))
        try:
            self._flush()
        except StoreUnreachable as err:
            if len(self.waiting) == 1:
                print(f"yolosweep: run {self.run_id} trains on; its epochs are kept until the store answers ({err})",
                      file=sys.stderr, flush=True)
        except StoreError as err:
            self.waiting.clear()  # they cannot be written (a full disk, a damaged store): the run ends on this
            raise TrialFailed(str(err), EndedBy.DISK_FULL if "disk full" in str(err) else EndedBy.ERROR) from None

    def _flush(self) -> None:
        while self.waiting:
            self.store.log_epoch(self.run_id, *self.waiting[0])
            self.waiting.pop(0)

    def end(self, state: RunState, reason: str, summary: dict[str, Any], ended_by: EndedBy) -> None:
        self.store.outage_s = OUTAGE_S  # the last epochs and the end are worth waiting for
        try:
            self._flush()
        except StoreError as err:  # the end matters more: it may still fit (a full disk frees its reserve for it)
            print(f"yolosweep: could not record the last {len(self.waiting)} epoch(s) of run {self.run_id}: {err}",
                  file=sys.stderr, flush=True)
        try:
            self.store.end_run(self.run_id, state, reason, summary, ended_by)
        except StoreError as err:  # the agent records the end itself when it can; say why here
            print(f"yolosweep: could not record the end of run {self.run_id}: {err}", file=sys.stderr, flush=True)
