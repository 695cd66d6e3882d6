"""The local agent's view of a program that logs only with `wandb.log`: its offline log, fed into the store.

train_sweep.py writes each epoch to the store itself (sink.py). Any other W&B sweep program (`wandb.init()`,
read `wandb.config`, train, `wandb.log`) writes only its offline run, so without this the store saw 0 epochs
and no summary: bayes learned nothing and Hyperband stopped nothing, silently. The feed reads the run's
`.wandb` log as it grows (tracking.read_offline_run) and writes each history row as a store row, and at
the end the summary by W&B's rule: each key's last logged value, unless the program set it.

Who writes a run's rows is decided once, from the program's own behaviour: a program with a store sink
writes its first row right after logging it, before its second; so if the log holds two rows that carry
the metric (one, once the program has exited) and the store still holds none, the program has no sink and
the feed takes over (from row one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yolosweep.run.tracking import read_offline_run
from yolosweep.store import Store

# wandb-core writes the .wandb log every 15 s by default (its x_transaction_log_flush_interval): measured, a 4-s
# run's log held only its 7-byte header until it finished. Each second, as the agent polls, instead.
LOG_FLUSH = ("WANDB__TRANSACTION_LOG_FLUSH_INTERVAL", "1")


class OfflineLogFeed:
    def __init__(self, store: Store, sweep_id: str, run_id: str, wandb_dir: Path, metric: str | None):
        self.store, self.sweep_id, self.run_id, self.wandb_dir, self.metric = store, sweep_id, run_id, wandb_dir, metric
        self.fed = 0  # history rows written to the store
        self.owner: bool | None = None  # None: not decided yet; False: the program writes the store itself
        self.summary: dict[str, Any] = {}

    def _read(self) -> Any:
        found = sorted(self.wandb_dir.glob(f"offline-run-*-{self.run_id}"))
        if not found:
            return None
        try:
            return read_offline_run(found[-1])
        except Exception:
            return None

    def poll(self, final: bool = False) -> None:
        """Write the rows logged since the last poll (the whole log is read again: fine for a sweep program's
        rows, linear in them). `final`: the program has exited, so one row is enough to decide who writes."""
        if self.owner is False:
            return
        run = self._read()
        if run is None:
            return
        rows = [{k: v for k, v in row.items() if not k.startswith("_")} for row in run.history]
        if self.owner is None:
            with_metric = [r for r in rows if self.metric is None or self.metric in r]
            if len(with_metric) < (1 if final else 2):
                return
            self.owner = self.store.epoch_counts(self.sweep_id).get(self.run_id, 0) == 0
            if not self.owner:
                return
        last: dict[str, Any] = {}
        for row in rows:
            last.update(row)
        # W&B's rule: each key's last logged value, unless the program set the summary itself.
        self.summary = {k: v for k, v in {**last, **run.summary}.items() if not k.startswith("_")}
        for index, row in enumerate(rows[self.fed :], start=self.fed + 1):  # row k of the history is store row k
            self.store.log_epoch(self.run_id, index, row, self.summary)
        self.fed = len(rows)
