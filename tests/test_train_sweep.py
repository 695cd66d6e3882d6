"""train_sweep.py end to end: real Ultralytics training on generated data, real offline wandb runs."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from .conftest import FAST, offline_runs, only_offline_run, run_train_sweep, train_sweep_cmd

OBJECTIVE = "metrics/mAP50(B)"


@pytest.mark.integration
def test_standalone_training_logs_every_epoch_to_one_offline_run(tmp_path, offline_env, demo_data):
    done = run_train_sweep(["--data", str(demo_data), *FAST, "--mosaic=0.7"], tmp_path, offline_env)
    assert done.returncode == 0, done.stderr[-3000:]
    run = only_offline_run(tmp_path)  # Ultralytics' own wandb callback opened no second run

    assert [row["epoch"] for row in run.history] == [1, 2, 3]
    assert [row["_step"] for row in run.history] == [1, 2, 3]  # step = epoch
    for row in run.history:
        assert {
            OBJECTIVE,
            "metrics/mAP50-95(B)",
            "metrics/precision(B)",
            "metrics/recall(B)",
            "train/box_loss",
            "val/box_loss",
            "lr/pg0",
        } <= set(row)
    best = max(row[OBJECTIVE] for row in run.history)
    assert best > 0.05, "the generated dataset should be learnable in three epochs"
    assert run.summary[OBJECTIVE] == pytest.approx(best)
    assert run.summary["state"] == "finished" and run.summary["epochs_done"] == 3
    assert run.summary["final/" + OBJECTIVE] == pytest.approx(run.history[-1][OBJECTIVE])
    assert run.summary["wall_time_s"] > 0
    # the config holds every effective training argument: the override, the YAML's fixed values, defaults
    assert run.config["mosaic"] == 0.7 and run.config["epochs"] == 3 and run.config["optimizer"] == "AdamW"
    assert run.config["seed"] == 0 and "hsv_h" in run.config and "close_mosaic" in run.config
    assert any(name.endswith(":model") for name in run.artifacts)
    assert run.exit_code == 0


def _wait_for_epoch(save_root: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        for csv in save_root.glob("runs/sweep/*/results.csv"):
            if len(csv.read_text().strip().splitlines()) >= 2:  # header + one epoch
                return
        time.sleep(0.2)
    pytest.fail("no epoch finished in time")


@pytest.mark.integration
def test_sigterm_mid_training_stops_promptly_and_keeps_epochs(tmp_path, offline_env, demo_data):
    args = ["--data", str(demo_data), *FAST, "--epochs", "40", "--no-log-model"]
    proc = subprocess.Popen(
        train_sweep_cmd(*args), cwd=tmp_path, env=offline_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for_epoch(tmp_path, proc)
    time.sleep(1.0)  # land inside the next epoch
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert time.time() - sent < 20, "a stop request must end the run promptly"
    assert proc.returncode == 0, err[-3000:]

    run = only_offline_run(tmp_path)
    assert run.summary["state"] == "stopped" and "SIGTERM" in run.summary["reason"]
    assert 1 <= run.summary["epochs_done"] < 40
    assert len(run.history) == run.summary["epochs_done"]
    (save_dir,) = tmp_path.glob("runs/sweep/*")
    checkpoint = torch.load(save_dir / "weights" / "last.pt", weights_only=False)
    assert checkpoint["epoch"] + 1 >= run.summary["epochs_done"]  # the kept checkpoint is readable


@pytest.mark.integration
@pytest.mark.parametrize(
    "bad, key",
    [
        ("--lr=0.01", "lr0"),  # unknown name: suggests the Ultralytics one
        ("--mosaic=1.5", "mosaic"),  # out of range
        ("--epochs=three", "epochs"),  # wrong type
        ("--imgsz=0", "imgsz"),  # out of range, caught by our extra bounds
    ],
)
def test_invalid_parameter_is_rejected_before_training(tmp_path, offline_env, demo_data, bad, key):
    done = run_train_sweep(["--data", str(demo_data), *FAST, bad], tmp_path, offline_env, timeout=120)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if "Fix:" in line]
    assert len(lines) == 1 and key in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists() and not offline_runs(tmp_path)


@pytest.mark.integration
def test_missing_dataset_fails_the_run_with_one_line(tmp_path, offline_env):
    done = run_train_sweep(["--data", str(tmp_path / "nope" / "data.yaml"), *FAST], tmp_path, offline_env)
    assert done.returncode == 2
    assert "dataset YAML not found" in done.stderr and "demo-data" in done.stderr
    assert "Traceback" not in done.stderr
    run = only_offline_run(tmp_path)
    assert run.summary["state"] == "failed" and "data" in run.summary["reason"]
    assert run.exit_code == 1
