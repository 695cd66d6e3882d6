"""Search efficiency: which method turns a fixed budget of training epochs into the best model?

One real task, the demo's: YOLO11n from scratch on the generated dataset (320 train / 40 val
images, imgsz 64, CPU), runs of --epochs epochs, sweep_config.yaml's hyperparameters and ranges
with the demo's fixed values (AdamW, a 1-epoch warm-up, so 12 are searched). Each method gets the
same budget of --budget trained epochs per repetition:

  ours         the default sweep: bayes + Hyperband, through the local backend's agent
  ours+prior   the same, with Ultralytics' defaults run first (--prior defaults, as the demo does)
  random       the same engine and harness, method random, no early termination
  ultralytics  Ultralytics' own tuner (the engine of model.tune(): mutation of the best so far)
  optuna       Optuna's TPE sampler with its HyperbandPruner, training in-process

Every trial is a real training with Ultralytics' fixed seed, so a configuration always scores the
same and the only randomness is each search's own; repetitions differ by that alone. Per
repetition the result is the stream of validated epochs in the order they were trained: the best
mAP50 within the budget, and the epochs trained until each --targets mAP50 was first reached.
Epochs, not seconds, are the budget, so repetitions can run side by side (--parallel) without
biasing the comparison; wall times are reported but are not the measure.

Needs Optuna: pip install -r bench/requirements.txt
Run: python bench/search_efficiency.py [--repeats 5 --budget 25 --epochs 5 --targets 0.7,0.9 --parallel 2]
->  bench/results/search_efficiency.{json,md}
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import value_data  # noqa: E402
from harness import create_local_sweep, machine, offline_env, write_results  # noqa: E402  (bench/ is on the path when run as a script)

from yolosweep.run.tracking import OBJECTIVE  # noqa: E402
from yolosweep.store import Store  # noqa: E402

METHODS = ("ours", "ours+prior", "random", "ultralytics", "optuna")
# The fixed values of each task's runs. demo: the first demo's task (colour-coded classes, where the
# defaults are near the best; 12 parameters searched). tunable: the value benchmark's task and today's
# demo (bench/value_data.py: 96 shifted training images, imgsz 96, 20 epochs; all 13 searched).
TASKS = {
    "demo": {
        "imgsz": 64,
        "batch": 16,
        "model": "yolo11n.yaml",
        "device": "cpu",
        "workers": 0,
        "optimizer": "AdamW",
        "warmup_epochs": 1,
        "seed": 0,
        "deterministic": True,
        "plots": False,
    },
    "tunable": {**{k: v for k, v in value_data.TASK.items() if k != "epochs"}, "seed": 0},
}
FIXED = TASKS["demo"]  # main() sets the task's


def search_space() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((REPO / "sweep_config.yaml").read_text())
    return {k: v for k, v in config["parameters"].items() if "value" not in v and k not in FIXED}


# --- one repetition of one method, in its own process (python bench/search_efficiency.py --job ...) ---


def job_local_backend(method: str, data: Path, work: Path, budget: int, epochs: int) -> list[float]:
    config = yaml.safe_load((REPO / "sweep_config.yaml").read_text())
    if method == "random":
        config["method"] = "random"
        config.pop("early_terminate")
    config["parameters"].update({k: {"value": v} for k, v in FIXED.items()})
    config["parameters"]["keep_top_k"] = {"value": 1}
    env = {**os.environ, "YOLOSWEEP_HOME": str(work / "home")}
    prior = ["--prior", "defaults"] if method == "ours+prior" else []
    sweep_id = create_local_sweep(config, work, env, "--data", str(data), "--epochs", str(epochs), *prior)
    store = Store(work / "home" / "sweeps.db")
    while store.epochs_logged(sweep_id) < budget:
        subprocess.run(
            [sys.executable, "-m", "yolosweep", "agent", sweep_id, "--count=1"],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    runs = store.runs(sweep_id)
    (work / "runs.json").write_text(
        json.dumps({"runs": len(runs), "stopped": sum(r.ended_by.value == "hyperband" for r in runs)})
    )
    return [row.get(OBJECTIVE, 0.0) for run in runs for row in run.history]


def job_ultralytics(data: Path, work: Path, budget: int, epochs: int) -> list[float]:
    from ultralytics.engine.tuner import Tuner

    space = {}
    for name, entry in search_space().items():
        low, high = (min(entry["values"]), max(entry["values"])) if "values" in entry else (entry["min"], entry["max"])
        space[name] = (float(low), float(high))
    args = {
        **FIXED,
        "data": str(data),
        "epochs": epochs,
        "project": str(work),
        "name": "tune",
        "space": space,
        "mode": "train",
    }
    Tuner(args=args)(iterations=math.ceil(budget / epochs), cleanup=False)
    stream = []
    with open(work / "tune" / "tune_results.ndjson") as f:
        for line in f:
            for save_dir in json.loads(line)["save_dirs"].values():
                with open(Path(save_dir) / "results.csv") as results:
                    rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(results)]
                stream += [float(row[OBJECTIVE]) for row in rows]
    return stream


def job_optuna(data: Path, work: Path, budget: int, epochs: int, seed: int) -> list[float]:
    import optuna
    from ultralytics import YOLO

    space, stream = search_space(), []

    def suggest(trial: optuna.Trial, name: str, entry: dict[str, Any]) -> Any:
        if "values" in entry:
            return trial.suggest_categorical(name, entry["values"])
        log = entry.get("distribution", "").startswith("log")
        return trial.suggest_float(name, entry["min"], entry["max"], log=log)

    def objective(trial: optuna.Trial) -> float:
        params = {name: suggest(trial, name, entry) for name, entry in space.items()}
        model = YOLO("yolo11n.yaml")

        def report(trainer: Any) -> None:
            if len(trial_values) >= trainer.epoch + 1:
                return  # Ultralytics' final validation of best.pt fires this again; not a trained epoch
            value = float(trainer.metrics.get(OBJECTIVE, 0.0))
            stream.append(value)
            trial_values.append(value)
            trial.report(value, trainer.epoch + 1)
            if trial.should_prune():
                raise optuna.TrialPruned()

        trial_values: list[float] = []
        model.add_callback("on_fit_epoch_end", report)
        model.train(
            **FIXED,
            **params,
            data=str(data),
            epochs=epochs,
            project=str(work),
            name=f"t{trial.number}",
            exist_ok=True,
            val=True,
        )
        return max(trial_values)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=3),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3),
    )
    while len(stream) < budget:
        study.optimize(objective, n_trials=1, catch=())
    return stream


def run_job(method: str, repeat: int, data: Path, work: Path, options: argparse.Namespace) -> dict[str, Any]:
    """One repetition in its own process, one thread, so side-by-side jobs do not share torch's pool."""
    work.mkdir(parents=True)
    out = work / "result.json"
    env = offline_env(work, OMP_NUM_THREADS=str(options.threads))
    command = [
        sys.executable,
        __file__,
        "--job",
        method,
        "--seed",
        str(repeat),
        "--data",
        str(data),
        "--work",
        str(work),
        "--budget",
        str(options.budget),
        "--epochs",
        str(options.epochs),
        "--task",
        options.task,
    ]
    start = time.perf_counter()
    with open(work / "job.log", "w") as log:
        subprocess.run(command, env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT, check=True)
    stream = json.loads(out.read_text())
    result = {"method": method, "repeat": repeat, "wall_s": round(time.perf_counter() - start, 1), "stream": stream}
    if (work / "runs.json").exists():  # the local backend's: runs started and how many Hyperband stopped
        result.update(json.loads((work / "runs.json").read_text()))
    print(
        f"{method:11s} repeat {repeat}: best {max(stream[: options.budget]):.3f} in {len(stream)} epochs, "
        f"{result['wall_s']:.0f}s",
        flush=True,
    )
    return result


def summarize(results: list[dict[str, Any]], budget: int, targets: list[float]) -> dict[str, dict[str, Any]]:
    summary = {}
    for method in METHODS:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        best = [max(r["stream"][:budget]) for r in runs]
        summary[method] = {
            "best_median": statistics.median(best),
            "best_min": min(best),
            "best_max": max(best),
            "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "targets": {},
        }
        if all("runs" in r for r in runs):
            summary[method].update(runs=sum(r["runs"] for r in runs), stopped=sum(r["stopped"] for r in runs))
        for target in targets:
            to_target = [next((i + 1 for i, v in enumerate(r["stream"][:budget]) if v >= target), None) for r in runs]
            summary[method]["targets"][str(target)] = {
                "reached": f"{sum(e is not None for e in to_target)}/{len(runs)}",
                # a repetition that never reached the target counts as needing more than the budget
                "epochs_median": statistics.median([e if e is not None else math.inf for e in to_target]),
            }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=int, default=25, help="trained epochs per method and repetition")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of one full run")
    parser.add_argument("--targets", default="0.7,0.9", help="mAP50 values whose first epoch counts as reached")
    parser.add_argument("--parallel", type=int, default=2, help="repetitions side by side")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--task",
        choices=TASKS,
        default="demo",
        help="demo: the first demo's colour-coded task (default, as in search_efficiency.md); tunable: "
        "the value benchmark's and today's demo, where tuning pays (use --epochs 20; results "
        "go to search_efficiency_tunable)",
    )
    parser.add_argument("--job", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    options.threads = max(1, (os.cpu_count() or 1) // options.parallel)
    global FIXED
    FIXED = TASKS[options.task]
    if options.job:
        if options.job in ("ours", "ours+prior", "random"):
            stream = job_local_backend(options.job, options.data, options.work, options.budget, options.epochs)
        elif options.job == "ultralytics":
            stream = job_ultralytics(options.data, options.work, options.budget, options.epochs)
        else:
            stream = job_optuna(options.data, options.work, options.budget, options.epochs, options.seed)
        (options.work / "result.json").write_text(json.dumps(stream))
        return 0

    from yolosweep.sweep.demo_data import write_demo_dataset, write_tunable_dataset

    methods = [m for m in options.methods.split(",") if m]
    with tempfile.TemporaryDirectory() as tmp:
        if options.task == "tunable":
            data = write_tunable_dataset(Path(tmp) / "data", seed=value_data.DATA_SEED)
        else:
            data = write_demo_dataset(Path(tmp) / "data")
        jobs = [(m, r) for r in range(options.repeats) for m in methods]  # interleaved: drift hits every method
        with concurrent.futures.ThreadPoolExecutor(options.parallel) as pool:
            futures = [pool.submit(run_job, m, r, data, Path(tmp) / f"{m}-{r}", options) for m, r in jobs]
            results = [f.result() for f in futures]
    targets = [float(t) for t in options.targets.split(",")]
    summary = summarize(results, options.budget, targets)
    payload = {
        "options": {k: v for k, v in vars(options).items() if k not in ("job", "seed", "data", "work")},
        "summary": summary,
        "results": results,
    }
    lines = [
        f"# Search efficiency at an equal budget of {options.budget} trained epochs "
        f"({time.strftime('%Y-%m-%d')}, {machine()})",
        "",
        (
            f"YOLO11n from scratch on the generated dataset (320/40 images, imgsz 64), "
            f"runs of {options.epochs} epochs, "
            if options.task == "demo"
            else f"YOLO11n from scratch on the tunable task (96/80 shifted images, imgsz 96, AdamW), "
            f"runs of {options.epochs} epochs, "
        )
        + f"the {len(search_space())} searched parameters, {options.repeats} repetitions per method; "
        "epochs to a target: trained epochs until its first validated epoch at or above it.",
        "",
        "| method | best mAP50 at the budget: median (min-max) | "
        + "".join(f"epochs to {t} (median, reached) | " for t in targets)
        + "wall time per repetition (s) |",
        "|---|---|" + "---|" * len(targets) + "---|",
    ]
    for method, s in summary.items():
        cells = []
        for target in s["targets"].values():
            median = target["epochs_median"]
            cells.append(f"{'not reached' if math.isinf(median) else f'{median:g}'}, {target['reached']}")
        lines.append(
            f"| {method} | {s['best_median']:.3f} ({s['best_min']:.3f}-{s['best_max']:.3f}) | "
            + "".join(f"{c} | " for c in cells)
            + f"{s['wall_s_median']:.0f} |"
        )
    lines += [""] + [
        f"{method}: {s['runs']} runs started in all, {s['stopped']} stopped by Hyperband"
        for method, s in summary.items()
        if "runs" in s
    ]
    write_results(
        "search_efficiency" if options.task == "demo" else f"search_efficiency_{options.task}", payload, lines
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
