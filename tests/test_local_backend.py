"""The embedded backend: real SQLite, real agent processes, real signals, W&B's own engine."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sweeps
import yaml

from yolosweep.agent.engine import engine_runs
from yolosweep.run.tracking import OBJECTIVE
from yolosweep.store import Run, Store

from .conftest import REPO
from .waiting import wait_for

CURVE = REPO / "tests" / "programs" / "curve.py"


def curve_sweep(tmp_path: Path, method: str, qualities: list[float], epochs: int, epoch_s: float, **extra) -> Path:
    config = {
        "program": str(CURVE),
        "method": method,
        "metric": {"name": OBJECTIVE, "goal": "maximize"},
        "parameters": {"quality": {"values": qualities}, "epochs": {"value": epochs}, "epoch_s": {"value": epoch_s}},
        **extra,
    }
    path = tmp_path / "curve_sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def yolosweep(args: list[str], env: dict[str, str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "yolosweep", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=kw.pop("timeout", 300),
        **kw,
    )


def create(path: Path, env: dict[str, str], cwd: Path, *overrides: str) -> str:
    done = yolosweep(["sweep", str(path), *overrides], env, cwd)
    assert done.returncode == 0, done.stderr
    sweep_id = re.search(r"created local sweep ([a-z0-9]{8})", done.stdout).group(1)
    assert f"python -m yolosweep agent {sweep_id}" in done.stdout
    return sweep_id


def agent(sweep_id: str, env: dict[str, str], cwd: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "yolosweep", "agent", sweep_id, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def run_agent(sweep_id: str, env: dict[str, str], cwd: Path, count: int) -> str:
    """An agent for `count` runs, to its end; its output."""
    proc = agent(sweep_id, env, cwd, f"--count={count}")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return out


def store_runs(env: dict[str, str], sweep_id: str) -> list[Run]:
    store = Store(Path(env["YOLOSWEEP_HOME"]) / "sweeps.db")
    try:
        return store.runs(sweep_id)
    finally:
        store.close()


def test_engine_sees_history_and_summary_of_stored_runs():
    # The trap: sweeps 0.2.0 under pydantic 2 drops these when passed by field name.
    dropped = sweeps.SweepRun(name="x", state="finished", history=[{OBJECTIVE: 0.5}], summary_metrics={OBJECTIVE: 0.5})
    assert dropped.history == [] and dropped.summary_metrics == {}
    run = Run(
        id="a",
        sweep_id="s",
        params={"lr0": 0.01},
        state="stopped",
        reason="hyperband",
        summary={OBJECTIVE: 0.4},
        created=0.0,
        ended=1.0,
        host="h",
        agent_pid=None,
        pid=None,
        wandb_dir=None,
        history=[{OBJECTIVE: 0.2}, {OBJECTIVE: 0.4}],
    )
    (seen,) = engine_runs([run])
    assert seen.metric_history(OBJECTIVE) == [0.2, 0.4]
    assert seen.summary_metric(OBJECTIVE) == 0.4
    assert seen.state == "finished"  # a stopped run's metric counts for bayes, not the worst value


def test_a_sweep_stores_its_dataset_and_weight_files_as_absolute_paths(tmp_path, monkeypatch):
    """Seen on the chess photos: `--model bench/weights/yolo11n-chess.pt` from the clone's root was stored as given, and
    a retrain started in another folder could not find it. An official name with no such file stays a name."""
    from yolosweep.commands.sweep import prepare_sweep

    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "mine.pt").write_bytes(b"")
    (tmp_path / "data.yaml").write_text("")
    monkeypatch.chdir(tmp_path)
    config = {
        "program": "train_sweep.py",
        "parameters": {"data": {"value": "data.yaml"}, "model": {"values": ["weights/mine.pt", "yolo11n.pt"]}},
    }
    ready = prepare_sweep(config, REPO)
    assert ready["parameters"]["model"]["values"] == [str(tmp_path / "weights" / "mine.pt"), "yolo11n.pt"]
    assert ready["parameters"]["data"]["value"] == str(tmp_path / "data.yaml")
    config["parameters"]["model"] = {"value": "weights/mine.pt"}
    assert prepare_sweep(config, REPO)["parameters"]["model"]["value"] == str(tmp_path / "weights" / "mine.pt")


@pytest.mark.integration
def test_hyperband_stops_the_bad_run_and_lets_the_good_ones_finish(tmp_path, home_env):
    path = curve_sweep(
        tmp_path,
        "grid",
        [0.9, 0.8, 0.1],
        epochs=20,
        epoch_s=0.4,
        early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2},
    )
    sweep_id = create(path, home_env, tmp_path)
    proc = agent(sweep_id, home_env, tmp_path)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    by_quality = {r.params["quality"]: r for r in store_runs(home_env, sweep_id)}
    assert by_quality[0.9].state == "finished" and len(by_quality[0.9].history) == 20
    assert by_quality[0.8].state == "finished" and len(by_quality[0.8].history) == 20
    bad = by_quality[0.1]
    assert bad.state == "stopped" and bad.reason == "hyperband", (bad.state, bad.reason, out)
    assert 3 <= len(bad.history) < 20  # judged at the first band (3 rows), stopped within a few polls
    assert "search space exhausted" in out


@pytest.mark.integration
def test_grid_points_are_not_run_twice_by_two_agents(tmp_path, home_env):
    qualities = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    sweep_id = create(curve_sweep(tmp_path, "grid", qualities, epochs=2, epoch_s=0.1), home_env, tmp_path)
    agents = [agent(sweep_id, home_env, tmp_path) for _ in range(2)]
    outputs = [a.communicate(timeout=300)[0] for a in agents]
    assert [a.returncode for a in agents] == [0, 0], outputs
    runs = store_runs(home_env, sweep_id)
    assert sorted(r.params["quality"] for r in runs) == qualities
    assert all(r.state == "finished" and len(r.history) == 2 for r in runs)
    assert all("locked" not in out for out in outputs)


@pytest.mark.integration
def test_killed_agent_leaves_a_crashed_run_and_a_new_agent_resumes(tmp_path, home_env):
    path = curve_sweep(tmp_path, "random", [0.3, 0.6, 0.9], epochs=60, epoch_s=0.3)
    sweep_id = create(path, home_env, tmp_path)
    first = agent(sweep_id, home_env, tmp_path, start_new_session=True)
    wait_for(lambda: any(len(r.history) >= 2 and r.pid for r in store_runs(home_env, sweep_id)), what="an epoch")
    os.killpg(first.pid, signal.SIGKILL)  # the agent and its run, as an OOM killer or a reboot would
    first.wait(timeout=30)
    (orphan,) = store_runs(home_env, sweep_id)
    assert orphan.state == "running"

    second = agent(sweep_id, home_env, tmp_path, "--count", "1")
    out, _ = second.communicate(timeout=240)
    assert second.returncode == 0, out
    assert f"run {orphan.id} was left running by a dead process: marked crashed" in out
    runs = {r.id: r for r in store_runs(home_env, sweep_id)}
    assert runs[orphan.id].state == "crashed" and len(runs[orphan.id].history) >= 2  # its epochs are kept
    (new,) = [r for r in runs.values() if r.id != orphan.id]
    assert new.state == "finished" and len(new.history) == 60


@pytest.mark.integration
def test_agent_killed_alone_takes_its_run_down_cleanly(tmp_path, home_env):
    sweep_id = create(curve_sweep(tmp_path, "random", [0.5], epochs=100, epoch_s=0.5), home_env, tmp_path)
    proc = agent(sweep_id, home_env, tmp_path)
    wait_for(lambda: any(len(r.history) >= 1 for r in store_runs(home_env, sweep_id)), what="an epoch")
    proc.kill()
    proc.wait(timeout=30)
    run = wait_for(
        lambda: next((r for r in store_runs(home_env, sweep_id) if r.state != "running"), None),
        timeout=60,
        what="the orphaned run to end",
    )
    assert run.state == "stopped" and run.history


@pytest.mark.integration
def test_bad_count_and_unknown_sweep_are_one_line_errors(tmp_path, home_env):
    done = yolosweep(["agent", "zzzzzzzz"], home_env, tmp_path)
    assert done.returncode == 2 and "no local sweeps here" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "home").exists()  # nothing written for a bad id
    done = yolosweep(["agent", "zzzzzzzz", "--count", "many"], home_env, tmp_path)
    assert done.returncode == 2 and "not a whole number" in done.stderr
    sweep_id = create(curve_sweep(tmp_path, "random", [0.5], epochs=1, epoch_s=0.1), home_env, tmp_path)
    done = yolosweep(["agent", "zzzzzzzz"], home_env, tmp_path)
    assert done.returncode == 2 and "no sweep 'zzzzzzzz'" in done.stderr and sweep_id in done.stderr


@pytest.mark.integration
def test_run_cap_ends_the_sweep(tmp_path, home_env):
    path = curve_sweep(tmp_path, "random", [0.1, 0.5, 0.9], epochs=1, epoch_s=0.05, run_cap=2)
    sweep_id = create(path, home_env, tmp_path)
    out, _ = agent(sweep_id, home_env, tmp_path).communicate(timeout=180)
    assert "run cap 2 reached" in out
    assert len(store_runs(home_env, sweep_id)) == 2


@pytest.mark.integration
def test_printed_agent_command_joins_the_sweep_from_another_terminal(tmp_path, home_env):
    done = yolosweep(["sweep", str(curve_sweep(tmp_path, "random", [0.5], epochs=1, epoch_s=0.05))], home_env, tmp_path)
    line = next(line for line in done.stdout.splitlines() if "start an agent" in line)
    command = line.split(": ", 2)[-1]
    sweep_id = command.rsplit(" ", 1)[-1]
    other_terminal = {k: v for k, v in home_env.items() if k not in ("PYTHONPATH", "YOLOSWEEP_HOME")}
    other_terminal["PATH"] = f"{Path(sys.executable).parent}:{other_terminal['PATH']}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    joined = subprocess.run(
        ["bash", "-c", command + " --count 1"],
        env=other_terminal,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert joined.returncode == 0, joined.stdout + joined.stderr
    (run,) = store_runs(home_env, sweep_id)
    assert run.state == "finished"


@pytest.mark.integration
def test_a_closed_terminal_sighup_stops_the_agent_and_its_run_cleanly(tmp_path, home_env):
    """SIGHUP reaches the whole foreground process group when a terminal or SSH session closes."""
    sweep_id = create(curve_sweep(tmp_path, "random", [0.5], epochs=100, epoch_s=0.3), home_env, tmp_path)
    proc = agent(sweep_id, home_env, tmp_path, start_new_session=True)
    wait_for(lambda: any(len(r.history) >= 1 for r in store_runs(home_env, sweep_id)), what="an epoch")
    os.killpg(proc.pid, signal.SIGHUP)
    proc.communicate(timeout=60)
    (run,) = store_runs(home_env, sweep_id)
    assert run.state == "stopped" and run.history, (run.state, run.reason)
