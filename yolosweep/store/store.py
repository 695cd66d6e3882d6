"""The store's records: sweeps (their YAML, state, priors, verified winner), runs (their state, process, stop
asked for) and per-epoch metrics. Every write is one transaction; deciding writes take turns (database.py), so
reading the runs, deciding and inserting never race and a killed process never leaves a half-written row.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import string
import time
from collections.abc import Sequence
from typing import Any

from yolosweep.invocation import create_hint
from yolosweep.states import EndedBy, Origin, RunState, SweepState
from yolosweep.store.database import translated
from yolosweep.store.errors import StoreError, StoreFull
from yolosweep.store.host import boot_id, process_started
from yolosweep.store.liveness import Liveness
from yolosweep.store.records import Run

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id() -> str:
    """8 lowercase alphanumerics, like W&B's sweep and run ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


class Store(Liveness):
    """The sweeps, runs and epochs of one store: what the launcher, agents, runs and views read and write."""

    @translated
    def create_sweep(
        self, config: dict[str, Any], priors: Sequence[dict[str, Any]] = (), noise: Sequence[dict[str, Any]] = ()
    ) -> str:
        """A new sweep; `priors` are parameter sets that its agents run first, in order, and `noise` the first
        prior with other seeds, run right after it."""
        sweep_id = new_id()
        ordered = (
            [(p, Origin.PRIOR.value) for p in priors[:1]]
            + [(p, Origin.NOISE.value) for p in noise]
            + [(p, Origin.PRIOR.value) for p in priors[1:]]
        )
        with self.transaction():
            self._sql(
                "INSERT INTO sweeps (id, config, created) VALUES (:id, :config, :created)",
                {"id": sweep_id, "config": json.dumps(config), "created": time.time()},
            )
            if ordered:
                self._sql(
                    "INSERT INTO priors (sweep_id, position, params, kind) VALUES (:sweep, :position, :params, :kind)",
                    [
                        {"sweep": sweep_id, "position": i, "params": json.dumps(p), "kind": kind}
                        for i, (p, kind) in enumerate(ordered)
                    ],
                )
        return sweep_id

    @translated
    def add_prior_run(self, sweep_id: str, run_id: str) -> tuple[dict[str, Any], str] | None:
        """Start the next prior not yet run, as run `run_id`: its parameters and kind ('prior' or 'noise');
        None when all have run. Call inside a transaction."""
        row = self._sql(
            "SELECT position, params, kind FROM priors WHERE sweep_id=:sweep AND run_id IS NULL "
            "ORDER BY position LIMIT 1",
            {"sweep": sweep_id},
        ).fetchone()
        if row is None:
            return None
        params = json.loads(row[1])
        self.add_run(sweep_id, run_id, params)
        self._sql(
            "UPDATE priors SET run_id=:run WHERE sweep_id=:sweep AND position=:position",
            {"run": run_id, "sweep": sweep_id, "position": row[0]},
        )
        return params, row[2]

    @translated
    def sweep_config(self, sweep_id: str) -> dict[str, Any]:
        row = self._sql("SELECT config FROM sweeps WHERE id=:id", {"id": sweep_id}).fetchone()
        if row is None:
            known = ", ".join(self.sweep_ids()[-5:]) or "none yet"
            raise StoreError(
                f"{self.where}: no sweep '{sweep_id}' (known: {known}). Fix: check the id, or {create_hint()}"
            )
        return json.loads(row[0])

    @translated
    def record_verified(self, sweep_id: str, verdict: dict[str, Any]) -> None:
        """The sweep's winner as retraining with several seeds found it (retrain.top_k_seeded)."""
        with self.transaction():
            self._sql(
                "UPDATE sweeps SET verified=:verdict WHERE id=:id", {"verdict": json.dumps(verdict), "id": sweep_id}
            )

    @translated
    def verified(self, sweep_id: str) -> dict[str, Any] | None:
        row = self._sql("SELECT verified FROM sweeps WHERE id=:id", {"id": sweep_id}).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    @translated
    def sweep_state(self, sweep_id: str) -> SweepState:
        row = self._sql("SELECT state FROM sweeps WHERE id=:id", {"id": sweep_id}).fetchone()
        if row is None:
            self.sweep_config(sweep_id)  # the one-line error with the known ids
        return SweepState(row[0])  # type: ignore[index]  # sweep_config raised when None

    @translated
    def set_sweep_state(self, sweep_id: str, state: SweepState) -> SweepState:
        """W&B's sweep control; the state before. A finished or canceled sweep stays so (W&B's, too)."""
        before = self.sweep_state(sweep_id)
        with self.transaction(serialised=False):  # the rule in the statement: two controllers at once keep it
            self._sql(
                "UPDATE sweeps SET state=:state WHERE id=:id AND state IN (:running, :paused)",
                {
                    "state": SweepState(state).value,
                    "id": sweep_id,
                    "running": SweepState.RUNNING.value,
                    "paused": SweepState.PAUSED.value,
                },
            )
        return before

    @translated
    def request_stop(self, run_id: str, reason: str) -> Run | None:
        """Ask a running run's agent to stop it (W&B's "stop run"); the run, or None when no such run is running."""
        with self.transaction(serialised=False):
            found = self._sql(
                "UPDATE runs SET stop_requested=:reason WHERE id=:id AND state='running'",
                {"reason": reason, "id": run_id},
            ).rowcount
        return self.run(run_id, with_history=False) if found else None

    @translated
    def control(self, sweep_id: str, run_id: str) -> tuple[SweepState, str | None]:
        """What a watching agent must know each poll: its sweep's state, and whether its run is asked to stop."""
        row = self._sql(
            "SELECT s.state, r.stop_requested FROM sweeps s JOIN runs r ON r.sweep_id = s.id WHERE r.id=:run",
            {"run": run_id},
        ).one()
        return SweepState(row[0]), row[1]

    @translated
    def sweep_ids(self) -> list[str]:
        return [r[0] for r in self._sql("SELECT id FROM sweeps ORDER BY created")]

    def newest_sweep(self) -> str | None:
        """What a command given no sweep id means: the sweep created last."""
        ids = self.sweep_ids()
        return ids[-1] if ids else None

    # --- runs ---
    @translated
    def add_run(self, sweep_id: str, run_id: str, params: dict[str, Any]) -> None:
        """Call inside a transaction that also read the runs the suggestion was based on."""
        self._sql(
            "INSERT INTO runs (id, sweep_id, params, state, created, host, agent_pid, boot_id, agent_started, "
            "heartbeat, lease) VALUES (:id, :sweep, :params, 'running', :created, :host, :pid, :boot, :started, "
            ":beat, :lease)",
            {
                "id": run_id,
                "sweep": sweep_id,
                "params": json.dumps(params),
                "created": time.time(),
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "boot": boot_id(),
                "started": process_started(os.getpid()),
                "beat": self.now(),
                "lease": self.lease,
            },
        )

    @translated
    def set_process(self, run_id: str, pid: int, wandb_dir: str) -> None:
        with self.transaction():
            self._sql(
                "UPDATE runs SET pid=:pid, pid_started=:started, wandb_dir=:dir WHERE id=:id",
                {"pid": pid, "started": process_started(pid), "dir": wandb_dir, "id": run_id},
            )

    @translated
    def log_epoch(self, run_id: str, epoch: int, metrics: dict[str, Any], summary: dict[str, Any]) -> None:
        with self.transaction(serialised=False):
            self._sql(
                "INSERT INTO metrics (run_id, epoch, metrics) VALUES (:run, :epoch, :metrics) "
                "ON CONFLICT (run_id, epoch) DO UPDATE SET metrics=excluded.metrics",
                {"run": run_id, "epoch": epoch, "metrics": json.dumps(metrics)},
            )
            self._sql("UPDATE runs SET summary=:summary WHERE id=:id", {"summary": json.dumps(summary), "id": run_id})

    def end_run(
        self,
        run_id: str,
        state: RunState,
        reason: str = "",
        summary: dict[str, Any] | None = None,
        ended_by: EndedBy = EndedBy.COMPLETED,
    ) -> None:
        """Move a run to a terminal state once; a later call for the same run changes nothing.

        On a full disk the reserve file is given up once to make room: a run never stays `running`
        only because its ending could not be written.
        """
        state = RunState(state)
        assert state.terminal, state
        values = {
            "state": state.value,
            "reason": reason,
            "ended_by": EndedBy(ended_by).value,
            "summary": None if summary is None else json.dumps(summary),
            "ended": time.time(),
            "id": run_id,
        }
        try:
            self._end_run(values)
        except StoreFull:
            if self.postgres or not self._reserve.exists():
                raise
            self._reserve.unlink()
            self._end_run(values)

    @translated
    def _end_run(self, values: dict[str, Any]) -> None:
        with self.transaction(serialised=False):  # one row, and only from `running`: nothing to race
            self._sql(
                "UPDATE runs SET state=:state, reason=:reason, ended_by=:ended_by, "
                "summary=COALESCE(:summary, summary), "
                "ended=:ended WHERE id=:id AND state='running'",
                values,
            )

    @translated
    def explain_stop(self, run_id: str, reason: str, ended_by: EndedBy) -> None:
        """Who stopped a run (hyperband, the user) is known to the agent, not to the trial."""
        with self.transaction():
            self._sql(
                "UPDATE runs SET reason=:reason, ended_by=:ended_by WHERE id=:id AND state='stopped'",
                {"reason": reason, "ended_by": EndedBy(ended_by).value, "id": run_id},
            )

    @translated
    def runs(self, sweep_id: str, with_history: bool = True) -> list[Run]:
        return self._runs_where("r.sweep_id=:key", sweep_id, with_history)

    @translated
    def run(self, run_id: str, with_history: bool = True) -> Run | None:
        """One run by its id, or None: a row read, not the sweep's."""
        found = self._runs_where("r.id=:key", run_id, with_history)
        return found[0] if found else None

    def _runs_where(self, where: str, key: str, with_history: bool) -> list[Run]:
        rows = self._sql(
            "SELECT r.id, r.sweep_id, r.params, state, reason, summary, created, ended, host, agent_pid, pid, "
            "wandb_dir, "
            f"p.kind, ended_by FROM runs r LEFT JOIN priors p ON p.run_id = r.id WHERE {where} ORDER BY created",
            {"key": key},
        ).fetchall()
        histories: dict[str, list[dict[str, Any]]] = {r[0]: [] for r in rows}
        if with_history:
            for run_id, metrics in self._sql(
                "SELECT m.run_id, m.metrics FROM metrics m JOIN runs r ON r.id = m.run_id "
                f"WHERE {where} ORDER BY m.run_id, m.epoch",
                {"key": key},
            ):
                histories[run_id].append(json.loads(metrics))
        return [
            Run(
                id=r[0],
                sweep_id=r[1],
                params=json.loads(r[2]),
                state=RunState(r[3]),
                reason=r[4],
                summary=json.loads(r[5]),
                created=r[6],
                ended=r[7],
                host=r[8],
                agent_pid=r[9],
                pid=r[10],
                wandb_dir=r[11],
                history=histories[r[0]],
                origin=Origin(r[12] or Origin.SEARCH),
                ended_by=EndedBy(r[13]),
            )
            for r in rows
        ]

    @translated
    def latest_epochs(self, sweep_id: str) -> dict[str, tuple[int, dict[str, Any]]]:
        """Each running run's count of logged epochs and its last row: what a progress view needs.

        Reading every run's history instead took 100 ms for 100 runs of 100 epochs, once a second
        in the launcher; this reads a row per running run.
        """
        counted = self._sql(
            "SELECT m.run_id, COUNT(*), MAX(m.epoch) FROM metrics m JOIN runs r ON r.id = m.run_id "
            "WHERE r.sweep_id=:sweep AND r.state='running' GROUP BY m.run_id",
            {"sweep": sweep_id},
        ).fetchall()
        latest = {}
        for run_id, count, epoch in counted:
            (metrics,) = self._sql(
                "SELECT metrics FROM metrics WHERE run_id=:run AND epoch=:epoch", {"run": run_id, "epoch": epoch}
            ).one()
            latest[run_id] = (int(count), json.loads(metrics))
        return latest

    @translated
    def epoch_counts(self, sweep_id: str) -> dict[str, int]:
        """Each run's count of logged epochs (runs without one are absent): the status table's column, without
        reading every history (see latest_epochs)."""
        return {
            run_id: int(count)
            for run_id, count in self._sql(
                "SELECT m.run_id, COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.sweep_id=:sweep "
                "GROUP BY m.run_id",
                {"sweep": sweep_id},
            )
        }

    @translated
    def epochs_logged(self, sweep_id: str) -> int:
        row = self._sql(
            "SELECT COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.sweep_id=:sweep", {"sweep": sweep_id}
        ).one()
        return int(row[0])
