"""The local store: one SQLite file per workspace holding sweeps, runs and per-epoch metrics.

WAL mode and a generous busy timeout let several agents (and their trials) share one file;
every write is one transaction, so a killed process never leaves a half-written row.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import string
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

SCHEMA_VERSION = 2  # 2: priors
TERMINAL_STATES = ("finished", "stopped", "failed", "crashed")
_ID_ALPHABET = string.ascii_lowercase + string.digits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY, config TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    sweep_id TEXT NOT NULL REFERENCES sweeps(id),
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    ended REAL,
    host TEXT NOT NULL,
    agent_pid INTEGER,
    pid INTEGER,
    wandb_dir TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs (sweep_id, created);
CREATE TABLE IF NOT EXISTS priors (
    sweep_id TEXT NOT NULL REFERENCES sweeps(id),
    position INTEGER NOT NULL,
    params TEXT NOT NULL,
    run_id TEXT REFERENCES runs(id),
    PRIMARY KEY (sweep_id, position)
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id),
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
"""


class StoreError(RuntimeError):
    pass


@dataclass
class Run:
    id: str
    sweep_id: str
    params: dict[str, Any]
    state: str
    reason: str
    summary: dict[str, Any]
    created: float
    ended: float | None
    host: str
    agent_pid: int | None
    pid: int | None
    wandb_dir: str | None
    history: list[dict[str, Any]]
    origin: str = "search"  # or "prior": a configuration given with --prior, run before the search


def default_path() -> Path:
    return Path(os.environ.get("YOLOSWEEP_HOME", ".yolosweep")) / "sweeps.db"


def new_id() -> str:
    """8 lowercase alphanumerics, like W&B's sweep and run ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


class Store:
    def __init__(self, path: str | Path | None = None, create: bool = True):
        self.path = Path(path) if path else default_path()
        if not create and not self.path.exists():
            raise StoreError(f"{self.path}: no local sweeps here. Fix: create one with "
                             "`python -m yolosweep sweep sweep_config.yaml`, or set YOLOSWEEP_HOME")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = not self.path.exists()
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        if fresh:
            os.chmod(self.path, 0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=60000")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        with self.transaction():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self.db.execute(statement)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) < SCHEMA_VERSION:  # older stores only lack tables, created above
                self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: schema version {row[0]}, this yolosweep reads version {SCHEMA_VERSION}. "
                    "Fix: use the yolosweep version that wrote it, or a new YOLOSWEEP_HOME"
                )

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: one writer at a time, so read-decide-write steps do not race."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- sweeps ---
    def create_sweep(self, config: dict[str, Any], priors: list[dict[str, Any]] = ()) -> str:
        """A new sweep; `priors` are parameter sets that its agents run first, in order."""
        sweep_id = new_id()
        with self.transaction() as db:
            db.execute("INSERT INTO sweeps VALUES (?, ?, ?)", (sweep_id, json.dumps(config), time.time()))
            db.executemany("INSERT INTO priors (sweep_id, position, params) VALUES (?, ?, ?)",
                           [(sweep_id, i, json.dumps(p)) for i, p in enumerate(priors)])
        return sweep_id

    def add_prior_run(self, sweep_id: str, run_id: str) -> dict[str, Any] | None:
        """Start the next prior not yet run, as run `run_id`; None when all have run. Call inside a transaction."""
        row = self.db.execute("SELECT position, params FROM priors WHERE sweep_id=? AND run_id IS NULL "
                              "ORDER BY position LIMIT 1", (sweep_id,)).fetchone()
        if row is None:
            return None
        params = json.loads(row[1])
        self.add_run(sweep_id, run_id, params)
        self.db.execute("UPDATE priors SET run_id=? WHERE sweep_id=? AND position=?", (run_id, sweep_id, row[0]))
        return params

    def sweep_config(self, sweep_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT config FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        if row is None:
            known = ", ".join(self.sweep_ids()[-5:]) or "none yet"
            raise StoreError(f"{self.path}: no sweep '{sweep_id}' (known: {known}). Fix: check the id, or create one with `python -m yolosweep sweep CONFIG.yaml`")
        return json.loads(row[0])

    def sweep_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM sweeps ORDER BY created")]

    # --- runs ---
    def add_run(self, sweep_id: str, run_id: str, params: dict[str, Any]) -> None:
        """Call inside a transaction that also read the runs the suggestion was based on."""
        self.db.execute(
            "INSERT INTO runs (id, sweep_id, params, state, created, host, agent_pid) VALUES (?, ?, ?, 'running', ?, ?, ?)",
            (run_id, sweep_id, json.dumps(params), time.time(), socket.gethostname(), os.getpid()),
        )

    def set_process(self, run_id: str, pid: int, wandb_dir: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET pid=?, wandb_dir=? WHERE id=?", (pid, wandb_dir, run_id))

    def log_epoch(self, run_id: str, epoch: int, metrics: dict[str, Any], summary: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?)", (run_id, epoch, json.dumps(metrics)))
            db.execute("UPDATE runs SET summary=? WHERE id=?", (json.dumps(summary), run_id))

    def end_run(self, run_id: str, state: str, reason: str = "", summary: dict[str, Any] | None = None) -> None:
        """Move a run to a terminal state once; a later call for the same run changes nothing."""
        assert state in TERMINAL_STATES, state
        with self.transaction() as db:
            db.execute("UPDATE runs SET state=?, reason=?, summary=COALESCE(?, summary), ended=? "
                       "WHERE id=? AND state='running'",
                       (state, reason, None if summary is None else json.dumps(summary), time.time(), run_id))

    def explain_stop(self, run_id: str, reason: str) -> None:
        """Who stopped a run (hyperband, the user) is known to the agent, not to the trial."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET reason=? WHERE id=? AND state='stopped'", (reason, run_id))

    def runs(self, sweep_id: str, with_history: bool = True) -> list[Run]:
        rows = self.db.execute(
            "SELECT id, r.sweep_id, r.params, state, reason, summary, created, ended, host, agent_pid, pid, wandb_dir, "
            "p.run_id IS NOT NULL FROM runs r LEFT JOIN priors p ON p.run_id = r.id "
            "WHERE r.sweep_id=? ORDER BY created", (sweep_id,)).fetchall()
        histories: dict[str, list[dict[str, Any]]] = {r[0]: [] for r in rows}
        if with_history:
            for run_id, metrics in self.db.execute(
                "SELECT m.run_id, m.metrics FROM metrics m JOIN runs r ON r.id = m.run_id "
                "WHERE r.sweep_id=? ORDER BY m.run_id, m.epoch", (sweep_id,)):
                histories[run_id].append(json.loads(metrics))
        return [
            Run(id=r[0], sweep_id=r[1], params=json.loads(r[2]), state=r[3], reason=r[4], summary=json.loads(r[5]),
                created=r[6], ended=r[7], host=r[8], agent_pid=r[9], pid=r[10], wandb_dir=r[11], history=histories[r[0]],
                origin="prior" if r[12] else "search")
            for r in rows
        ]

    def epochs_logged(self, sweep_id: str) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.sweep_id=?", (sweep_id,)).fetchone()
        return int(row[0])

    def mark_crashed(self, sweep_id: str) -> list[str]:
        """Runs of this host left `running` by a process that no longer exists become `crashed`."""
        host, crashed = socket.gethostname(), []
        with self.transaction() as db:
            rows = db.execute("SELECT id, pid, agent_pid FROM runs WHERE sweep_id=? AND state='running' AND host=?",
                              (sweep_id, host)).fetchall()
            for run_id, pid, agent_pid in rows:
                if not any(_alive(p) for p in (pid, agent_pid) if p):
                    db.execute("UPDATE runs SET state='crashed', reason=?, ended=? WHERE id=?",
                               ("process vanished (killed or machine restarted)", time.time(), run_id))
                    crashed.append(run_id)
        return crashed


def _alive(pid: int) -> bool:
    """Whether a process runs; a zombie (killed, not yet reaped by its new parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): the signal check above is all there is
    return stat.rpartition(")")[2].split()[0] != "Z"
