"""What a new user met in the first hour (#42): each defect as it was found, in memory or on a real store, in
milliseconds. The installed command's hints are checked end to end in test_package.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

from yolosweep import invocation
from yolosweep.agent.loop import Agent
from yolosweep.commands.sweep import budget_line
from yolosweep.results import analysis, report, verdict
from yolosweep.results.progress import plain_lines, sweep_progress
from yolosweep.results.status import status_report
from yolosweep.results.verdict import DEFAULT_LEVELS
from yolosweep.states import RunState
from yolosweep.store import Run, Store
from yolosweep.sweep.model import _weights_fix, weights_dir

from .conftest import REPO

OBJECTIVE = "metrics/mAP50(B)"
SWEPT = {"lr0": {"min": 0.005, "max": 0.02}, "mosaic": {"min": 0.5, "max": 1.0}}


def _random_sweep(**fixed: dict) -> dict:
    """A random sweep over x for the store's own tests; `fixed`: more parameters."""
    parameters = {"x": {"values": [1, 2, 3]}, **fixed}
    return {
        "program": "p.py",
        "method": "random",
        "metric": {"name": "m", "goal": "maximize"},
        "parameters": parameters,
    }


def _sweep(values: list[tuple[str, float, float]], **fixed) -> analysis.SweepRuns:
    """Runs in start order as (origin, lr0, result): the first prior, its seed repeats, then searched runs."""
    config = {
        "metric": {"name": OBJECTIVE, "goal": "maximize"},
        "method": "bayes",
        "parameters": {**SWEPT, **{k: {"value": v} for k, v in {"epochs": 3, "data": "d.yaml", **fixed}.items()}},
    }
    runs = [
        Run(
            f"r{i}",
            "finished",
            "",
            {"lr0": lr0, "mosaic": 1.0, "seed": i},
            {OBJECTIVE: value},
            [{OBJECTIVE: value}] * 3,
            origin=origin,
        )
        for i, (origin, lr0, value) in enumerate(values)
    ]
    return analysis.SweepRuns("s1", config, runs, "memory")


def test_a_sweep_that_scored_zero_everywhere_is_analysed_against_a_baseline_without_a_traceback(tmp_path, capsys):
    """Defect 1: `analyze --baseline 0.714` on 4 runs of 3 epochs that all scored 0.0 raised a TypeError formatting the
    relative seed spread of a zero mean. Now the verdict says in words why it cannot judge."""
    sweep = _sweep([("prior", 0.01, 0.0), ("noise", 0.01, 0.0), ("noise", 0.01, 0.0), ("search", 0.015, 0.0)])
    assert report.analyze(sweep, tmp_path, 0.714, 10, DEFAULT_LEVELS) == 0
    (gain,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("gain:")]
    assert gain == (
        "gain: 100.0% below --baseline (0.7140): not judged, the 3 trainings of the defaults all scored "
        "0.0000, so the seed noise is unknown (runs too short to learn?)"
    )
    zero_mean = verdict.judge(0.02, 0.5, verdict.SeedSpread((0.0, 0.01, -0.01)), searched=2)  # a spread, a mean of 0
    assert "seed spread +-0.0100, 3 trainings, whose mean is 0" in zero_mean.describe("x")


def test_a_loss_is_worded_and_judged_as_a_loss():
    """Defect 2: "-65.4% over the defaults ... within the noise (p 1, ...)" read like a tie."""
    spread = verdict.SeedSpread((0.40, 0.45, 0.42))
    far = verdict.judge(0.15, spread.mean, spread, searched=3, baseline_is_reference_mean=True)
    assert far.loss and not far.beyond and far.p < verdict.BEYOND_P
    assert far.describe("the defaults").startswith("64.6% below the defaults (0.4233)")
    assert "a loss beyond the noise (p" in far.describe("the defaults") and "over" not in far.describe("the defaults")
    near = verdict.judge(0.41, spread.mean, spread, searched=1, baseline_is_reference_mean=True)
    assert near.loss and near.p > 0.3 and "3.1% below the defaults" in near.describe("the defaults")
    assert "a loss, within the noise" in near.describe("the defaults")
    # three searched runs all that far down: unlikely were they as good as the defaults, so a loss beyond the noise
    assert verdict.judge(0.41, spread.mean, spread, searched=3, baseline_is_reference_mean=True).p < verdict.BEYOND_P
    lines = verdict.verdict_lines(far, "the defaults", "s1", None)
    assert "the best searched run is below the defaults" in lines[1] and "retrain the top" not in lines[1]
    gain = verdict.judge(0.5, spread.mean, spread, searched=3, baseline_is_reference_mean=True)
    assert not gain.loss and gain.describe("x").startswith("+18.1% over x")


def test_the_launch_says_how_many_configurations_count_will_search():
    """Defect 3: `--count 3` spent all three runs on the defaults and their seed repeats, and said so only as
    "(2 runs of the budget; --noise-runs 0 to skip)"."""
    assert budget_line(3, 1, 2) == (
        "yolosweep: WARNING: --count 3 is used up by 1 prior run(s) and 2 seed repeat(s): "
        "no configuration will be searched. Fix: --count 6 to search 3 configurations, "
        "or --noise-runs 0"
    )
    assert (
        budget_line(8, 1, 2)
        == "yolosweep: --count 8: 1 prior run(s) and 2 seed repeat(s) first, then 5 searched configuration(s)"
    )


def test_joining_a_sweep_counts_this_launchs_runs_against_its_count(tmp_path):
    """Defect 4: `launch --sweep-id ID --count 3` printed "4/3 runs ended", "about 0m00s left" before any run began."""
    store = Store(tmp_path / "sweeps.db")
    config = _random_sweep(epochs={"value": 4})
    sweep_id = store.create_sweep(config)
    agent = Agent(store, sweep_id)
    for value in (0.1, 0.2, 0.3, 0.4):
        run_id = agent._next()[0]
        store.end_run(run_id, RunState.FINISHED, summary={"m": value})
    store.db.exec_driver_sql("UPDATE runs SET created=ended-60")  # each took a minute
    joined = sweep_progress(store, sweep_id, planned=3, since=store.now())
    assert plain_lines(joined)[0].startswith(f"sweep {sweep_id}: 0/3 runs ended, 0 running;")  # no band: no count
    assert joined.left_s == pytest.approx(3 * 60, abs=1)  # three runs of the sweep's median length, not 0m00s
    agent._next()
    started = sweep_progress(store, sweep_id, planned=3, since=store.now() - 5)  # one of the three under way
    assert plain_lines(started)[0].startswith(f"sweep {sweep_id}: 0/3 runs ended, 1 running") and started.left_s == 120


def test_hints_name_the_commands_this_user_has(tmp_path, monkeypatch):
    """Defect 5: an installed user was told `python train_best_config.py`, a file only a clone has. In a clone's root
    the scripts; elsewhere `python -m yolosweep` (installed, `yolosweep`: test_package.py runs the wheel)."""
    monkeypatch.chdir(REPO)
    assert invocation.command("retrain") == "python train_best_config.py"
    assert invocation.command("status") == "python -m yolosweep status"
    monkeypatch.chdir(tmp_path)  # an empty folder: no sweep_config.yaml to create a sweep from
    assert invocation.command("retrain") == "python -m yolosweep retrain"
    assert "sweep_config.yaml`" not in invocation.create_hint() and "launch --data" in invocation.create_hint()
    lines = verdict.verdict_lines(
        verdict.judge(0.5, 0.45, verdict.SeedSpread((0.45, 0.46, 0.44)), 3, baseline_is_reference_mean=True),
        "the defaults",
        "s1",
        None,
    )
    assert "(python -m yolosweep retrain --sweep s1 --top 3 --seeds 2" in lines[1]
    monkeypatch.setattr(invocation, "in_clone", lambda: False)
    assert invocation.command("retrain") == "yolosweep retrain"
    (tmp_path / "sweep_config.yaml").write_text("{}")
    assert invocation.create_hint() == "create one with `yolosweep sweep sweep_config.yaml`"


def test_status_in_an_empty_folder_says_how_to_start(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "yolosweep", "status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "YOLOSWEEP_HOME": str(tmp_path / ".yolosweep")},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "sweep_config.yaml`" not in done.stderr and "launch --data path/to/data.yaml" in done.stderr, done.stderr


def test_the_offline_weights_error_names_the_absolute_folder_and_the_model_flag(tmp_path, monkeypatch):
    """Defect 6: "put yolo11n.pt in weights (Ultralytics' weights folder)": a relative folder, and no --model."""
    monkeypatch.chdir(tmp_path)
    fix = _weights_fix("yolo11n.pt")
    assert weights_dir().is_absolute() and f"put yolo11n.pt in {weights_dir()} (" in fix
    assert "--model PATH" in fix and "--model yolo11n.yaml" in fix


def test_runs_of_one_configuration_get_one_line_instead_of_an_importance_table_of_nan(tmp_path, capsys):
    """Defect 7: 13 rows of `NaN NaN`, and a "best 0.2281:" line with nothing after it on that line."""
    sweep = _sweep([("prior", 0.01, 0.22), ("noise", 0.01, 0.23), ("noise", 0.01, 0.21), ("search", 0.01, 0.2281)])
    assert report.analyze(sweep, tmp_path, None, 10, DEFAULT_LEVELS) == 0
    out = capsys.readouterr().out
    assert "parameter importance: none, the 4 runs with a result share one configuration" in out
    assert "NaN" not in out and "best 0.2281:" not in out


def test_status_marks_the_defaults_seed_repeats(tmp_path):
    """Defect 8: only the first defaults run was tagged; its seed repeats looked like searched runs."""
    store = Store(tmp_path / "sweeps.db")
    config = _random_sweep(seed={"value": 0})
    sweep_id = store.create_sweep(config, [{"x": 1, "seed": 0}], [{"x": 1, "seed": 1}])
    agent = Agent(store, sweep_id)
    taken = [agent._next()[0] for _ in range(3)]
    for run_id in taken:
        store.end_run(run_id, RunState.FINISHED, summary={"m": 0.5})
    table = "\n".join(status_report(store, sweep_id))
    assert f"{taken[0]} (prior) " in table and f"{taken[1]} (seed repeat, seed 1) " in table
    assert re.search(rf"^{taken[2]} +finished", table, re.M)  # the searched run carries no tag


def test_best_config_leaves_the_sweep_machines_settings_to_the_retrains(tmp_path, capsys):
    """Defect 9: best_config.yaml carried `workers: 8` (and the device) from the sweep's machine."""
    sweep = _sweep([("prior", 0.01, 0.3), ("search", 0.015, 0.4), ("search", 0.02, 0.35)], workers=8, device="cpu")
    assert report.analyze(sweep, tmp_path, None, 10, DEFAULT_LEVELS) == 0
    text = (tmp_path / "best_config.yaml").read_text()
    best = yaml.safe_load(text)
    assert "workers" not in best and "device" not in best and best["lr0"] == 0.015
    assert "# not carried over, the sweep's machine had: device=cpu workers=8" in text


def test_version_and_a_moved_band_said_once_in_epochs(tmp_path):
    """Defect 11: no --version; "min_iter 30 -> 1" printed before the missing-dataset error; "min_iter 30 -> 6" then
    "the first band, at epoch 7" for one band."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLOSWEEP_HOME": str(tmp_path / ".yolosweep")}
    done = subprocess.run([sys.executable, "-m", "yolosweep", "--version"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "yolosweep 0.1.0"
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "yolosweep",
            "sweep",
            str(REPO / "sweep_config.yaml"),
            "--data",
            str(tmp_path / "none.yaml"),
            "--epochs",
            "1",
            "--model",
            "yolo11n.yaml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert missing.returncode == 2 and "not found" in missing.stderr and "min_iter" not in missing.stdout
    from yolosweep.sweep.spec import load_sweep, moved_band_line

    config = load_sweep(REPO / "sweep_config.yaml", {"epochs": 20, "model": "yolo11n.yaml"})
    assert (
        moved_band_line(REPO / "sweep_config.yaml", config)
        == "hyperband min_iter 60 -> 12 for 20 epochs a run (band at epoch 13)"
    )


def test_bad_datasets_are_refused_in_one_line_at_creation(tmp_path):
    """Defect 12: a symbolic link loop got a 36-line traceback; a dataset whose every training image is a 0-byte file
    was accepted, then every run failed with Ultralytics' "No valid images found"."""
    from yolosweep.sweep.dataset import check_labels
    from yolosweep.sweep.demo_data import write_demo_dataset
    from yolosweep.sweep.errors import ConfigError

    data = write_demo_dataset(tmp_path / "d", n_train=4, n_val=2, seed=0)
    looped = tmp_path / "looped.yaml"
    (tmp_path / "self").symlink_to(tmp_path / "self")
    looped.write_text(yaml.safe_dump({**yaml.safe_load(data.read_text()), "path": str(tmp_path / "self")}))
    with pytest.raises(ConfigError, match=r"looped.yaml: path: .*self is a symbolic link loop. Fix: point `path:`"):
        check_labels(str(looped))
    train = sorted((tmp_path / "d" / "images" / "train").iterdir())
    train[0].write_bytes(b"")
    assert any("1 of 4 train images are empty (0-byte) files" in w for w in check_labels(str(data)))
    for image in train:
        image.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"train: all 4 images in .* are empty \(0-byte\) files"):
        check_labels(str(data))
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOLOSWEEP_HOME": str(tmp_path / ".yolosweep")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "yolosweep",
            "sweep",
            str(REPO / "sweep_config.yaml"),
            "--data",
            str(looped),
            "--model",
            "yolo11n.yaml",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".yolosweep" / "sweeps.db").exists()  # nothing written
