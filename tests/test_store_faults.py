"""The store under damage: a corrupt or truncated file, a full or read-only disk, an unusable
YOLOSWEEP_HOME, runs orphaned across reboots and PID namespaces. One line with a fix, exit non-zero,
the damaged file untouched, no run left `running`. Real SQLite files, real tmpfs mounts, real processes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from yolosweep.store import SCHEMA_VERSION, Store, StoreError, boot_id, process_started

from .conftest import REPO
from .test_local_backend import agent, create, curve_sweep, store_runs, yolosweep


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "Fix:" in line
    return line


def _store_with_a_finished_sweep(tmp_path: Path, env: dict[str, str]) -> tuple[str, Path]:
    sweep_id = create(curve_sweep(tmp_path, "grid", [0.2, 0.4, 0.6], epochs=3, epoch_s=0.0), env, tmp_path)
    agent(sweep_id, env, tmp_path).communicate(timeout=180)
    db = Path(env["YOLOSWEEP_HOME"]) / "sweeps.db"
    conn = sqlite3.connect(db)  # fold the WAL into the file, so damage to the file is damage to the data
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sweep_id, db


@pytest.mark.integration
@pytest.mark.parametrize(
    "damage, words",
    [
        ("header", "file is not a database"),
        ("pages", "malformed"),
        ("truncated", "malformed"),
    ],
)
def test_a_damaged_store_is_named_with_a_fix_and_left_untouched(tmp_path, home_env, damage, words):
    sweep_id, db = _store_with_a_finished_sweep(tmp_path, home_env)
    data = bytearray(db.read_bytes())
    page = 4096
    if damage == "header":
        data[:100] = os.urandom(100)
    elif damage == "pages":
        for start in range(page, len(data), page):
            data[start : start + 64] = b"\xff" * 64
    else:
        data = data[: len(data) // 2 + 100]
    db.write_bytes(bytes(data))
    before = _digest(db)
    for command in (["status", sweep_id], ["agent", sweep_id]):
        line = _one_line_error(yolosweep(command, home_env, tmp_path))
        assert words in line and "damaged" in line and ".recover" in line and str(db) in line
    assert _digest(db) == before  # never overwritten or "repaired" in place


@pytest.mark.integration
def test_yolosweep_home_that_is_a_file_or_not_writable_is_one_line(tmp_path, home_env, tmpfs):
    path = curve_sweep(tmp_path, "random", [0.5], epochs=1, epoch_s=0.0)
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder")
    line = _one_line_error(yolosweep(["sweep", str(path)], {**home_env, "YOLOSWEEP_HOME": str(a_file)}, tmp_path))
    assert "is a file, not a folder" in line
    read_only = tmpfs("ro,size=1m")
    for home in (read_only, read_only / "below"):
        line = _one_line_error(yolosweep(["sweep", str(path)], {**home_env, "YOLOSWEEP_HOME": str(home)}, tmp_path))
        assert "cannot write the store" in line and "YOLOSWEEP_HOME" in line


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError:
            pass


@pytest.mark.integration
def test_the_store_disk_filling_mid_run_fails_the_run_and_stops_the_agent_in_one_line(tmp_path, home_env, tmpfs):
    disk = tmpfs("size=3m")
    env = {**home_env, "YOLOSWEEP_HOME": str(disk / "home")}
    sweep_id = create(curve_sweep(tmp_path, "grid", [0.3, 0.6], epochs=40, epoch_s=0.2), env, tmp_path)
    proc = agent(sweep_id, env, tmp_path)
    deadline = time.time() + 90
    while not any(run.history for run in store_runs(env, sweep_id)):
        assert time.time() < deadline and proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    _fill(disk)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "Traceback" not in out, out
    assert "disk full while writing the store" in out.strip().splitlines()[-1]
    (run,) = store_runs(env, sweep_id)
    assert run.state == "failed" and run.reason.startswith(f"{disk / 'home' / 'sweeps.db'}: disk full"), out[-4000:]
    assert run.history  # the epochs logged before the disk filled are kept


def _running_row(
    store: Store,
    sweep_id: str,
    run_id: str,
    *,
    pid: int,
    pid_started: str | None,
    host: str | None = None,
    boot: str | None = None,
) -> None:
    with store.transaction():
        store.add_run(sweep_id, run_id, {})
        store.db.exec_driver_sql(
            "UPDATE runs SET pid=?, pid_started=?, agent_pid=NULL, host=COALESCE(?, host), "
            "boot_id=COALESCE(?, boot_id) WHERE id=?",
            (pid, pid_started, host, boot, run_id),
        )


def test_a_run_orphaned_across_pid_namespaces_or_reboots_is_marked_crashed_and_a_live_one_is_not(tmp_path):
    store = Store(tmp_path / "sweeps.db")
    sweep_id = store.create_sweep({"method": "random", "parameters": {"a": {"values": [1]}}})
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # A PID now used by another process (as after a container restart: PIDs start again at 1).
        _running_row(store, sweep_id, "reused", pid=live.pid, pid_started=str(int(process_started(live.pid)) - 1))
        _running_row(
            store, sweep_id, "rebooted", pid=live.pid, pid_started=process_started(live.pid), boot="another-boot"
        )
        _running_row(store, sweep_id, "alive", pid=live.pid, pid_started=process_started(live.pid))
        _running_row(
            store, sweep_id, "elsewhere", pid=live.pid + 10**6, pid_started="1", host=socket.gethostname() + "-other"
        )
        assert sorted(store.mark_crashed(sweep_id)) == ["rebooted", "reused"]
        states = {r.id: (r.state, r.reason) for r in store.runs(sweep_id)}
        assert states["alive"][0] == "running" and states["elsewhere"][0] == "running"
        assert "container" in states["reused"][1] and "machine restarted" in states["rebooted"][1]
    finally:
        live.kill()
        live.wait()
    assert boot_id()  # Linux: the boot id is what tells a reboot


def test_a_version_2_store_is_upgraded_in_place_with_ended_by_and_the_process_columns(tmp_path):
    db = tmp_path / "sweeps.db"
    store = Store(db)
    sweep_id = store.create_sweep({"method": "random", "parameters": {"a": {"values": [1]}}})
    with store.transaction():
        store.add_run(sweep_id, "old00001", {"a": 1})
    store.close()
    with sqlite3.connect(db) as conn:  # make it what version 2 wrote: no process-identity columns, no prior kinds
        for column in ("ended_by", "boot_id", "agent_started", "pid_started", "heartbeat", "lease"):
            conn.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        conn.execute("ALTER TABLE priors DROP COLUMN kind")
        conn.execute("ALTER TABLE sweeps DROP COLUMN verified")
        conn.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    upgraded = Store(db)
    (run,) = upgraded.runs(sweep_id)
    assert run.id == "old00001"
    assert upgraded.db.exec_driver_sql("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    assert {"ended_by", "boot_id", "pid_started", "heartbeat", "lease"} <= {
        row[1] for row in upgraded.db.exec_driver_sql("PRAGMA table_info(runs)")
    }
    assert "kind" in {row[1] for row in upgraded.db.exec_driver_sql("PRAGMA table_info(priors)")}
    assert upgraded.verified(sweep_id) is None
    assert run.ended_by == "" and run.state == "running" and run.origin == "search"


@pytest.mark.integration
def test_a_store_on_a_read_only_mount_is_read_and_only_a_writer_is_refused(tmp_path, home_env, tmpfs):
    """An archived sweep on a read-only share: status, the analysis and the dashboard read it; an agent,
    which must write, gets one line."""
    disk = tmpfs("size=8m")
    env = {**home_env, "YOLOSWEEP_HOME": str(disk / "home")}
    sweep_id, db = _store_with_a_finished_sweep(tmp_path, env)
    before = _digest(db)
    remounted = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True)
    if remounted.returncode != 0:
        pytest.skip(f"cannot remount read-only here ({remounted.stderr.strip()})")
    status = yolosweep(["status", sweep_id], env, tmp_path)
    assert status.returncode == 0 and "3 finished" in status.stdout, status.stdout + status.stderr
    analysed = subprocess.run(
        [sys.executable, str(REPO / "analyze_sweep.py"), sweep_id, "--out", str(tmp_path / "report")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert analysed.returncode == 0 and (tmp_path / "report" / "best_config.yaml").exists(), analysed.stderr[-2000:]
    from yolosweep.results.dashboard import Dashboard

    assert len(Dashboard(db, sweep_id).snapshot()["runs"]) == 3
    line = _one_line_error(yolosweep(["agent", sweep_id], env, tmp_path))
    assert str(db) in line and "YOLOSWEEP_HOME" in line
    assert _digest(db) == before


@pytest.mark.integration
def test_a_real_sweep_on_one_small_full_disk_ends_every_run_with_one_line(tmp_path, home_env, demo_data, tmpfs):
    """The default layout: store, runs/ and wandb/ on one disk, too small for a checkpoint."""
    from .conftest import shipped_sweep_yaml

    disk = tmpfs("size=4m")
    env = {**home_env, "YOLOSWEEP_HOME": str(disk / ".yolosweep"), "WANDB_DIR": str(disk)}
    path = shipped_sweep_yaml(tmp_path, "grid", keep_swept=False, project={"value": str(disk / "runs")})
    sweep_id = create(
        path,
        env,
        tmp_path,
        "--data",
        str(demo_data),
        "--epochs",
        "1",
        "--imgsz",
        "32",
        "--batch",
        "16",
        "--model",
        "yolo11n.yaml",
        "--device",
        "cpu",
    )
    proc = agent(sweep_id, env, tmp_path, "--count", "2")
    out, _ = proc.communicate(timeout=300)
    assert "Traceback" not in out, out[-4000:]
    runs = store_runs(env, sweep_id)
    assert runs and all(run.state == "failed" and "disk full" in run.reason and "Fix:" in run.reason for run in runs), (
        out[-3000:]
    )
    if proc.returncode != 0:
        assert proc.returncode == 2 and "disk full while writing the store" in out.strip().splitlines()[-1]


def test_sqlite_on_a_network_file_system_is_refused_for_writers_and_read_for_readers(tmp_path, monkeypatch):
    """SQLite's locks do not hold on NFS and its kin (#27): the mount type of the store's folder decides."""
    import yolosweep.store.host as store_module

    store = Store(tmp_path / "home" / "sweeps.db")  # a local disk: fine
    sweep_id = store.create_sweep({"method": "random", "parameters": {}})
    store.close()
    mounts = tmp_path / "mountinfo"
    mounts.write_text(
        "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
        "27 1 8:1 / / rw,relatime - ext4 /dev/vda rw\n"
        f"90 27 0:50 / {tmp_path / 'home'} rw,relatime - nfs4 fileserver:/export/home rw,vers=4.2\n"
    )
    monkeypatch.setattr(store_module, "MOUNTINFO", mounts)
    assert store_module.network_filesystem(tmp_path / "home") == f"nfs4 at {tmp_path / 'home'}"
    assert store_module.network_filesystem(tmp_path) is None  # the mount above it is ext4
    with pytest.raises(
        StoreError, match=r"SQLite on a network file system \(nfs4 at .*\) is unsafe .* Fix: .*postgresql://"
    ):
        Store(tmp_path / "home" / "sweeps.db")
    assert Store.read_only(tmp_path / "home" / "sweeps.db").sweep_ids() == [sweep_id]  # an archive there is still read
