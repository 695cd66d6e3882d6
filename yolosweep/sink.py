"""Inside the trial process, under the local agent: each epoch and the run's end into the store.

The trial side of the process boundary: train_sweep.py (and any program written for the local
agent) imports this, never the controller. The agent hands the run id and store path in the
environment (YOLOSWEEP_RUN_ID, YOLOSWEEP_STORE).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .states import EndedBy, RunState
from .store import OUTAGE_S, Store, StoreError, StoreUnreachable, home
from .trial import TrialFailed


SPOOL_ENV = "YOLOSWEEP_SPOOL"  # the folder, on the run's own host, where unrecorded epochs wait (set by the agent)


def spool_folder() -> Path:
    return Path(os.environ.get(SPOOL_ENV) or home() / "spool")


class StoreSink:
    """Per-epoch metrics and the final state of one run into the local store.

    While a PostgreSQL store is out of reach (a restart, a crash's recovery, a network cut) training goes on: the
    epochs wait here, and in a spool file beside the agent (spool_folder()/RUN.jsonl) that outlives this process,
    and are written in order once the store answers; the run's end waits for it up to OUTAGE_S, then joins the
    spool. The agent writes whatever a spool holds when the run has exited (replay_spool). Writes are upserts by
    (run, epoch), so one retried after a lost acknowledgement never duplicates a row.
    """

    def __init__(self, store: Store, run_id: str):
        self.store, self.run_id = store, run_id
        self.store.outage_s = 0.0  # an epoch never waits for the store: it is kept for the next one
        self.waiting: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        self.spool = spool_folder() / f"{run_id}.jsonl"

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
            self._spool()
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
        self.spool.unlink(missing_ok=True)

    def _spool(self, end: dict[str, Any] | None = None) -> None:
        """What waits, written whole (a new file moved into place): a crash mid-write leaves the last full copy."""
        lines = [json.dumps({"epoch": e, "row": row, "summary": summary}) for e, row, summary in self.waiting]
        if end is not None:
            lines.append(json.dumps({"end": end}))
        try:
            self.spool.parent.mkdir(parents=True, exist_ok=True)
            partial = self.spool.with_suffix(".partial")
            partial.write_text("\n".join(lines) + "\n")
            partial.replace(self.spool)
        except OSError as err:  # the memory copy still holds them for as long as this process lives
            print(f"yolosweep: run {self.run_id}: could not spool its waiting epochs to {self.spool}: {err}",
                  file=sys.stderr, flush=True)

    def end(self, state: RunState, reason: str, summary: dict[str, Any], ended_by: EndedBy) -> None:
        self.store.outage_s = OUTAGE_S  # the last epochs and the end are worth waiting for
        end = {"state": RunState(state).value, "reason": reason, "summary": summary, "ended_by": EndedBy(ended_by).value}
        problem = None
        try:
            self._flush()
        except StoreError as err:  # the end matters more: it may still fit (a full disk frees its reserve for it)
            problem = err
        try:
            self.store.end_run(self.run_id, state, reason, summary, ended_by)
            end = None
        except StoreError as err:
            problem = err
        if problem is not None:  # the agent writes the spool when the store answers
            self._spool(end)
            print(f"yolosweep: could not record {len(self.waiting)} epoch(s){' and the end' if end else ''} of run "
                  f"{self.run_id} yet ({problem}); kept in {self.spool} for its agent", file=sys.stderr, flush=True)


def replay_spool(store: Store, run_id: str, folder: Path | None = None) -> int:
    """Write what a run left in its spool (its epochs in order, then its end) and remove the file; the epochs
    written. Raises StoreError (the file kept) while the store cannot take them."""
    path = (folder or spool_folder()) / f"{run_id}.jsonl"
    try:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as err:
        print(f"yolosweep: the spool of run {run_id} cannot be read ({err}); left in {path}", file=sys.stderr, flush=True)
        return 0
    epochs = [r for r in records if "epoch" in r]
    for record in epochs:
        store.log_epoch(run_id, record["epoch"], record["row"], record["summary"])
    for record in records:
        if "end" in record:
            end = record["end"]
            store.end_run(run_id, RunState(end["state"]), end["reason"], end["summary"], EndedBy(end["ended_by"]))
    path.unlink(missing_ok=True)
    return len(epochs)
