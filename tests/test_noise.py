"""Gains against the seed noise (#24): a sweep measures its own seed spread (the first prior repeated with other
seeds), the engine never sees the repeats, and a gain earns a success level only beyond the noise."""

from __future__ import annotations

import re

import pytest
import yaml

from yolosweep.agent.engine import engine_runs
from yolosweep.agent.loop import Agent
from yolosweep.objective import Objective
from yolosweep.results import verdict
from yolosweep.states import RunState
from yolosweep.store import Store
from yolosweep.sweep.errors import ConfigError

from .conftest import REPO
from .test_launch import launch
from .test_local_backend import CURVE

OBJECTIVE = "metrics/mAP50(B)"


def test_the_chance_that_the_best_of_k_runs_is_the_seeds_luck():
    spread = verdict.SeedSpread((0.45, 0.5118, 0.4736))  # std 0.031 around 0.4785
    far = verdict.judge(0.85, spread.mean, spread, searched=2, baseline_is_reference_mean=True)
    assert far.beyond and far.p == pytest.approx(0.0091, abs=0.001) and far.gain_pct == pytest.approx(77.6, abs=0.1)
    near = verdict.judge(0.5, spread.mean, spread, searched=2, baseline_is_reference_mean=True)
    assert not near.beyond and 0.3 < near.p < 0.9
    assert (
        verdict.judge(0.5, spread.mean, spread, searched=20, baseline_is_reference_mean=True).p > near.p
    )  # more draws
    one_seed = verdict.judge(0.85, 0.45, verdict.SeedSpread((0.45,)), searched=2)
    assert one_seed.p is None and not one_seed.beyond and "not measured" in one_seed.describe("x")
    minimizing = verdict.judge(
        0.9, 1.0, verdict.SeedSpread((1.0, 1.01, 0.99)), searched=1, objective=Objective("val/loss", "minimize")
    )
    assert minimizing.gain_pct == pytest.approx(10.0) and minimizing.beyond


def test_seed_repeats_run_after_the_first_prior_and_stay_hidden_from_the_engine(tmp_path):
    store = Store(tmp_path / "sweeps.db")
    config = {
        "program": "p.py",
        "method": "bayes",
        "metric": {"name": "m", "goal": "maximize"},
        "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3},
        "parameters": {"x": {"min": 0.0, "max": 1.0}, "seed": {"value": 0}},
    }
    sweep_id = store.create_sweep(
        config, [{"x": 0.5, "seed": 0}, {"x": 0.7, "seed": 0}], [{"x": 0.5, "seed": 1}, {"x": 0.5, "seed": 2}]
    )
    agent = Agent(store, sweep_id)
    taken = [agent._next() for _ in range(5)]
    assert [(p["x"], p["seed"], origin) for _, p, origin in taken[:4]] == [
        (0.5, 0, "prior"),
        (0.5, 1, "noise"),
        (0.5, 2, "noise"),
        (0.7, 0, "prior"),
    ]
    assert taken[4][2] == "search"
    for (run_id, _, _), value in zip(taken, (0.40, 0.46, 0.43, 0.2, 0.1)):
        store.log_epoch(run_id, 1, {"m": value}, {"m": value})
        store.end_run(run_id, RunState.FINISHED)
    runs = store.runs(sweep_id)
    assert [r.origin for r in runs] == ["prior", "noise", "noise", "prior", "search"]
    assert [r.name for r in engine_runs(runs)] == [taken[0][0], taken[3][0], taken[4][0]]
    spread = verdict.seed_spread(runs, "m")  # the first prior and its repeats, not the second prior
    assert spread.values == (0.40, 0.46, 0.43) and spread.std == pytest.approx(0.03)
    from yolosweep.results.dashboard import Dashboard
    from yolosweep.results.status import status_report

    page = Dashboard(store.path, sweep_id).snapshot()  # the page's gain and the band behind the curves
    assert page["noise_band"] == pytest.approx([0.40, 0.46]) and "(seed spread +-7.0%, 3 trainings)" in page["gain"]
    assert page["beyond_noise"] is False  # the best is a seed repeat: 0.46 against their mean 0.43
    (gain,) = [line for line in status_report(store, sweep_id) if line.startswith("gain of the best:")]
    # not "+7.0% over the defaults": that is the defaults' own seed; the searched runs (0.2, 0.1) are judged instead
    assert gain == (
        "gain of the best: the best run is one of the defaults' own seeds, no gain; the best searched run: "
        "53.5% below the defaults (mean of 3 seeds) (0.4300) (seed spread +-7.0%, 3 trainings): "
        "a loss beyond the noise (p 0.011, one run)"
    )


def _noisy_curve_sweep(tmp_path, qualities: list[float]):
    config = {
        "program": str(CURVE),
        "method": "grid",
        "metric": {"name": OBJECTIVE, "goal": "maximize"},
        "parameters": {
            "quality": {"values": qualities},
            "epochs": {"value": 2},
            "epoch_s": {"value": 0.05},
            "seed": {"value": 0},
            "seed_noise": {"value": 0.05},
        },
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "prior.yaml").write_text(yaml.safe_dump({"quality": 0.5}))
    return [
        "--config",
        str(tmp_path / "sweep.yaml"),
        "--backend",
        "local",
        "--gpus",
        "cpu",
        "--prior",
        str(tmp_path / "prior.yaml"),
        "--noise-runs",
        "2",
    ]


@pytest.mark.integration
def test_the_end_of_a_sweep_claims_a_level_only_beyond_its_measured_seed_noise(tmp_path, home_env):
    # The prior's three seeds end at 0.45, 0.512, 0.474 (curve.py's seed luck, +-0.05): spread 0.031.
    beyond = launch(_noisy_curve_sweep(tmp_path, [0.5, 0.9]), home_env, tmp_path)
    assert beyond.returncode == 0, beyond.stdout[-3000:] + beyond.stderr[-3000:]
    assert "then --prior" not in beyond.stdout and "again with seeds 1, 2" in beyond.stdout
    # The grid's 0.5 is the prior's configuration, which the engine has seen: one searched run, 0.9 (ending at 0.85).
    assert re.search(
        r"gain: \+77\.6% over the defaults \(mean of 3 seeds\) \(0\.4785\) \(seed spread \+-6\.5%, 3 "
        r"trainings\): beyond the noise \(p 0\.0046, one run\)\n  -> excellent",
        beyond.stdout,
    ), beyond.stdout[-2000:]
    within = launch(_noisy_curve_sweep(tmp_path, [0.5, 0.55]), home_env, tmp_path)
    assert re.search(
        r"gain: the best run is one of the defaults' own seeds, no gain; the best searched run: [+-][\d.]+% "
        r"over the defaults \(mean of 3 seeds\) .*: within the noise",
        within.stdout,
    )  # seed 1's luck led
    assert "no success level claimed" in within.stdout and "--top 3 --seeds 2 --epochs 2" in within.stdout
    assert "excellent" not in within.stdout and "good (" not in within.stdout


@pytest.mark.integration
def test_on_the_wandb_backend_the_seed_repeats_train_as_prior_runs_tagged_noise(
    tmp_path, offline_env, demo_data, monkeypatch
):
    """W&B is taught finished runs, not configurations: the launcher trains the first prior and its repeats (offline
    here, as `wandb agent` would log them) before wandb.sweep gets their ids as prior_runs."""
    from yolosweep.agent.wandb_cloud import _train_priors
    from yolosweep.run.tracking import read_offline_run
    from yolosweep.sweep.priors import seed_repeats
    from yolosweep.sweep.slots import Slot

    from .conftest import offline_runs

    for key, value in offline_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    prior = {
        "data": str(demo_data),
        "epochs": 1,
        "imgsz": 32,
        "batch": 8,
        "model": "yolo11n.yaml",
        "device": "cpu",
        "workers": 0,
        "seed": 0,
        "project": str(tmp_path / "runs"),
    }
    noise = seed_repeats([prior], {"program": "train_sweep.py", "parameters": {}}, None)  # the default: 2
    ids = _train_priors([prior], [Slot("cpu", "")], "yolosweep", None, noise, REPO)
    runs = {path.name.rsplit("-", 1)[-1]: read_offline_run(path) for path in offline_runs(tmp_path)}
    assert [runs[i].tags for i in ids] == [["prior"], ["prior", "noise"], ["prior", "noise"]]
    assert [runs[i].config["seed"] for i in ids] == [0, 1, 2]
    with pytest.raises(ConfigError, match="this sweep has none"):
        seed_repeats([], {"program": "train_sweep.py", "parameters": {}}, 2)  # --noise-runs 2 with no prior to repeat
