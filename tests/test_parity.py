"""What Ray Tune / Optuna users rely on, in real local sweeps: priors first, patience, train-split metrics, top-K
weights."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from yolosweep.run.tracking import read_offline_run

from .conftest import offline_runs, shipped_sweep_yaml
from .test_analysis import analyze
from .test_local_backend import create, run_agent, store_runs, yolosweep

SMALL = ["--imgsz", "64", "--batch", "16", "--model", "yolo11n.yaml", "--device", "cpu"]
TRAIN_OBJECTIVE = "train/mAP50(B)"


@pytest.mark.integration
def test_priors_run_first_train_metrics_are_logged_and_only_the_top_k_keep_weights(tmp_path, home_env, demo_data):
    prior = tmp_path / "best_config.yaml"  # what analyze_sweep.py writes: fixed values too, which the sweep keeps
    prior.write_text(yaml.safe_dump({"lr0": 0.005, "mosaic": 0.5, "epochs": 99, "data": "elsewhere.yaml"}))
    sweep_id = create(
        shipped_sweep_yaml(tmp_path, early_terminate=False),
        home_env,
        tmp_path,
        "--data",
        str(demo_data),
        "--epochs",
        "2",
        *SMALL,
        "--train_metrics_every",
        "2",
        "--keep_top_k",
        "1",
        "--prior",
        "defaults",
        "--prior",
        str(prior),
        "--noise-runs",
        "0",
    )
    out = run_agent(sweep_id, home_env, tmp_path, count=3)

    runs = store_runs(home_env, sweep_id)
    assert [r.origin for r in runs] == ["prior", "prior", "search"]
    assert runs[0].params["lr0"] == 0.01 and runs[0].params["mosaic"] == 1.0  # Ultralytics' defaults
    assert runs[1].params["lr0"] == 0.005 and runs[1].params["mosaic"] == 0.5
    assert all(r.params["epochs"] == 2 and r.params["data"] == str(demo_data) for r in runs)
    assert "(prior)" in out
    for run in runs:
        assert run.state == "finished", run.reason
        assert [TRAIN_OBJECTIVE in row for row in run.history] == [False, True]
        assert run.summary["train_val_gap_epoch"] == 2
        at_2 = run.history[1]
        assert run.summary["train_val_gap"] == at_2[TRAIN_OBJECTIVE] - at_2["metrics/mAP50(B)"]

    folders = sorted((tmp_path / "runs" / "sweep" / sweep_id).iterdir())
    assert sorted(f.name for f in folders) == sorted(r.id for r in runs)
    with_weights = [f.name for f in folders if any((f / "weights").glob("*.pt"))]
    best = max(runs, key=lambda r: r.summary["metrics/mAP50(B)"])
    assert with_weights == [best.id]
    assert sum(r.summary.get("freed_mb", 0) for r in runs) > 5  # two runs' last.pt and best.pt

    done = analyze([sweep_id, "--out", "report"], home_env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(tmp_path / "report" / "runs.csv")
    assert sorted(table[table["origin"] == "prior"]["run_id"]) == sorted(r.id for r in runs[:2])
    assert "train-val gap of the top runs" in done.stdout and done.stdout.count("prior ") == 2
    assert "disk: keep_top_k removed the weights of 2 run(s)" in done.stdout
    tags = {p.name.rsplit("-", 1)[-1]: read_offline_run(p).tags for p in offline_runs(tmp_path)}
    assert tags == {runs[0].id: ["prior"], runs[1].id: ["prior"], runs[2].id: []}  # how W&B will show them


@pytest.mark.integration
def test_tiny_patience_ends_a_run_early_as_finished_and_the_analysis_says_so(tmp_path, home_env, demo_data):
    # Seeded and deterministic on the CPU: with lr0 0.005 and Ultralytics' defaults otherwise, this run's
    # fitness falls at epoch 3, so patience 1 ends it there, 7 epochs before its end.
    prior = tmp_path / "prior.yaml"
    prior.write_text(yaml.safe_dump({"lr0": 0.005}))
    sweep_id = create(
        shipped_sweep_yaml(tmp_path, early_terminate=False),
        home_env,
        tmp_path,
        "--data",
        str(demo_data),
        "--epochs",
        "10",
        *SMALL,
        "--patience",
        "1",
        "--prior",
        str(prior),
    )
    run_agent(sweep_id, home_env, tmp_path, count=1)

    (run,) = store_runs(home_env, sweep_id)
    assert run.state == "finished" and run.reason.startswith("patience: no improvement"), run.reason
    assert 2 <= len(run.history) < 10 and run.summary["epochs_done"] == len(run.history)
    done = analyze([sweep_id, "--out", "report"], home_env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"ended early: patience: 1 ({run.id})" in done.stdout
    assert pd.read_csv(tmp_path / "report" / "runs.csv")["ended_by"].tolist() == ["patience"]


@pytest.mark.integration
def test_a_prior_outside_the_search_space_is_refused_before_anything_is_written(tmp_path, home_env, demo_data):
    prior = tmp_path / "prior.yaml"
    prior.write_text(yaml.safe_dump({"lr0": 0.5}))
    for bad, words in (
        (str(prior), "outside the sweep's search space"),
        (str(tmp_path / "nope.yaml"), "file not found"),
    ):
        done = yolosweep(
            [
                "sweep",
                str(shipped_sweep_yaml(tmp_path, early_terminate=False)),
                "--data",
                str(demo_data),
                "--prior",
                bad,
            ],
            home_env,
            tmp_path,
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert words in line and "Fix:" in line
    assert not Path(home_env["YOLOSWEEP_HOME"]).exists()


@pytest.mark.integration
def test_defaults_outside_the_search_space_are_not_run_first(tmp_path, demo_data, monkeypatch, capsys):
    from yolosweep.commands.sweep import create_sweep

    monkeypatch.setenv("YOLOSWEEP_HOME", str(tmp_path / "home"))
    path = shipped_sweep_yaml(tmp_path, lr0={"min": 0.02, "max": 0.05})  # Ultralytics' default lr0 is 0.01
    store, sweep_id = create_sweep(
        str(path), {"data": str(demo_data), "project": str(tmp_path / "runs")}, [], defaults_first=True
    )
    with store.transaction():
        assert store.add_prior_run(sweep_id, "r0000000") is None  # nothing to run first, the sweep still exists
    assert (
        "Ultralytics' defaults are not run first: lr0 0.01 is outside the sweep's search space"
        in capsys.readouterr().out
    )
