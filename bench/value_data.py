"""Learning curves for the value benchmark (#16): configurations sampled from sweep_config.yaml's
search space, trained on the tunable task (yolosweep.sweep.demo_data.write_tunable_dataset), every epoch kept.

    python bench/value_data.py --configs 150 --default-seeds 5      # hours of CPU; resumable
    python bench/value_data.py --summary                            # headroom and noise so far
    python bench/value_data.py --regime finetune --configs 100      # real photos, pretrained (#25)
    python bench/value_data.py --regime finetune_long --configs 60 --jobs 2   # the shipped 100 epochs (#39)

Each training is one file, bench/data/value_curves/<run>-s<seed>.csv (one row per epoch: the
swept values, then Ultralytics' per-epoch metrics), written only when the run has ended, so a
killed generation resumes where it stopped and the data can be committed in parts. `defaults` is
Ultralytics' defaults for the 13 swept parameters, trained with several seeds (the noise);
`c000`, `c001`, ... are configurations drawn by W&B's own samplers (sweeps.params) with a fixed
seed, trained once each. The fixed values (TASK) are the same for every run.

--regime finetune (#25): the regime users are in. bccd's real photographs (../shared/data/bccd, MIT)
fine-tuned from a YOLO11n checkpoint made offline on the chess photos (bench/pretrain.py), with the
shipped YAML's optimizer (SGD), into bench/data/finetune_curves/.

--regime finetune_long (#39): the shipped run shape, 100 epochs a run (bands at 30 and 90 as the YAML
has them, the whole lrf decay and close_mosaic), fine-tuned from the same checkpoint on bccd at imgsz 160,
into bench/data/finetune_long_curves/.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

CURVES = REPO / "bench" / "data" / "value_curves"
METRIC = "metrics/mAP50(B)"
# The task's fixed values. AdamW as in the demo (SGD from scratch needs tens of epochs to move mAP);
# 20 epochs of 6 steps on 96 training images: short enough to train 150 configurations on a CPU.
TASK = {
    "epochs": 20,
    "imgsz": 96,
    "batch": 16,
    "optimizer": "AdamW",
    "device": "cpu",
    "workers": 0,
    "model": "yolo11n.yaml",
    "plots": False,
    "deterministic": True,
}
DATA_SEED = 0
FINETUNE_CURVES = REPO / "bench" / "data" / "finetune_curves"
# imgsz 320 as the checkpoint was trained; 15 epochs of bccd's 205 photos take ~6.5 min (26 s an epoch
# measured) on ONE core: Ultralytics trains on CPU with cpu_count - 1 threads, 1 on 2 cores. So --jobs 2 on
# 2 cores trains two at once at the same 25-26 s an epoch each: 105 trainings ~6 hours, spread over sessions.
FINETUNE_TASK = {
    "epochs": 15,
    "imgsz": 320,
    "batch": 16,
    "optimizer": "SGD",
    "device": "cpu",
    "workers": 0,
    "model": str(REPO / "bench" / "weights" / "yolo11n-chess.pt"),
    "plots": False,
    "deterministic": True,
}
FINETUNE_DATA = REPO.parent / "shared" / "data" / "bccd" / "data.yaml"
# The shipped 100 epochs at imgsz 160 on examples/bccd (the same photos halved to 320x240, decoded faster, the
# same pixels once resized to 160): 10 s an epoch on one core, two side by side, so ~17 min a training and
# 65 trainings ~9.5 h on 2 cores. 320 would be 30 s an epoch (~27 h); `cache: ram` saved nothing (timed).
FINETUNE_LONG_CURVES = REPO / "bench" / "data" / "finetune_long_curves"
FINETUNE_LONG_TASK = {**FINETUNE_TASK, "epochs": 100, "imgsz": 160}
FINETUNE_LONG_DATA = REPO / "examples" / "bccd" / "data.yaml"
# The long regime's first 15 epochs as a complete schedule of their own (warm-up, lrf decay, close_mosaic), at its
# size and photos: the low fidelity of bench/short_schedule.py, ~2.5 min a training.
FINETUNE_SHORT_CURVES = REPO / "bench" / "data" / "finetune_short_curves"
FINETUNE_SHORT_TASK = {**FINETUNE_LONG_TASK, "epochs": 15}
SCRATCH = (CURVES, TASK)


def use_regime(regime: str) -> None:
    """Point CURVES and TASK (read by this module's functions, the surrogate and bench/value.py) at a regime's data."""
    global CURVES, TASK
    CURVES, TASK = {
        "scratch": SCRATCH,
        "finetune": (FINETUNE_CURVES, FINETUNE_TASK),
        "finetune_long": (FINETUNE_LONG_CURVES, FINETUNE_LONG_TASK),
        "finetune_short": (FINETUNE_SHORT_CURVES, FINETUNE_SHORT_TASK),
    }[regime]


def swept_space() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((REPO / "sweep_config.yaml").read_text())
    return {k: v for k, v in config["parameters"].items() if "value" not in v}


def defaults() -> dict[str, Any]:
    from yolosweep.sweep.train_args import ultralytics_defaults

    values = ultralytics_defaults()
    return {name: values[name] for name in swept_space()}


def sampled(index: int) -> dict[str, Any]:
    """Configuration `index`, drawn by W&B's own samplers from the search space; the same for every caller."""
    from sweeps.params import HyperParameterSet

    random.seed(1000 + index)
    params = {}
    for param in HyperParameterSet.from_config(swept_space()):
        value = param.sample()
        params[param.name] = value.item() if hasattr(value, "item") else value
    return params


def jobs(n_configs: int, default_seeds: int) -> list[tuple[str, int, dict[str, Any]]]:
    """Defaults interleaved with the sampled configurations, so a partial run already measures both."""
    found = [(f"c{i:03d}", 0, sampled(i)) for i in range(n_configs)]
    for seed in range(default_seeds):
        found.insert(min(seed * 10, len(found)), ("defaults", seed, defaults()))
    return found


def curve_file(run: str, seed: int, folder: Path | None = None) -> Path:
    return (folder or CURVES) / f"{run}-s{seed}.csv"


def train_one(
    run: str,
    seed: int,
    params: dict[str, Any],
    data: Path,
    folder: Path | None = None,
    epochs: int | None = None,
    task: dict[str, Any] | None = None,
) -> float:
    """Train in a child process (Ultralytics keeps process-wide state); write its curve file; seconds taken."""
    started, folder, task = time.time(), folder or CURVES, task or TASK
    with tempfile.TemporaryDirectory(prefix="value-") as tmp:
        spec = {
            "data": str(data),
            "seed": seed,
            "project": tmp,
            "name": "run",
            **task,
            "epochs": epochs or task["epochs"],
            **params,
        }
        code = (
            "import json, sys; from ultralytics import YOLO; spec = json.loads(sys.argv[1]); "
            "YOLO(spec.pop('model')).train(verbose=False, **spec)"
        )
        env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(Path(tmp) / "ucfg")}
        done = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], env=env, capture_output=True, text=True)
        results = Path(tmp) / "run" / "results.csv"
        if done.returncode != 0 or not results.exists():
            print(f"{run}-s{seed}: failed ({done.stderr.strip().splitlines()[-1:]})", flush=True)
            rows = []
        else:
            with open(results) as f:
                rows = [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(f)]
    folder.mkdir(parents=True, exist_ok=True)
    partial = curve_file(run, seed, folder).with_suffix(".partial")
    with open(partial, "w", newline="") as f:
        names = list(params) + (list(rows[0]) if rows else ["epoch"])
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        for row in rows or [{"epoch": 0}]:  # a failed run keeps one row: epoch 0, no metrics
            writer.writerow({**params, **row})
    partial.replace(curve_file(run, seed, folder))
    return time.time() - started


def load_curves(folder: Path | None = None) -> dict[tuple[str, int], list[dict[str, Any]]]:
    curves = {}
    for path in sorted((folder or CURVES).glob("*.csv")):
        run, _, seed = path.stem.rpartition("-s")
        with open(path) as f:
            curves[(run, int(seed))] = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return curves


def fingerprint() -> str:
    """A short hash of every recorded curve: results computed from other data are not reused."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(CURVES.glob("*.csv")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def final(rows: list[dict[str, Any]]) -> float:
    """A run's result as the sweep sees it: the best epoch's metric (the run summary)."""
    return max((row.get(METRIC, 0.0) for row in rows if isinstance(row.get(METRIC), float)), default=0.0)


def summary(curves: dict[tuple[str, int], list[dict[str, Any]]]) -> dict[str, Any]:
    """The recorded task's figures, from the curves given (load_curves(), or what a surrogate was fitted to)."""
    base = [final(rows) for (run, _), rows in curves.items() if run == "defaults"]
    sampled_results = sorted((final(rows), run) for (run, _), rows in curves.items() if run != "defaults")
    out: dict[str, Any] = {"runs": len(curves), "defaults_seeds": len(base), "configs": len(sampled_results)}
    if base:
        mean = statistics.mean(base)
        out.update(defaults_mean=mean, defaults_std=statistics.stdev(base) if len(base) > 1 else None)
        if sampled_results:
            best, best_run = sampled_results[-1]
            out.update(
                best=best,
                best_run=best_run,
                headroom_rel=(best - mean) / mean if mean else None,
                better_than_defaults=sum(v > mean for v, _ in sampled_results),
                median_config=statistics.median(v for v, _ in sampled_results),
            )
            if out["defaults_std"]:
                out["headroom_in_noise"] = (best - mean) / out["defaults_std"]
    spread = seed_spread_by_epoch(curves)
    if spread:
        out["defaults_std_by_epoch"] = {epoch: round(std, 3) for epoch, std in enumerate(spread, start=1)}
    if len(sampled_results) > 2:
        out["spearman_with_result"] = parameter_effects(curves)
        out["spearman_epoch_with_result"] = ranking_by_epoch(curves)
    return out


def seed_spread_by_epoch(curves: dict[tuple[str, int], list[dict[str, Any]]]) -> list[float] | None:
    """The defaults' spread across seeds (standard deviation of the metric) at epochs 1..TASK's, over the trainings
    that ran them all: how much of a band's comparison at an epoch is the seed's luck, and the surrogate's noise.
    None with fewer than two such trainings (a failed one keeps no epochs)."""
    import numpy as np

    table = metric_curves(curves, defaults=True)
    return np.array(table).std(axis=0, ddof=1).tolist() if len(table) > 1 else None


def metric_curves(
    curves: dict[tuple[str, int], list[dict[str, Any]]], defaults: bool = False, epochs: int | None = None
) -> list[list[float]]:
    """The metric by epoch of every training that ran all `epochs` (TASK's by default), by name: the sampled
    configurations, or with defaults=True the defaults' seeds."""
    epochs = epochs or TASK["epochs"]
    return [
        [row.get(METRIC, 0.0) for row in rows[:epochs]]
        for (run, _), rows in sorted(curves.items())
        if (run == "defaults") == defaults and len(rows) >= epochs
    ]


def ranking_by_epoch(curves: dict[tuple[str, int], list[dict[str, Any]]]) -> dict[int, float]:
    """How early the metric ranks runs: Spearman of the best metric up to each epoch with the run's result (its best
    epoch), over the sampled configurations, as results/band_check.py judges a band. Hyperband's band is worth
    placing only where this is high."""
    from scipy.stats import spearmanr

    runs = [rows for (run, _), rows in curves.items() if run != "defaults" and isinstance(rows[0].get(METRIC), float)]
    epochs = min(len(rows) for rows in runs)
    results = [final(rows) for rows in runs]
    return {
        epoch: round(float(spearmanr([final(rows[:epoch]) for rows in runs], results).statistic), 3)
        for epoch in range(1, epochs + 1)
    }


def parameter_effects(curves: dict[tuple[str, int], list[dict[str, Any]]]) -> dict[str, float]:
    """Spearman between each swept value and the run's result, over the sampled configurations: why the
    optimum lies where it does. A parameter that cannot act (dropout on a detection head) shows the noise floor."""
    from scipy.stats import spearmanr

    runs = [rows for (run, _), rows in curves.items() if run != "defaults" and isinstance(rows[0].get(METRIC), float)]
    results = [final(rows) for rows in runs]
    return {
        name: round(float(spearmanr([float(rows[0][name]) for rows in runs], results).statistic), 3)
        for name in sorted(swept_space())
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=int, default=150)
    parser.add_argument("--default-seeds", type=int, default=5)
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="trainings side by side (default 1); Ultralytics trains on CPU with cpu_count - 1 threads "
        "(at most 8), so on 2 cores --jobs 2 doubles the throughput",
    )
    parser.add_argument("--summary", action="store_true", help="print headroom and noise of the curves so far")
    parser.add_argument(
        "--regime",
        choices=("scratch", "finetune", "finetune_long", "finetune_short"),
        default="scratch",
        help="scratch: the tunable task from scratch (default); finetune: bccd from the chess checkpoint, "
        "15 epochs; finetune_long: the same for the shipped 100 epochs at imgsz 160; finetune_short: "
        "finetune_long's task in 15 epochs",
    )
    options = parser.parse_args()
    use_regime(options.regime)
    folder, task = CURVES, TASK
    if options.summary:
        print(json.dumps(summary(load_curves(folder)), indent=2))
        return 0
    if options.regime != "scratch":  # every fine-tuning regime starts from the chess checkpoint
        if not Path(task["model"]).exists():
            raise SystemExit(f"{task['model']} missing: make it with python bench/pretrain.py")
        data = FINETUNE_DATA if options.regime == "finetune" else FINETUNE_LONG_DATA
    else:
        from yolosweep.sweep.demo_data import write_tunable_dataset

        data = write_tunable_dataset(Path(tempfile.mkdtemp(prefix="value-data-")), seed=DATA_SEED)
    todo = [
        job for job in jobs(options.configs, options.default_seeds) if not curve_file(job[0], job[1], folder).exists()
    ]
    print(f"value data: {len(todo)} trainings to go, {options.jobs} at a time, into {folder}", flush=True)

    def one(job: tuple[str, int, dict[str, Any]]) -> None:
        run, seed, params = job
        seconds = train_one(run, seed, params, data, folder, task=task)
        rows = load_curves(folder).get((run, seed), [])
        print(f"{run}-s{seed}: best {METRIC} {final(rows):.3f} in {seconds:.0f} s", flush=True)

    with ThreadPoolExecutor(options.jobs) as pool:
        list(pool.map(one, todo))
    print(json.dumps(summary(load_curves(folder)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
