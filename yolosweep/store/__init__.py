"""The local backend's store: sweeps, runs and per-epoch metrics in SQLite (`.yolosweep/sweeps.db`, the zero-set-up
default) or PostgreSQL (`--store postgresql://USER@HOST/DB`, agents on several machines), through one SQLAlchemy Core
layer. Its face: what the rest of the package uses."""

from yolosweep.store.copying import copy_sweeps
from yolosweep.store.database import LEASE_S, OUTAGE_S
from yolosweep.store.errors import PROVEN_ENV, StoreError, StoreFull, StoreUnreachable, explain_postgres
from yolosweep.store.host import boot_id, process_started
from yolosweep.store.location import default_location, home, is_postgres, masked
from yolosweep.store.records import Run
from yolosweep.store.schema import SCHEMA_VERSION
from yolosweep.store.store import Store, new_id

__all__ = [
    "LEASE_S",
    "OUTAGE_S",
    "PROVEN_ENV",
    "SCHEMA_VERSION",
    "Run",
    "Store",
    "StoreError",
    "StoreFull",
    "StoreUnreachable",
    "boot_id",
    "copy_sweeps",
    "default_location",
    "explain_postgres",
    "home",
    "is_postgres",
    "masked",
    "new_id",
    "process_started",
]
