"""An agent's heartbeat for its run, from a thread and a connection of its own.

Agents on other hosts mark a run crashed when its heartbeat is older than its lease (Store.expire_leases). Beaten
from the agent's main loop, a beat waited on whatever that loop was doing: a suggestion under the store's write
lock, Hyperband's check, a busy CPU while the run's child imports torch; live runs were called dead 10 s into a
sweep. Here the beat waits on nothing but the store, and starts the moment the run's row exists. Each beat opens
a connection of its own for its one statement and closes it: an agent holds one connection between beats, so
a server's connections go to agents, not to their heartbeats.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from yolosweep.store import Store


class Heartbeat:
    """Beats every lease/6 s for the run set with `follow`, on a short connection to `store`'s PostgreSQL server."""

    def __init__(self, store: Store):
        self.interval = store.lease / 6  # five beats may be missed before the lease lapses
        self._engine = store.engine  # thread-safe; without a pool, each connect is a new connection
        self._run_id: str | None = None
        self._lock = threading.Lock()
        self._wake, self._done = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="yolosweep-heartbeat", daemon=True)
        self._thread.start()

    def follow(self, run_id: str | None) -> None:
        """Beat for `run_id` from now on (at once), or for no run."""
        with self._lock:
            self._run_id = run_id
        self._wake.set()

    def close(self) -> None:
        self._done.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._done.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                run_id = self._run_id
            if run_id is None or self._done.is_set():
                continue
            try:
                with self._engine.connect() as db:  # the server's clock, as every lease is judged by
                    db.execute(
                        sa.text(
                            "UPDATE runs SET heartbeat=EXTRACT(EPOCH FROM clock_timestamp()) "
                            "WHERE id=:id AND state='running'"
                        ),
                        {"id": run_id},
                    )
            except sa.exc.SQLAlchemyError:
                pass  # out of reach: the main loop meets the same store, waits for it and says so
