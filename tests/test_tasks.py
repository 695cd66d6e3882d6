"""Every Ultralytics task, ranked by the sweep's own metric: real tiny trainings on generated data.

A segmentation sweep (metric mAP50-95(M)) and a sweep that minimizes a loss go through the README's
commands: created, run, analysed, retrained; pose, OBB and classification train as single runs.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from yolosweep.sweep.demo_data import write_demo_dataset

from .conftest import REPO, only_offline_run, run_train_sweep
from .test_local_backend import create, run_agent, store_runs

TINY = [
    "--epochs=2",
    "--imgsz=32",
    "--batch=8",
    "--device=cpu",
    "--workers=0",
    "--optimizer=AdamW",
    "--lr0=0.005",
    "--plots=False",
]


def _script(name: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / name), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    "task, model, metric",
    [
        ("classify", "yolo11n-cls.yaml", "metrics/accuracy_top1"),
        ("pose", "yolo11n-pose.yaml", "metrics/mAP50(P)"),
        ("obb", "yolo11n-obb.yaml", "metrics/mAP50(B)"),
    ],
)
def test_each_task_trains_and_is_ranked_by_its_main_metric(tmp_path, offline_env, task, model, metric):
    data = write_demo_dataset(tmp_path / "data", n_train=24, n_val=8, task=task)
    done = run_train_sweep([f"--data={data}", f"--model={model}", *TINY], tmp_path, offline_env)
    assert done.returncode == 0, done.stderr[-3000:]
    run = only_offline_run(tmp_path)
    assert run.summary["state"] == "finished" and len(run.history) == 2
    assert isinstance(run.summary[metric], float)
    assert run.summary[metric] == max(row[metric] for row in run.history)


def _sweep_yaml(tmp_path: Path, metric: dict, fixed: dict, swept: dict) -> Path:
    config = {
        "program": "train_sweep.py",
        "method": "grid",
        "metric": metric,
        "parameters": {**{k: {"value": v} for k, v in fixed.items()}, **swept},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


FIXED = {
    "epochs": 2,
    "imgsz": 32,
    "batch": 8,
    "device": "cpu",
    "workers": 0,
    "optimizer": "AdamW",
    "plots": False,
    "keep_top_k": 1,
}


@pytest.mark.integration
def test_a_segmentation_sweep_end_to_end_by_mask_map(tmp_path, home_env):
    metric = "metrics/mAP50-95(M)"
    data = write_demo_dataset(tmp_path / "seg", n_train=32, n_val=8, task="segment")
    path = _sweep_yaml(
        tmp_path,
        {"name": metric, "goal": "maximize"},
        {**FIXED, "model": "yolo11n-seg.yaml", "data": str(data)},
        {"lr0": {"values": [0.0005, 0.005]}},
    )
    sweep_id = create(path, home_env, tmp_path)
    run_agent(sweep_id, home_env, tmp_path, count=2)
    runs = store_runs(home_env, sweep_id)
    assert all(r.state == "finished" and isinstance(r.summary.get(metric), float) for r in runs)
    for run in runs:  # each run's summary is its best epoch by the mask metric
        assert run.summary[metric] == max(row[metric] for row in run.history)
    best = min(runs, key=lambda r: (-r.summary[metric], r.id))  # ties go to the smaller id, as everywhere
    kept = [r.id for r in runs if (tmp_path / "runs" / "sweep" / sweep_id / r.id / "weights" / "best.pt").exists()]
    assert kept == [best.id]  # keep_top_k 1 by the sweep's metric

    done = _script("analyze_sweep.py", [sweep_id, "--out", "report", "--baseline", "0.001"], home_env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    header = (tmp_path / "report" / "best_config.yaml").read_text().splitlines()[0]
    assert f"run {best.id}, {metric} = " in header and "(maximize)" in header
    done = _script(
        "train_best_config.py",
        ["--from", "report/best_config.yaml", "--epochs", "1", "--no-log-model"],
        home_env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "runs" / "retrain" / "best-yolo11n-seg" / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[4:] == [metric] and rows[0]["what"] == f"sweep {sweep_id}"
    assert float(rows[0][metric]) == pytest.approx(best.summary[metric], abs=1e-4)


@pytest.mark.integration
def test_a_sweep_minimizing_a_loss_ranks_and_keeps_the_lowest(tmp_path, home_env, demo_data):
    metric = "val/box_loss"
    path = _sweep_yaml(
        tmp_path,
        {"name": metric, "goal": "minimize"},
        {**FIXED, "model": "yolo11n.yaml", "data": str(demo_data), "epochs": 1},
        {"lr0": {"values": [0.0001, 0.01]}},
    )
    sweep_id = create(path, home_env, tmp_path)
    run_agent(sweep_id, home_env, tmp_path, count=2)
    runs = store_runs(home_env, sweep_id)
    best = min(runs, key=lambda r: (r.summary[metric], r.id))
    kept = [r.id for r in runs if (tmp_path / "runs" / "sweep" / sweep_id / r.id / "weights" / "best.pt").exists()]
    assert kept == [best.id]
    status = subprocess.run(
        [sys.executable, "-m", "yolosweep", "status", sweep_id],
        env=home_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.stdout.splitlines()[2].startswith(best.id) and "(minimize)" in status.stdout
    done = _script("analyze_sweep.py", [sweep_id, "--out", "report"], home_env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    config = yaml.safe_load((tmp_path / "report" / "best_config.yaml").read_text())
    assert config["lr0"] == best.params["lr0"]
    done = _script(
        "train_best_config.py",
        ["--from", "report/best_config.yaml", "--epochs", "1", "--no-log-model", "--baseline", "9.9"],
        home_env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "runs" / "retrain" / "best-yolo11n" / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[4:] == [metric]  # compared by the sweep's own metric
    assert [r["what"] for r in rows] == ["baseline", f"sweep {sweep_id}", "retrain (finished)"]
    assert float(rows[1][metric]) == pytest.approx(best.summary[metric], abs=1e-4)
