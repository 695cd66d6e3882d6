"""Where the store is: the workspace folder, the default SQLite file, a PostgreSQL URL, and how messages show it."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


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
