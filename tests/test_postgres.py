"""The store on a real PostgreSQL server (#27): the same store as SQLite, chosen by a URL, shared by agents.

The server is a throwaway cluster the `postgres_server` fixture makes with initdb and starts as an unprivileged
user, reached over TCP with a password, as a lab's server would be.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from yolosweep.states import EndedBy, RunState
from yolosweep.store import SCHEMA_VERSION, Store, StoreError, StoreUnreachable

from .conftest import REPO, PostgresServer
from .test_dashboard import served_dashboard
from .waiting import wait_for

CURVE = REPO / "tests" / "programs" / "curve.py"
pytestmark = pytest.mark.integration  # each test needs the server the fixture starts


def _yolosweep(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "yolosweep", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def _on_host(name: str, command: list[str]) -> list[str]:
    """`command` in a UTS namespace of its own whose hostname is `name`: another machine, as the store tells hosts."""
    return ["unshare", "--uts", "--", "sh", "-c", f'hostname {name} && exec "$@"', "sh", *command]


@pytest.fixture
def hosts() -> None:
    probe = subprocess.run(_on_host("probe-host", ["hostname"]), capture_output=True, text=True)
    if probe.returncode != 0 or probe.stdout.strip() != "probe-host":
        pytest.skip(f"cannot give a process another hostname here (unshare --uts: {probe.stderr.strip()})")


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
    assert (run.state, run.origin, run.summary, [r["m"] for r in run.history]) == (
        RunState.FINISHED,
        "prior",
        {"m": 0.3},
        [0.2, 0.3],
    )
    assert reader.epoch_counts(sweep_id) == {"run00001": 2} and reader.sweep_ids() == [sweep_id]
    with pytest.raises(StoreError, match="read-only transaction"):
        reader.record_verified(sweep_id, {"x": 1})
    assert "s3cret" not in reader.where and "***" in reader.where
    reader.close()


def _grid_sweep(folder: Path, points: int, run_cap: int) -> Path:
    path = folder / "grid.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "program": str(CURVE),
                "method": "grid",
                "run_cap": run_cap,
                "metric": {"name": "metrics/mAP50(B)", "goal": "maximize"},
                "parameters": {
                    "quality": {"values": [round(0.05 * i, 2) for i in range(1, points + 1)]},
                    "epochs": {"value": 2},
                    "epoch_s": {"value": 0.05},
                },
            }
        )
    )
    return path


def test_eight_agents_on_three_hosts_never_run_a_configuration_twice_and_hold_run_cap(
    tmp_path, offline_env, pg_url, hosts
):
    created = _yolosweep(
        ["sweep", str(_grid_sweep(tmp_path, points=30, run_cap=20)), "--store", pg_url], offline_env, tmp_path
    )
    assert created.returncode == 0, created.stderr
    sweep_id = created.stdout.split("created local sweep ", 1)[1].split()[0]
    assert "--store postgresql://yolosweep:***@" in created.stdout and "s3cret" not in created.stdout + created.stderr
    command = [sys.executable, "-m", "yolosweep", "agent", sweep_id, "--store", pg_url, "--count", "3"]
    agents = [
        subprocess.Popen(
            _on_host(f"node{i % 3}", command),
            env=offline_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(8)
    ]
    outputs = [a.communicate(timeout=400)[0] for a in agents]
    assert all(a.returncode == 0 for a in agents), outputs
    assert not any("s3cret" in out for out in outputs)

    store = Store.read_only(pg_url)
    runs = store.runs(sweep_id)
    store.close()
    assert len(runs) == 20, [r.params for r in runs]  # run_cap: 20 of the 24 the agents' counts allow
    assert len({r.params["quality"] for r in runs}) == 20  # no configuration twice
    assert {r.host for r in runs} == {"node0", "node1", "node2"}
    assert {r.state for r in runs} == {RunState.FINISHED} and all(len(r.history) == 2 for r in runs)
    status = _yolosweep(["status", sweep_id, "--store", pg_url], offline_env, tmp_path)
    assert status.returncode == 0 and status.stdout.count(" finished ") == 20, status.stdout + status.stderr


@pytest.mark.parametrize(
    "case, words",
    [
        ("password", "password authentication failed"),
        ("database", 'database "nowhere" does not exist'),
        ("host", "correct the host in the URL"),
        ("port", "PostgreSQL unreachable"),
        ("newer", f"this yolosweep reads version {SCHEMA_VERSION}"),
    ],
)
def test_a_bad_postgresql_store_is_one_line_with_a_fix_and_nothing_written(
    tmp_path, offline_env, postgres_server, case, words
):
    server: PostgresServer = postgres_server
    url = {
        "password": server.url().replace(server.PASSWORD, "wrong-pass"),
        "database": server.url("nowhere"),
        "host": "postgresql://yolosweep:wrong-pass@no-such-host.invalid/db",
        "port": f"postgresql://yolosweep:wrong-pass@127.0.0.1:{server.port + 1}/db",
    }.get(case)
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


def _curve_sweep(folder: Path, epochs: int, epoch_s: float) -> Path:
    path = folder / "random.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "program": str(CURVE),
                "method": "random",
                "metric": {"name": "metrics/mAP50(B)", "goal": "maximize"},
                "parameters": {
                    "quality": {"min": 0.1, "max": 0.9},
                    "epochs": {"value": epochs},
                    "epoch_s": {"value": epoch_s},
                },
            }
        )
    )
    return path


def test_a_host_killed_mid_run_has_its_runs_crashed_within_the_lease_and_the_others_go_on(
    tmp_path, offline_env, pg_url, hosts
):
    import os
    import signal
    import time

    lease = 3.0
    created = _yolosweep(
        ["sweep", str(_curve_sweep(tmp_path, epochs=40, epoch_s=0.15)), "--store", pg_url], offline_env, tmp_path
    )
    sweep_id = created.stdout.split("created local sweep ", 1)[1].split()[0]

    def agents_on(host: str, n: int, *args: str) -> list[subprocess.Popen]:
        command = [
            sys.executable,
            "-m",
            "yolosweep",
            "agent",
            sweep_id,
            "--store",
            pg_url,
            "--lease",
            str(lease),
            *args,
        ]
        return [
            subprocess.Popen(
                _on_host(host, command),
                env=offline_env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            for _ in range(n)
        ]

    doomed = agents_on("gpu-a", 2)
    store = Store.read_only(pg_url)

    def runs_of(host: str) -> list:
        return [r for r in store.runs(sweep_id) if r.host == host]

    def training(host: str) -> set[str]:
        return {r.id for r in runs_of(host) if r.state is RunState.RUNNING and r.history}

    wait_for(lambda: len(training("gpu-a")) == 2, what="host gpu-a's agents training their runs")
    survivors = agents_on("gpu-b", 2, "--count", "2")
    # The survivors are up (they train) before the host dies: their start-up is not the lease's to cover.
    wait_for(lambda: training("gpu-b") and len(training("gpu-a")) == 2, what="both hosts training")
    live = training("gpu-a")
    for agent in doomed:  # every process of that host at once: agents, runs, their wandb services
        os.killpg(agent.pid, signal.SIGKILL)
    killed = time.time()
    outputs = [a.communicate(timeout=300)[0] for a in survivors]
    assert all(a.returncode == 0 for a in survivors), outputs

    gone = [r for r in runs_of("gpu-a") if r.id in live]  # runs gpu-a ended before its death stay finished
    assert {r.state for r in gone} == {RunState.CRASHED}, [(r.state, r.reason) for r in gone]
    assert all(
        r.reason.startswith("host gpu-a stopped answering at ") and r.ended_by is EndedBy.VANISHED for r in gone
    ), [(r.reason, r.ended_by) for r in gone]
    assert all(r.ended - killed < lease + 4 for r in gone), [
        r.ended - killed for r in gone
    ]  # within the lease (+ a beat)
    others = runs_of("gpu-b")
    assert len(others) == 4 and {r.state for r in others} == {RunState.FINISHED}
    assert any("of host gpu-a: its agent stopped answering" in out for out in outputs)
    store.close()


def test_a_postgresql_restarted_twice_mid_run_loses_no_epoch_and_crashes_no_run(tmp_path, offline_env, postgres_server):
    """Restarted twice within the same runs (#40): the second outage meets agents just back from the first."""
    import time

    url = postgres_server.new_database()
    created = _yolosweep(
        ["sweep", str(_curve_sweep(tmp_path, epochs=30, epoch_s=0.3)), "--store", url], offline_env, tmp_path
    )
    sweep_id = created.stdout.split("created local sweep ", 1)[1].split()[0]
    agents = [
        subprocess.Popen(
            [sys.executable, "-m", "yolosweep", "agent", sweep_id, "--store", url, "--count", "1"],
            env=offline_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    store = Store.read_only(url)
    wait_for(
        lambda: len(runs := store.runs(sweep_id)) == 2 and all(len(r.history) >= 3 for r in runs),
        what="two runs three epochs in",
    )
    store.close()
    for down in (6, 2):
        postgres_server.stop("fast")  # every connection cut mid-run, the server gone for a while
        time.sleep(down)
        postgres_server.start()
        time.sleep(1.5)  # the agents reconnect, the runs' kept epochs go in; then again
    outputs = [a.communicate(timeout=300)[0] for a in agents]
    assert all(a.returncode == 0 for a in agents), outputs
    assert any("reachable again" in out for out in outputs), outputs

    store = Store.read_only(url)
    runs = store.runs(sweep_id)
    store.close()
    assert len(runs) == 2 and {r.state for r in runs} == {RunState.FINISHED}, [(r.state, r.reason) for r in runs]
    assert all([row["epoch"] for row in r.history] == list(range(1, 31)) for r in runs)  # no epoch lost


def test_the_slurm_array_script_is_the_agent_and_its_time_limit_signal_stops_the_run_cleanly(
    tmp_path, offline_env, pg_url
):
    import signal

    created = _yolosweep(
        ["sweep", str(_curve_sweep(tmp_path, epochs=200, epoch_s=0.2)), "--store", pg_url], offline_env, tmp_path
    )
    sweep_id = created.stdout.split("created local sweep ", 1)[1].split()[0]
    env = {
        **offline_env,
        "YOLOSWEEP_STORE": pg_url,
        "SLURM_JOB_ID": "4242",
        "SLURM_ARRAY_TASK_ID": "3",
        "SLURM_SUBMIT_DIR": str(tmp_path),
        "PYTHON": sys.executable,
    }
    job = subprocess.Popen(
        ["bash", str(REPO / "examples" / "slurm" / "sweep_array.sbatch"), sweep_id],
        env=env,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    store = Store.read_only(pg_url)
    wait_for(lambda: (runs := store.runs(sweep_id)) and len(runs[0].history) >= 2, what="the run's second epoch")
    job.send_signal(signal.SIGTERM)  # what `--signal=B:TERM@120` sends the batch shell two minutes before the limit
    out, _ = job.communicate(timeout=120)
    (run,) = store.runs(sweep_id)
    store.close()
    assert job.returncode == 0, out[-3000:]
    assert run.state is RunState.STOPPED and run.ended_by is EndedBy.USER, (run.state, run.reason)
    assert (
        run.reason
        == "agent received SIGTERM (SLURM job 4242, array task 3: its time limit is near, or it was pre-empted)"
    )
    assert 2 <= len(run.history) < 200


def test_the_ssh_script_starts_one_agent_per_gpu_on_each_host(tmp_path, offline_env, pg_url, hosts):

    path = _curve_sweep(tmp_path, epochs=2, epoch_s=0.05)
    path.write_text(path.read_text() + "run_cap: 3\n")
    created = _yolosweep(["sweep", str(path), "--store", pg_url], offline_env, tmp_path)
    sweep_id = created.stdout.split("created local sweep ", 1)[1].split()[0]
    fake_ssh = tmp_path / "ssh"  # runs the remote command here, on a machine named as the host
    fake_ssh.write_text(
        '#!/bin/sh\n[ "$1" = "-n" ] && shift\nhost=$1; shift\nexec unshare --uts -- sh -c "hostname $host && $1"\n'
    )
    fake_ssh.chmod(0o755)
    env = {
        **offline_env,
        "YOLOSWEEP_STORE": pg_url,
        "SSH": str(fake_ssh),
        "PYTHON": sys.executable,
        "YOLOSWEEP_DIR": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(REPO / "examples" / "ssh" / "agents.sh"), sweep_id, "hostA:0,1", "hostB:0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.count("started an agent") == 3, done.stdout + done.stderr
    logs = [tmp_path / f"yolosweep-agent-{name}.log" for name in ("hostA-0", "hostA-1", "hostB-0")]
    wait_for(
        lambda: all(log.exists() and "run(s) done" in log.read_text() for log in logs),
        timeout=240,
        what="every agent's log to say it is done: " + repr([log.read_text()[-1500:] for log in logs if log.exists()]),
    )
    store = Store.read_only(pg_url)
    runs = store.runs(sweep_id)
    store.close()
    assert len(runs) == 3 and {r.state for r in runs} == {RunState.FINISHED}
    assert {r.host for r in runs} <= {"hostA", "hostB"}


def test_store_copy_moves_a_sweep_to_postgresql_and_back_with_the_same_runs_metrics_and_ranking(
    tmp_path, offline_env, pg_url
):
    from yolosweep.results.status import status_report

    laptop, back = tmp_path / "laptop" / "sweeps.db", tmp_path / "back" / "sweeps.db"
    created = _yolosweep(
        ["sweep", str(_grid_sweep(tmp_path, points=3, run_cap=3)), "--store", str(laptop)], offline_env, tmp_path
    )
    sweep_id = created.stdout.split("created local sweep ", 1)[1].split()[0]
    ran = _yolosweep(["agent", sweep_id, "--store", str(laptop)], offline_env, tmp_path, timeout=300)
    assert ran.returncode == 0, ran.stdout[-2000:]
    for source, target in ((laptop, pg_url), (pg_url, back)):
        done = _yolosweep(["store", "copy", str(source), str(target)], offline_env, tmp_path)
        assert done.returncode == 0 and "copied 1 sweep(s), 3 runs and 6 epochs" in done.stdout, (
            done.stdout + done.stderr
        )
        assert "s3cret" not in done.stdout + done.stderr

    def seen(location) -> tuple[list, list[str]]:
        store = Store.read_only(location)
        try:
            runs = [
                (r.id, r.params, r.state, r.summary, r.history, r.ended_by, r.created) for r in store.runs(sweep_id)
            ]
            return runs, status_report(store, sweep_id)[1:]  # the ranking, below the line naming the store
        finally:
            store.close()

    assert seen(laptop) == seen(pg_url) == seen(back)

    def page(location) -> dict:
        """The dashboard's data, served from `location` as a person on any machine opens it."""
        with (
            served_dashboard([sweep_id, "--store", str(location)], offline_env, tmp_path) as board,
            urllib.request.urlopen(board.url + "api/sweep", timeout=30) as response,
        ):
            data = json.loads(response.read())
        assert "s3cret" not in board.output + json.dumps(data)
        assert len(data["runs"]) == 3
        data.pop("source")  # the store's name
        return data

    assert page(pg_url) == page(laptop)  # the dashboard on the shared server shows what it shows on the laptop
    again = _yolosweep(["store", "copy", str(laptop), pg_url], offline_env, tmp_path)
    assert again.returncode == 2 and f"holds sweep {sweep_id} already; nothing was copied. Fix:" in again.stderr
