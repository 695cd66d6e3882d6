"""One connection to a store, SQLite or PostgreSQL: opening it (for writing, or read-only), transactions that take
turns, waits through an outage, the disk reserve.

SQLite runs in WAL mode with a generous busy timeout, so several agents (and their runs) on one machine share one
file; writers take turns with BEGIN IMMEDIATE, and on PostgreSQL with a transaction-scoped advisory lock, the same
rule. SQL is written once for both (named parameters, SQL both speak; psycopg 3 for PostgreSQL)."""

from __future__ import annotations

import errno
import functools
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from yolosweep.invocation import command, create_hint
from yolosweep.store.errors import (
    PROVEN_ENV,
    OlderSchema,
    StoreError,
    StoreUnreachable,
    explain,
    explain_postgres,
    unreachable,
)
from yolosweep.store.host import network_filesystem
from yolosweep.store.location import default_location, home, is_postgres, masked
from yolosweep.store.schema import ADDED_COLUMNS, SCHEMA_VERSION, TABLES

LEASE_S = 60.0  # a running run's agent beats every lease/6 s: 5 missed beats before anyone marks it crashed
OUTAGE_S = (
    300.0  # how long agents and runs wait for an unreachable PostgreSQL (a restart, a network cut) before giving up
)
T = TypeVar("T")
D = TypeVar("D", bound="Database")

# Every writer on PostgreSQL takes this transaction-scoped advisory lock first: one writer at a time, as in SQLite.
_WRITE_LOCK = 0x59_4F_4C_4F  # "YOLO"


RESERVE_BYTES = 1 << 20  # freed when the store's disk is full, so a run can still be marked ended


def _no_sweeps() -> str:
    return f"no local sweeps here. Fix: {create_hint()}, or set YOLOSWEEP_HOME"


def translated(method: Callable[..., Any]) -> Callable[..., Any]:
    """Database errors leave the store as StoreError, one line with a fix, never a traceback; a PostgreSQL server
    out of reach is waited for (Store.retrying), except inside a caller's transaction, which is retried whole."""

    @functools.wraps(method)
    def wrapper(self: Database, *args: Any, **kwargs: Any) -> Any:
        def once() -> Any:
            try:
                return method(self, *args, **kwargs)
            except (sa.exc.SQLAlchemyError, sqlite3.Error) as err:
                raise self.explain(err) from None

        return once() if self._in_transaction else self.retrying(once)

    return wrapper


class Database:
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
            return unreachable(self.where, " ".join(str(err).split()))
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
    def read_only(cls: type[D], location: str | Path | None = None, upgrade: bool = False) -> D:
        """The store opened for reading (status, analysis, the dashboard): no migration, no reserve, no write; a
        store of an older schema is refused, or with `upgrade` upgraded in place first (the one write), as any
        command did before. `Store(...)` is the writer.

        A WAL-mode store needs its -shm file to be read; on a read-only mount (an archived sweep on a
        share) SQLite cannot create it and fails "unable to open database file". There no process can
        be writing, so the file is read as immutable: measured, mode=ro fails and immutable=1 reads.
        """
        try:
            return cls._reader(location)
        except OlderSchema:
            if not upgrade:
                raise
            return cls(location, create=False)

    @classmethod
    def _reader(cls: type[D], location: str | Path | None) -> D:
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

    def _migrate(self) -> None:
        with self.transaction():
            TABLES.create_all(self.db)  # the tables missing; existing ones are left as they are
            row = self._sql("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._sql("INSERT INTO meta VALUES ('schema_version', :v)", {"v": str(SCHEMA_VERSION)})
            elif int(row[0]) < SCHEMA_VERSION:  # older stores lack tables (created above) and columns
                inspector = sa.inspect(self.db)
                for _version, table, column, kind in ADDED_COLUMNS:
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
