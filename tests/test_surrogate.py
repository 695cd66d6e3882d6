"""bench/surrogate.py, the learning curves the value benchmark runs its searches on: both models learn a task whose
result is set by two of the swept values, the linear one serves the best value so far, and each model's seed
noise is the defaults' spread of what it predicts."""

import itertools
import math
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import surrogate  # noqa: E402
import value_data  # noqa: E402

EPOCHS = value_data.TASK["epochs"]


def quality(params: dict) -> float:
    # the result rises with log lr0 and falls with weight_decay, as a 0-1 score inside the swept ranges
    return 0.5 + 0.05 * math.log(params["lr0"]) - 20 * params["weight_decay"]


def training(params: dict, wobble: float) -> list[dict]:
    """A curve rising to quality(params) + a seed's offset, with a dip halfway (the best so far keeps the peak)."""
    values = [(quality(params) + wobble) * (1 - math.exp(-e / 4)) for e in range(1, EPOCHS + 1)]
    values[EPOCHS // 2] -= 0.1
    return [{**params, "epoch": e, value_data.METRIC: v} for e, v in enumerate(values, start=1)]


def recorded(configs: range) -> dict:
    curves = {(f"c{i:03d}", 0): training(value_data.sampled(i), 0.0) for i in configs}
    for seed, wobble in enumerate((-0.02, 0.0, 0.02)):
        curves[("defaults", seed)] = training(value_data.defaults(), wobble)
    return curves


def test_both_models_rank_configurations_they_never_saw():
    fitted = recorded(range(40))
    unseen = [value_data.sampled(i) for i in range(40, 55)]
    truth = [quality(params) for params in unseen]
    for kind, least in (("forest", 0.6), ("linear", 0.95)):
        model = surrogate.Surrogate.fit(fitted, kind=kind)
        rho = spearmanr(truth, [max(model.curve(params)) for params in unseen]).statistic
        assert rho > least, (kind, rho)


def test_the_linear_model_serves_the_best_value_so_far_and_its_seed_spread():
    model = surrogate.Surrogate.fit(recorded(range(30)), kind="linear")
    curve = model.curve(value_data.sampled(3))
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(curve))  # the dip is gone
    assert abs(curve[-1] - quality(value_data.sampled(3)) * (1 - math.exp(-EPOCHS / 4))) < 0.01
    # the defaults' seeds end 0.02 apart: their standard deviation, scaled by the curve's rise
    assert abs(model.seed_std[-1] - 0.02 * (1 - math.exp(-EPOCHS / 4))) < 1e-6
    forest = surrogate.Surrogate.fit(recorded(range(30)), kind="forest")
    # the forest's noise is the spread of the metric each epoch logged: the same seeds, the dip included
    raw = np.array([[r[value_data.METRIC] for r in rows] for rows in recorded(range(0)).values()])
    assert np.allclose(forest.seed_std, raw.std(axis=0, ddof=1))


def test_each_regime_names_its_model():
    assert surrogate.model_for("finetune_long") == "linear"
    assert surrogate.model_for("scratch") == "forest"
