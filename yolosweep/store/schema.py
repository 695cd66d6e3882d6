"""The store's tables and their history: the schema version, the tables, and the columns each version added
(upgraded in place)."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 7  # 2: priors; 3: ended_by, and process identity (boot id, start times) for crash marking;
# 4: priors.kind ('prior', or 'noise': the first prior again with another seed, to measure the seed spread);
# 5: sweeps.verified (the winner retrained with several seeds: train_best_config.py --top K --seeds S);
# 6: runs.heartbeat and runs.lease (agents on several machines: a run whose agent stops answering is crashed);
# 7: sweeps.state (paused, finished, canceled: `yolosweep sweep --pause ID`) and runs.stop_requested (stop one run)

TABLES = sa.MetaData()
sa.Table("meta", TABLES, sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text, nullable=False))
sa.Table(
    "sweeps",
    TABLES,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("verified", sa.Text),
    sa.Column("state", sa.Text, nullable=False, server_default="running"),
)
sa.Table(
    "runs",
    TABLES,
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
    TABLES,
    sa.Column("sweep_id", sa.Text, sa.ForeignKey("sweeps.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id")),
    sa.Column("kind", sa.Text, nullable=False, server_default="prior"),
)
sa.Table(
    "metrics",
    TABLES,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True),
    sa.Column("metrics", sa.Text, nullable=False),
)
# Columns later schema versions added to existing tables: (version, table, column, type); added where missing.
ADDED_COLUMNS = [
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
