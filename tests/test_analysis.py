"""analyze_sweep.py on real local sweeps: the table, the files, the plots, and clear failures."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from wandb.apis.public import Run as WandbRun

from yolosweep.results import analysis
from yolosweep.results.best_config import from_sweep
from yolosweep.results.verdict import DEFAULT_LEVELS
from yolosweep.run.tracking import OBJECTIVE, read_offline_run
from yolosweep.store import Run, Store

from .conftest import REPO, offline_runs
from .test_local_backend import agent, create, curve_sweep


def analyze(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "analyze_sweep.py"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.integration
@pytest.mark.slow
def test_analysis_of_a_real_sweep_writes_table_config_plots_and_report(real_sweep):
    cwd, env, sweep_id = real_sweep
    done = analyze(["--baseline", "0.2", "--out", "report"], env, cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    out = cwd / "report"
    table = pd.read_csv(out / "runs.csv")
    assert len(table) == 3 and list(table.columns[: len(analysis.BASE_COLUMNS)]) == analysis.BASE_COLUMNS
    store = Store(cwd / "home" / "sweeps.db")
    runs = store.runs(sweep_id)
    # ties (a 2-epoch sweep may score 0 everywhere: seen in CI) break by run id, as the table does
    best = min(runs, key=lambda r: (-r.summary.get(OBJECTIVE, -1), r.id))
    assert table.iloc[0]["run_id"] == best.id
    text = (out / "best_config.yaml").read_text()
    assert f"run {best.id}" in text
    config = yaml.safe_load(text)
    assert config["lr0"] == pytest.approx(best.params["lr0"]) and config["epochs"] == 2
    assert config["optimizer"] == "AdamW" and "name" not in config
    for picture in ("parallel_coordinates.png", "importance.png", "objective_vs_params.png", "learning_curves.png"):
        assert (out / picture).stat().st_size > 10_000, picture
        assert f"({picture})" in (out / "report.md").read_text()
    assert "parameter importance" in done.stdout and "WARNING: only 3 runs" in done.stdout
    # No seed spread in this sweep (no defaults run, no repeats): the gain is said, not judged, and no level claimed.
    assert re.search(
        r"gain: (\+[\d.]+% over|[\d.]+% below) --baseline \(0\.2000\): seed noise not measured, so not judged",
        done.stdout,
    )
    assert "no success level claimed" in done.stdout
    # 2-epoch runs: the shipped band, scaled, falls on the last epoch and can stop nothing, so no savings are claimed
    assert "Hyperband:" not in done.stdout and best.id in done.stdout


@pytest.mark.integration
@pytest.mark.slow
def test_wandb_side_table_has_the_same_columns_as_the_store_side(real_sweep):
    cwd, _, sweep_id = real_sweep
    store_side = analysis.from_store(Store(cwd / "home" / "sweeps.db"), sweep_id)
    records = []
    for folder in offline_runs(cwd):  # the real wandb runs these trials wrote, as wandb's own public Run type
        logged = read_offline_run(folder)
        run_id = folder.name.rsplit("-", 1)[-1]
        public = WandbRun(
            None,
            "entity",
            "yolosweep",
            run_id,
            attrs={
                "name": run_id,
                "state": "finished",
                "config": json.dumps({k: {"value": v} for k, v in logged.config.items()}),
                "summaryMetrics": json.dumps(logged.summary),
            },
        )
        records.append(analysis.wandb_record(public, OBJECTIVE, history=logged.history))
    wandb_side = analysis.SweepRuns(sweep_id, store_side.config, records, source="wandb")
    from_store, from_wandb = analysis.runs_table(store_side), analysis.runs_table(wandb_side)
    assert list(from_store.columns) == list(from_wandb.columns)
    assert list(from_store["run_id"]) == list(from_wandb["run_id"])
    assert from_store["objective"].tolist() == pytest.approx(from_wandb["objective"].tolist())
    assert from_store["epochs_done"].tolist() == from_wandb["epochs_done"].tolist()


@pytest.mark.integration
def test_empty_and_all_failed_sweeps_exit_nonzero_with_a_message(tmp_path, offline_env):
    env = {**offline_env, "YOLOSWEEP_HOME": str(tmp_path / "home")}
    done = analyze([], env, tmp_path)  # nothing swept here yet
    assert done.returncode == 1 and "no local sweeps here" in done.stderr and not (tmp_path / "home").exists()
    empty = create(curve_sweep(tmp_path, "random", [0.5], epochs=1, epoch_s=0.1), env, tmp_path)
    done = analyze([empty], env, tmp_path)
    assert done.returncode == 1 and "has no runs yet" in done.stderr and "Traceback" not in done.stderr

    failing = tmp_path / "fails.py"
    failing.write_text("import sys\nsys.exit(3)\n")
    config = yaml.safe_load(curve_sweep(tmp_path, "random", [0.5], epochs=1, epoch_s=0.1).read_text())
    config["program"] = str(failing)
    path = tmp_path / "failing.yaml"
    path.write_text(yaml.safe_dump(config))
    sweep_id = create(path, env, tmp_path)
    agent(sweep_id, env, tmp_path, "--count", "2").communicate(timeout=120)
    done = analyze([sweep_id], env, tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no run has a value of metrics/mAP50(B)" in done.stderr and "'failed': 2" in done.stderr
    assert (tmp_path / "sweep_report" / sweep_id / "runs.csv").exists()  # the table is still written


def test_table_columns_and_ranking_do_not_depend_on_run_order():
    config = {
        "metric": {"name": OBJECTIVE, "goal": "maximize"},
        "parameters": {"lr0": {"min": 0.005, "max": 0.02}, "epochs": {"value": 2}},
    }
    runs = [
        Run("bbbbbbbb", "finished", "", {"lr0": 0.01}, {OBJECTIVE: 0.0, "metrics/recall(B)": 0.1}, [{}]),
        Run("aaaaaaaa", "stopped", "hyperband", {"lr0": 0.02}, {OBJECTIVE: 0.0}, [{}]),
        Run("cccccccc", "failed", "exit code 1", {"lr0": 0.005}, {}, []),
        Run("dddddddd", "finished", "", {"lr0": 0.007}, {OBJECTIVE: 0.4}, [{}, {}]),
    ]
    one = analysis.runs_table(analysis.SweepRuns("s", config, runs, "a"))
    other = analysis.runs_table(analysis.SweepRuns("s", config, runs[::-1], "b"))
    assert list(one.columns) == list(other.columns) == analysis.BASE_COLUMNS + ["lr0", "metrics/recall(B)"]
    assert list(one["run_id"]) == list(other["run_id"]) == ["dddddddd", "aaaaaaaa", "bbbbbbbb", "cccccccc"]
    assert analysis.hyperband_savings(one, 2) == {"epochs_trained": 4, "epochs_if_all_ran": 8, "saved_fraction": 0.5}


def _band_sweep(curves: list[list[float]], min_iter: int = 3, goal: str = "maximize") -> analysis.SweepRuns:
    config = {
        "metric": {"name": OBJECTIVE, "goal": goal},
        "early_terminate": {"type": "hyperband", "min_iter": min_iter, "eta": 3},
        "parameters": {"lr0": {"min": 0.005, "max": 0.02}, "epochs": {"value": len(curves[0])}},
    }
    runs = [
        Run(f"r{i}", "finished", "", {"lr0": 0.01}, {OBJECTIVE: max(c)}, [{OBJECTIVE: v} for v in c])
        for i, c in enumerate(curves)
    ]
    return analysis.SweepRuns("s", config, runs, "memory")


def _reversed_until(epochs: int, turn: int) -> list[list[float]]:
    """8 runs: until epoch `turn` the weakest finishers lead (order reversed), then the metric follows each result."""
    return [
        [(7 - i) / 100 if epoch < turn else i / 10 * epoch / (epochs - 1) for epoch in range(epochs)] for i in range(8)
    ]


def test_a_band_that_ranks_runs_against_their_results_is_named_with_where_to_move_it():
    from yolosweep.results.band_check import band_advice, band_checks

    sweep = _band_sweep(_reversed_until(30, 6))  # the band at min_iter 3 (epoch 4) judges the reversed order
    check, *later_bands = band_checks(sweep)
    assert (check.band, check.runs, check.predictive_from) == (3, 8, 6) and check.spearman == pytest.approx(-1)
    assert [band.predictive for band in later_bands] == [True, True]  # epochs 10 and 28 follow the results
    [line] = band_advice(sweep)
    assert "band at epoch 4" in line and "Spearman -1.00" in line and "early_terminate.min_iter: 6" in line


def test_every_band_inside_the_run_is_judged_as_the_engine_places_them():
    from yolosweep.results.band_check import band_advice, band_checks

    # min_iter 3 on 100 epochs: the engine's bands at epochs 4, 10, 28 and 82; the metric ranks runs only from 90
    sweep = _band_sweep(_reversed_until(100, 90))
    assert [(check.band, check.predictive) for check in band_checks(sweep)] == [
        (3, False),
        (9, False),
        (27, False),
        (81, False),
    ]
    assert "band at epoch 82" in band_advice(sweep)[-1]


def test_a_band_the_metric_ranks_only_late_is_advised_away():
    from yolosweep.results.band_check import band_advice, band_checks

    # the same runs in 10 epochs: the metric ranks them from epoch 7, past half the run, where a band stops
    # too late to save what it loses (bench/results/band_replay_finetune.md: a band at epoch 12 or 14 of 15)
    sweep = _band_sweep(_reversed_until(10, 6))
    [check] = band_checks(sweep)  # the second band (9) is the last epoch: nothing is stopped there
    assert (check.band, check.predictive_from) == (3, 6)
    [line] = band_advice(sweep)
    assert "Fix: drop early_terminate" in line and "only at epoch 7 of 10" in line and "min_iter:" not in line


def test_bands_that_predict_results_and_too_few_full_runs_give_no_advice():
    from yolosweep.results.band_check import band_advice, band_checks

    rising = [[i / 10 * (epoch + 1) / 10 for epoch in range(10)] for i in range(8)]
    assert band_checks(_band_sweep(rising))[0].predictive and band_advice(_band_sweep(rising)) == []
    falling = [[1 - v for v in curve] for curve in rising]  # minimizing: the same order, the other way up
    assert band_checks(_band_sweep(falling, goal="minimize"))[0].spearman == pytest.approx(1)
    assert band_checks(_band_sweep(rising[:4] + [c[:5] for c in rising[4:]])) == []  # 4 went to the end


def test_a_sweep_with_a_verified_winner_hands_it_over_instead_of_its_best_single_run(tmp_path, capsys):
    """best_config.yaml and train_best_config.py --sweep take the winner retrained with several seeds once it exists
    (bench/results/value_handover.md: the top 3 retrained beat the single best run, p 0.003 at 10 runs)."""
    from yolosweep.results import report

    config = {
        "metric": {"name": OBJECTIVE, "goal": "maximize"},
        "method": "bayes",
        "parameters": {"lr0": {"min": 0.005, "max": 0.02}, "epochs": {"value": 2}, "data": {"value": "d.yaml"}},
    }
    runs = [
        Run("lucky", "finished", "", {"lr0": 0.02}, {OBJECTIVE: 0.50}, [{}, {}]),
        Run("steady", "finished", "", {"lr0": 0.007}, {OBJECTIVE: 0.45}, [{}, {}]),
        Run("third", "finished", "", {"lr0": 0.012}, {OBJECTIVE: 0.30}, [{}, {}]),
    ]
    plain = analysis.SweepRuns("s", config, runs, "memory")
    assert analysis.handed_over(plain, analysis.runs_table(plain)) == (runs[0], None)
    verdict = {
        "run": "steady",
        "mean": 0.47,
        "std": 0.01,
        "seeds": 3,
        "epochs": 2,
        "sweep_best": "lucky",
        "metric": OBJECTIVE,
        "defaults": False,
    }
    sweep = analysis.SweepRuns("s", config, runs, "memory", verified=verdict)
    assert report.analyze(sweep, tmp_path, None, 10, DEFAULT_LEVELS) == 0
    text = (tmp_path / "best_config.yaml").read_text()
    assert text.startswith(
        f"# best configuration of sweep s: run steady, {OBJECTIVE} = 0.4500 (maximize)\n"
        "# handed over: the winner verified by retraining (3 seeds: mean 0.4700); "
        "the sweep's best single run was lucky\n"
    )
    assert "lr0: 0.007" in text and "best_config.yaml (run steady: the winner verified" in capsys.readouterr().out
    handed, origin = from_sweep(sweep)
    assert handed["lr0"] == 0.007 and origin.run_id == "steady"


def test_hyperband_savings_are_reported_only_for_a_sweep_with_hyperband(tmp_path, capsys):
    """A sweep without early_terminate (examples/bccd/sweep.yaml) said "Hyperband: 120 epochs trained of 120 ... (0%
    saved)", crediting a stop rule it does not have."""
    from yolosweep.results import report

    config = {
        "metric": {"name": OBJECTIVE, "goal": "maximize"},
        "method": "bayes",
        "parameters": {"lr0": {"min": 0.005, "max": 0.02}, "epochs": {"value": 2}, "data": {"value": "d.yaml"}},
    }
    runs = [
        Run(f"r{i}", "finished", "", {"lr0": lr0}, {OBJECTIVE: value}, [{}, {}])
        for i, (lr0, value) in enumerate([(0.02, 0.5), (0.007, 0.45), (0.012, 0.3)])
    ]
    assert (
        report.analyze(analysis.SweepRuns("s", config, runs, "memory"), tmp_path / "a", None, 10, DEFAULT_LEVELS) == 0
    )
    assert "Hyperband:" not in capsys.readouterr().out
    config["early_terminate"] = {"type": "hyperband", "min_iter": 1, "eta": 3}  # its band is the last epoch: no stop
    assert (
        report.analyze(analysis.SweepRuns("s", config, runs, "memory"), tmp_path / "b", None, 10, DEFAULT_LEVELS) == 0
    )
    assert "Hyperband:" not in capsys.readouterr().out  # #42: launch had said no band fits, then analyze credited one
    config["parameters"]["epochs"] = {"value": 3}  # the band at epoch 2 of 3 could stop a run
    runs = [Run(r.id, r.state, "", r.params, r.summary, [{}, {}, {}]) for r in runs]
    assert (
        report.analyze(analysis.SweepRuns("s", config, runs, "memory"), tmp_path / "c", None, 10, DEFAULT_LEVELS) == 0
    )
    assert "Hyperband: 9 epochs trained of 9 had every run gone to the end (0% saved)" in capsys.readouterr().out
