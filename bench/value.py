"""Does a sweep pay (#16)? Search methods compared at equal epoch budgets on the surrogate of real curves.

    python bench/value.py --regime finetune --reps 100 --jobs 2 \
        --methods ours,ours_no_stopping,ours_keep_band,random,optuna_tpe_hyperband,ultralytics_tuner
                                                  # -> bench/results/value_<regime>.json, .md, _anytime.png (#39)

Every method spends epochs of the tunable task (bench/value_data.py); a training's curve comes from
bench/surrogate.py (the regime's model fitted to the recorded curves, plus the defaults' seed spread), so a
repetition takes seconds. "ours" is the real controller code in-process on a real SQLite store:
Agent._next (the `sweeps` engine's bayes, priors first) and runs_to_stop (its Hyperband), fed one
epoch at a time. Peers: random search (W&B's samplers), Ultralytics' tuner (its own _mutate on its
own results file), Optuna TPE + HyperbandPruner and Optuna's GP sampler; and ours or random followed by
retraining the top 2 once within the same budget (*_then_top2). The score of a repetition at
a budget is the share of the headroom it captured: (best found - defaults) / (best known - defaults),
where "best known" is the surrogate's best over 5,000 sampled configurations.

"ours" is the shipped sweep_config.yaml as `yolosweep launch` creates it (on runs of 20 epochs or fewer the band
steps aside), ours_keep_band with its band kept, ours_band_N with the band moved to min_iter N, ours_no_stopping
without early_terminate; each band is also valued at equal result against ours_no_stopping (band_worth: epochs
saved, or lost, for the quality ours without the band holds at each budget). Results and their history:
docs/benchmarks.md ("Does a sweep pay?", "Does the shipped search pay?").
    python bench/value.py --reps 50 --methods ours,random --reuse random   # rerun one method, reuse another's traces
    python bench/value.py --inert dropout,copy_paste --noise-scale 0       # no seed noise: what search alone loses
    python bench/value.py --reps 100 --methods '*_pick_*' --name value_handover  # which run to hand over (#24)

The hand-over rules of #24 (`<search>_pick_<rule>`): one search per repetition, shared by every rule, which then
picks one of its full runs: the best run, a forest's or a noise-aware GP's best prediction, the best mean of the top
3 retrained with 2 more seeds, or the truly best (the ceiling of any rule). 2026-11-27, 100 repetitions: only the
retrain beats the best run (0.49 against 0.41 of the headroom at 10 runs, paired p 0.003); the ceiling is 0.54.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import functools
import io
import json
import math
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import value_data  # noqa: E402
from surrogate import Surrogate, model_for  # noqa: E402

CACHE = BENCH / ".cache" / "value"  # each method's traces, so a changed method reruns alone (--reuse)
BUDGETS = (5, 10, 20)  # full-run equivalents
EPOCHS = value_data.TASK["epochs"]
METRIC = value_data.METRIC


class Trace:
    """What a method would hand the user after each epoch spent: the configuration it saw score best.

    Scored by that configuration's true quality (the best epoch of its mean curve, no seed noise),
    not by the lucky draw that made it look best, so noise cannot inflate a method's result.
    """

    def __init__(self, limit: int):
        self.limit, self.seen, self.incumbent, self.points = limit, -1.0, 0.0, []
        # the full runs: (observed result, configuration, true quality, epochs spent when it ended)
        self.completed: list[tuple[float, dict[str, Any], float, int]] = []
        self.ended: list[tuple[int, float]] = []  # (epochs spent, quality handed over) as each run ended

    @property
    def spent(self) -> int:
        return len(self.points)

    def epoch(self, value: float, quality: float) -> bool:
        """Record one trained epoch of a configuration of `quality`; False once the budget is spent."""
        if value > self.seen:
            self.seen, self.incumbent = value, quality
        self.points.append(self.incumbent)
        return self.spent < self.limit

    def end_run(self) -> None:
        """A run ended (trained to its last epoch or stopped by the method): the budget counted in runs."""
        self.ended.append((self.spent, self.incumbent))


def _space() -> dict[str, dict[str, Any]]:
    return value_data.swept_space()


def sweep_config(stopping: str | int = "shipped", fix_dead: bool = False) -> dict[str, Any]:
    """sweep_config.yaml at the regime's epochs. stopping: "shipped" as `yolosweep launch` creates it (the band
    steps aside on short runs, sweep/band.step_aside), "keep" the YAML's band kept (--keep-band), "none" without
    early_terminate, or N: the first band moved to min_iter N."""
    from yolosweep.sweep import spec
    from yolosweep.sweep.band import step_aside
    from yolosweep.sweep.task import dead_parameters

    with contextlib.redirect_stdout(io.StringIO()):  # the band-scaling and step-aside messages, once per repetition
        config = spec.with_overrides(spec.load_sweep(BENCH.parent / "sweep_config.yaml"), {"epochs": EPOCHS})
        if stopping == "shipped":
            config = step_aside(config, keep_band=False)
    if fix_dead:  # the dead-parameter warning followed: each fixed at Ultralytics' default
        defaults = value_data.defaults()
        for name in dead_parameters(config):
            config["parameters"][name] = {"value": defaults[name]}
    config["program"] = "replay"  # nothing is started: the curves come from the surrogate
    if stopping == "none":
        config.pop("early_terminate", None)
    elif isinstance(stopping, int) and "early_terminate" in config:
        config["early_terminate"]["min_iter"] = stopping
    return config


def run_ours(
    surrogate: Surrogate,
    rng: np.random.Generator,
    limit: int,
    defaults_first: bool,
    stopping: str | int = "shipped",
    trace: Trace | None = None,
    fix_dead: bool = False,
    recheck_leader: bool = False,
    noise_runs: int = 0,
    noise_seen: bool = False,
) -> Trace:
    """noise_runs: the defaults trained that many times more right after them, as `launch --noise-runs` does;
    hidden from the engine as the local agent hides them, or with noise_seen shown to it, as W&B's server sees
    the prior runs the launcher gives it.

    recheck_leader (a candidate of #39, not in W&B's language): a full run that beats the hand-over's mean is
    trained once more with another seed before it is handed over; it takes over only if its mean of two is
    higher, and the engine sees both trainings (same values: its GP fits their mean)."""
    from yolosweep.agent.engine import runs_to_stop
    from yolosweep.agent.loop import Agent
    from yolosweep.states import EndedBy, RunState
    from yolosweep.store import Store
    from yolosweep.sweep.band import hyperband_bands

    config = sweep_config(stopping, fix_dead)
    # Hyperband can stop the one running run only on the epoch it passes a band (history index `band`): after it,
    # its best only improves and the band's threshold is fixed, so the engine is asked there alone (same decisions).
    judged = {band + 1 for band in hyperband_bands(config.get("early_terminate") or {})}
    trace = trace or Trace(limit)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        store = Store(Path(tmp) / "sweeps.db")
        repeats = [value_data.defaults()] * noise_runs
        priors = [value_data.defaults()] if defaults_first else []
        sweep_id = (
            store.create_sweep(config, priors + repeats) if noise_seen else store.create_sweep(config, priors, repeats)
        )
        agent = Agent(store, sweep_id)
        random.seed(int(rng.integers(2**31)))  # the engine samples with the `random` module
        np.random.seed(int(rng.integers(2**31)))
        leader = Leader() if recheck_leader else None
        going = True
        while going:
            if leader is not None and leader.challenger is not None:
                run_id, params = f"recheck{trace.spent}", leader.challenger
                store.add_run(sweep_id, run_id, params)
            else:
                run_id, params, _ = agent._next()
            curve, quality = surrogate.training(params, rng)
            best, stopped = 0.0, False
            for epoch, value in enumerate(curve, start=1):
                best = max(best, value)
                store.log_epoch(run_id, epoch, {METRIC: value, "epoch": epoch}, {METRIC: best})
                going = trace.epoch(value if leader is None or leader.key is None else -math.inf, quality)
                if epoch in judged and run_id in runs_to_stop(config, store.runs(sweep_id)):
                    stopped = True
                if not going or stopped:
                    break
            if epoch == EPOCHS and not stopped:
                trace.completed.append((best, params, quality, trace.spent))
                if leader is not None:
                    trace.incumbent = leader.ended(params, best, quality)
            if epoch == EPOCHS or stopped:
                trace.end_run()
            store.end_run(
                run_id,
                RunState.STOPPED if stopped else RunState.FINISHED,
                summary={METRIC: best},
                ended_by=EndedBy.HYPERBAND if stopped else EndedBy.COMPLETED,
            )
        store.close()
    return trace


class Leader:
    """The hand-over under recheck_leader: the configuration with the best mean over its full runs, where a run
    that beats that mean from a single training is the challenger, trained once more before it can take over."""

    def __init__(self) -> None:
        self.results: dict[str, list[float]] = {}
        self.quality: dict[str, float] = {}
        self.key: str | None = None
        self.challenger: dict[str, Any] | None = None

    def mean(self, key: str) -> float:
        return statistics.mean(self.results[key])

    def ended(self, params: dict[str, Any], result: float, quality: float) -> float:
        """Record a full run; the true quality of the configuration handed over now."""
        key = json.dumps(params, sort_keys=True, default=str)
        self.results.setdefault(key, []).append(result)
        self.quality[key] = quality
        self.challenger = None
        if self.key is None or (len(self.results[key]) > 1 and self.mean(key) > self.mean(self.key)):
            self.key = key
        elif key != self.key and result > self.mean(self.key):
            self.challenger = params
        return self.quality[self.key]


def run_random(
    surrogate: Surrogate, rng: np.random.Generator, limit: int, trace: Trace | None = None, fix_dead: bool = False
) -> Trace:
    from sweeps.params import HyperParameterSet

    space = _space()
    fixed = {
        k: v["value"] for k, v in sweep_config(fix_dead=fix_dead)["parameters"].items() if "value" in v and k in space
    }
    trace = trace or Trace(limit)
    params = HyperParameterSet.from_config({k: v for k, v in space.items() if k not in fixed})
    random.seed(int(rng.integers(2**31)))
    while True:
        config = {**fixed, **{p.name: (v.item() if hasattr(v := p.sample(), "item") else v) for p in params}}
        curve, quality = surrogate.training(config, rng)
        for value in curve:
            going = trace.epoch(value, quality)
            if not going and trace.spent % EPOCHS:  # the budget ended mid-run
                return trace
        trace.completed.append((max(curve), config, quality, trace.spent))
        trace.end_run()
        if not going:
            return trace


def run_then_retrain(
    search: Callable[..., list[float]], surrogate: Surrogate, rng: np.random.Generator, limit: int, top: int = 2
) -> list[float]:
    """Search with all but `top` runs of each budget, then retrain the `top` best full runs once each with
    another seed (train_best_config.py --top K) and hand over the best mean of a configuration's two trainings.

    One search per budget: the points hold the handed-over configuration's quality at each budget's
    last epoch and NaN between (no anytime curve).
    """
    points = [float("nan")] * limit
    for budget in BUDGETS:
        if budget * EPOCHS > limit:
            continue
        trace = Trace((budget - top) * EPOCHS)
        search(surrogate, np.random.default_rng(int(rng.integers(2**31))), trace.limit, trace=trace)
        candidates = sorted(trace.completed, key=lambda c: c[0], reverse=True)[:top]
        if not candidates:  # every run was stopped: hand over what the search itself would
            points[budget * EPOCHS - 1] = trace.incumbent
            continue
        means = [(observed + max(surrogate.curve(params, rng))) / 2 for observed, params, *_ in candidates]
        points[budget * EPOCHS - 1] = max(surrogate.curve(candidates[int(np.argmax(means))][1]))
    return points


# One search of the whole budget per repetition, shared by every hand-over rule of that search, so the rules are
# compared on the same runs (paired); a search is a prefix of a longer one, as neither method knows its budget.
_SEARCHES: dict[tuple[str, int], Trace] = {}
SEARCHES = ("ours", "ours_no_stopping", "random")


def searched(search: str, surrogate: Surrogate, rng: np.random.Generator, limit: int) -> Trace:
    seed = int(rng.integers(2**31))
    if (search, seed) not in _SEARCHES:
        trace = Trace(limit)
        run = {
            "ours": lambda *a, **k: run_ours(*a, **k, defaults_first=True),
            "random": run_random,
            "ours_no_stopping": lambda *a, **k: run_ours(*a, **k, defaults_first=True, stopping="none"),
        }[search]
        run(surrogate, np.random.default_rng(seed), limit, trace=trace)
        _SEARCHES[search, seed] = trace
    return _SEARCHES[search, seed]


def _unit_features(configs: list[dict[str, Any]]) -> np.ndarray:
    """Each swept value on [0, 1] of its range (log-scaled ones by their logarithm), for a distance-based model."""
    from surrogate import LOG_SCALED

    columns = []
    for name, entry in sorted(_space().items()):
        low, high = (min(entry["values"]), max(entry["values"])) if "values" in entry else (entry["min"], entry["max"])
        scale = (lambda v: np.log(float(v))) if name in LOG_SCALED else float
        low, high = scale(low), scale(high)
        columns.append([(scale(c[name]) - low) / ((high - low) or 1.0) for c in configs])
    return np.array(columns).T


def pick_best_run(done: list[tuple[float, dict[str, Any], float, int]]) -> int:
    return int(np.argmax([observed for observed, *_ in done]))


def pick_forest(done: list[tuple[float, dict[str, Any], float, int]]) -> int:
    """The analysis' own importance model (a 200-tree forest) fitted to (values -> result); its best prediction."""
    from sklearn.ensemble import RandomForestRegressor

    x = _unit_features([params for _, params, *_ in done])
    forest = RandomForestRegressor(n_estimators=200, random_state=0).fit(x, [observed for observed, *_ in done])
    return int(np.argmax(forest.predict(x)))


def pick_gp(done: list[tuple[float, dict[str, Any], float, int]]) -> int:
    """A GP with a learned noise term (Matern 5/2 with one length per parameter + white noise) fitted to
    (values -> result); its best posterior mean, so a lucky run whose neighbours did worse is pulled down."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    x = _unit_features([params for _, params, *_ in done])
    kernel = ConstantKernel(1.0) * Matern(
        length_scale=np.ones(x.shape[1]), length_scale_bounds=(0.05, 20.0), nu=2.5
    ) + WhiteKernel(0.1, noise_level_bounds=(1e-4, 10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2, random_state=0)
        gp.fit(x, [observed for observed, *_ in done])
    return int(np.argmax(gp.predict(x)))


def pick_oracle(done: list[tuple[float, dict[str, Any], float, int]]) -> int:
    """Not a rule a user has: the full run whose configuration is truly best, the ceiling of any rule that picks
    among the sweep's full runs."""
    return int(np.argmax([quality for _, _, quality, _ in done]))


def pick_retrained(
    done: list[tuple[float, dict[str, Any], float, int]],
    surrogate: Surrogate,
    rng: np.random.Generator,
    top: int = 3,
    seeds: int = 2,
) -> int:
    """train_best_config.py --top 3 --seeds 2 after the sweep: the 3 best full runs trained twice more with fresh
    seeds; the best mean of each one's 3 trainings. Not charged to the budget: it costs top x seeds more runs."""
    ranked = sorted(range(len(done)), key=lambda i: -done[i][0])[:top]
    means = [
        (done[i][0] + sum(max(surrogate.curve(done[i][1], rng)) for _ in range(seeds))) / (1 + seeds) for i in ranked
    ]
    return ranked[int(np.argmax(means))]


PICKS = {
    "best_run": pick_best_run,
    "forest": pick_forest,
    "gp": pick_gp,
    "oracle": pick_oracle,
    "top3x2": pick_retrained,
}


def run_then_pick(search: str, pick: str, surrogate: Surrogate, rng: np.random.Generator, limit: int) -> list[float]:
    """Search the whole budget, then hand over the full run `pick` chooses at each budget (under 3 full runs: the
    best run seen, as today). The points hold the handed-over configuration's quality at each budget's last epoch
    and NaN between (no anytime curve)."""
    trace = searched(search, surrogate, rng, limit)
    points = [float("nan")] * limit
    for budget in BUDGETS:
        if budget * EPOCHS > limit:
            continue
        done = [run for run in trace.completed if run[3] <= budget * EPOCHS]
        at_budget = trace.points[budget * EPOCHS - 1]
        if not done:  # no full run yet: what the search itself would hand over
            points[budget * EPOCHS - 1] = at_budget
            continue
        # picked even under 3 full runs (then unused), so top3x2's seeds are drawn as in the recorded results
        chosen = PICKS[pick](done, surrogate, rng) if pick == "top3x2" else PICKS[pick](done)
        points[budget * EPOCHS - 1] = done[chosen][2] if len(done) >= 3 else at_budget
    return points


def run_ultralytics(surrogate: Surrogate, rng: np.random.Generator, limit: int) -> Trace:
    from ultralytics.engine.tuner import Tuner
    from ultralytics.utils import LOGGER

    LOGGER.setLevel("WARNING")  # the tuner's greeting, once per repetition

    space = {
        name: ((min(e["values"]), max(e["values"])) if "values" in e else (e["min"], e["max"]))
        for name, e in _space().items()
    }
    trace = Trace(limit)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        tuner = Tuner(args={"model": "yolo11n.yaml", "space": space, "project": tmp, "name": "tune"}, model=object())
        tuner.tune_dir.mkdir(parents=True, exist_ok=True)
        # _mutate draws from a fresh np.random.default_rng() each call, unseeded: hand it one seeded generator
        generator = np.random.default_rng(int(rng.integers(2**31)))
        while True:
            with mock.patch.object(np.random, "default_rng", lambda *_: generator):
                hyp = tuner._mutate()  # Ultralytics' own search: defaults first, then mutations of the best
            values, quality = surrogate.training(hyp, rng)
            for value in values:
                going = trace.epoch(value, quality)
                if not going and trace.spent % EPOCHS:  # the budget ended mid-run
                    return trace
            trace.end_run()
            if not going:
                return trace
            tuner._save_local_result({"fitness": max(values), "hyperparameters": hyp})


def run_optuna(surrogate: Surrogate, rng: np.random.Generator, limit: int, sampler: str) -> Trace:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    seed = int(rng.integers(2**31))
    samplers = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed, n_startup_trials=3),
        "gp": lambda: optuna.samplers.GPSampler(seed=seed, n_startup_trials=3),
    }
    # the pruner assigns a trial's bracket by a hash of the study's name, a random one unless given
    study = optuna.create_study(
        study_name=f"value-{seed}",
        direction="maximize",
        sampler=samplers[sampler](),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=EPOCHS, reduction_factor=3),
    )
    trace = Trace(limit)

    def objective(trial: optuna.Trial) -> float:
        params = {}
        for name, entry in _space().items():
            if "values" in entry:
                params[name] = trial.suggest_categorical(name, entry["values"])
            else:
                log = entry.get("distribution", "").startswith("log")
                params[name] = trial.suggest_float(name, entry["min"], entry["max"], log=log)
        (curve, quality), best = surrogate.training(params, rng), 0.0
        for epoch, value in enumerate(curve, start=1):
            best = max(best, value)
            if not trace.epoch(value, quality) and epoch < len(curve):
                raise optuna.TrialPruned()  # budget spent mid-run: the study ends below
            trial.report(value, epoch)
            if epoch < len(curve) and trial.should_prune():
                trace.end_run()
                raise optuna.TrialPruned()
        trace.end_run()
        return best

    while trace.spent < limit:
        study.optimize(objective, n_trials=1)
    return trace


METHODS: dict[str, Callable[[Surrogate, np.random.Generator, int], Trace | list[float]]] = {
    "ours": lambda s, r, n: run_ours(s, r, n, defaults_first=True),
    "ours_no_defaults": lambda s, r, n: run_ours(s, r, n, defaults_first=False),
    "ours_no_stopping": lambda s, r, n: run_ours(s, r, n, defaults_first=True, stopping="none"),
    "ours_recheck_leader": lambda s, r, n: run_ours(s, r, n, defaults_first=True, recheck_leader=True),
    "ours_as_launched": lambda s, r, n: run_ours(s, r, n, defaults_first=True, noise_runs=2),
    "ours_repeats_seen": lambda s, r, n: run_ours(s, r, n, defaults_first=True, noise_runs=2, noise_seen=True),
    # the band where results/band_check.py puts it on the recorded curves (min_iter 9: Spearman 0.41 against
    # the runs' results; 0.07 at min_iter 6, where min_iter 30 of 100 lands when scaled to 20 epochs)
    "ours_band_9": lambda s, r, n: run_ours(s, r, n, defaults_first=True, stopping=9),
    # fine-tuning (--regime finetune, 15 epochs): the metric first reaches PREDICTIVE_BAND_RHO at epoch 12
    # (Spearman 0.64 over all 100 configurations), past the third of a run where the band check says to drop the
    # band rather than move it there; this is the band moved there anyway
    "ours_band_11": lambda s, r, n: run_ours(s, r, n, defaults_first=True, stopping=11),
    # the YAML's band kept on every run length (--keep-band): "ours" before it stepped aside on short runs
    "ours_keep_band": lambda s, r, n: run_ours(s, r, n, defaults_first=True, stopping="keep"),
    # the shipped 100 epochs (--regime finetune_long): the YAML's band before #39 (epoch 31), halfway (the YAML's
    # from 2026-12-07 to 12-08, epoch 51) and around the shipped 61
    "ours_band_30": lambda s, r, n: run_ours(s, r, n, defaults_first=True, stopping=30),
    "ours_band_45": lambda s, r, n: run_ours(s, r, n, defaults_first=True, stopping=45),
    "ours_band_50": lambda s, r, n: run_ours(s, r, n, defaults_first=True, stopping=50),
    "ours_band_60": lambda s, r, n: run_ours(s, r, n, defaults_first=True, stopping=60),
    "ours_band_70": lambda s, r, n: run_ours(s, r, n, defaults_first=True, stopping=70),
    "random": run_random,
    # the dead-parameter warning followed (dead_parameters: dropout and copy_paste, for a detect sweep)
    "ours_fixed_dead": lambda s, r, n: run_ours(s, r, n, defaults_first=True, fix_dead=True),
    "random_fixed_dead": lambda s, r, n: run_random(s, r, n, fix_dead=True),
    # both pieces of advice yolosweep gives on this task: the dead parameters fixed, and no Hyperband (its band
    # check finds the metric at the first band does not rank the runs: Spearman 0.07 at epoch 7 of 20)
    "ours_fixed_dead_no_stopping": lambda s, r, n: run_ours(
        s, r, n, defaults_first=True, stopping="none", fix_dead=True
    ),
    # the hand-over the README advises (retrain the top few), at the same budget: does it pay more than search?
    "ours_then_top2": lambda s, r, n: run_then_retrain(lambda *a, **k: run_ours(*a, **k, defaults_first=True), s, r, n),
    "random_then_top2": lambda s, r, n: run_then_retrain(run_random, s, r, n),
    # the hand-over rules of #24, each on the same search per repetition (paired): which full run to hand over
    **{
        f"{search}_pick_{pick}": functools.partial(run_then_pick, search, pick) for search in SEARCHES for pick in PICKS
    },
    "ultralytics_tuner": run_ultralytics,
    "optuna_tpe_hyperband": lambda s, r, n: run_optuna(s, r, n, "tpe"),
    "optuna_gp": lambda s, r, n: run_optuna(s, r, n, "gp"),
}


# How each method picks the configuration it hands over (value.json's `recommendation`, per method).
RECOMMENDATION = {
    "ours_then_top2": "best mean of the top 2 full runs, each retrained once (charged to the budget)",
    "random_then_top2": "best mean of the top 2 full runs, each retrained once (charged to the budget)",
    **{
        f"{search}_pick_{pick}": {
            "best_run": "the best full run (as the best run seen, on the same search)",
            "forest": "best forest prediction among the full runs",
            "gp": "best posterior mean of a GP with a noise term, among the full runs",
            "oracle": "the truly best full run (a ceiling, not a rule)",
            "top3x2": "best mean of the top 3 full runs, each retrained with 2 more seeds (6 runs beyond the budget)",
        }[pick]
        for search in SEARCHES
        for pick in PICKS
    },
}


_REPEATED: dict[str, Any] = {}  # the method _repetition runs; worker processes get it by fork, not pickled


Ended = list[tuple[int, float]]  # a repetition's (epochs spent, quality handed over) at each run's end


def _repetition(rep: int) -> tuple[list[float], Ended]:
    found = METHODS[_REPEATED["name"]](_REPEATED["surrogate"], np.random.default_rng(rep), _REPEATED["limit"])
    return (found.points, found.ended) if isinstance(found, Trace) else (found, [])  # budgets-only methods: no ends


def repetitions(name: str, surrogate: Surrogate, limit: int, reps: int, jobs: int) -> list[tuple[list[float], Ended]]:
    """Method `name`'s traces for repetitions 0..reps-1, each with its run ends; repetition k draws everything
    from default_rng(k)."""
    _REPEATED.update(name=name, surrogate=surrogate, limit=limit)
    if jobs <= 1:
        return [_repetition(rep) for rep in range(reps)]
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_repetition, range(reps)))


def _same_sweep(name: str, other: str) -> bool:
    """Whether two of ours' variants create the same sweep (ours is ours_no_stopping where the band steps aside)."""
    variants = {"ours": "shipped", "ours_no_stopping": "none", "ours_keep_band": "keep"}
    return name in variants and other in variants and sweep_config(variants[name]) == sweep_config(variants[other])


def reference(surrogate: Surrogate, samples: int = 5000) -> tuple[float, float]:
    """The defaults' expected best and the best known configuration's, both from the surrogate's mean curves."""
    from sweeps.params import HyperParameterSet

    params = HyperParameterSet.from_config(_space())
    random.seed(12345)
    best = max(
        max(surrogate.curve({p.name: (v.item() if hasattr(v := p.sample(), "item") else v) for p in params}))
        for _ in range(samples)
    )
    return max(surrogate.curve(value_data.defaults())), best


def epochs_to(points: list[float], level: float) -> int | None:
    return next((i + 1 for i, quality in enumerate(points) if quality >= level), None)


def band_worth(with_band: list[list[float]], without_band: list[list[float]], boot: int = 1000) -> dict[str, Any]:
    """What Hyperband's band is worth at equal result (#25). Per budget B: the median quality ours without the
    band holds after B full runs' epochs (the level), and the epochs ours with the band needs for it: where it holds
    the level at that point, the first epoch from which it stays at or above the level up to it (a median that
    touches the level and falls back, a lucky run's configuration then a worse one, does not count); where it does
    not, the first later epoch it reaches the level within the largest budget. saved = B x EPOCHS minus that:
    negative where the band costs epochs, None where it never gets there. [q5-q95] resampling the repetitions."""
    on, off = np.array(with_band), np.array(without_band)
    rng = np.random.default_rng(0)

    def saved(on_rows: np.ndarray, off_rows: np.ndarray, spent: int) -> float:
        level, curve = float(np.median(off_rows[:, spent - 1])), np.median(on_rows, axis=0)
        if curve[spent - 1] >= level:
            below = np.flatnonzero(curve[:spent] < level)
            return float(spent - (below[-1] + 2 if below.size else 1))
        later = np.flatnonzero(curve[spent:] >= level)
        return float(-(later[0] + 1)) if later.size else -math.inf

    out: dict[str, Any] = {}
    for budget in BUDGETS:
        spent = budget * EPOCHS
        point = saved(on, off, spent)
        draws = [
            saved(on[rng.integers(len(on), size=len(on))], off[rng.integers(len(off), size=len(off))], spent)
            for _ in range(boot)
        ]
        q5, q95 = np.percentile(draws, [5, 95])
        out[str(budget)] = {
            "epochs": spent,
            "quality_without_band": float(np.median(off[:, spent - 1])),
            "quality_with_band": float(np.median(on[:, spent - 1])),
            "epochs_saved": _finite(point),
            "epochs_saved_q5": _finite(q5),
            "epochs_saved_q95": _finite(q95),
        }
    return out


def _finite(value: float) -> float | None:
    """None for "never": JSON has no infinity."""
    return float(value) if math.isfinite(value) else None


def _anytime_plot(traces: dict[str, list[list[float]]], defaults: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = {name: runs for name, runs in traces.items() if not np.isnan(np.array(runs)).any()}
    if not drawn:  # every method measured at the budgets only (run_then_retrain, run_then_pick): no curve
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, runs in drawn.items():
        table = np.array(runs)
        x = np.arange(1, table.shape[1] + 1) / EPOCHS
        q1, median, q3 = np.percentile(table, [25, 50, 75], axis=0)
        ax.plot(x, median, label=name)
        ax.fill_between(x, q1, q3, alpha=0.15)
    ax.axhline(defaults, color="grey", linestyle="--", label="defaults")
    ax.axhline(defaults * 1.05, color="grey", linestyle=":", label="+5%")
    ax.set_xlabel("epochs spent (full-run equivalents)")
    ax.set_ylabel(f"{METRIC} of the best configuration so far")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    from harness import RESULTS, write_results
    from scipy.stats import mannwhitneyu, wilcoxon
    from surrogate import validate_holdouts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated names or patterns ('*_pick_*')")
    parser.add_argument(
        "--reuse",
        default="",
        metavar="M1,M2",
        help="methods whose traces to take from an earlier run with the same data and reps "
        "(bench/.cache/value); only for methods whose code has not changed since",
    )
    parser.add_argument(
        "--inert",
        default="",
        metavar="P1,P2",
        help="parameters the surrogate treats as without effect (dropout: Ultralytics' detect heads "
        "ignore it, and the forest fitted seed noise to it); results go to value_inert_P1_P2.*",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="results file stem (default: value, with the --inert and "
        "--noise-scale suffixes); a subset of methods under its own name keeps the full table intact",
    )
    parser.add_argument(
        "--noise-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="the seed noise times X (0: every training of a configuration gives its mean curve, "
        "so what a method still loses is search, not luck); results go to value_..._noiseX.*",
    )
    parser.add_argument(
        "--regime",
        choices=("scratch", "finetune", "finetune_long"),
        default="scratch",
        help="whose curves the surrogate learns (bench/value_data.py); results go to value_<regime>.*",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="repetitions side by side, in processes (default 1); "
        "each seeds everything it draws from its repetition's number, so the traces are the same",
    )
    options = parser.parse_args()
    global EPOCHS
    value_data.use_regime(options.regime)
    EPOCHS = value_data.TASK["epochs"]
    inert = tuple(filter(None, options.inert.split(",")))
    name_suffix = ("_inert_" + "_".join(inert) if inert else "") + (
        f"_noise{options.noise_scale:g}" if options.noise_scale != 1.0 else ""
    )
    curves = value_data.load_curves()
    surrogate = Surrogate.fit(curves, inert=inert, kind=model_for(options.regime))
    surrogate.seed_std = surrogate.seed_std * options.noise_scale
    defaults, best_known = reference(surrogate)
    limit = max(BUDGETS) * EPOCHS
    traces: dict[str, list[list[float]]] = {}
    ends: dict[str, list[Ended]] = {}
    reuse = set(filter(None, options.reuse.split(",")))
    patterns = options.methods.split(",")
    unknown = [p for p in patterns if not any(fnmatch.fnmatch(name, p) for name in METHODS)]
    if unknown:
        parser.error(f"--methods: {', '.join(unknown)} names no method; known: {', '.join(METHODS)}")
    wanted = [name for pattern in patterns for name in METHODS if fnmatch.fnmatch(name, pattern)]
    data = f"{value_data.fingerprint()}-{model_for(options.regime)}"  # the curves and the model fitted to them
    for name in dict.fromkeys(wanted):
        cached = CACHE / f"{name}-{options.reps}reps-{data}{name_suffix}.npy"
        if name in reuse and cached.exists() and cached.with_suffix(".json").exists():
            traces[name] = np.load(cached).tolist()
            ends[name] = [[tuple(end) for end in rep] for rep in json.loads(cached.with_suffix(".json").read_text())]
            print(f"{name}: {options.reps} repetitions taken from {cached.relative_to(BENCH.parent)}", flush=True)
            continue
        twin = next((other for other in traces if _same_sweep(name, other)), None)
        if twin:  # the same sweep under another name (the shipped band stepped aside): the same traces
            traces[name], ends[name] = traces[twin], ends[twin]
            print(f"{name}: the same sweep as {twin}, its {options.reps} repetitions", flush=True)
            continue
        started = time.monotonic()
        found = repetitions(name, surrogate, limit, options.reps, options.jobs)
        traces[name], ends[name] = [points for points, _ in found], [ended for _, ended in found]
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(cached, np.array(traces[name]))
        cached.with_suffix(".json").write_text(json.dumps(ends[name]))
        print(f"{name}: {options.reps} repetitions in {time.monotonic() - started:.0f} s", flush=True)

    def share(quality: float) -> float:
        return (quality - defaults) / (best_known - defaults)

    def at_epochs(name: str, budget: int) -> list[float]:  # the budget in epochs: B full runs' worth
        return [share(points[min(budget * EPOCHS, len(points)) - 1]) for points in traces[name]]

    def at_runs(name: str, budget: int) -> tuple[list[float], list[int]]:  # the budget in runs: B runs ended
        if not any(ends[name]):  # a budgets-only method: its B runs are B full runs
            return at_epochs(name, budget), [budget * EPOCHS] * len(traces[name])
        reached = [ended[budget - 1] for ended in ends[name] if len(ended) >= budget]
        return [share(quality) for _, quality in reached], [spent for spent, _ in reached]

    # random search's median result at 20 runs, and the epochs each repetition of a method spent to hand over a
    # configuration at least as good (never: infinite, so a median over repetitions that mostly never get there
    # is "never" too)
    random_20 = (
        float(np.median([points[max(BUDGETS) * EPOCHS - 1] for points in traces["random"]]))
        if ("random" in traces)
        else None
    )

    methods: dict[str, Any] = {}
    for name in traces:
        methods[name] = {"recommendation": RECOMMENDATION.get(name, "the best run seen")}
        reached = [epochs_to(points, defaults * 1.05) for points in traces[name]]
        for budget in BUDGETS:
            values = at_epochs(name, budget)
            by_runs, spent = at_runs(name, budget)
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            entry = {
                "share_median": median,
                "share_q1": q1,
                "share_q3": q3,
                "reps": len(values),
                "epochs_median": float(np.median(spent)) if spent else None,
                "share_median_at_runs": float(np.median(by_runs)) if by_runs else None,
                "epochs_to_5pct": statistics.median([r for r in reached if r is not None]) if any(reached) else None,
                "reached_5pct": sum(r is not None for r in reached),
            }
            for other in ("random", "ours_no_stopping", "ours"):  # two-sided: a loss counts as much as a gain
                if other in traces and name != other:
                    entry[f"p_vs_{other}"] = float(mannwhitneyu(values, at_epochs(other, budget)).pvalue)
            if "random" in traces and name != "random" and by_runs:  # at B runs ended, whatever they cost
                entry["p_vs_random_at_runs"] = float(mannwhitneyu(by_runs, at_runs("random", budget)[0]).pvalue)
            paired_with = name.rsplit("_pick_", 1)[0] + "_pick_best_run"
            if "_pick_" in name and name != paired_with and paired_with in traces:  # the same searches: paired
                differences = np.array(values) - np.array(at_epochs(paired_with, budget))
                entry["p_greater_than_best_run_paired"] = (
                    float(wilcoxon(differences, alternative="greater").pvalue) if differences.any() else 1.0
                )
            methods[name][str(budget)] = entry
        if random_20 is not None and not np.isnan(traces[name]).any():
            needed = [epochs_to(points, random_20) or math.inf for points in traces[name]]
            methods[name]["epochs_to_random_20"] = _finite(float(np.median(needed)))
    payload = {
        "task": {
            **value_data.summary(curves),
            "epochs": EPOCHS,
            "surrogate_defaults": defaults,
            "surrogate_best_known": best_known,
        },
        "surrogate": {
            "model": model_for(options.regime),
            **validate_holdouts(curves, inert=inert, kind=model_for(options.regime)),
            "inert": list(inert),
            "noise_scale": options.noise_scale,
        },
        "comparison": {"budgets": list(BUDGETS), "random_20_quality": random_20, "methods": methods},
    }
    banded = [n for n in traces if n.startswith("ours") and n != "ours_no_stopping" and "_pick_" not in n]
    if "ours_no_stopping" in traces:  # each band against none, where it stopped anything
        payload["band"] = {
            name: band_worth(traces[name], traces["ours_no_stopping"])
            for name in banded
            if any(len(ended) > max(BUDGETS) for ended in ends[name]) and "_then_" not in name
        }
    tested = (BUDGETS[1], BUDGETS[2])

    def p_cell(entry: dict[str, Any], key: str) -> str:
        return f"{entry[key]:.2g}" if key in entry else "-"

    lines = [
        f"# Value benchmark, {options.regime} ({EPOCHS} epochs a run): share of the headroom captured",
        "",
        f"{len(next(iter(traces.values())))} repetitions. Share at equal epochs (a budget of B runs = B x {EPOCHS} "
        "epochs): median [q1-q3]; 0 = the defaults, 1 = the best of 5,000 surrogate configurations. p: two-sided "
        "Mann-Whitney against random search. Epochs for 20 runs: median epochs spent when a method's 20th run "
        "ended. To random@20: median epochs until a method hands over a configuration at least as good as "
        "random search's median result at 20 runs (never: not within the budget).",
        "",
        f"Surrogate: the {model_for(options.regime)} model of bench/surrogate.py, fitted to "
        f"{payload['task']['configs']} configurations (defaults {defaults:.3f}, best known {best_known:.3f}).",
        *(["", f"Surrogate without {', '.join(inert)} (treated as without effect)."] if inert else []),
        *(["", f"Seed noise scaled by {options.noise_scale:g}."] if options.noise_scale != 1.0 else []),
        "",
        "| method | "
        + " | ".join(f"{b} runs" for b in BUDGETS)
        + " | epochs for 20 runs | to random@20 | "
        + " | ".join(f"p vs random at {b}" for b in tested)
        + " |",
        "|---|" + "---|" * (len(BUDGETS) + 2 + len(tested)),
    ]
    for name, entries in methods.items():
        cells = [
            f"{entries[str(b)]['share_median']:.2f} "
            f"[{entries[str(b)]['share_q1']:.2f}-{entries[str(b)]['share_q3']:.2f}]"
            for b in BUDGETS
        ]
        spent20 = entries[str(BUDGETS[-1])]["epochs_median"]
        to_random = entries.get("epochs_to_random_20", "n/a")
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {'-' if spent20 is None else f'{spent20:.0f}'} | {'never' if to_random is None else to_random} | "
            + " | ".join(p_cell(entries[str(b)], "p_vs_random") for b in tested)
            + " |"
        )
    for name, worth in payload.get("band", {}).items():
        lines += [
            "",
            f"{name}'s band at equal result against ours_no_stopping (median qualities; saved < 0: the band costs "
            "epochs; [q5-q95] resampling the repetitions):",
            "",
            "| budget | without band | with band | epochs saved at equal result |",
            "|---|---|---|---|",
        ]
        for budget, entry in worth.items():
            saved, q5, q95 = (
                "not reached" if entry[k] is None else f"{entry[k]:.0f}"
                for k in ("epochs_saved", "epochs_saved_q5", "epochs_saved_q95")
            )
            lines.append(
                f"| {budget} runs ({entry['epochs']} epochs) | {entry['quality_without_band']:.3f} | "
                f"{entry['quality_with_band']:.3f} | {saved} [{q5}, {q95}] |"
            )
    RESULTS.mkdir(exist_ok=True)
    stem = options.name or f"value_{options.regime}{name_suffix}"
    _anytime_plot(traces, defaults, RESULTS / f"{stem}_anytime.png")
    write_results(stem, payload, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
