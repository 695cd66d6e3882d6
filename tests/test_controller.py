"""The controller's decisions, in-process on a real SQLite store, in milliseconds: priors first, the run cap,
Hyperband's verdict, crash marking, ending a run once, slot planning. No process is started."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from yolosweep.agent.engine import runs_to_stop
from yolosweep.agent.loop import Agent
from yolosweep.run.endings import StopRequested, TrialFailed, classify_ending
from yolosweep.states import EndedBy, RunState
from yolosweep.store import Store
from yolosweep.sweep.slots import plan_slots, split_count

CONFIG = {
    "program": "p.py",
    "method": "random",
    "metric": {"name": "m", "goal": "maximize"},
    "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3},
    "parameters": {"x": {"values": [1, 2, 3]}},
}


def _store(tmp_path: Path, config: dict = CONFIG, priors: list[dict] = ()) -> tuple[Store, str]:
    store = Store(tmp_path / "sweeps.db")
    return store, store.create_sweep(config, list(priors))


def test_priors_come_first_in_order_then_the_engine(tmp_path):
    store, sweep_id = _store(tmp_path, priors=[{"x": 3}, {"x": 1}])
    agent = Agent(store, sweep_id)
    taken = [agent._next() for _ in range(3)]
    assert [(params, origin) for _, params, origin in taken[:2]] == [({"x": 3}, "prior"), ({"x": 1}, "prior")]
    assert taken[2][2] == "search" and taken[2][1]["x"] in (1, 2, 3)
    assert [r.origin for r in store.runs(sweep_id)] == ["prior", "prior", "search"]


def test_the_run_cap_counts_every_run_of_the_sweep(tmp_path, capsys):
    store, sweep_id = _store(tmp_path, {**CONFIG, "run_cap": 2})
    agent = Agent(store, sweep_id)
    assert agent._next()[0] and agent._next()[0] and agent._next()[0] is None
    assert "run cap 2 reached" in capsys.readouterr().out


def test_hyperband_stops_the_running_run_below_the_band(tmp_path):
    store, sweep_id = _store(tmp_path)
    with store.transaction():
        for run_id in ("good", "bad"):
            store.add_run(sweep_id, run_id, {"x": 1})
    for epoch, (good, bad) in enumerate([(0.5, 0.1), (0.6, 0.1)], start=1):
        store.log_epoch("good", epoch, {"m": good}, {"m": good})
        store.log_epoch("bad", epoch, {"m": bad}, {"m": bad})
    store.end_run("good", RunState.FINISHED, summary={"m": 0.6})
    assert runs_to_stop(CONFIG, store.runs(sweep_id)) == ["bad"]
    assert runs_to_stop({k: v for k, v in CONFIG.items() if k != "early_terminate"}, store.runs(sweep_id)) == []


def test_a_run_ends_once_and_the_agent_adds_who_stopped_it(tmp_path):
    store, sweep_id = _store(tmp_path)
    with store.transaction():
        store.add_run(sweep_id, "r1", {"x": 1})
    store.end_run("r1", RunState.STOPPED, "SIGTERM received", {"m": 0.3}, EndedBy.SIGNAL)
    store.end_run("r1", RunState.FAILED, "exit code 1", ended_by=EndedBy.ERROR)  # later: changes nothing
    store.explain_stop("r1", "hyperband", EndedBy.HYPERBAND)
    (run,) = store.runs(sweep_id)
    assert (run.state, run.reason, run.ended_by, run.summary) == (
        RunState.STOPPED,
        "hyperband",
        EndedBy.HYPERBAND,
        {"m": 0.3},
    )
    with pytest.raises(AssertionError):
        store.end_run("r1", RunState.RUNNING)


def test_a_dead_run_of_this_host_is_crashed_with_its_cause(tmp_path):
    store, sweep_id = _store(tmp_path)
    with store.transaction():
        store.add_run(sweep_id, "gone", {"x": 1})
        store.db.exec_driver_sql("UPDATE runs SET agent_pid=?, pid=? WHERE id='gone'", (2**22 + 1, 2**22 + 2))
    assert store.mark_crashed(sweep_id) == ["gone"]
    (run,) = store.runs(sweep_id)
    assert run.state is RunState.CRASHED and run.ended_by is EndedBy.VANISHED


@pytest.mark.parametrize(
    "count, agents, shares", [(None, 2, [None, None]), (5, 2, [3, 2]), (1, 3, [1]), (6, 3, [2, 2, 2])]
)
def test_count_is_spread_over_the_agents(count, agents, shares):
    assert split_count(count, agents) == shares


def test_cpu_slots_hide_every_gpu():
    (slot,) = plan_slots("cpu", 1)
    assert slot.visible_devices == "" and slot.name == "cpu"
    assert [s.name for s in plan_slots("cpu", 2)] == ["cpu-0", "cpu-1"]


def test_progress_tells_each_run_its_epoch_eta_and_the_sweep_its_best_gain_and_time_left(tmp_path):
    from yolosweep.results.progress import plain_lines, sweep_progress

    config = {**CONFIG, "parameters": {**CONFIG["parameters"], "epochs": {"value": 10}}}
    store, sweep_id = _store(tmp_path, config, priors=[{"x": 1}])
    agent = Agent(store, sweep_id)
    defaults_run, _, _ = agent._next()
    done_run, _, _ = agent._next()
    live_run, _, _ = agent._next()
    t0 = 1000.0
    store.db.exec_driver_sql("UPDATE runs SET created=?", (t0,))
    store.end_run(defaults_run, RunState.FINISHED, summary={"m": 0.50})
    store.end_run(done_run, RunState.STOPPED, summary={"m": 0.55}, ended_by=EndedBy.HYPERBAND)
    store.db.exec_driver_sql("UPDATE runs SET ended=? WHERE state!='running'", (t0 + 100,))
    for epoch, value in [(1, 0.2), (2, 0.4), (3, 0.3)]:
        store.log_epoch(live_run, epoch, {"m": value}, {"m": max(0.2, 0.4 if epoch > 1 else 0.2)})
    progress = sweep_progress(store, sweep_id, planned=5, agents=1, now=t0 + 30)
    (run,) = progress.running
    assert (run.epoch, run.epochs, run.current, run.best, run.eta_s) == (3, 10, 0.3, 0.4, 70.0)
    assert (progress.ended, progress.by_hyperband, progress.best, progress.best_run) == (2, 1, 0.55, done_run)
    assert progress.baseline == 0.50 and progress.gain_pct == pytest.approx(10.0)
    assert progress.left_s == pytest.approx(70 + 2 * 100)  # this run's ETA, then 2 more runs of the median length
    sweep, line = plain_lines(progress)
    assert "2/5 runs ended, 1 running, 1 stopped by Hyperband" in sweep and "+10.0% over defaults run" in sweep
    assert line == f"  run {live_run}: epoch 3/10, m 0.3000 (best 0.4000), ETA 1m10s"
    assert sweep_progress(store, sweep_id, planned=5, agents=1, now=t0 + 30, runs=store.runs(sweep_id)) == progress
    below = sweep_progress(store, sweep_id, baseline=0.6, now=t0 + 30)
    assert below.baseline_from == "--baseline" and below.gain_pct == pytest.approx(-8.33, abs=0.01)
    assert plain_lines(below)[0].startswith(f"sweep {sweep_id}: 2 runs ended, 1 running")  # no plan: no "2/?"


def test_the_status_table_counts_each_runs_epochs_as_its_history_does(tmp_path):
    from yolosweep.results.status import status_report

    store, sweep_id = _store(tmp_path, CONFIG)
    agent = Agent(store, sweep_id)
    runs = [agent._next()[0] for _ in range(3)]
    for run_id, epochs in zip(runs, (3, 1, 0)):
        for epoch in range(1, epochs + 1):
            store.log_epoch(run_id, epoch, {"m": epoch / 10}, {"m": epoch / 10})
    rows = {line.split()[0]: line.split()[2] for line in status_report(store, sweep_id)[2:-1]}
    assert rows == {run.id: str(len(run.history)) for run in store.runs(sweep_id)} == dict(zip(runs, ("3", "1", "0")))


@pytest.mark.parametrize(
    "err, state, cause, code, words",
    [
        ("SIGTERM", RunState.STOPPED, EndedBy.SIGNAL, 0, "SIGTERM received"),
        ("SIGINT", RunState.STOPPED, EndedBy.SIGNAL, 130, "SIGINT received"),
        ("config", RunState.FAILED, EndedBy.BAD_CONFIG, 2, "Fix:"),
        ("nan", RunState.FAILED, EndedBy.NAN_LOSS, 1, "NaN"),
        (
            "cuda oom",
            RunState.FAILED,
            EndedBy.OUT_OF_MEMORY,
            1,
            "CUDA out of memory at batch=16, imgsz=640. Fix: try --batch 8",
        ),
        ("enospc", RunState.FAILED, EndedBy.DISK_FULL, 1, "disk full while writing training outputs"),
        ("other", RunState.FAILED, EndedBy.ERROR, 1, "ValueError: first line"),
    ],
)
def test_how_a_training_ended_is_classified(err, state, cause, code, words):
    import errno
    import os
    import signal

    from yolosweep.sweep.errors import ConfigError

    errors = {
        "SIGTERM": StopRequested(signal.SIGTERM),
        "SIGINT": StopRequested(signal.SIGINT),
        "config": ConfigError("training arguments", "imgsz", "0 is out of range", "use a value >= 32"),
        "nan": TrialFailed("loss became NaN/Inf in epoch 2", EndedBy.NAN_LOSS),
        "cuda oom": RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"),
        "enospc": OSError(errno.ENOSPC, "No space left on device"),
        "other": ValueError("first line\nsecond line"),
    }
    got = classify_ending(errors[err], {"batch": 16, "imgsz": 640, "project": "p", "name": "n"}, os.getppid())
    assert got[:2] == (state, got[1]) and got[2:] == (cause, code) and words in got[1] and "\n" not in got[1]
    assert got[0] is state


def test_a_run_of_another_host_whose_lease_lapsed_is_crashed_by_status_and_a_fresh_one_is_not(tmp_path):
    """Across machines a heartbeat tells what PIDs tell on one (#27): status, reading, marks the lapsed run."""
    from yolosweep.results.status import status_report

    store, sweep_id = _store(tmp_path)
    with store.transaction():
        for run_id in ("lapsed01", "fresh001", "ours0001"):
            store.add_run(sweep_id, run_id, {"x": 1})
    now = store.now()
    for run_id, host, beat in (
        ("lapsed01", "gpu-a", now - 61),
        ("fresh001", "gpu-b", now - 30),
        ("ours0001", None, now - 600),
    ):
        store.db.exec_driver_sql("UPDATE runs SET host=COALESCE(?, host), heartbeat=? WHERE id=?", (host, beat, run_id))
    reader = Store.read_only(tmp_path / "sweeps.db")
    assert [r[0] for r in reader.lapsed(sweep_id)] == ["lapsed01"]  # this host's own runs go by their PIDs instead
    report = "\n".join(status_report(reader, sweep_id))
    states = {r.id: (r.state, r.reason, r.ended_by) for r in store.runs(sweep_id)}
    at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now - 61))
    assert states["lapsed01"] == (RunState.CRASHED, f"host gpu-a stopped answering at {at}", EndedBy.VANISHED)
    assert states["fresh001"][0] is RunState.RUNNING and states["ours0001"][0] is RunState.RUNNING
    assert "host gpu-a stopped answering" in report
