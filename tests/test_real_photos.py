"""The product on real photographs (#25): a vendored slice of BCCD (tests/data/bccd_small: 16/8 microscope photos,
MIT, with its licence and attribution), fine-tuned from the checkpoint made offline on the chess photos
(bench/weights/yolo11n-chess.pt, bench/pretrain.py), through the launcher, status and the analysis."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from yolosweep.sweep.dataset import check_labels
from yolosweep.sweep.task import model_task
from yolosweep.sweep.train_args import fixed_values

from .conftest import REPO, offline_runs, shipped_sweep_yaml
from .test_launch import OWN_SEED_LED, launch, sweep_runs
from .test_local_backend import yolosweep

BCCD_SMALL = REPO / "tests" / "data" / "bccd_small" / "data.yaml"
CHESS_CHECKPOINT = REPO / "bench" / "weights" / "yolo11n-chess.pt"


@pytest.mark.integration
def test_a_sweep_on_real_photos_fine_tunes_the_offline_checkpoint_end_to_end(tmp_path, home_env):
    from yolosweep.run.tracking import read_offline_run

    done = launch(
        [
            "--config",
            str(shipped_sweep_yaml(tmp_path)),
            "--backend",
            "local",
            "--gpus",
            "cpu",
            "--count",
            "4",
            "--data",
            str(BCCD_SMALL),
            "--model",
            str(CHESS_CHECKPOINT),
            "--epochs",
            "2",
            "--imgsz",
            "64",
            "--batch",
            "8",
        ],
        home_env,
        tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"pretrained weights: {CHESS_CHECKPOINT}\n" in done.stdout  # found once, at creation, named once (#42)
    sweep_id, runs = sweep_runs(home_env, done.stdout)
    assert sorted(r.origin for r in runs) == ["noise", "noise", "prior", "search"]
    assert all(r.state in ("finished", "stopped") and r.history for r in runs), [
        (r.id, r.state, r.reason) for r in runs
    ]
    assert "best run:" in done.stdout
    reference = [r.summary.get("metrics/mAP50(B)") for r in runs if r.origin != "search"]
    if any(reference):  # a gain is judged wherever the defaults scored (at 2 epochs of 64 px they may not)
        assert re.search(
            r"gain: " + OWN_SEED_LED + r"(\+[\d.]+% over|[\d.]+% below) the defaults \(mean of 3 seeds\).*"
            r"(within|beyond) the noise",  # a short sweep's best may be a gain or a loss; either is judged
            done.stdout,
        )
    for path in offline_runs(tmp_path):  # every run loaded the checkpoint: none trained from scratch
        assert read_offline_run(path).config["weights_source"] == f"weights {CHESS_CHECKPOINT}"
    status = yolosweep(["status", sweep_id], home_env, tmp_path)
    assert status.returncode == 0 and "4 runs" in status.stdout
    analysed = subprocess.run(
        [sys.executable, str(REPO / "analyze_sweep.py"), sweep_id, "--out", str(tmp_path / "report")],
        env=home_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert analysed.returncode == 0 and (tmp_path / "report" / "best_config.yaml").exists(), analysed.stderr[-2000:]


def test_the_readme_real_photo_dataset_is_whole_licensed_and_passes_the_label_check():
    """examples/bccd backs the README's reproducible sweep: every image labelled, licence and attribution beside it,
    and no class the sweep could not tune."""

    root = REPO / "examples" / "bccd"
    assert (root / "LICENSE").read_text().startswith("MIT License") and "BCCD_Dataset" in (
        root / "ATTRIBUTION.txt"
    ).read_text()
    for split, count in (("train", 205), ("val", 87)):
        images = sorted(p.stem for p in (root / "images" / split).glob("*.jpg"))
        assert len(images) == count and images == sorted(p.stem for p in (root / "labels" / split).glob("*.txt"))
    assert check_labels(str(root / "data.yaml")) == []


def test_the_readme_real_photo_sweep_yaml_searches_the_shipped_space_without_a_band(monkeypatch):
    """examples/bccd/sweep.yaml is sweep_config.yaml's search at the measured run length, minus Hyperband: the same
    13 ranges (so it cannot drift from the shipped ones), 15 epochs, no early_terminate, and it checks clean."""
    from yolosweep.sweep import preflight, spec

    monkeypatch.chdir(REPO)  # its paths are the repository's, as the README runs it
    example = spec.load_sweep(REPO / "examples" / "bccd" / "sweep.yaml")
    shipped = spec.load_sweep(REPO / "sweep_config.yaml")
    searched = {name: entry for name, entry in shipped["parameters"].items() if "value" not in entry}
    assert len(searched) == 13 and {k: example["parameters"][k] for k in searched} == searched
    assert "early_terminate" not in example and fixed_values(example)["epochs"] == 15
    assert model_task(example) == "detect"
    preflight.check_sweep(example)
