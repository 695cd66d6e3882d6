"""The controller's decisions, in-process on a real SQLite store, in milliseconds: priors first, the run cap,
Hyperband's verdict, crash marking, ending a run once, slot planning. No process is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from yolosweep.backends.local import Agent, runs_to_stop
from yolosweep.launcher import plan_slots, split_count
from yolosweep.states import EndedBy, RunState
from yolosweep.store import Store

CONFIG = {"program": "p.py", "method": "random", "metric": {"name": "m", "goal": "maximize"},
          "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3},
          "parameters": {"x": {"values": [1, 2, 3]}}}


def _store(tmp_path: Path, config: dict = CONFIG, priors: list[dict] = ()) -> tuple[Store, str]:
    store = Store(tmp_path / "sweeps.db")
    return store, store.create_sweep(config, list(priors))


def test_priors_come_first_in_order_then_the_engine(tmp_path):
    store, sweep_id = _store(tmp_path, priors=[{"x": 3}, {"x": 1}])
    agent = Agent(store, sweep_id)
    taken = [agent._next() for _ in range(3)]
    assert [(params, prior) for _, params, prior in taken[:2]] == [({"x": 3}, True), ({"x": 1}, True)]
    assert taken[2][2] is False and taken[2][1]["x"] in (1, 2, 3)
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
    assert (run.state, run.reason, run.ended_by, run.summary) == (RunState.STOPPED, "hyperband", EndedBy.HYPERBAND, {"m": 0.3})
    with pytest.raises(AssertionError):
        store.end_run("r1", RunState.RUNNING)


def test_a_dead_run_of_this_host_is_crashed_with_its_cause(tmp_path):
    store, sweep_id = _store(tmp_path)
    with store.transaction():
        store.add_run(sweep_id, "gone", {"x": 1})
        store.db.execute("UPDATE runs SET agent_pid=?, pid=? WHERE id='gone'", (2**22 + 1, 2**22 + 2))
    assert store.mark_crashed(sweep_id) == ["gone"]
    (run,) = store.runs(sweep_id)
    assert run.state is RunState.CRASHED and run.ended_by is EndedBy.VANISHED


@pytest.mark.parametrize("count, agents, shares", [(None, 2, [None, None]), (5, 2, [3, 2]), (1, 3, [1]), (6, 3, [2, 2, 2])])
def test_count_is_spread_over_the_agents(count, agents, shares):
    assert split_count(count, agents) == shares


def test_cpu_slots_hide_every_gpu():
    (slot,) = plan_slots("cpu", 1)
    assert slot.visible_devices == "" and slot.name == "cpu"
    assert [s.name for s in plan_slots("cpu", 2)] == ["cpu-0", "cpu-1"]
