"""The store on a real PostgreSQL server (#27): the same store as SQLite, chosen by a URL, shared by agents.

The server is a throwaway cluster the `postgres_server` fixture makes with initdb and starts as an unprivileged
user, reached over TCP with a password, as a lab's server would be.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from yolosweep.states import RunState
from yolosweep.store import SCHEMA_VERSION, Store, StoreError, StoreUnreachable

from .conftest import REPO, PostgresServer

CURVE = REPO / "tests" / "programs" / "curve.py"
pytestmark = pytest.mark.integration  # each test needs the server the fixture starts


def _yolosweep(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yolosweep", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_the_store_on_postgresql_keeps_what_sqlite_keeps_and_a_reader_cannot_write(pg_url):
    store = Store(pg_url)
    sweep_id = store.create_sweep({"method": "grid", "parameters": {}}, [{"lr0": 0.01}], [{"lr0": 0.01, "seed": 1}])
    with store.transaction():
        assert store.add_prior_run(sweep_id, "run00001") == ({"lr0": 0.01}, "prior")
    store.log_epoch("run00001", 1, {"epoch": 1, "m": 0.1}, {"m": 0.1})
    store.log_epoch("run00001", 1, {"epoch": 1, "m": 0.2}, {"m": 0.2})  # an epoch logged again replaces the row
    store.log_epoch("run00001", 2, {"epoch": 2, "m": 0.3}, {"m": 0.3})
    assert store.latest_epochs(sweep_id) == {"run00001": (2, {"epoch": 2, "m": 0.3})}
    store.end_run("run00001", RunState.FINISHED, summary={"m": 0.3})
    store.end_run("run00001", RunState.CRASHED, "late")  # ended once: a later end changes nothing
    store.close()

    reader = Store.read_only(pg_url)
    (run,) = reader.runs(sweep_id)
    assert (run.state, run.origin, run.summary, [r["m"] for r in run.history]) == (RunState.FINISHED, "prior", {"m": 0.3}, [0.2, 0.3])
    assert reader.epoch_counts(sweep_id) == {"run00001": 2} and reader.sweep_ids() == [sweep_id]
    with pytest.raises(StoreError, match="read-only transaction"):
        reader.record_verified(sweep_id, {"x": 1})
    assert "s3cret" not in reader.where and "***" in reader.where
    reader.close()


def _grid_sweep(folder: Path, points: int, run_cap: int) -> Path:
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump({
        "program": str(CURVE), "method": "grid", "run_cap": run_cap,
        "metric": {"name": "metrics/mAP50(B)", "goal": "maximize"},
        "parameters": {"quality": {"values": [round(0.05 * i, 2) for i in range(1, points + 1)]},
                       "epochs": {"value": 2}, "epoch_s": {"value": 0.05}}}))
    return path


def test_eight_agents_on_one_postgresql_store_never_run_a_configuration_twice_and_hold_run_cap(tmp_path, offline_env, pg_url):
    created = _yolosweep(["sweep", str(_grid_sweep(tmp_path, points=12, run_cap=10)), "--store", pg_url], offline_env, tmp_path)
    assert created.returncode == 0, created.stderr
    sweep_id = created.stdout.split("created local sweep ", 1)[1].split()[0]
    assert f"--store postgresql://yolosweep:***@" in created.stdout and "s3cret" not in created.stdout + created.stderr
    agents = [subprocess.Popen([sys.executable, "-m", "yolosweep", "agent", sweep_id, "--store", pg_url], env=offline_env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(8)]
    outputs = [a.communicate(timeout=400)[0] for a in agents]
    assert all(a.returncode == 0 for a in agents), outputs
    assert not any("s3cret" in out for out in outputs)

    store = Store.read_only(pg_url)
    runs = store.runs(sweep_id)
    store.close()
    assert len(runs) == 10, [r.params for r in runs]  # run_cap: 10 of the grid's 12
    assert len({r.params["quality"] for r in runs}) == 10  # no configuration twice
    assert {r.state for r in runs} == {RunState.FINISHED} and all(len(r.history) == 2 for r in runs)
    status = _yolosweep(["status", sweep_id, "--store", pg_url], offline_env, tmp_path)
    assert status.returncode == 0 and status.stdout.count(" finished ") == 10, status.stdout + status.stderr


@pytest.mark.parametrize("case, words", [
    ("password", "password authentication failed"),
    ("database", 'database "nowhere" does not exist'),
    ("host", "correct the host in the URL"),
    ("port", "PostgreSQL unreachable"),
    ("newer", f"this yolosweep reads version {SCHEMA_VERSION}"),
])
def test_a_bad_postgresql_store_is_one_line_with_a_fix_and_nothing_written(tmp_path, offline_env, postgres_server, case, words):
    server: PostgresServer = postgres_server
    url = {"password": server.url().replace(server.PASSWORD, "wrong-pass"), "database": server.url("nowhere"),
           "host": "postgresql://yolosweep:wrong-pass@no-such-host.invalid/db",
           "port": f"postgresql://yolosweep:wrong-pass@127.0.0.1:{server.port + 1}/db"}.get(case)
    if case == "newer":
        url = server.new_database()
        store = Store(url)
        store.db.exec_driver_sql("UPDATE meta SET value='99' WHERE key='schema_version'")
        store.close()
    for command in (["status"], ["sweep", str(_grid_sweep(tmp_path, 2, 2))]):
        done = _yolosweep([*command, "--store", url], offline_env, tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert words in line and "Fix:" in line and "wrong-pass" not in line and server.PASSWORD not in line, line
    if case == "newer":  # the refusals wrote nothing: the database still says 99
        with pytest.raises(StoreError, match="schema version 99"):
            Store.read_only(url)


def test_an_unreachable_server_is_told_apart_from_a_wrong_url(postgres_server):
    with pytest.raises(StoreUnreachable):
        Store(f"postgresql://yolosweep@127.0.0.1:{postgres_server.port + 1}/db")
    with pytest.raises(StoreError) as wrong:
        Store(postgres_server.url("nowhere"))
    assert not isinstance(wrong.value, StoreUnreachable)
