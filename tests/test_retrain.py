"""train_best_config.py: retrain the winner of a real sweep, several model sizes, kill and resume."""

from __future__ import annotations

import csv
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from yolosweep.run.tracking import read_offline_run

from .conftest import REPO, offline_runs

RETRAIN = str(REPO / "train_best_config.py")


@pytest.fixture(scope="module")
def best_config(real_sweep) -> tuple[Path, dict[str, str], str]:
    cwd, env, sweep_id = real_sweep
    done = subprocess.run(
        [sys.executable, str(REPO / "analyze_sweep.py"), sweep_id, "--out", "best"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return cwd / "best" / "best_config.yaml", env, sweep_id


def _retrain(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, RETRAIN, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.integration
@pytest.mark.slow
def test_retrain_two_models_logs_offline_and_writes_the_comparison(best_config, tmp_path):
    config, env, sweep_id = best_config
    env = {**env, "WANDB_DIR": str(tmp_path)}
    done = _retrain(
        [
            "--from",
            str(config),
            "--epochs",
            "2",
            "--imgsz",
            "64",
            "--device",
            "cpu",
            "--model",
            "yolo11n.yaml,yolo11s.yaml",
            "--baseline",
            "0.1",
            "--no-log-model",
        ],
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [read_offline_run(p) for p in offline_runs(tmp_path)]
    assert len(runs) == 2
    for run in runs:
        assert len(run.history) == 2 and run.summary["state"] == "finished"
        assert run.config["lr0"] and run.config["epochs"] == 2
    assert {run.config["model"] for run in runs} == {"yolo11n.yaml", "yolo11s.yaml"}
    for stem in ("yolo11n", "yolo11s"):
        with open(tmp_path / "runs" / "retrain" / f"best-{stem}" / "comparison.csv") as f:
            rows = list(csv.DictReader(f))
        assert [r["what"] for r in rows] == [
            "baseline",
            f"sweep {sweep_id}",
            "retrain (finished)",
            "retrain (finished)",
        ]
        swept = float(re.search(r"metrics/mAP50\(B\) = ([\d.]+)", config.read_text())[1])  # the sweep's, carried over
        assert rows[1]["epochs"] == "2" and float(rows[1]["metrics/mAP50(B)"]) == pytest.approx(swept, abs=1e-4)
    assert "retrain (finished)" in done.stdout and f"sweep {sweep_id}" in done.stdout


@pytest.mark.integration
@pytest.mark.slow
def test_killed_retrain_resumes_from_its_checkpoint(best_config, tmp_path):
    config, env, _ = best_config
    env = {**env, "WANDB_DIR": str(tmp_path)}
    args = ["--from", str(config), "--epochs", "4", "--imgsz", "64", "--device", "cpu", "--no-log-model"]
    proc = subprocess.Popen(
        [sys.executable, RETRAIN, *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = tmp_path / "runs" / "retrain" / "best-yolo11n" / "results.csv"
    deadline = time.time() + 300
    while not (results.exists() and len(results.read_text().strip().splitlines()) >= 3):  # header + 2 epochs
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    checkpoint = torch.load(results.parent / "weights" / "last.pt", weights_only=False)
    saved_epoch = checkpoint["epoch"] + 1  # Ultralytics stores the 0-based index of the last finished epoch

    done = _retrain(["--from", str(config), "--resume", "--no-log-model"], env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming best-yolo11n" in done.stdout
    killed, resumed = sorted(
        (read_offline_run(p) for p in offline_runs(tmp_path)), key=lambda r: r.exit_code is not None
    )
    assert killed.exit_code is None and resumed.exit_code == 0
    epochs = [row["epoch"] for row in resumed.history]
    assert saved_epoch >= 1 and epochs[0] == saved_epoch + 1 and epochs[-1] == 4, (saved_epoch, epochs)  # no restart
    assert resumed.summary["state"] == "finished"


@pytest.mark.integration
def test_missing_or_malformed_config_is_a_clear_error(tmp_path, offline_env):
    done = _retrain(["--from", str(tmp_path / "nope.yaml")], offline_env, tmp_path, timeout=120)
    # run from another folder than the clone's: the hint names the module, not a script that is not there
    assert done.returncode == 2 and "file not found" in done.stderr and "`python -m yolosweep analyze`" in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr0: [0.01\n")
    done = _retrain(["--from", str(bad)], offline_env, tmp_path, timeout=120)
    assert done.returncode == 2 and "not valid YAML" in done.stderr and "Traceback" not in done.stderr
    done = _retrain(
        ["--sweep", "abcdefgh", "--backend", "local"],
        {**offline_env, "YOLOSWEEP_HOME": str(tmp_path / "h")},
        tmp_path,
        timeout=120,
    )
    assert done.returncode == 2 and "no local sweeps" in done.stderr


@pytest.mark.integration
def test_top_k_retrains_the_best_runs_and_says_whether_the_ranking_held(real_sweep, tmp_path):
    _, env, sweep_id = real_sweep
    env = {**env, "WANDB_DIR": str(tmp_path)}
    done = _retrain(
        ["--sweep", sweep_id, "--top", "2", "--epochs", "3", "--imgsz", "64", "--device", "cpu", "--no-log-model"],
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(
        r"ranking (held|did not hold): the sweep's best is number [12] after retraining; "
        r"Spearman rank correlation [+-]1\.00 over 2 runs",
        done.stdout,
    ), done.stdout[-2000:]
    with open(tmp_path / "runs" / "retrain" / f"top2-{sweep_id}.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["sweep_rank"] for r in rows] == ["1", "2"] and sorted(r["retrain_rank"] for r in rows) == ["1", "2"]
    assert all(r["retrain_epochs"] == "3" and float(r["retrain metrics/mAP50(B)"]) >= 0 for r in rows)
    assert len(offline_runs(tmp_path)) == 2


@pytest.mark.integration
def test_top_k_whose_retrains_fail_does_not_judge_the_ranking(real_sweep, tmp_path):
    """Seen on the chess photos: weights the retrain could not load failed both runs, yet the table ranked them 1 and 1
    and said "ranking held" with a Spearman of nan."""
    _, env, sweep_id = real_sweep
    done = _retrain(
        ["--sweep", sweep_id, "--top", "2", "--epochs", "1", "--model", str(tmp_path / "gone.pt"), "--no-log-model"],
        {**env, "WANDB_DIR": str(tmp_path)},
        tmp_path,
        timeout=300,
    )
    assert done.returncode != 0 and "gone.pt" in done.stdout
    assert "ranking not judged: 2 of 2 retrains ended without metrics/mAP50(B)" in done.stdout, done.stdout[-2000:]
    assert "ranking held" not in done.stdout and "Warning" not in done.stderr


@pytest.mark.integration
def test_top_k_with_seeds_hands_over_the_best_mean_and_its_gain_over_the_defaults_retrained_alike(
    tmp_path, home_env, demo_data
):
    from .conftest import shipped_sweep_yaml
    from .test_local_backend import agent, create, yolosweep

    sweep_id = create(
        shipped_sweep_yaml(tmp_path, early_terminate=False),
        home_env,
        tmp_path,
        "--data",
        str(demo_data),
        "--epochs",
        "1",
        "--imgsz",
        "32",
        "--batch",
        "16",
        "--device",
        "cpu",
        "--prior",
        "defaults",
        "--noise-runs",
        "0",
    )
    proc = agent(sweep_id, home_env, tmp_path, "--count", "3")
    assert proc.communicate(timeout=600)[0] is not None and proc.returncode == 0
    alone = _retrain(["--sweep", sweep_id, "--seeds", "2"], home_env, tmp_path, timeout=120)
    assert alone.returncode == 2 and "--seeds: 2: retrains the sweep's top runs" in alone.stderr
    done = _retrain(
        [
            "--sweep",
            sweep_id,
            "--top",
            "2",
            "--seeds",
            "2",
            "--epochs",
            "3",
            "--imgsz",
            "64",
            "--device",
            "cpu",
            "--no-log-model",
        ],
        home_env,
        tmp_path,
    )  # 3 epochs at 64 px: the defaults learn (mAP50 > 0)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(tmp_path / "runs" / "retrain" / f"top2x2-{sweep_id}.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["what"] for r in rows] == ["top1", "top2", "defaults"] and all(
        len(r["values"].split()) == 2 for r in rows
    )
    assert sorted(r["retrain_rank"] for r in rows) == ["1", "2", "3"]
    winner = min(rows, key=lambda r: int(r["retrain_rank"]))
    line = next(line for line in done.stdout.splitlines() if line.startswith("verified by retraining:"))
    mean = float(winner["mean"])
    assert f"{mean:.4f}" in line and "(mean of 2 seeds, 3 epochs)" in line and float(rows[2]["mean"]) > 0
    if winner["what"] == "defaults":
        assert "the defaults (no searched configuration beat them)" in line
    else:
        assert f"run {winner['run']}" in line and "over the defaults retrained the same way" in line
        assert re.search(r": (beyond|within) the noise \(p [\d.e-]+\)", line)
    status = yolosweep(["status", sweep_id], home_env, tmp_path)
    assert line in status.stdout  # kept in the store, beside the sweep's best run
    yolosweep(["analyze", sweep_id, "--out", str(tmp_path / "report")], home_env, tmp_path)  # hands the winner over
    assert f": run {winner['run']}, " in (tmp_path / "report" / "best_config.yaml").read_text().splitlines()[0]
