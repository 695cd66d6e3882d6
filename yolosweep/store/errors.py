"""What a store's failures become: one line with a fix (StoreError and its kinds), told apart by SQLSTATE on
PostgreSQL, never by the server's words."""

from __future__ import annotations

import errno
from pathlib import Path


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


def unreachable(where: str, text: str) -> StoreUnreachable:
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
        return unreachable(where, f"{sqlstate}: {text}")
    connecting = sqlstate is None and type(err).__name__ == "OperationalError"
    if connecting and proven:
        return unreachable(where, text)
    if "password authentication failed" in low or "no password supplied" in low or sqlstate == "28P01":
        fix = "put the right password in ~/.pgpass or PGPASSWORD (a password in the URL shows in `ps`)"
    elif ("role" in low and "does not exist" in low) or sqlstate == "28000":
        fix = "create that user on the server (`createuser NAME`) or correct the user in the URL"
    elif ("database" in low and "does not exist" in low) or sqlstate == "3D000":
        fix = "create the database on the server (`createdb NAME`) or correct its name in the URL"
    elif "translate host name" in low or "failed to resolve host" in low or "name or service not known" in low:
        fix = "correct the host in the URL"
    elif any(words in low for words in _UNREACHABLE_WORDS):
        return unreachable(where, text)
    elif "read-only" in low or sqlstate == "25006":
        fix = "this command only reads; writing needs a normal session"
    else:
        fix = "check the server's log and the URL"
    return StoreError(f"{where}: PostgreSQL: {text}. Fix: {fix}")
