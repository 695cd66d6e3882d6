"""The local backend's store: sweeps, runs and per-epoch metrics, in SQLite or PostgreSQL.

One SQL layer for both (SQLAlchemy Core; psycopg 3 for PostgreSQL), chosen by a location: a path or
`sqlite:///PATH` (the zero-set-up default, `.yolosweep/sweeps.db`), or `postgresql://USER@HOST/DB` for
agents on several machines (`--store` or YOLOSWEEP_STORE). SQLite: WAL mode and a generous busy timeout
let several agents (and their trials) on one machine share one file. Every write is one transaction and
writers take turns (SQLite's BEGIN IMMEDIATE; on PostgreSQL a transaction-scoped advisory lock, the same
rule), so reading the runs, deciding and inserting never race and a killed process never leaves a
half-written row.
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
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from yolosweep.invocation import command, create_hint
from yolosweep.states import EndedBy, RunState, SweepState

SCHEMA_VERSION = 7  # 2: priors; 3: ended_by, and process identity (boot id, start times) for crash marking;
# 4: priors.kind ('prior', or 'noise': the first prior again with another seed, to measure the seed spread);
# 5: sweeps.verified (the winner retrained with several seeds: train_best_config.py --top K --seeds S);
# 6: runs.heartbeat and runs.lease (agents on several machines: a run whose agent stops answering is crashed);
# 7: sweeps.state (paused, finished, canceled: `yolosweep sweep --pause ID`) and runs.stop_requested (stop one run)
LEASE_S = 60.0  # a running run's agent beats every lease/6 s: 5 missed beats before anyone marks it crashed
OUTAGE_S = (
    300.0  # how long agents and runs wait for an unreachable PostgreSQL (a restart, a network cut) before giving up
)
_ID_ALPHABET = string.ascii_lowercase + string.digits
T = TypeVar("T")

_TABLES = sa.MetaData()
sa.Table("meta", _TABLES, sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text, nullable=False))
sa.Table(
    "sweeps",
    _TABLES,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("verified", sa.Text),
    sa.Column("state", sa.Text, nullable=False, server_default="running"),
)
sa.Table(
    "runs",
    _TABLES,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("sweep_id", sa.Text, sa.ForeignKey("sweeps.id"), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("ended_by", sa.Text, nullable=False, server_default=""),
    sa.Column("summary", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("ended", sa.Float),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("agent_pid", sa.Integer),
    sa.Column("pid", sa.Integer),
    sa.Column("wandb_dir", sa.Text),
    sa.Column("boot_id", sa.Text),
    sa.Column("agent_started", sa.Text),
    sa.Column("pid_started", sa.Text),
    sa.Column("heartbeat", sa.Float),
    sa.Column("lease", sa.Float),
    sa.Column("stop_requested", sa.Text),
    sa.Index("runs_by_sweep", "sweep_id", "created"),
)
sa.Table(
    "priors",
    _TABLES,
    sa.Column("sweep_id", sa.Text, sa.ForeignKey("sweeps.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id")),
    sa.Column("kind", sa.Text, nullable=False, server_default="prior"),
)
sa.Table(
    "metrics",
    _TABLES,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True),
    sa.Column("metrics", sa.Text, nullable=False),
)
# Every writer on PostgreSQL takes this transaction-scoped advisory lock first: one writer at a time, as in SQLite.
_WRITE_LOCK = 0x59_4F_4C_4F  # "YOLO"


# Columns later schema versions added to existing tables: (version, table, column, type); added where missing.
_ADDED_COLUMNS = [
    (3, "runs", "ended_by", "TEXT NOT NULL DEFAULT ''"),
    (3, "runs", "boot_id", "TEXT"),
    (3, "runs", "agent_started", "TEXT"),
    (3, "runs", "pid_started", "TEXT"),
    (4, "priors", "kind", "TEXT NOT NULL DEFAULT 'prior'"),
    (5, "sweeps", "verified", "TEXT"),
    (6, "runs", "heartbeat", "REAL"),
    (6, "runs", "lease", "REAL"),
    (7, "sweeps", "state", "TEXT NOT NULL DEFAULT 'running'"),
    (7, "runs", "stop_requested", "TEXT"),
]
RESERVE_BYTES = 1 << 20  # freed when the store's disk is full, so a run can still be marked ended


class StoreError(RuntimeError):
    pass


class StoreFull(StoreError):
    """The store's disk is full."""


class OlderSchema(StoreError):
    """The store was written by an older yolosweep: reading it needs its upgrade, a write."""


class StoreUnreachable(StoreError):
    """The database server cannot be reached (refused, closed, timed out): a wait may mend it."""


def explain(err: BaseException, path: Path) -> StoreError:
    """A SQLite or file-system error on the store as one line: what is wrong, where, what to do."""
    text = str(err)
    if "disk is full" in text or getattr(err, "errno", None) == errno.ENOSPC:
        return StoreFull(
            f"{path}: disk full while writing the store. Fix: free space on that disk, "
            "or set YOLOSWEEP_HOME to a folder on another disk"
        )
    if "not a database" in text or "malformed" in text:
        return StoreError(
            f"{path}: the store is damaged ({text}); it was left as it is. Fix: restore it from a "
            f"backup, or recover what is readable with `sqlite3 {path} .recover | sqlite3 recovered.db` "
            "and point YOLOSWEEP_HOME at a folder holding it as sweeps.db, or start afresh with a new YOLOSWEEP_HOME"
        )
    if (
        "readonly" in text
        or "unable to open" in text
        or isinstance(err, PermissionError)
        or getattr(err, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM)
    ):
        return StoreError(
            f"{path}: cannot write the store ({text}). Fix: make {path.parent} writable, "
            "or set YOLOSWEEP_HOME to a writable folder"
        )
    return StoreError(f"{path}: store error ({text}). Fix: check the disk and the file, or set a new YOLOSWEEP_HOME")


# A server that is there but cannot serve now, by SQLSTATE (PostgreSQL's errcodes, the same in every lc_messages):
# class 08 (connection exceptions), 57P01/57P02/57P03 (shut down, crashed, starting or recovering), 53300 (too
# many clients), 40001/40P01 (a serialization failure or deadlock: the transaction is retried whole). A wait mends them.
_OUTAGE_CLASSES = ("08",)
_OUTAGE_STATES = {"57P01", "57P02", "57P03", "53300", "40001", "40P01"}
# A failure while connecting carries no SQLSTATE (libpq keeps it to itself), only the server's words in its own
# lc_messages. These English ones are read on a first connection; once this process has connected, its URL and
# password are proven, so any later refusal to connect is an outage whatever its words (Store._proven).
_UNREACHABLE_WORDS = (
    "connection refused",
    "timeout expired",
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "could not receive data",
    "could not send data",
    "consuming input failed",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is not yet accepting connections",
    "the database system is in recovery mode",
    "too many clients",
    "no connection to the server",
)
# Set for a run by its agent: the agent connected with this URL, so the run's own first refusal is an outage too.
PROVEN_ENV = "YOLOSWEEP_STORE_PROVEN"


def outage_sqlstate(sqlstate: str | None) -> bool:
    """Whether a PostgreSQL error's SQLSTATE means "not now" rather than "not so"."""
    return sqlstate is not None and (sqlstate.startswith(_OUTAGE_CLASSES) or sqlstate in _OUTAGE_STATES)


def _unreachable(where: str, text: str) -> StoreUnreachable:
    return StoreUnreachable(
        f"{where}: PostgreSQL unreachable ({text}). Fix: start the server, or check the host, "
        "port and firewall (`pg_isready -h HOST -p PORT`)"
    )


def explain_postgres(err: BaseException, where: str, proven: bool = False) -> StoreError:
    """A PostgreSQL error as one line: what is wrong, where, what to do. The URL is shown without its password.
    `proven`: this process has connected with the same URL before, so a refusal to connect is an outage."""
    text = " ".join(str(err).split()) or type(err).__name__
    low = text.lower()
    sqlstate = getattr(err, "sqlstate", None)
    if sqlstate == "53300" or "too many clients" in low:  # waited for in flight; at a start, the fix is the pool
        return StoreUnreachable(
            f"{where}: PostgreSQL has no connection left ({text}). Fix: put PgBouncer in front of "
            "it in transaction pooling (docs/guide.md, several machines), or raise max_connections"
        )
    if outage_sqlstate(sqlstate):
        return _unreachable(where, f"{sqlstate}: {text}")
    connecting = sqlstate is None and type(err).__name__ == "OperationalError"
    if connecting and proven:
        return _unreachable(where, text)
    if "password authentication failed" in low or "no password supplied" in low or sqlstate == "28P01":
        fix = "put the right password in ~/.pgpass or PGPASSWORD (a password in the URL shows in `ps`)"
    elif ("role" in low and "does not exist" in low) or sqlstate == "28000":
        fix = "create that user on the server (`createuser NAME`) or correct the user in the URL"
    elif ("database" in low and "does not exist" in low) or sqlstate == "3D000":
        fix = "create the database on the server (`createdb NAME`) or correct its name in the URL"
    elif "translate host name" in low or "failed to resolve host" in low or "name or service not known" in low:
        fix = "correct the host in the URL"
    elif any(words in low for words in _UNREACHABLE_WORDS):
        return _unreachable(where, text)
    elif "read-only" in low or sqlstate == "25006":
        fix = "this command only reads; writing needs a normal session"
    else:
        fix = "check the server's log and the URL"
    return StoreError(f"{where}: PostgreSQL: {text}. Fix: {fix}")


def _translated(method: Callable[..., Any]) -> Callable[..., Any]:
    """Database errors leave the store as StoreError, one line with a fix, never a traceback; a PostgreSQL server
    out of reach is waited for (Store.retrying), except inside a caller's transaction, which is retried whole."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        def once() -> Any:
            try:
                return method(self, *args, **kwargs)
            except (sa.exc.SQLAlchemyError, sqlite3.Error) as err:
                raise self.explain(err) from None

        return once() if self._in_transaction else self.retrying(once)

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


def home() -> Path:
    """The workspace folder: a SQLite store's, the launcher's logs, the demo's data (YOLOSWEEP_HOME, or .yolosweep)."""
    return Path(os.environ.get("YOLOSWEEP_HOME", ".yolosweep"))


def default_path() -> Path:
    return home() / "sweeps.db"


def default_location() -> str:
    """The store every command opens: YOLOSWEEP_STORE (a path or a URL; `--store` sets it), else sweeps.db in home()."""
    return os.environ.get("YOLOSWEEP_STORE") or str(default_path())


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(("postgresql:", "postgres:", "postgresql+"))


def masked(location: str | Path) -> str:
    """A location as messages show it: a URL without its password."""
    if not is_postgres(location):
        return str(location)
    try:
        return make_url(str(location)).render_as_string(hide_password=True)
    except ArgumentError:
        return "the given PostgreSQL URL"


# File systems shared between machines, where SQLite's locking does not hold (Optuna's FAQ and SQLite's own:
# never for concurrent writers on NFS). As /proc/self/mountinfo names them.
NETWORK_FILESYSTEMS = {
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "lustre",
    "gpfs",
    "ceph",
    "fuse.ceph",
    "glusterfs",
    "fuse.glusterfs",
    "beegfs",
    "fuse.sshfs",
    "afs",
    "ocfs2",
    "gfs2",
    "9p",
}
MOUNTINFO = Path("/proc/self/mountinfo")


def network_filesystem(folder: Path) -> str | None:
    """'nfs4 at /shared' when `folder` lies on a network file system, else None (or where mounts cannot be read)."""
    try:
        lines = MOUNTINFO.read_text().splitlines()
    except OSError:
        return None
    target, best = os.path.realpath(folder), ("", "")
    for line in lines:
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or not rest:
            continue
        point = parts[4].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):
            best = (point, rest.split()[0])
    return f"{best[1]} at {best[0]}" if best[1] in NETWORK_FILESYSTEMS else None


def new_id() -> str:
    """8 lowercase alphanumerics, like W&B's sweep and run ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _no_sweeps() -> str:
    return f"no local sweeps here. Fix: {create_hint()}, or set YOLOSWEEP_HOME"


class Store:
    """One connection to the store (per process: an agent, a run, a reader)."""

    def __init__(self, location: str | Path | None = None, create: bool = True, lease: float = LEASE_S):
        """`lease`: seconds the runs this process starts may go without a heartbeat before any agent on
        another host marks them crashed."""
        self._settings(lease)
        self._locate(location)
        if self.postgres:
            self._connect_postgres(read_only=False)
            try:
                if not create and not sa.inspect(self.db).has_table("meta"):
                    raise StoreError(
                        f"{self.where}: no sweeps in this database yet. Fix: create one with "
                        f"{create_hint(' --store URL')}"
                    )
                self._migrate()
            except sa.exc.SQLAlchemyError as err:
                self.close()
                raise self.explain(err) from None
            except BaseException:
                self.close()
                raise
            return
        if not create and not self.file.exists():
            raise StoreError(f"{self.path}: {_no_sweeps()}")
        folder = self.file.parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError:
            raise StoreError(
                f"{folder}: is a file, not a folder (YOLOSWEEP_HOME). Fix: set YOLOSWEEP_HOME to a folder"
            ) from None
        except OSError as err:
            raise explain(err, self.file) from None
        shared = network_filesystem(folder)
        if shared:
            raise StoreError(
                f"{self.path}: SQLite on a network file system ({shared}) is unsafe for agents on several "
                "hosts: its locks do not hold there. Fix: give every command a PostgreSQL store "
                "(--store postgresql://USER@HOST/DB), or keep the SQLite store on a local disk "
                "(YOLOSWEEP_HOME=/tmp/yolosweep)"
            )
        fresh = not self.file.exists()
        if fresh and not os.access(folder, os.W_OK | os.X_OK):
            raise explain(PermissionError(errno.EACCES, "folder not writable"), self.file)
        try:
            self._connect_sqlite(self.file)
            if fresh:
                os.chmod(self.file, 0o600)
            self.db.exec_driver_sql("PRAGMA journal_mode=WAL")
            self.db.exec_driver_sql("PRAGMA foreign_keys=ON")
            self._migrate()
        except (DBAPIError, sqlite3.Error) as err:
            raise self.explain(err) from None
        self._keep_reserve()

    def _locate(self, location: str | Path | None) -> None:
        self.location = str(location) if location else default_location()
        self.postgres = is_postgres(self.location)
        self.where = masked(self.location)
        self.path: Path | None
        if self.postgres:
            self.path, self.home = None, home()
        else:
            path = self.location[len("sqlite:///") :] if self.location.startswith("sqlite:///") else self.location
            self.path = Path(path)
            self.home = self.path.parent

    @property
    def file(self) -> Path:
        """The SQLite store's file; asked only on the SQLite paths (a PostgreSQL store has none)."""
        assert self.path is not None, f"{self.where} is not a SQLite store"
        return self.path

    def reachable_from_elsewhere(self) -> str:
        """This store's location for another process (a run, from any folder): the URL, or the file's absolute path."""
        return self.location if self.postgres else str(self.file.resolve())

    def _connect_sqlite(self, target: str | Path, uri: bool = False) -> None:
        def connect() -> sqlite3.Connection:
            db = sqlite3.connect(target, uri=uri, timeout=60, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=60000")
            return db

        self.engine = sa.create_engine(
            "sqlite://", creator=connect, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT"
        )
        self.db: Connection = self.engine.connect()

    def _connect_postgres(self, read_only: bool) -> None:
        try:
            url = make_url(self.location).set(drivername="postgresql+psycopg")
        except ArgumentError:
            raise StoreError(
                f"{self.where}: not a database URL. Fix: give postgresql://USER@HOST[:PORT]/DATABASE"
            ) from None
        # No server-side prepared statements: through PgBouncer in transaction pooling (200 agents on one server)
        # the next transaction may run on another server connection, which never saw them.
        connect_args: dict[str, Any] = {
            "connect_timeout": 10,
            "application_name": "yolosweep",
            "prepare_threshold": None,
        }
        if read_only:  # the server refuses every write of this session: a reader cannot change the sweep
            connect_args["options"] = "-c default_transaction_read_only=on"
        try:
            self.engine = sa.create_engine(
                url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT", connect_args=connect_args
            )
            self.db = self.engine.connect()
            self._proven = True
        except ModuleNotFoundError as err:
            raise StoreError(f"{self.where}: PostgreSQL needs {err.name}. Fix: pip install 'psycopg[binary]'") from None
        except DBAPIError as err:
            raise self.explain(err) from None

    def explain(self, err: BaseException) -> StoreError:
        lost = getattr(err, "connection_invalidated", False) or isinstance(err, sa.exc.PendingRollbackError)
        err = getattr(err, "orig", None) or err
        if self.postgres and lost:  # SQLAlchemy saw the connection drop, whatever libpq's words for it
            return _unreachable(self.where, " ".join(str(err).split()))
        return explain_postgres(err, self.where, self._proven) if self.postgres else explain(err, self.file)

    def _sql(self, sql: str, params: dict[str, Any] | list[dict[str, Any]] | None = None) -> sa.CursorResult:
        """One statement, written once for both databases (named parameters, SQL both speak)."""
        return self.db.execute(sa.text(sql), params or {})

    def _settings(self, lease: float) -> None:
        self.lease, self.outage_s = lease, OUTAGE_S
        self._in_transaction = self._broken = self._said_unreachable = self._reconnected = False
        self._proven = os.environ.get(PROVEN_ENV) == "1"  # the agent that started this run connected with this URL
        self._connected_since = time.monotonic()

    def retrying(self, attempt: Callable[[], T]) -> T:
        """`attempt()`, again after a reconnect while PostgreSQL is unreachable, with back-off (0.5 s doubling to
        10 s) for up to `outage_s`; then StoreUnreachable. A connection found broken is reconnected first."""
        waited, delay = 0.0, 0.5
        while True:
            try:
                if self._broken:
                    self._reconnect()
                return attempt()
            except StoreUnreachable as err:
                self._broken = True
                if not self.postgres or waited >= self.outage_s:
                    raise
                if not self._said_unreachable:
                    self._said_unreachable = True
                    print(f"yolosweep: {err}; retrying for up to {self.outage_s:.0f} s", file=sys.stderr, flush=True)
                time.sleep(delay)
                waited, delay = waited + delay, min(2 * delay, 10.0)

    def _reconnect(self) -> None:
        try:
            self.db.close()
        except Exception:
            pass
        try:
            self.db = self.engine.connect()
        except DBAPIError as err:
            raise self.explain(err) from None
        self._broken, self._said_unreachable, self._reconnected = False, False, True
        self._connected_since = time.monotonic()
        print("yolosweep: the store is reachable again", file=sys.stderr, flush=True)

    @classmethod
    def read_only(cls, location: str | Path | None = None) -> Store:
        """The store opened for reading only (status, analysis, the dashboard): no migration, no reserve, no write ever.

        A WAL-mode store needs its -shm file to be read; on a read-only mount (an archived sweep on a
        share) SQLite cannot create it and fails "unable to open database file". There no process can
        be writing, so the file is read as immutable: measured, mode=ro fails and immutable=1 reads.
        """
        store = cls.__new__(cls)
        store._settings(LEASE_S)
        store._locate(location)
        if store.postgres:
            store._connect_postgres(read_only=True)
        elif not store.file.exists():
            raise StoreError(f"{store.path}: {_no_sweeps()}")
        try:
            if store.postgres:
                has_meta = sa.inspect(store.db).has_table("meta")
                row = store._sql("SELECT value FROM meta WHERE key='schema_version'").fetchone() if has_meta else None
                if row is None:
                    store.close()
                    raise StoreError(
                        f"{store.where}: no sweeps in this database yet. Fix: create one with "
                        f"{create_hint(' --store URL')}"
                    )
            else:
                try:
                    row = store._open_read_only("mode=ro")
                except (DBAPIError, sqlite3.OperationalError) as err:
                    if "unable to open" not in str(err) or os.access(store.file.parent, os.W_OK):
                        raise
                    row = store._open_read_only("mode=ro&immutable=1")
        except (DBAPIError, sqlite3.Error) as err:
            raise store.explain(err) from None
        if row is None or int(row[0]) > SCHEMA_VERSION:
            store.close()
            raise StoreError(
                f"{store.where}: schema version {row[0] if row else '?'}, this yolosweep reads version "
                f"{SCHEMA_VERSION}. Fix: use the yolosweep version that wrote it"
            )
        if int(row[0]) < SCHEMA_VERSION:
            store.close()
            raise OlderSchema(
                f"{store.where}: schema version {row[0]}, this yolosweep reads version {SCHEMA_VERSION}. "
                f"Fix: open it once where it can be written (`{command('status')}` there upgrades "
                "it in place), or use the yolosweep version that wrote it"
            )
        return store

    def _open_read_only(self, mode: str) -> sa.Row[Any] | None:
        self._connect_sqlite(f"file:{self.path}?{mode}", uri=True)
        try:
            return self._sql("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except (DBAPIError, sqlite3.Error):
            self.close()
            raise

    @classmethod
    def for_reading(cls, location: str | Path | None = None) -> Store:
        """What `status` and the analysis open: read-only, so a store on a read-only share can be read; a store
        of an older schema is upgraded in place first (a write), as any command did before."""
        try:
            return cls.read_only(location)
        except OlderSchema:
            return cls(location, create=False)

    def _migrate(self) -> None:
        with self.transaction():
            _TABLES.create_all(self.db)  # the tables missing; existing ones are left as they are
            row = self._sql("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._sql("INSERT INTO meta VALUES ('schema_version', :v)", {"v": str(SCHEMA_VERSION)})
            elif int(row[0]) < SCHEMA_VERSION:  # older stores lack tables (created above) and columns
                inspector = sa.inspect(self.db)
                for _version, table, column, kind in _ADDED_COLUMNS:
                    if column not in {info["name"] for info in inspector.get_columns(table)}:
                        self.db.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                self._sql("UPDATE meta SET value=:v WHERE key='schema_version'", {"v": str(SCHEMA_VERSION)})
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.where}: schema version {row[0]}, this yolosweep reads version {SCHEMA_VERSION}. "
                    "Fix: use the yolosweep version that wrote it, or a new YOLOSWEEP_HOME"
                )

    @property
    def _reserve(self) -> Path:
        return self.file.with_name(self.file.name + "-reserve")

    def _keep_reserve(self) -> bool:
        """A 1 MB file beside a SQLite store: deleted when the disk fills, it leaves room to end the runs."""
        if self.postgres or self._reserve.exists():
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
            raise explain(OSError(errno.ENOSPC, "no room for the reserve"), self.file)

    def close(self) -> None:
        self.db.close()
        self.engine.dispose()

    @contextmanager
    def transaction(self, serialised: bool = True) -> Iterator[Connection]:
        """One writer at a time, so read-decide-write steps do not race: SQLite's BEGIN IMMEDIATE, and on
        PostgreSQL one advisory lock every writer takes (held to the end of the transaction). `serialised=False`
        for writes that decide nothing (a run's epochs, its end): on PostgreSQL they do not queue behind the
        suggestions of every other agent."""
        try:
            self.db.exec_driver_sql("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
            if self.postgres and serialised:
                self.db.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITE_LOCK})")
        except (sa.exc.SQLAlchemyError, sqlite3.Error) as err:
            self._rollback()
            raise self.explain(err) from None
        self._in_transaction = True
        try:
            yield self.db
            self.db.exec_driver_sql("COMMIT")
        except BaseException as err:
            self._rollback()
            if isinstance(err, (sa.exc.SQLAlchemyError, sqlite3.Error)):
                raise self.explain(err) from None
            raise
        finally:
            self._in_transaction = False

    def _rollback(self) -> None:
        """The server's transaction (begun by hand) and SQLAlchemy's own state, which after a dropped connection
        refuses every statement until rolled back."""
        for rollback in (lambda: self.db.exec_driver_sql("ROLLBACK"), self.db.rollback):
            try:
                rollback()
            except (sa.exc.SQLAlchemyError, sqlite3.Error):
                pass  # no transaction open, or the connection is gone: the transaction is void either way

    # --- sweeps ---
    @_translated
    def create_sweep(
        self, config: dict[str, Any], priors: Sequence[dict[str, Any]] = (), noise: Sequence[dict[str, Any]] = ()
    ) -> str:
        """A new sweep; `priors` are parameter sets that its agents run first, in order, and `noise` the first
        prior with other seeds, run right after it."""
        sweep_id = new_id()
        ordered = (
            [(p, "prior") for p in priors[:1]] + [(p, "noise") for p in noise] + [(p, "prior") for p in priors[1:]]
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

    @_translated
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

    @_translated
    def sweep_config(self, sweep_id: str) -> dict[str, Any]:
        row = self._sql("SELECT config FROM sweeps WHERE id=:id", {"id": sweep_id}).fetchone()
        if row is None:
            known = ", ".join(self.sweep_ids()[-5:]) or "none yet"
            raise StoreError(
                f"{self.where}: no sweep '{sweep_id}' (known: {known}). Fix: check the id, or {create_hint()}"
            )
        return json.loads(row[0])

    @_translated
    def record_verified(self, sweep_id: str, verdict: dict[str, Any]) -> None:
        """The sweep's winner as retraining with several seeds found it (retrain.top_k_seeded)."""
        with self.transaction():
            self._sql(
                "UPDATE sweeps SET verified=:verdict WHERE id=:id", {"verdict": json.dumps(verdict), "id": sweep_id}
            )

    @_translated
    def verified(self, sweep_id: str) -> dict[str, Any] | None:
        row = self._sql("SELECT verified FROM sweeps WHERE id=:id", {"id": sweep_id}).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    @_translated
    def sweep_state(self, sweep_id: str) -> SweepState:
        row = self._sql("SELECT state FROM sweeps WHERE id=:id", {"id": sweep_id}).fetchone()
        if row is None:
            self.sweep_config(sweep_id)  # the one-line error with the known ids
        return SweepState(row[0])  # type: ignore[index]  # sweep_config raised when None

    @_translated
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

    @_translated
    def request_stop(self, run_id: str, reason: str) -> Run | None:
        """Ask a running run's agent to stop it (W&B's "stop run"); the run, or None when no such run is running."""
        with self.transaction(serialised=False):
            found = self._sql(
                "UPDATE runs SET stop_requested=:reason WHERE id=:id AND state='running'",
                {"reason": reason, "id": run_id},
            ).rowcount
        return self.run(run_id, with_history=False) if found else None

    @_translated
    def control(self, sweep_id: str, run_id: str) -> tuple[SweepState, str | None]:
        """What a watching agent must know each poll: its sweep's state, and whether its run is asked to stop."""
        row = self._sql(
            "SELECT s.state, r.stop_requested FROM sweeps s JOIN runs r ON r.sweep_id = s.id WHERE r.id=:run",
            {"run": run_id},
        ).one()
        return SweepState(row[0]), row[1]

    @_translated
    def sweep_ids(self) -> list[str]:
        return [r[0] for r in self._sql("SELECT id FROM sweeps ORDER BY created")]

    def newest_sweep(self) -> str | None:
        """What a command given no sweep id means: the sweep created last."""
        ids = self.sweep_ids()
        return ids[-1] if ids else None

    # --- runs ---
    @_translated
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

    def now(self) -> float:
        """The store's clock (PostgreSQL: the server's), so heartbeats from machines whose clocks differ compare."""
        if self.postgres:
            return float(self._sql("SELECT EXTRACT(EPOCH FROM clock_timestamp())").scalar_one())
        return time.time()

    @_translated
    def heartbeat(self, run_id: str) -> None:
        """The run's agent is alive: its lease starts again."""
        self._sql(
            "UPDATE runs SET heartbeat=:beat WHERE id=:id AND state='running'", {"beat": self.now(), "id": run_id}
        )

    @_translated
    def lapsed(self, sweep_id: str) -> list[tuple[str, str, float]]:
        """Running runs of other hosts whose agent has not beaten within their lease: (run id, host, last beat).

        None while the store itself may be why they missed their beats: PostgreSQL restarted within a lease, or
        this process reconnected after losing it within a lease (every agent's beats resume by then)."""
        if self._reconnected and time.monotonic() - self._connected_since < self.lease:
            return []
        if (
            self.postgres
            and self._sql("SELECT EXTRACT(EPOCH FROM clock_timestamp() - pg_postmaster_start_time())").scalar_one()
            < self.lease
        ):
            return []
        return [
            tuple(row)
            for row in self._sql(
                "SELECT id, host, heartbeat FROM runs WHERE sweep_id=:sweep AND state='running' AND host<>:host "
                "AND heartbeat IS NOT NULL AND lease IS NOT NULL AND heartbeat + lease < :now",
                {"sweep": sweep_id, "host": socket.gethostname(), "now": self.now()},
            )
        ]

    @_translated
    def expire_leases(self, sweep_id: str) -> list[tuple[str, str, float]]:
        """Mark crashed the runs of other hosts whose lease lapsed (their host died, or lost the store): what
        PIDs tell on one host, a heartbeat tells across hosts. The runs marked: (run id, host, last beat)."""
        if not self.lapsed(sweep_id):  # the common case: read only, no writer's turn taken
            return []
        with self.transaction():
            gone = self.lapsed(sweep_id)
            for run_id, host, beat in gone:
                at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(beat))
                self._sql(
                    "UPDATE runs SET state=:state, reason=:reason, ended_by=:ended_by, ended=:ended "
                    "WHERE id=:id AND state='running'",
                    {
                        "state": RunState.CRASHED.value,
                        "reason": f"host {host} stopped answering at {at}",
                        "ended_by": EndedBy.VANISHED.value,
                        "ended": time.time(),
                        "id": run_id,
                    },
                )
        return gone

    @_translated
    def set_process(self, run_id: str, pid: int, wandb_dir: str) -> None:
        with self.transaction():
            self._sql(
                "UPDATE runs SET pid=:pid, pid_started=:started, wandb_dir=:dir WHERE id=:id",
                {"pid": pid, "started": process_started(pid), "dir": wandb_dir, "id": run_id},
            )

    @_translated
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

    @_translated
    def _end_run(self, values: dict[str, Any]) -> None:
        with self.transaction(serialised=False):  # one row, and only from `running`: nothing to race
            self._sql(
                "UPDATE runs SET state=:state, reason=:reason, ended_by=:ended_by, "
                "summary=COALESCE(:summary, summary), "
                "ended=:ended WHERE id=:id AND state='running'",
                values,
            )

    @_translated
    def explain_stop(self, run_id: str, reason: str, ended_by: EndedBy) -> None:
        """Who stopped a run (hyperband, the user) is known to the agent, not to the trial."""
        with self.transaction():
            self._sql(
                "UPDATE runs SET reason=:reason, ended_by=:ended_by WHERE id=:id AND state='stopped'",
                {"reason": reason, "ended_by": EndedBy(ended_by).value, "id": run_id},
            )

    @_translated
    def runs(self, sweep_id: str, with_history: bool = True) -> list[Run]:
        return self._runs_where("r.sweep_id=:key", sweep_id, with_history)

    @_translated
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
                origin=r[12] or "search",
                ended_by=EndedBy(r[13]),
            )
            for r in rows
        ]

    @_translated
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

    @_translated
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

    @_translated
    def epochs_logged(self, sweep_id: str) -> int:
        row = self._sql(
            "SELECT COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.sweep_id=:sweep", {"sweep": sweep_id}
        ).one()
        return int(row[0])

    @_translated
    def mark_crashed(self, sweep_id: str) -> list[str]:
        """Runs of this host left `running` by a process that no longer exists become `crashed`.

        A process is the same only if its PID, its start time and the machine's boot id all match:
        a PID reused after a reboot or a container restart (PIDs restart in a new namespace) is
        another process. Runs of other hosts are left alone: their processes cannot be seen here.
        """
        host, boot, crashed = socket.gethostname(), boot_id(), []
        with self.transaction():
            rows = self._sql(
                "SELECT id, pid, pid_started, agent_pid, agent_started, boot_id FROM runs "
                "WHERE sweep_id=:sweep AND state='running' AND host=:host",
                {"sweep": sweep_id, "host": host},
            ).fetchall()
            for run_id, pid, pid_started, agent_pid, agent_started, run_boot in rows:
                same_boot = run_boot is None or boot is None or run_boot == boot
                if not same_boot or not any(
                    _alive(p, started) for p, started in ((pid, pid_started), (agent_pid, agent_started)) if p
                ):
                    why = "machine restarted" if not same_boot else "killed, or its container restarted"
                    self._sql(
                        "UPDATE runs SET state=:state, reason=:reason, ended_by=:ended_by, ended=:ended WHERE id=:id",
                        {
                            "state": RunState.CRASHED.value,
                            "reason": f"process vanished ({why})",
                            "ended_by": EndedBy.VANISHED.value,
                            "ended": time.time(),
                            "id": run_id,
                        },
                    )
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


def copy_sweeps(source: Store, target: Store, sweep_ids: list[str] | None = None) -> tuple[int, int, int]:
    """Copy sweeps with their runs, priors and per-epoch metrics from one store to another (SQLite <-> PostgreSQL),
    in one transaction of the target: all or nothing. A sweep the target holds already is refused. Returns the
    counts copied: (sweeps, runs, epochs)."""
    sweep_ids = sweep_ids or source.sweep_ids()
    missing = [s for s in sweep_ids if s not in source.sweep_ids()]
    if missing:
        raise StoreError(
            f"{source.where}: no sweep {missing[0]!r}. Fix: check the id (`python -m yolosweep status --store "
            f"{source.where}` lists them)"
        )
    clash = sorted(set(sweep_ids) & set(target.sweep_ids()))
    if clash:
        raise StoreError(
            f"{target.where}: holds sweep {clash[0]} already; nothing was copied. Fix: copy into another "
            "store, or leave that sweep out with --sweep for each of the others"
        )
    sweeps, runs, priors, metrics = (_TABLES.tables[name] for name in ("sweeps", "runs", "priors", "metrics"))
    run_ids = sa.select(runs.c.id).where(runs.c.sweep_id.in_(sweep_ids))
    chosen = [
        (sweeps, sa.select(sweeps).where(sweeps.c.id.in_(sweep_ids))),
        (runs, sa.select(runs).where(runs.c.sweep_id.in_(sweep_ids))),
        (priors, sa.select(priors).where(priors.c.sweep_id.in_(sweep_ids))),
        (metrics, sa.select(metrics).where(metrics.c.run_id.in_(run_ids))),
    ]  # in the order the keys refer
    counts = {}
    try:
        with target.transaction():
            for table, query in chosen:
                rows = [dict(row._mapping) for row in source.db.execute(query)]
                if rows:
                    target.db.execute(sa.insert(table), rows)
                counts[table.name] = len(rows)
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as err:
        raise target.explain(err) from None
    return len(sweep_ids), counts["runs"], counts["metrics"]
