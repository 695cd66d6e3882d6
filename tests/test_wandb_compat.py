"""The same YAML behaves as under W&B: config language, macros, metric goal and target, failure cut-off.

Most are in-process decisions on a real SQLite store (milliseconds); the few that need a program
run real agent processes with stand-in programs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from yolosweep.agent.command import build_command
from yolosweep.agent.engine import suggest
from yolosweep.agent.failures import FailureCutoff
from yolosweep.agent.loop import Agent
from yolosweep.commands.sweep import create_sweep
from yolosweep.objective import sweep_objective
from yolosweep.results.status import ranked, status_lines
from yolosweep.store import Run, Store
from yolosweep.sweep import spec
from yolosweep.sweep.errors import ConfigError

from .conftest import REPO
from .test_local_backend import agent, create, store_runs

PROGRAMS = REPO / "tests" / "programs"


def _run(run_id: str, value: float | None, state: str = "finished", params: dict | None = None) -> Run:
    summary = {} if value is None else {"loss": value}
    return Run(
        id=run_id,
        sweep_id="s",
        params=params or {},
        state=state,
        reason="",
        summary=summary,
        created=0.0,
        ended=None,
        host="h",
        agent_pid=None,
        pid=None,
        wandb_dir=None,
        history=[],
    )


def test_an_integer_q_gives_plain_json_integers():
    config = {
        "method": "random",
        "parameters": {"batch": {"distribution": "q_log_uniform_values", "min": 32, "max": 256, "q": 8}},
    }
    for _ in range(5):
        params = suggest(config, [])
        assert type(params["batch"]) is int and params["batch"] % 8 == 0
        json.dumps(params)  # what the store and the run's parameter file need


def test_an_omitted_goal_minimizes_as_on_wandb():
    config = {"method": "random", "metric": {"name": "loss"}, "parameters": {"a": {"values": [1, 2]}}}
    assert sweep_objective(config).goal == "minimize"
    runs = [_run("big", 0.9), _run("small", 0.1), _run("none", None)]
    assert [r.id for r in ranked(runs, sweep_objective(config))] == ["small", "big", "none"]
    assert status_lines(config, runs, {})[1].startswith("small")


def test_a_sweep_without_a_metric_lists_its_runs(tmp_path):
    config = spec.validate_sweep(
        {"method": "grid", "program": "p.py", "parameters": {"a": {"values": [1, 2]}}}, "s.yaml"
    )
    lines = status_lines(config, [_run("r1", None), _run("r2", None)], {})
    assert lines[0].split() == ["run", "state", "epochs", "a"] and lines[-1] == "2 finished"


def _store_with_runs(tmp_path: Path, config: dict, runs: list[tuple[dict, float]]) -> tuple[Store, str]:
    store = Store(tmp_path / "sweeps.db")
    sweep_id = store.create_sweep(config)
    with store.transaction():
        for i, (params, _) in enumerate(runs):
            store.add_run(sweep_id, f"run{i}", params)
    for i, (_, value) in enumerate(runs):
        store.end_run(f"run{i}", "finished", summary={"score": value})
    return store, sweep_id


@pytest.mark.parametrize(
    "goal, target, values, stops",
    [
        ("maximize", 0.8, [0.5, 0.85], True),
        ("maximize", 0.9, [0.5, 0.85], False),
        ("minimize", 0.2, [0.5, 0.15], True),
        ("minimize", 0.1, [0.5, 0.15], False),
    ],
)
def test_metric_target_ends_the_search_once_a_run_reaches_it(tmp_path, capsys, goal, target, values, stops):
    config = {
        "method": "random",
        "metric": {"name": "score", "goal": goal, "target": target},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
        "program": "p.py",
    }
    store, sweep_id = _store_with_runs(tmp_path, config, [({"x": v}, v) for v in values])
    run_id, _params, _prior = Agent(store, sweep_id)._next()
    assert (run_id is None) == stops
    assert ("reached the sweep's target" in capsys.readouterr().out) == stops


def test_command_macros_are_expanded_by_wandbs_own_rules(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_FLAG", "from-env")
    config = {
        "program": "/abs/prog.py",
        "command": [
            "${env}",
            "${interpreter}",
            "${program}",
            "--tag=${envvar:MY_FLAG}",
            5,
            "${args_no_boolean_flags}",
            "${args_no_equals}",
            "${args_override_hydra}",
            "${args_no_hyphens}",
            "${not_a_macro}",
            "${args_json_file}",
        ],
    }
    params = {"lr": 0.5, "aug": False, "fast": True}
    param_file = tmp_path / "wandb" / "sweep-s" / "config-r.yaml"
    command = build_command(config, params, param_file)
    assert command == [
        "/usr/bin/env",
        sys.executable,
        "/abs/prog.py",
        "--tag=from-env",
        "5",
        "--lr=0.5",
        "--fast",
        "--lr",
        "0.5",
        "--aug",
        "False",
        "--fast",
        "True",
        "++lr=0.5",
        "++aug=False",
        "++fast=True",
        "lr=0.5",
        "aug=False",
        "fast=True",
        str(param_file.with_suffix(".json")),
    ]
    assert json.loads(param_file.with_suffix(".json").read_text()) == params
    # The file wandb.init loads through WANDB_SWEEP_PARAM_PATH, in W&B's own format.
    assert yaml.safe_load(param_file.read_text()) == {
        "wandb_version": 1,
        **{k: {"value": v} for k, v in params.items()},
    }


def test_failure_cutoff_follows_wandbs_agent():
    flapping = FailureCutoff(started=0.0, env={})
    assert [flapping.record(True, now) for now in (1, 2)] == [None, None]
    assert "3 failed runs in the first 60 s" in flapping.record(True, 3)
    late = FailureCutoff(started=0.0, env={})
    reasons = [late.record(True, 100 + i) for i in range(5)]
    assert reasons[:4] == [None] * 4 and "5 failed runs and none succeeded" in reasons[4]
    mixed = FailureCutoff(started=0.0, env={})
    assert mixed.record(False, 100) is None and all(mixed.record(True, 101 + i) is None for i in range(6))
    in_a_row = FailureCutoff(started=0.0, max_consecutive=2, env={"WANDB_AGENT_DISABLE_FLAPPING": "true"})
    assert in_a_row.record(True, 1) is None and "2 consecutive failed runs" in in_a_row.record(True, 2)
    assert (
        FailureCutoff(
            0.0, env={"WANDB_AGENT_MAX_INITIAL_FAILURES": "2", "WANDB_AGENT_DISABLE_FLAPPING": "true"}
        ).initial_failures
        == 2
    )


def test_yolo_checks_apply_only_to_train_sweep(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLOSWEEP_HOME", str(tmp_path / "home"))
    other = {
        "program": str(PROGRAMS / "curve.py"),
        "method": "random",
        "metric": {"name": "m", "goal": "maximize"},
        "parameters": {"data": {"value": "no/such/data.yaml"}, "model": {"value": "mine.pt"}, "lr": {"values": [1, 2]}},
    }
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(other))
    store, sweep_id = create_sweep(str(path), {}, [])
    assert store.sweep_config(sweep_id)["parameters"]["data"] == {"value": "no/such/data.yaml"}
    ours = {**other, "program": "train_sweep.py", "metric": {"name": "metrics/mAP50(B)", "goal": "maximize"}}
    ours["parameters"] = {"data": {"value": "no/such/data.yaml"}, "lr0": {"values": [0.01, 0.02]}}
    path.write_text(yaml.safe_dump(ours))
    with pytest.raises(ConfigError, match="dataset YAML not found"):
        create_sweep(str(path), {}, [])


def test_early_terminate_strict_is_accepted_and_said_to_be_unsupported(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("YOLOSWEEP_HOME", str(tmp_path / "home"))
    config = {
        "program": str(PROGRAMS / "curve.py"),
        "method": "random",
        "metric": {"name": "m", "goal": "maximize"},
        "early_terminate": {"type": "hyperband", "min_iter": 2, "strict": True},
        "parameters": {"q": {"values": [1]}},
    }
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(config))
    create_sweep(str(path), {}, [])
    assert "no strict mode" in capsys.readouterr().out


# --- real agent processes with stand-in programs ---


def _sweep_file(tmp_path: Path, program: Path, parameters: dict, **extra) -> Path:
    path = tmp_path / f"{program.stem}.yaml"
    path.write_text(yaml.safe_dump({"program": str(program), "method": "grid", "parameters": parameters, **extra}))
    return path


@pytest.mark.integration
def test_a_program_reading_wandb_config_gets_the_parameters_and_the_sweep_id(tmp_path, home_env):
    path = _sweep_file(
        tmp_path,
        PROGRAMS / "wandb_config_reader.py",
        {"x": {"values": [3]}, "name": {"value": "n"}},
        command=["${env}", "${interpreter}", "${program}"],
    )  # no ${args}: wandb.config is the only way in
    sweep_id = create(path, home_env, tmp_path)
    out, _ = agent(sweep_id, home_env, tmp_path).communicate(timeout=180)
    (run,) = store_runs(home_env, sweep_id)
    seen = json.loads((tmp_path / f"seen-{run.id}.json").read_text())
    assert seen["argv"] == [] and seen["sweep_id"] == sweep_id, out
    assert seen["config"] == {"x": 3, "name": "n"}, out


@pytest.mark.integration
def test_an_agent_gives_up_when_every_run_fails(tmp_path, home_env):
    path = _sweep_file(tmp_path, PROGRAMS / "fails.py", {"i": {"values": list(range(20))}}, method="grid")
    sweep_id = create(path, home_env, tmp_path)
    started = time.time()
    proc = agent(sweep_id, home_env, tmp_path)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 1 and "giving up: 3 failed runs in the first 60 s" in out, out
    runs = store_runs(home_env, sweep_id)
    assert len(runs) == 3 and all(r.state == "failed" for r in runs) and time.time() - started < 60


@pytest.mark.integration
def test_values_that_cannot_start_a_process_fail_that_run_and_the_agent_goes_on(tmp_path, home_env):
    forged = "x\nyolosweep agent: run FAKE0000 finished"
    values = ["ok", "nul\x00byte", "y" * 200_000, forged]
    path = _sweep_file(
        tmp_path,
        PROGRAMS / "curve.py",
        {"label": {"values": values}, "quality": {"value": 0.5}, "epochs": {"value": 1}, "epoch_s": {"value": 0.0}},
    )
    sweep_id = create(path, home_env, tmp_path)
    proc = agent(sweep_id, home_env, tmp_path)
    out, _ = proc.communicate(timeout=300)
    runs = {r.params["label"][:8]: r for r in store_runs(home_env, sweep_id)}
    assert proc.returncode == 0 and "Traceback" not in out, out
    assert runs["ok"].state == "finished" and runs[forged[:8]].state == "finished"
    assert runs["nul\x00byte"].state == "failed" and "NUL byte" in runs["nul\x00byte"].reason
    assert runs["y" * 8].state == "failed" and "exceed the system's limit" in runs["y" * 8].reason
    assert not any(line.startswith("yolosweep agent: run FAKE0000") for line in out.splitlines())


@pytest.mark.integration
@pytest.mark.parametrize(
    "command, words",
    [
        (["${program}"], "is not executable"),
        (["/no/such/python3", "${program}"], "/no/such/python3 not found"),
    ],
)
def test_a_command_that_cannot_start_fails_the_run_in_one_line(tmp_path, home_env, command, words):
    program = tmp_path / "plain.py"
    program.write_text("print('hi')\n")  # not executable
    path = _sweep_file(tmp_path, program, {"a": {"values": [1]}}, command=command)
    sweep_id = create(path, home_env, tmp_path)
    out, _ = agent(sweep_id, home_env, tmp_path).communicate(timeout=120)
    (run,) = store_runs(home_env, sweep_id)
    assert run.state == "failed" and words in run.reason and "Fix:" in run.reason, out
    assert "Traceback" not in out


@pytest.mark.integration
def test_train_sweep_under_wandbs_own_agent_with_a_stand_in_server(tmp_path, offline_env):
    """Contract test: W&B's agent code runs train_sweep.py; only the server's agent API is a stand-in
    (tests/programs/wandb_agent_standin.py), answered by W&B's open-source engine. Not cloud coverage."""
    import torch

    from yolosweep.run.tracking import OBJECTIVE, read_offline_run
    from yolosweep.sweep.demo_data import write_demo_dataset

    data = write_demo_dataset(tmp_path / "data", n_train=32, n_val=16)
    config = {
        "program": str(REPO / "train_sweep.py"),
        "method": "random",
        "metric": {"name": OBJECTIVE, "goal": "maximize"},
        "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3},
        "parameters": {
            "lr0": {"values": [0.004]},
            "data": {"value": str(data)},
            "epochs": {"value": 100},
            "imgsz": {"value": 32},
            "batch": {"value": 8},
            "model": {"value": "yolo11n.yaml"},
            "device": {"value": "cpu"},
            "workers": {"value": 0},
            "optimizer": {"value": "AdamW"},
            "warmup_epochs": {"value": 0},
            "plots": {"value": False},
        },
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "standin.json"
    done = subprocess.run(
        [sys.executable, str(PROGRAMS / "wandb_agent_standin.py"), str(path), "0.99", str(out)],
        cwd=tmp_path,
        env=offline_env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    events = {e["event"]: e for e in reversed(report["log"])}  # the first of each kind
    assert {"run", "stop", "agent returned"} <= set(events), report
    ended = events.get("ended", events["agent returned"])["t"]
    run_id = events["run"]["run_id"]
    # A stopped run exits 0: W&B's agent counted it as ended, not failed (a failure counts toward its cut-off).
    assert report["agent_finished"] == 1 and report["agent_failed"] == 0
    # Ended well inside the 30 s after which W&B's agent would SIGKILL it (the heartbeat adds up to 5 s).
    assert ended - events["stop"]["t"] < 30 - 5

    (run_dir,) = (tmp_path / "wandb").glob(f"offline-run-*-{run_id}")
    run = read_offline_run(run_dir)
    assert run.exit_code == 0 and run.summary["state"] == "stopped"
    assert 2 <= len(run.history) < 100
    # The summary holds the best epoch's value: what W&B's bayes reads as the run's result.
    assert run.summary[OBJECTIVE] == max(row[OBJECTIVE] for row in run.history)
    # The parameters reached wandb.config (from W&B's parameter file) and, as arguments, the training.
    assert run.config["lr0"] == 0.004
    save_dir = tmp_path / "runs" / "sweep" / "standin1" / run_id
    args = yaml.safe_load((save_dir / "args.yaml").read_text())
    assert args["lr0"] == 0.004 and args["imgsz"] == 32 and args["data"] == str(data)
    checkpoint = torch.load(save_dir / "weights" / "last.pt", map_location="cpu", weights_only=False)
    assert checkpoint["epoch"] == len(run.history) - 1


@pytest.mark.parametrize(
    "entity, sweep_id, path",
    [
        ("team", "abc12345", "team/yolosweep/abc12345"),
        (None, "abc12345", "yolosweep/abc12345"),
        (None, "other/proj/abc12345", "other/proj/abc12345"),
    ],
)
def test_launcher_wandb_agent_commands_parse_as_the_wandb_cli_parses_them(entity, sweep_id, path):
    from wandb.cli import cli
    from wandb.sdk.launch.sweeps.utils import parse_sweep_id

    from yolosweep.agent.wandb_cloud import wandb_agent_commands, wandb_sweep_path

    assert wandb_sweep_path(sweep_id, "yolosweep", entity) == path
    for command, count in zip(wandb_agent_commands(path, [3, None]), [3, None]):
        assert command[:2] == ["wandb", "agent"]
        context = cli.agent.make_context("agent", command[2:])  # the real CLI's own parsing, nothing run
        assert context.params["count"] == count and context.params["sweep_id"] == path
        parts = {"name": context.params["sweep_id"]}
        assert parse_sweep_id(parts) is None and parts["name"] == path.rsplit("/", 1)[-1]
        assert parts["project"] == path.split("/")[-2]


@pytest.mark.integration
def test_under_a_sweep_train_sweep_takes_only_the_sweeps_own_values(tmp_path, offline_env):
    """A sweep made from another YAML must not inherit the shipped sweep_config.yaml's fixed values."""
    from .conftest import only_offline_run, run_train_sweep

    env = {**offline_env, "WANDB_SWEEP_ID": "othersw1"}
    done = run_train_sweep(["--lr0=0.01", "--epochs=1"], tmp_path, env)
    assert done.returncode == 2 and "no dataset given" in done.stderr and "Traceback" not in done.stderr
    config = only_offline_run(tmp_path).config
    assert config["lr0"] == 0.01 and "optimizer" not in config and "imgsz" not in config  # shipped: SGD, 640


def test_a_local_sweep_id_is_found_locally_even_with_a_wandb_key(tmp_path, monkeypatch):
    from yolosweep.results import analysis

    monkeypatch.setenv("YOLOSWEEP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    store = Store()
    sweep_id = store.create_sweep({"method": "random", "metric": {"name": "m"}, "parameters": {"a": {"values": [1]}}})
    assert analysis.load(sweep_id).source == str(store.path)


def test_the_launcher_names_the_wandb_server_and_a_self_hosted_one_reaches_the_agents(tmp_path, monkeypatch):
    """#27 item 8: WANDB_BASE_URL passes through to every `wandb agent` (run_agents gives them this environment)."""
    from yolosweep.agent.supervise import run_agents
    from yolosweep.agent.wandb_cloud import server_line
    from yolosweep.sweep.slots import Slot

    assert server_line({}).startswith("W&B's hosted server")
    assert "W&B server https://wandb.lab.local (WANDB_BASE_URL" in server_line(
        {"WANDB_BASE_URL": "https://wandb.lab.local"}
    )
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.lab.local")
    code = run_agents(
        [["sh", "-c", f"echo $WANDB_BASE_URL > {tmp_path / 'seen'}"]], [Slot("cpu", "")], tmp_path / "log"
    )
    assert code == 0 and (tmp_path / "seen").read_text().strip() == "https://wandb.lab.local"
