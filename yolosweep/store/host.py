"""Facts about this host the store's rules rest on: network file systems (SQLite's locks do not hold there), the
boot id and process start times (is a run's process still the one its agent started)."""

from __future__ import annotations

import os
from pathlib import Path

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


def process_alive(pid: int, started: str | None = None) -> bool:
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
