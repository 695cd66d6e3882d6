"""The local store: one SQLite file per workspace holding sweeps, runs and per-epoch metrics.

WAL mode and a generous busy timeout let several agents (and their trials) share one file;
every write is one transaction, so a killed process never leaves a half-written row.
"""

from __future__ import annotations

import errno
import functools
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
from typing import Any, Callable, Iterator

from .states import EndedBy, RunState

SCHEMA_VERSION = 5  # 2: priors; 3: ended_by, and process identity (boot id, start times) for crash marking;
# 4: priors.kind ('prior', or 'noise': the first prior again with another seed, to measure the seed spread);
# 5: sweeps.verified (the winner retrained with several seeds: train_best_config.py --top K --seeds S)
_ID_ALPHABET = string.ascii_lowercase + string.digits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY, config TEXT NOT NULL, created REAL NOT NULL, verified TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    sweep_id TEXT NOT NULL REFERENCES sweeps(id),
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    ended_by TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    ended REAL,
    host TEXT NOT NULL,
    agent_pid INTEGER,
    pid INTEGER,
    wandb_dir TEXT,
    boot_id TEXT,
    agent_started TEXT,
    pid_started TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs (sweep_id, created);
CREATE TABLE IF NOT EXISTS priors (
    sweep_id TEXT NOT NULL REFERENCES sweeps(id),
    position INTEGER NOT NULL,
    params TEXT NOT NULL,
    run_id TEXT REFERENCES runs(id),
    kind TEXT NOT NULL DEFAULT 'prior',
    PRIMARY KEY (sweep_id, position)
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id),
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
"""


# Columns later schema versions added to existing tables: (version, table, column, type); added where missing.
_ADDED_COLUMNS = [(3, "runs", "ended_by", "TEXT NOT NULL DEFAULT ''"), (3, "runs", "boot_id", "TEXT"), (3, "runs", "agent_started", "TEXT"), (3, "runs", "pid_started", "TEXT"),
                  (4, "priors", "kind", "TEXT NOT NULL DEFAULT 'prior'"), (5, "sweeps", "verified", "TEXT")]
RESERVE_BYTES = 1 << 20  # freed when the store's disk is full, so a run can still be marked ended


class StoreError(RuntimeError):
    pass


class StoreFull(StoreError):
    """The store's disk is full."""


class OlderSchema(StoreError):
    """The store was written by an older yolosweep: reading it needs its upgrade, a write."""


def explain(err: sqlite3.Error | OSError, path: Path) -> StoreError:
    """A SQLite or file-system error on the store as one line: what is wrong, where, what to do."""
    text = str(err)
    if "disk is full" in text or getattr(err, "errno", None) == errno.ENOSPC:
        return StoreFull(f"{path}: disk full while writing the store. Fix: free space on that disk, "
                          "or set YOLOSWEEP_HOME to a folder on another disk")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path}: the store is damaged ({text}); it was left as it is. Fix: restore it from a "
                          f"backup, or recover what is readable with `sqlite3 {path} .recover | sqlite3 recovered.db` "
                          "and point YOLOSWEEP_HOME at a folder holding it as sweeps.db, or start afresh with a new YOLOSWEEP_HOME")
    if ("readonly" in text or "unable to open" in text or isinstance(err, PermissionError)
            or getattr(err, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM)):
        return StoreError(f"{path}: cannot write the store ({text}). Fix: make {path.parent} writable, "
                          "or set YOLOSWEEP_HOME to a writable folder")
    return StoreError(f"{path}: store error ({text}). Fix: check the disk and the file, or set a new YOLOSWEEP_HOME")


def _translated(method: Callable[..., Any]) -> Callable[..., Any]:
    """SQLite's errors leave the store as StoreError, one line with a fix, never a traceback."""

    @functools.wraps(method)
    def wrapper(self: "Store", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as err:
            raise explain(err, self.path) from None

    return wrapper


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
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError:
            raise StoreError(f"{folder}: is a file, not a folder (YOLOSWEEP_HOME). Fix: set YOLOSWEEP_HOME to a folder") from None
        except OSError as err:
            raise explain(err, self.path) from None
        fresh = not self.path.exists()
        if fresh and not os.access(folder, os.W_OK | os.X_OK):
            raise explain(PermissionError(errno.EACCES, "folder not writable"), self.path)
        try:
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            if fresh:
                os.chmod(self.path, 0o600)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA busy_timeout=60000")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as err:
            raise explain(err, self.path) from None
        self._keep_reserve()

    @classmethod
    def read_only(cls, path: str | Path | None = None) -> "Store":
        """The store opened for reading only (status, analysis, the dashboard): no migration, no reserve, no write ever.

        A WAL-mode store needs its -shm file to be read; on a read-only mount (an archived sweep on a
        share) SQLite cannot create it and fails "unable to open database file". There no process can
        be writing, so the file is read as immutable: measured, mode=ro fails and immutable=1 reads.
        """
        store = cls.__new__(cls)
        store.path = Path(path) if path else default_path()
        if not store.path.exists():
            raise StoreError(f"{store.path}: no local sweeps here. Fix: create one with "
                             "`python -m yolosweep sweep sweep_config.yaml`, or set YOLOSWEEP_HOME")
        try:
            try:
                row = store._open_read_only("mode=ro")
            except sqlite3.OperationalError as err:
                if "unable to open" not in str(err) or os.access(store.path.parent, os.W_OK):
                    raise
                row = store._open_read_only("mode=ro&immutable=1")
        except sqlite3.Error as err:
            raise explain(err, store.path) from None
        if row is None or int(row[0]) > SCHEMA_VERSION:
            raise StoreError(f"{store.path}: schema version {row[0] if row else '?'}, this yolosweep reads version "
                             f"{SCHEMA_VERSION}. Fix: use the yolosweep version that wrote it")
        if int(row[0]) < SCHEMA_VERSION:
            raise OlderSchema(f"{store.path}: schema version {row[0]}, this yolosweep reads version {SCHEMA_VERSION}. "
                              "Fix: open it once where it can be written (`python -m yolosweep status` there upgrades "
                              "it in place), or use the yolosweep version that wrote it")
        return store

    def _open_read_only(self, mode: str) -> tuple[str] | None:
        self.db = sqlite3.connect(f"file:{self.path}?{mode}", uri=True, timeout=60, isolation_level=None,
                                  check_same_thread=False)
        try:
            self.db.execute("PRAGMA busy_timeout=60000")
            return self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.Error:
            self.db.close()
            raise

    @classmethod
    def for_reading(cls, path: str | Path | None = None) -> "Store":
        """What `status` and the analysis open: read-only, so a store on a read-only share can be read; a store
        of an older schema is upgraded in place first (a write), as any command did before."""
        try:
            return cls.read_only(path)
        except OlderSchema:
            return cls(path, create=False)

    def _migrate(self) -> None:
        with self.transaction():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self.db.execute(statement)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) < SCHEMA_VERSION:  # older stores lack tables (created above) and columns
                for _version, table, column, kind in _ADDED_COLUMNS:
                    if column not in {info[1] for info in self.db.execute(f"PRAGMA table_info({table})")}:
                        self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: schema version {row[0]}, this yolosweep reads version {SCHEMA_VERSION}. "
                    "Fix: use the yolosweep version that wrote it, or a new YOLOSWEEP_HOME"
                )

    @property
    def _reserve(self) -> Path:
        return self.path.with_name(self.path.name + "-reserve")

    def _keep_reserve(self) -> bool:
        """A 1 MB file beside the store: deleted when the disk fills, it leaves room to end the runs."""
        if self._reserve.exists():
            return True
        try:
            with open(self._reserve, "wb") as f:
                f.write(b"\0" * RESERVE_BYTES)
            return True
        except OSError:  # no room for it now (or a read-only folder): the next start tries again
            try:
                self._reserve.unlink(missing_ok=True)
            except OSError:
                pass
            return False

    def room_to_end_a_run(self) -> None:
        """Raise StoreFull unless the reserve is in place: a run is only started when its end can be recorded."""
        if not self._keep_reserve():
            raise explain(OSError(errno.ENOSPC, "no room for the reserve"), self.path)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: one writer at a time, so read-decide-write steps do not race."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise explain(err, self.path) from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as err:
            self._rollback()
            if isinstance(err, sqlite3.Error):
                raise explain(err, self.path) from None
            raise

    def _rollback(self) -> None:
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the transaction is void either way: SQLite rolls back what it could not commit

    # --- sweeps ---
    @_translated
    def create_sweep(self, config: dict[str, Any], priors: list[dict[str, Any]] = (),
                     noise: list[dict[str, Any]] = ()) -> str:
        """A new sweep; `priors` are parameter sets that its agents run first, in order, and `noise` the first
        prior with other seeds, run right after it."""
        sweep_id = new_id()
        ordered = [(p, "prior") for p in priors[:1]] + [(p, "noise") for p in noise] + [(p, "prior") for p in priors[1:]]
        with self.transaction() as db:
            db.execute("INSERT INTO sweeps (id, config, created) VALUES (?, ?, ?)", (sweep_id, json.dumps(config), time.time()))
            db.executemany("INSERT INTO priors (sweep_id, position, params, kind) VALUES (?, ?, ?, ?)",
                           [(sweep_id, i, json.dumps(p), kind) for i, (p, kind) in enumerate(ordered)])
        return sweep_id

    @_translated
    def add_prior_run(self, sweep_id: str, run_id: str) -> tuple[dict[str, Any], str] | None:
        """Start the next prior not yet run, as run `run_id`: its parameters and kind ('prior' or 'noise');
        None when all have run. Call inside a transaction."""
        row = self.db.execute("SELECT position, params, kind FROM priors WHERE sweep_id=? AND run_id IS NULL "
                              "ORDER BY position LIMIT 1", (sweep_id,)).fetchone()
        if row is None:
            return None
        params = json.loads(row[1])
        self.add_run(sweep_id, run_id, params)
        self.db.execute("UPDATE priors SET run_id=? WHERE sweep_id=? AND position=?", (run_id, sweep_id, row[0]))
        return params, row[2]

    @_translated
    def sweep_config(self, sweep_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT config FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        if row is None:
            known = ", ".join(self.sweep_ids()[-5:]) or "none yet"
            raise StoreError(f"{self.path}: no sweep '{sweep_id}' (known: {known}). Fix: check the id, or create one with `python -m yolosweep sweep CONFIG.yaml`")
        return json.loads(row[0])

    @_translated
    def record_verified(self, sweep_id: str, verdict: dict[str, Any]) -> None:
        """The sweep's winner as retraining with several seeds found it (retrain.top_k_seeded)."""
        with self.transaction() as db:
            db.execute("UPDATE sweeps SET verified=? WHERE id=?", (json.dumps(verdict), sweep_id))

    @_translated
    def verified(self, sweep_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT verified FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    @_translated
    def sweep_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM sweeps ORDER BY created")]

    # --- runs ---
    @_translated
    def add_run(self, sweep_id: str, run_id: str, params: dict[str, Any]) -> None:
        """Call inside a transaction that also read the runs the suggestion was based on."""
        self.db.execute(
            "INSERT INTO runs (id, sweep_id, params, state, created, host, agent_pid, boot_id, agent_started) "
            "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            (run_id, sweep_id, json.dumps(params), time.time(), socket.gethostname(), os.getpid(), boot_id(),
             process_started(os.getpid())),
        )

    @_translated
    def set_process(self, run_id: str, pid: int, wandb_dir: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET pid=?, pid_started=?, wandb_dir=? WHERE id=?",
                       (pid, process_started(pid), wandb_dir, run_id))

    @_translated
    def log_epoch(self, run_id: str, epoch: int, metrics: dict[str, Any], summary: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?)", (run_id, epoch, json.dumps(metrics)))
            db.execute("UPDATE runs SET summary=? WHERE id=?", (json.dumps(summary), run_id))

    def end_run(self, run_id: str, state: RunState, reason: str = "", summary: dict[str, Any] | None = None,
                ended_by: EndedBy = EndedBy.COMPLETED) -> None:
        """Move a run to a terminal state once; a later call for the same run changes nothing.

        On a full disk the reserve file is given up once to make room: a run never stays `running`
        only because its ending could not be written.
        """
        state = RunState(state)
        assert state.terminal, state
        values = (state.value, reason, EndedBy(ended_by).value, None if summary is None else json.dumps(summary), time.time(), run_id)
        try:
            self._end_run(values)
        except StoreFull:
            if not self._reserve.exists():
                raise
            self._reserve.unlink()
            self._end_run(values)

    def _end_run(self, values: tuple[Any, ...]) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET state=?, reason=?, ended_by=?, summary=COALESCE(?, summary), ended=? "
                       "WHERE id=? AND state='running'", values)

    @_translated
    def explain_stop(self, run_id: str, reason: str, ended_by: EndedBy) -> None:
        """Who stopped a run (hyperband, the user) is known to the agent, not to the trial."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET reason=?, ended_by=? WHERE id=? AND state='stopped'",
                       (reason, EndedBy(ended_by).value, run_id))

    @_translated
    def runs(self, sweep_id: str, with_history: bool = True) -> list[Run]:
        rows = self.db.execute(
            "SELECT id, r.sweep_id, r.params, state, reason, summary, created, ended, host, agent_pid, pid, wandb_dir, "
            "p.kind, ended_by FROM runs r LEFT JOIN priors p ON p.run_id = r.id "
            "WHERE r.sweep_id=? ORDER BY created", (sweep_id,)).fetchall()
        histories: dict[str, list[dict[str, Any]]] = {r[0]: [] for r in rows}
        if with_history:
            for run_id, metrics in self.db.execute(
                "SELECT m.run_id, m.metrics FROM metrics m JOIN runs r ON r.id = m.run_id "
                "WHERE r.sweep_id=? ORDER BY m.run_id, m.epoch", (sweep_id,)):
                histories[run_id].append(json.loads(metrics))
        return [
            Run(id=r[0], sweep_id=r[1], params=json.loads(r[2]), state=RunState(r[3]), reason=r[4], summary=json.loads(r[5]),
                created=r[6], ended=r[7], host=r[8], agent_pid=r[9], pid=r[10], wandb_dir=r[11], history=histories[r[0]],
                origin=r[12] or "search", ended_by=EndedBy(r[13]))
            for r in rows
        ]

    @_translated
    def latest_epochs(self, sweep_id: str) -> dict[str, tuple[int, dict[str, Any]]]:
        """Each running run's count of logged epochs and its last row: what a progress view needs.

        Reading every run's history instead took 100 ms for 100 runs of 100 epochs, once a second
        in the launcher; this reads a row per running run.
        """
        counted = self.db.execute(
            "SELECT m.run_id, COUNT(*), MAX(m.epoch) FROM metrics m JOIN runs r ON r.id = m.run_id "
            "WHERE r.sweep_id=? AND r.state='running' GROUP BY m.run_id", (sweep_id,)).fetchall()
        latest = {}
        for run_id, count, epoch in counted:
            (metrics,) = self.db.execute("SELECT metrics FROM metrics WHERE run_id=? AND epoch=?", (run_id, epoch)).fetchone()
            latest[run_id] = (count, json.loads(metrics))
        return latest

    @_translated
    def epoch_counts(self, sweep_id: str) -> dict[str, int]:
        """Each run's count of logged epochs (runs without one are absent): the status table's column, without
        reading every history (see latest_epochs)."""
        return dict(self.db.execute(
            "SELECT m.run_id, COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.sweep_id=? "
            "GROUP BY m.run_id", (sweep_id,)).fetchall())

    @_translated
    def epochs_logged(self, sweep_id: str) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.sweep_id=?", (sweep_id,)).fetchone()
        return int(row[0])

    @_translated
    def mark_crashed(self, sweep_id: str) -> list[str]:
        """Runs of this host left `running` by a process that no longer exists become `crashed`.

        A process is the same only if its PID, its start time and the machine's boot id all match:
        a PID reused after a reboot or a container restart (PIDs restart in a new namespace) is
        another process. Runs of other hosts are left alone: their processes cannot be seen here.
        """
        host, boot, crashed = socket.gethostname(), boot_id(), []
        with self.transaction() as db:
            rows = db.execute("SELECT id, pid, pid_started, agent_pid, agent_started, boot_id FROM runs "
                              "WHERE sweep_id=? AND state='running' AND host=?", (sweep_id, host)).fetchall()
            for run_id, pid, pid_started, agent_pid, agent_started, run_boot in rows:
                same_boot = run_boot is None or boot is None or run_boot == boot
                if not same_boot or not any(_alive(p, started) for p, started in ((pid, pid_started), (agent_pid, agent_started)) if p):
                    why = "machine restarted" if not same_boot else "killed, or its container restarted"
                    db.execute("UPDATE runs SET state=?, reason=?, ended_by=?, ended=? WHERE id=?",
                               (RunState.CRASHED.value, f"process vanished ({why})", EndedBy.VANISHED.value, time.time(), run_id))
                    crashed.append(run_id)
        return crashed


def boot_id() -> str | None:
    """This boot of this machine's kernel (Linux); None where unknown."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()  # after the command name, which may hold spaces and parentheses


def process_started(pid: int) -> str | None:
    """When a process started, in clock ticks since boot (/proc/PID/stat field 22); None where unknown."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def _alive(pid: int, started: str | None = None) -> bool:
    """Whether that process runs: the PID exists, is no zombie, and (when recorded) started when it did."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc (not Linux): the signal check above is all there is
    if fields[0] == "Z":
        return False
    return started is None or len(fields) <= 19 or fields[19] == started
