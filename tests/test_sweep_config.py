"""sweep_config.yaml is a valid W&B sweep with the guide's 13 hyperparameters, and bad specs fail clearly."""

import time
from pathlib import Path

import pytest
import yaml
from sweeps import schema_violations_from_proposed_config

from yolosweep.commands import arguments
from yolosweep.sweep import preflight, spec
from yolosweep.sweep.band import SHIPPED_FIRST_BAND, band_after_last_epoch, first_band_after_warmup, step_aside
from yolosweep.sweep.dataset import check_labels
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.train_args import fixed_values

from .conftest import REPO

SWEPT = {
    "lr0": (0.005, 0.02),
    "lrf": (0.01, 0.1),
    "warmup_epochs": [1, 3, 5],
    "hsv_h": (0.0, 0.03),
    "hsv_s": (0.5, 0.9),
    "hsv_v": (0.3, 0.6),
    "mosaic": (0.5, 1.0),
    "close_mosaic": [0, 5, 10, 15, 20],
    "mixup": (0.0, 0.3),
    "copy_paste": (0.0, 0.3),
    "degrees": (0.0, 10.0),
    "weight_decay": (0.0001, 0.001),
    "dropout": (0.0, 0.2),
}


def test_sweep_config_is_a_valid_wandb_sweep_with_the_13_parameters():
    raw = yaml.safe_load((REPO / "sweep_config.yaml").read_text())
    assert schema_violations_from_proposed_config(raw) == []
    config = spec.load_sweep(REPO / "sweep_config.yaml")
    swept = {k: v for k, v in config["parameters"].items() if "value" not in v}
    assert set(swept) == set(SWEPT)
    for name, expected in SWEPT.items():
        entry = swept[name]
        got = entry["values"] if isinstance(expected, list) else (entry["min"], entry["max"])
        assert got == expected, name
    for name in ("lr0", "lrf", "weight_decay"):  # each spans a decade
        assert swept[name]["distribution"] == "log_uniform_values"
    assert config["program"] == "train_sweep.py" and config["method"] == "bayes"
    assert config["metric"] == {"name": "metrics/mAP50(B)", "goal": "maximize"}
    assert config["early_terminate"]["type"] == "hyperband"
    fixed = fixed_values(config)
    assert {"epochs": 100, "batch": 64, "imgsz": 640, "model": "yolo11n.pt"}.items() <= fixed.items()
    assert {"data", "patience", "seed", "optimizer"} <= set(fixed)


def test_hyperband_judges_runs_once_at_epoch_61():
    """One band, at epoch 61 of 100: where the band cost the search neither on the recorded 100-epoch curves
    (bench/results/band_replay_finetune_long.md) nor with bayes on their surrogate (value_finetune_long.md; at 51
    it did, at 20 runs); the next band (180) is past the run."""
    config = spec.load_sweep(REPO / "sweep_config.yaml")
    et = config["early_terminate"]
    assert et["min_iter"] == 60 and et["min_iter"] * et["eta"] > fixed_values(config)["epochs"]
    assert SHIPPED_FIRST_BAND * fixed_values(config)["epochs"] == et["min_iter"]


def test_shorter_runs_keep_the_first_band_after_the_longest_warmup(capsys):
    config = spec.load_sweep(REPO / "sweep_config.yaml")  # warm-up swept over 1, 3, 5 epochs
    assert spec.with_overrides(config, {"epochs": 50})["early_terminate"]["min_iter"] == 30  # 60 of 100 -> 30 of 50
    assert spec.with_overrides(config, {"epochs": 8})["early_terminate"]["min_iter"] == 6  # not 5: inside warm-up
    assert spec.with_overrides(config, {"epochs": 5, "warmup_epochs": 1})["early_terminate"]["min_iter"] == 3
    short = spec.with_overrides(config, {"epochs": 5})  # warm-up capped at 4 epochs: the band would be the last epoch
    assert short["early_terminate"]["min_iter"] == 5
    assert band_after_last_epoch(short, 5, first_band_after_warmup(short)).endswith(
        "Fix: no early_terminate: the warm-up lasts to epoch 4, so no band fits in 5 epochs"
    )


def test_a_band_at_or_after_the_last_epoch_is_warned_about(tmp_path, capsys):
    """A YAML that fixes short runs but keeps a min_iter of 30: Hyperband would silently stop nothing."""
    config = {
        "program": "train_sweep.py",
        "early_terminate": {"type": "hyperband", "min_iter": 30, "eta": 3},
        "parameters": {
            "warmup_epochs": {"values": [1, 3]},
            "epochs": {"value": 15},
            "project": {"value": str(tmp_path)},
        },
    }
    preflight.check_sweep(config)
    assert capsys.readouterr().out.strip() == (
        "yolosweep: WARNING: early_terminate.min_iter 30 is not before the last of the 15 epochs a run trains: "
        "Hyperband will stop no run early. Fix: min_iter 9 (the shipped 60 of 100, scaled), or no early_terminate"
    )
    del config["parameters"]["epochs"]  # Ultralytics' default: 100 epochs
    preflight.check_sweep(config)
    assert "WARNING" not in capsys.readouterr().out
    config["parameters"]["epochs"] = {"values": [10, 50]}  # swept: each run's own length, not judged here
    preflight.check_sweep(config)
    assert "WARNING" not in capsys.readouterr().out


def test_a_band_in_a_short_run_steps_aside_unless_kept(tmp_path, capsys):
    """On runs of 20 epochs or fewer the band cost the search in both regimes measured (bench/results/value_finetune.md,
    value_scratch.md, band_replay_*.md): the sweep is made without it, saying so; --keep-band keeps it, with the
    warning."""
    config = {
        "program": "train_sweep.py",
        "early_terminate": {"type": "hyperband", "min_iter": 6, "eta": 3},
        "parameters": {
            "warmup_epochs": {"values": [1, 3, 5]},
            "epochs": {"value": 15},
            "project": {"value": str(tmp_path)},
        },
    }
    assert "early_terminate" not in step_aside(config, keep_band=False)
    out = capsys.readouterr().out.strip()
    assert (
        out.startswith(
            "yolosweep: early_terminate left out of this sweep: Hyperband's first band, at epoch 7 of 15, "
            "would save few epochs"
        )
        and "\n" not in out
    )
    assert out.endswith("Every run trains to its last epoch (--keep-band keeps it)")
    assert step_aside(config, keep_band=True) is config
    assert capsys.readouterr().out.startswith("yolosweep: WARNING: early_terminate: Hyperband's first band")
    for epochs in (21, 100):  # longer runs were not measured: nothing claimed, nothing dropped
        config["parameters"]["epochs"] = {"value": epochs}
        assert step_aside(config, keep_band=False) is config
        assert capsys.readouterr().out == ""
    config["program"] = "my_program.py"  # another program's epochs mean what it says they mean
    config["parameters"]["epochs"] = {"value": 15}
    assert step_aside(config, keep_band=False) is config


def test_a_band_inside_the_warmup_is_warned_about(tmp_path, capsys):
    config = {
        "program": "train_sweep.py",
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3},
        "parameters": {
            "warmup_epochs": {"values": [1, 5]},
            "epochs": {"value": 100},
            "project": {"value": str(tmp_path)},
        },
    }
    preflight.check_sweep(config)
    assert "min_iter 3 judges runs while their learning rate still warms up" in capsys.readouterr().out
    config["early_terminate"]["min_iter"] = 6
    preflight.check_sweep(config)
    assert "WARNING" not in capsys.readouterr().out


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


BASE = "method: random\nmetric: {name: metrics/mAP50(B), goal: maximize}\nparameters:\n"


@pytest.mark.parametrize(
    "text, key, words",
    [
        ("method: bayes\nparameters: {lr0: {min: 0.1, max: [}\n", "line", "YAML"),
        (BASE + "  lr0: {value: 0.01}\nrun_limit: 3\n", "run_limit", "W&B sweep keys"),
        (BASE + "  lr: {min: 0.001, max: 0.01}\n", "lr", "lr0"),
        (BASE + "  mosaic: {min: 0.5, max: 1.5}\n", "mosaic", "between 0.0 and 1.0"),
        (BASE + "  epochs: {value: ten}\n", "epochs", "int"),
        (BASE + "  close_mosaic: {values: []}\n", "close_mosaic", "empty"),
        (BASE + "  lr0: {min: 0.02, max: 0.005}\n", "lr0", "min"),
        (BASE.replace("random", "grid") + "  lr0: {min: 0.001, max: 0.01}\n", "lr0", "grid"),
        (BASE.replace("random", "hyperopt") + "  lr0: {value: 0.01}\n", "method", "grid, random, bayes"),
        (
            BASE.replace("random", "bayes") + "  optimizer: {values: [SGD, AdamW], probabilities: [0.5, 0.5]}\n",
            "parameters.optimizer.probabilities",
            "method random",
        ),
        ("method: bayes\nparameters:\n  lr0: {min: 0.001, max: 0.01}\n", "metric", "bayes search learns from a metric"),
        (
            "method: random\nearly_terminate: {type: hyperband, min_iter: 3}\nparameters:\n  lr0: {value: 0.01}\n",
            "metric",
            "Hyperband",
        ),
        (BASE + "  lr0: {value: 0.01}\nrun_cap: abc\n", "run_cap", "whole number"),
        (
            BASE + "  lr0: {value: 0.01}\nearly_terminate: {type: hyperband, max_iter: 2, s: 2}\n",
            "early_terminate",
            "no band",
        ),
        (BASE + "  lr0: {value: 0.01}\n  name: {value: 2024-01-01}\n", "parameters.name.value", "quote it"),
        (
            BASE + "  lr0: {value: 0.01}\nearly_terminate: {type: hyperband, min_iter: 3, eta: 1}\n",
            "early_terminate.eta",
            "minimum",
        ),
    ],
)
def test_bad_sweep_specs_give_one_line_naming_file_key_and_fix(tmp_path, text, key, words):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        spec.load_sweep(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and key in message and "Fix:" in message
    assert words in message


def test_parameter_values_are_typed_like_wandb_passes_them():
    params = arguments.parse_params(
        ["--lr0=0.01", "--epochs", "3", "mosaic=1", "--deterministic=True", "--data=a b.yaml", "--weight_decay=1e-4"]
    )
    assert params == {
        "lr0": 0.01,
        "epochs": 3,
        "mosaic": 1,
        "deterministic": True,
        "data": "a b.yaml",
        "weight_decay": 0.0001,
    }


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    lines = ["method: random", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    path = _write(tmp_path, "\n".join(lines) + "\nparameters: {lr0: {values: *a8}}\n")
    assert path.stat().st_size < 1000
    started = time.time()
    with pytest.raises(ConfigError, match="expands to more than"):
        spec.load_sweep(path)
    assert time.time() - started < 5


def test_a_huge_sweep_yaml_is_refused_unread(tmp_path):
    path = _write(tmp_path, BASE + "  lr0: {values: [" + ", ".join(["0.01"] * 400_000) + "]}\n")
    with pytest.raises(ConfigError, match="larger than a sweep YAML can be"):
        spec.load_sweep(path)


def test_classes_too_rare_to_tune_or_absent_from_val_are_warned_about_at_creation(tmp_path, capsys):
    """Real photos have them (chess: `bishop`, 1 training box, none in val): mAP50 averages over the classes val
    has, so the sweep neither measures nor tunes such a class. Warned once, with the counts and the fix."""
    from PIL import Image

    labels = {
        "train": [
            "0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1",
            "1 0.5 0.5 0.2 0.2\n2 0.4 0.4 0.2 0.2",
            "1 0.5 0.5 0.2 0.2",
            "2 0.5 0.5 0.2 0.2",
            "2 0.6 0.6 0.1 0.1",
            "",
        ],  # class 0 once; an image without objects
        "val": ["1 0.5 0.5 0.2 0.2", "2 0.5 0.5 0.2 0.2"],
    }
    for split, files in labels.items():
        for folder in ("images", "labels"):
            (tmp_path / folder / split).mkdir(parents=True)
        for i, text in enumerate(files):
            Image.new("RGB", (64, 48)).save(tmp_path / "images" / split / f"{i}.jpg")
            (tmp_path / "labels" / split / f"{i}.txt").write_text(text)
    data = tmp_path / "data.yaml"
    data.write_text(f"path: {tmp_path}\ntrain: images/train\nval: images/val\nnames: [bishop, pawn, rook]\n")
    config = {
        "program": "train_sweep.py",
        "parameters": {
            "data": {"value": str(data)},
            "epochs": {"value": 3},
            "project": {"value": str(tmp_path / "runs")},
        },
    }
    preflight.check_sweep(config)
    out = capsys.readouterr().out
    assert (
        f"WARNING: {data}: 1 class(es) with under 3 training boxes: 0 'bishop' (1): no setting can learn them. "
        "Fix: label more of them, or merge or drop the class"
    ) in out
    assert f"WARNING: {data}: 1 class(es) with no box in val: 0 'bishop': the sweep's metric leaves them out." in out
    (tmp_path / "labels" / "train" / "5.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.2 0.2 0.1 0.1")
    (tmp_path / "labels" / "val" / "1.txt").write_text("2 0.5 0.5 0.2 0.2\n0 0.2 0.2 0.1 0.1")
    preflight.check_sweep(config)
    assert "WARNING" not in capsys.readouterr().out


def test_a_dataset_given_by_a_relative_path_is_found_where_ultralytics_finds_it(tmp_path, monkeypatch):
    """`data: {value: examples/bccd/data.yaml}` (no `path:` in it): the splits lie beside the YAML, from the working
    folder. The W&B backend checks a sweep YAML's `data` as given (the local one makes it absolute first); it once
    looked in examples/bccd/examples/bccd and refused a dataset Ultralytics trains on."""
    from ultralytics.data.utils import check_det_dataset

    monkeypatch.chdir(REPO)
    data = "examples/bccd/data.yaml"
    assert check_labels(data) == []
    assert Path(check_det_dataset(data)["train"]) == (REPO / "examples" / "bccd" / "images" / "train").resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="dataset YAML not found"):
        check_labels(data)
