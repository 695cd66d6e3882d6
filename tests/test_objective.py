"""The sweep's own metric and goal rule everywhere: the run summary, keep_top_k, ranking, success levels,
the check at creation and the dead-parameter warnings. In-process, milliseconds."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from yolosweep.objective import Objective, sweep_objective
from yolosweep.results import analysis
from yolosweep.results.best_config import load_best_config
from yolosweep.results.verdict import success_level
from yolosweep.run import weights as hygiene
from yolosweep.run.epochs import summarize
from yolosweep.store import Run
from yolosweep.sweep import spec
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.preflight import check_sweep
from yolosweep.sweep.task import dead_parameters, model_task

from .conftest import REPO

LOSS = Objective("val/box_loss", "minimize")


def test_the_summary_keeps_the_best_epoch_by_the_sweeps_metric_and_goal():
    history = [
        {"epoch": 1, "val/box_loss": 2.0, "metrics/mAP50(B)": 0.1, "fitness": 0.1},
        {"epoch": 2, "val/box_loss": 1.5, "metrics/mAP50(B)": 0.3, "fitness": 0.2},
        {"epoch": 3, "val/box_loss": 1.7, "metrics/mAP50(B)": 0.4, "fitness": 0.3},
    ]
    by_loss = summarize(history, LOSS)
    assert by_loss["best_epoch"] == 2 and by_loss["val/box_loss"] == 1.5 and by_loss["metrics/mAP50(B)"] == 0.3
    by_map = summarize(history)
    assert by_map["best_epoch"] == 3 and by_map["val/box_loss"] == 1.7
    assert summarize(history, Objective("fitness", "maximize"))["fitness"] == 0.3
    assert by_loss["final/val/box_loss"] == 1.7


def test_keep_top_k_keeps_the_lowest_loss_when_minimizing(tmp_path):
    for name, loss in [("a", 3.0), ("b", 1.0), ("c", 2.0), ("d", None)]:
        run = tmp_path / name
        (run / "weights").mkdir(parents=True)
        (run / "weights" / "last.pt").write_bytes(b"x" * 10)
        hygiene.write_summary(run, {} if loss is None else {"val/box_loss": loss})
    pruned = hygiene.prune_weights(tmp_path, 2, LOSS)
    assert sorted(pruned.runs) == ["a", "d"]
    assert (tmp_path / "b" / "weights" / "last.pt").exists() and (tmp_path / "c" / "weights" / "last.pt").exists()


def test_success_levels_count_a_decrease_as_a_gain_when_minimizing():
    assert success_level(0.9, 1.0, objective=LOSS)[0] == pytest.approx(10.0)
    assert "good" in success_level(0.9, 1.0, objective=LOSS)[1]
    assert success_level(1.1, 1.0, objective=LOSS)[0] == pytest.approx(-10.0)
    assert success_level(0.78, 0.714)[0] == pytest.approx(9.24, abs=0.01)


def test_the_analysis_ranks_a_minimize_sweep_lowest_first():
    config = {"metric": {"name": "val/box_loss", "goal": "minimize"}, "parameters": {"lr0": {"values": [0.01, 0.02]}}}
    runs = [
        Run("high", "finished", "", {"lr0": 0.01}, {"val/box_loss": 2.0}, [{}]),
        Run("low", "finished", "", {"lr0": 0.02}, {"val/box_loss": 1.0}, [{}]),
    ]
    sweep = analysis.SweepRuns("s", config, runs, "mem")
    table = analysis.runs_table(sweep)
    assert list(table["run_id"]) == ["low", "high"] and analysis.best_run(sweep, table).id == "low"


@pytest.mark.parametrize(
    "model, task",
    [
        ("yolo11n.pt", "detect"),
        ("yolo11s-seg.pt", "segment"),
        ("yolo11n-pose.yaml", "pose"),
        ("yolo11n-obb.pt", "obb"),
        ("yolo11n-cls.yaml", "classify"),
    ],
)
def test_the_task_follows_the_model(model, task):
    config = {"parameters": {"model": {"value": model}}}
    assert model_task(config) == task
    assert model_task({"parameters": {"model": {"value": model}, "task": {"value": "detect"}}}) == "detect"


def test_a_checkpoint_of_another_name_is_read_for_its_task(tmp_path, capsys):
    """A custom best.pt says nothing by its name; the checkpoint's train_args do (the chess one is a detect model)."""
    import torch

    best = tmp_path / "best.pt"
    shutil.copy(REPO / "bench" / "weights" / "yolo11n-chess.pt", best)
    config = {
        "program": "train_sweep.py",
        "parameters": {
            "model": {"value": str(best)},
            "dropout": {"min": 0.0, "max": 0.2},
            "project": {"value": str(tmp_path / "runs")},
        },
    }
    assert model_task(config) == "detect"
    check_sweep(config)  # so the detect-only warnings reach a custom checkpoint too
    assert "WARNING: parameters.dropout cannot change this training" in capsys.readouterr().out
    checkpoint = torch.load(best, map_location="cpu", weights_only=False)
    checkpoint["train_args"]["task"] = "pose"
    torch.save(checkpoint, best)
    assert model_task(config) == "pose"  # the file changed: read again
    best.write_bytes(b"not a checkpoint")
    assert model_task(config) is None


@pytest.mark.parametrize(
    "model, metric, ok",
    [
        ("yolo11n.pt", "metrics/mAP50-95(B)", True),
        ("yolo11n-seg.pt", "metrics/mAP50(M)", True),
        ("yolo11n-pose.pt", "metrics/mAP50-95(P)", True),
        ("yolo11n-cls.pt", "metrics/accuracy_top1", True),
        ("yolo11n.pt", "val/box_loss", True),
        ("yolo11n.pt", "fitness", True),
        ("yolo11n.pt", "train/mAP50(B)", True),
        ("yolo11n.pt", "metrics/mAP50", False),
        ("yolo11n.pt", "metrics/mAP50(M)", False),
        ("yolo11n-cls.pt", "metrics/mAP50(B)", False),
    ],
)
def test_the_metric_is_checked_against_what_the_task_logs(tmp_path, model, metric, ok):
    config = yaml.safe_load((REPO / "sweep_config.yaml").read_text())
    config["parameters"]["model"] = {"value": model}
    config["metric"]["name"] = metric
    config["parameters"] = {k: v for k, v in config["parameters"].items() if k not in ("dropout", "copy_paste")}
    if ok:
        spec.validate_sweep(config, "s.yaml")
        return
    with pytest.raises(ConfigError) as caught:
        spec.validate_sweep(config, "s.yaml")
    assert caught.value.key == "metric.name" and "Fix: use" in str(caught.value)
    if metric == "metrics/mAP50":
        assert "'metrics/mAP50(B)'" in str(caught.value)


def test_the_shipped_detection_sweep_is_warned_about_dropout_and_copy_paste(tmp_path, capsys, demo_data):
    config = spec.load_sweep(REPO / "sweep_config.yaml")
    assert set(dead_parameters(config)) == {"dropout", "copy_paste"}
    config["parameters"].update(
        project={"value": str(tmp_path)}, data={"value": str(demo_data)}, model={"value": "yolo11n.yaml"}
    )  # no download here: the architecture
    check_sweep(config)
    warnings = [line for line in capsys.readouterr().out.splitlines() if "cannot change this training" in line]
    assert len(warnings) == 2 and all("Fix:" in line for line in warnings)
    classify = {**config, "parameters": {**config["parameters"], "model": {"value": "yolo11n-cls.yaml"}}}
    assert set(dead_parameters(classify)) == {"mosaic", "mixup", "copy_paste", "close_mosaic"}
    no_mosaic = {**config, "parameters": {**config["parameters"], "mosaic": {"value": 0.0}}}
    assert "close_mosaic" in dead_parameters(no_mosaic)


def test_best_config_header_round_trips_the_goal(tmp_path):

    path = tmp_path / "best_config.yaml"
    path.write_text(
        "# best configuration of sweep s1: run r1, val/box_loss = 1.2345 (minimize)\n"
        "# that run: epochs_done=3\n" + yaml.safe_dump({"data": "d.yaml", "lr0": 0.01})
    )
    _config, origin = load_best_config(path)
    assert origin.metric == LOSS and origin.objective == 1.2345 and json.dumps(origin.companion) == "null"


def test_the_metric_is_checked_against_the_model_the_runs_train_not_the_one_it_overrides(tmp_path, capsys):
    # The shipped YAML (yolo11n.pt, detect) asking for a mask metric, with `--model yolo11n-seg.yaml` as typed.
    config = yaml.safe_load((REPO / "sweep_config.yaml").read_text())
    config["metric"] = {"name": "metrics/mAP50-95(M)", "goal": "maximize"}
    path = tmp_path / "seg_sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    loaded = spec.load_sweep(path, {"model": "yolo11n-seg.yaml"})
    assert model_task(loaded) == "segment" and sweep_objective(loaded).name == "metrics/mAP50-95(M)"
    assert set(dead_parameters(loaded)) == {"dropout"}  # copy_paste acts on segment labels
    with pytest.raises(ConfigError, match=r"'metrics/mAP50-95\(M\)' is not a metric a detect model logs"):
        spec.load_sweep(path)  # without the override the YAML's detect model stands
    with pytest.raises(ConfigError, match=r"'metrics/mAP50\(B\)' is not a metric a classify model logs"):
        spec.load_sweep(REPO / "sweep_config.yaml", {"model": "yolo11n-cls.yaml"})  # the override is checked too


def test_the_objective_alone_decides_which_way_is_better_ranks_best_first_and_breaks_ties_as_asked():
    runs = [("b", 0.5), ("a", 0.5), ("c", None), ("d", 0.7), ("e", float("nan"))]
    up, down = Objective("metrics/mAP50(B)", "maximize"), LOSS
    value = lambda run: None if run[1] is None else run[1]  # noqa: E731
    assert [r[0] for r in up.ranked(runs, value, tie=lambda r: r[0])] == ["d", "a", "b", "c", "e"]
    assert [r[0] for r in down.ranked(runs, value, tie=lambda r: r[0])] == ["a", "b", "d", "c", "e"]
    assert down.best(runs, value) == ("b", 0.5)  # the first of equals, as W&B's bayes sees it
    assert down.best(runs, value, tie=lambda r: r[0]) == ("a", 0.5)
    assert up.best([("x", None)], value) is None and up.best([], value) is None
    assert up.gain_pct(0.78, 0.714) == pytest.approx(9.24, abs=0.01) and down.gain_pct(0.9, 1.0) == pytest.approx(10)
    assert down.improvement(1.1, 1.0) == pytest.approx(-0.1) and up.gain_pct(0.5, 0.0) == float("inf")
    assert Objective("fitness", "maximize", target=0.5).reached_target(0.5) and not LOSS.reached_target(0.1)
    assert Objective("val/loss", "minimize", target=0.2).reached_target(0.19)
    assert up.value({"metrics/mAP50(B)": True}) is None and up.value({"metrics/mAP50(B)": 1}) == 1.0
