"""Controlling a running sweep as a W&B user does (#42): `yolosweep sweep --pause/--resume/--stop/--cancel ID` with
`wandb sweep`'s meanings, and stopping one run; real agents, real runs, SQLite and PostgreSQL across two hosts."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from yolosweep.states import EndedBy, RunState, SweepState
from yolosweep.store import Store

from .test_local_backend import agent, create, curve_sweep, store_runs
from .test_postgres import _on_host, hosts  # noqa: F401 (the fixture)
from .waiting import wait_for


def _yolosweep(env: dict[str, str], cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "yolosweep", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_a_sweeps_state_follows_wandbs_control_and_a_finished_one_stays_finished(tmp_path):
    store = Store(tmp_path / "sweeps.db")
    sweep_id = store.create_sweep({"program": "p.py", "method": "random", "parameters": {"x": {"values": [1]}}})
    assert store.sweep_state(sweep_id) is SweepState.RUNNING
    assert store.set_sweep_state(sweep_id, SweepState.PAUSED) is SweepState.RUNNING
    assert store.set_sweep_state(sweep_id, SweepState.RUNNING) is SweepState.PAUSED
    store.set_sweep_state(sweep_id, SweepState.FINISHED)
    assert store.set_sweep_state(sweep_id, SweepState.RUNNING) is SweepState.FINISHED
    assert store.sweep_state(sweep_id) is SweepState.FINISHED  # as on W&B: a stopped sweep is not resumed
    with store.transaction():
        store.add_run(sweep_id, "run00001", {"x": 1})
    assert store.control(sweep_id, "run00001") == (SweepState.FINISHED, None)
    assert store.request_stop("run00001", "stopped by the user").id == "run00001"
    assert store.control(sweep_id, "run00001")[1] == "stopped by the user"
    store.end_run("run00001", RunState.STOPPED)
    assert store.request_stop("run00001", "again") is None  # not running: nothing to stop


@pytest.mark.integration
def test_pause_resume_stop_one_run_and_cancel_a_local_sweep(tmp_path, home_env):
    sweep_id = create(curve_sweep(tmp_path, "grid", [0.2, 0.4, 0.6, 0.8], epochs=200, epoch_s=0.1), home_env, tmp_path)
    runner = agent(sweep_id, home_env, tmp_path)
    first = wait_for(lambda: [r for r in store_runs(home_env, sweep_id) if len(r.history) >= 2], what="a first run")[0]
    paused = _yolosweep(home_env, tmp_path, "sweep", "--pause", sweep_id)
    assert paused.returncode == 0 and "paused" in paused.stdout, paused.stderr
    stopped = _yolosweep(home_env, tmp_path, "stop-run", first.id)
    assert stopped.returncode == 0, stopped.stderr
    wait_for(
        lambda: next(r for r in store_runs(home_env, sweep_id) if r.id == first.id).state is RunState.STOPPED,
        what="the stopped run to end",
    )
    time.sleep(3)  # paused: no new run in three polls
    runs = store_runs(home_env, sweep_id)
    assert len(runs) == 1 and runs[0].ended_by is EndedBy.USER and runs[0].reason == "stopped by the user"
    assert len(runs[0].history) >= 2  # its epochs kept
    assert _yolosweep(home_env, tmp_path, "status").stdout.splitlines()[0].endswith(": paused")
    assert _yolosweep(home_env, tmp_path, "sweep", "--resume", sweep_id).returncode == 0
    second = wait_for(
        lambda: [r for r in store_runs(home_env, sweep_id) if r.id != first.id and len(r.history) >= 2],
        what="a run after the resume",
    )[0]
    cancel = _yolosweep(home_env, tmp_path, "sweep", "--cancel", sweep_id)
    assert cancel.returncode == 0, cancel.stderr
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 0, out
    runs = store_runs(home_env, sweep_id)
    assert [r.id for r in runs] == [first.id, second.id]  # no run after the cancel
    assert runs[1].state is RunState.STOPPED and runs[1].ended_by is EndedBy.USER, (runs[1].state, runs[1].reason)
    assert f"sweep {sweep_id} is canceled: no new runs" in out
    again = _yolosweep(home_env, tmp_path, "sweep", "--resume", sweep_id)
    assert again.returncode == 2 and "already canceled" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.integration
@pytest.mark.usefixtures("hosts")
def test_stop_lets_running_runs_finish_and_cancel_reaches_every_host_on_postgresql(tmp_path, offline_env, pg_url):
    env = {**offline_env, "YOLOSWEEP_STORE": pg_url}
    sweep_id = create(curve_sweep(tmp_path, "random", [0.5], epochs=12, epoch_s=0.3), env, tmp_path)
    command = [sys.executable, "-m", "yolosweep", "agent", sweep_id, "--lease", "3"]
    agents = [
        subprocess.Popen(
            _on_host(host, command), env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for host in ("host-a", "host-b")
    ]
    store = Store.read_only(pg_url)
    try:
        wait_for(
            lambda: (
                {r.host for r in store.runs(sweep_id) if r.state is RunState.RUNNING and r.history}
                == {"host-a", "host-b"}
            ),
            what="a run training on each host",
        )
        assert _yolosweep(env, tmp_path, "sweep", "--stop", sweep_id).returncode == 0
        before = {r.id for r in store.runs(sweep_id)}  # a busy host may have ended a run and begun another
        outs = [a.communicate(timeout=120)[0] for a in agents]
        assert all(a.returncode == 0 for a in agents), outs
        runs = store.runs(sweep_id)
        assert {r.id for r in runs} == before  # nothing new after --stop
        assert {r.state for r in runs} == {RunState.FINISHED} and all(len(r.history) == 12 for r in runs)

        second = create(curve_sweep(tmp_path, "random", [0.5], epochs=200, epoch_s=0.2), env, tmp_path)
        agents = [
            subprocess.Popen(
                _on_host(host, [*command[:4], second, "--lease", "3"]),
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for host in ("host-a", "host-b")
        ]
        wait_for(lambda: len([r for r in store.runs(second) if len(r.history) >= 2]) == 2, what="two runs training")
        asked = time.time()
        assert _yolosweep(env, tmp_path, "sweep", "--cancel", second).returncode == 0
        outs = [a.communicate(timeout=120)[0] for a in agents]
        assert all(a.returncode == 0 for a in agents), outs
        runs = store.runs(second)
        assert {r.state for r in runs} == {RunState.STOPPED} and {r.ended_by for r in runs} == {EndedBy.USER}
        assert all(r.ended - asked < 15 for r in runs) and all(len(r.history) < 200 for r in runs)
    finally:
        store.close()
