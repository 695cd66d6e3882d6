"""Is a running run still alive: heartbeats and leases across hosts (the store's clock), PIDs with their start
times and the boot id on this one. A run whose process or host is gone is marked crashed, naming why."""

from __future__ import annotations

import socket
import time

from yolosweep.states import EndedBy, RunState
from yolosweep.store.database import Database, translated
from yolosweep.store.host import boot_id, process_alive


class Liveness(Database):
    """The liveness rules of a store's running runs."""

    def now(self) -> float:
        """The store's clock (PostgreSQL: the server's), so heartbeats from machines whose clocks differ compare."""
        if self.postgres:
            return float(self._sql("SELECT EXTRACT(EPOCH FROM clock_timestamp())").scalar_one())
        return time.time()

    @translated
    def heartbeat(self, run_id: str) -> None:
        """The run's agent is alive: its lease starts again."""
        self._sql(
            "UPDATE runs SET heartbeat=:beat WHERE id=:id AND state='running'", {"beat": self.now(), "id": run_id}
        )

    @translated
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

    @translated
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

    @translated
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
                    process_alive(p, started) for p, started in ((pid, pid_started), (agent_pid, agent_started)) if p
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
