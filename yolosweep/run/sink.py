"""Inside the trial process, under the local agent: each epoch and the run's end into the store.

The trial side of the process boundary: train_sweep.py (and any program written for the local
agent) imports this, never the controller. The agent hands the run id and store path in the
environment (YOLOSWEEP_RUN_ID, YOLOSWEEP_STORE).
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

from yolosweep.run.endings import TrialFailed
from yolosweep.states import EndedBy, RunState
from yolosweep.store import OUTAGE_S, Store, StoreError, StoreUnreachable, home

SPOOL_ENV = "YOLOSWEEP_SPOOL"  # the folder, on the run's own host, where unrecorded epochs wait (set by the agent)
SINK_ENV = "YOLOSWEEP_SINK"  # "relay": the run reports through its agent (set by the agent for a PostgreSQL store)


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
        self.spooled = False  # a spool file of ours exists: it goes once what it holds is written

    @classmethod
    def from_env(cls) -> StoreSink | RelaySink | None:
        """The sink the agent asked for: its relay (PostgreSQL: the run holds no connection), else the store itself."""
        run_id, path = os.environ.get("YOLOSWEEP_RUN_ID"), os.environ.get("YOLOSWEEP_STORE")
        if run_id and os.environ.get(SINK_ENV) == "relay":
            return RelaySink(run_id)
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
                print(
                    f"yolosweep: run {self.run_id} trains on; its epochs are kept until the store answers ({err})",
                    file=sys.stderr,
                    flush=True,
                )
        except StoreError as err:
            self.waiting.clear()  # they cannot be written (a full disk, a damaged store): the run ends on this
            raise TrialFailed(str(err), EndedBy.DISK_FULL if "disk full" in str(err) else EndedBy.ERROR) from None

    def _flush(self) -> None:
        while self.waiting:
            self.store.log_epoch(self.run_id, *self.waiting[0])
            self.waiting.pop(0)
        if self.spooled:
            self.spool.unlink(missing_ok=True)
            self.spooled = False

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
            self.spooled = True
        except OSError as err:  # the memory copy still holds them for as long as this process lives
            print(
                f"yolosweep: run {self.run_id}: could not spool its waiting epochs to {self.spool}: {err}",
                file=sys.stderr,
                flush=True,
            )

    def end(self, state: RunState, reason: str, summary: dict[str, Any], ended_by: EndedBy) -> None:
        self.store.outage_s = OUTAGE_S  # the last epochs and the end are worth waiting for
        end = {
            "state": RunState(state).value,
            "reason": reason,
            "summary": summary,
            "ended_by": EndedBy(ended_by).value,
        }
        problem: StoreError | None = None
        unwritten: dict[str, Any] | None = end
        try:
            self._flush()
        except StoreError as err:  # the end matters more: it may still fit (a full disk frees its reserve for it)
            problem = err
        try:
            self.store.end_run(self.run_id, state, reason, summary, ended_by)
            unwritten = None
        except StoreError as err:
            problem = err
        if problem is not None:  # the agent writes the spool when the store answers
            self._spool(unwritten)
            print(
                f"yolosweep: could not record {len(self.waiting)} epoch(s){' and the end' if unwritten else ''} of run "
                f"{self.run_id} yet ({problem}); kept in {self.spool} for its agent",
                file=sys.stderr,
                flush=True,
            )


class RelaySink:
    """A run that reports through its agent: each epoch, then its end, appended to its spool file, which the agent
    reads as it watches the run (SpoolReader) and writes to the store. On a PostgreSQL store the run then holds no
    connection of its own (a server's default 100 connections served ~45 agents when every run held one), and an
    outage costs it nothing: the file keeps every epoch until the agent gets them in."""

    def __init__(self, run_id: str):
        self.run_id, self.spool = run_id, spool_folder() / f"{run_id}.jsonl"

    def log_epoch(self, epoch: int, row: dict[str, Any], summary: dict[str, Any]) -> None:
        self._append({"epoch": epoch, "row": row, "summary": summary})

    def end(self, state: RunState, reason: str, summary: dict[str, Any], ended_by: EndedBy) -> None:
        try:
            self._append(
                {
                    "end": {
                        "state": RunState(state).value,
                        "reason": reason,
                        "summary": summary,
                        "ended_by": EndedBy(ended_by).value,
                    }
                }
            )
        except TrialFailed as err:  # its agent records the end from the exit code
            print(f"yolosweep: {err}", file=sys.stderr, flush=True)

    def _append(self, record: dict[str, Any]) -> None:
        try:
            self.spool.parent.mkdir(parents=True, exist_ok=True)
            with open(self.spool, "a") as f:  # one whole line a write: the agent reads only lines that end
                f.write(json.dumps(record) + "\n")
        except OSError as err:
            raise TrialFailed(
                f"run {self.run_id}: cannot write {self.spool} for its agent: {err}",
                EndedBy.DISK_FULL if err.errno == errno.ENOSPC else EndedBy.ERROR,
            ) from None


class SpoolReader:
    """The agent's side of a run's spool: the records appended since the last read, written to the store in order
    (upserts by run and epoch, so a record read twice is written once). The run's end waits in `end` until the
    agent has decided its own (Hyperband, the user) and calls finish."""

    def __init__(self, run_id: str, folder: Path | None = None):
        self.run_id, self.path = run_id, (folder or spool_folder()) / f"{run_id}.jsonl"
        self.offset, self.end = 0, None

    def pump(self, store: Store) -> int:
        """Write what was appended since the last call; the epochs written. Raises StoreError, keeping its place."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return 0
        written = 0
        for line in data[: data.rfind(b"\n") + 1].splitlines(keepends=True):
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError:  # a line cut by a crash mid-write: nothing to recover from it
                    record = {}
                if "epoch" in record:
                    store.log_epoch(self.run_id, record["epoch"], record["row"], record["summary"])
                    written += 1
                elif "end" in record:
                    self.end = record["end"]
            self.offset += len(line)
        return written

    def finish(self, store: Store) -> int:
        """The rest of the spool and the run's own end into the store, then the file removed; the epochs written."""
        written = self.pump(store)
        if self.end is not None:
            end = self.end
            store.end_run(self.run_id, RunState(end["state"]), end["reason"], end["summary"], EndedBy(end["ended_by"]))
        self.path.unlink(missing_ok=True)
        return written


def replay_spool(store: Store, run_id: str, folder: Path | None = None) -> int:
    """Write what a run left in its spool (its epochs in order, then its end) and remove the file; the epochs
    written. Raises StoreError (the file kept) while the store cannot take them."""
    return SpoolReader(run_id, folder).finish(store)
