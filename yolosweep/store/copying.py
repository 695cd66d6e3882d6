"""`yolosweep store copy`: sweeps with their runs, priors and metrics from one store to another."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa

from yolosweep.store.errors import StoreError
from yolosweep.store.schema import TABLES
from yolosweep.store.store import Store


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
    sweeps, runs, priors, metrics = (TABLES.tables[name] for name in ("sweeps", "runs", "priors", "metrics"))
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
