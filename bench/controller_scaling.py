"""Controller scaling: time per bayes suggestion and per Hyperband check as a sweep grows.

The sweep is sweep_config.yaml (13 swept parameters, 100 epochs, Hyperband); the store is a real
SQLite file holding N runs with 100 epochs of history each (synthetic curves: the controller is
measured, not training). Each figure includes reading the runs back from the store, as the agent
does. Then peak memory: of this process, which has been the controller for all the sizes (with
torch loaded for the YAML's validation), and of a real local agent (the controller plus the process supervision)
running one demo-sized YOLO
run, next to that run's own process.
Run: python bench/controller_scaling.py  ->  bench/results/controller_scaling.{json,md}
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import REPO, create_local_sweep, machine, offline_env, write_results

from yolosweep.agent.engine import runs_to_stop, suggest
from yolosweep.commands.launch import DEMO_FIXED
from yolosweep.results.progress import sweep_progress
from yolosweep.run.tracking import OBJECTIVE
from yolosweep.store import Store
from yolosweep.sweep import spec
from yolosweep.sweep.demo_data import write_demo_dataset

SIZES = (20, 50, 100, 200)
REPEATS = 5
EPOCHS = 100


def fill(store: Store, sweep_id: str, config: dict, n: int, rng: np.random.Generator) -> None:
    """n runs: all but 4 finished, 4 running halfway, each with a noisy saturating curve."""
    for i in range(n):
        params = suggest({**config, "method": "random"}, [])  # parameter sets drawn by the engine
        run_id = f"{sweep_id[:4]}{i:04d}"
        with store.transaction():
            store.add_run(sweep_id, run_id, params)
        plateau, epochs = rng.uniform(0.3, 0.8), EPOCHS if i < n - 4 else EPOCHS // 2
        history = []
        for epoch in range(1, epochs + 1):
            row = {"epoch": epoch, OBJECTIVE: float(plateau * (1 - np.exp(-epoch / 15)) + rng.normal(0, 0.01))}
            history.append(row)
        with store.transaction() as db:
            db.exec_driver_sql(
                "INSERT INTO metrics VALUES (?, ?, ?)", [(run_id, r["epoch"], json.dumps(r)) for r in history]
            )
            best = max(r[OBJECTIVE] for r in history)
            db.exec_driver_sql("UPDATE runs SET summary=? WHERE id=?", (json.dumps({OBJECTIVE: best}), run_id))
        if i < n - 4:
            store.end_run(run_id, "finished")


def timed(fn, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "max_s": max(times)}


def agent_peak_rss(folder: Path) -> dict[str, float]:
    """Peak RSS (MB) of a local agent process and of the run it starts, each on its own."""
    config = yaml.safe_load((REPO / "sweep_config.yaml").read_text())
    config["parameters"].update({k: {"value": v} for k, v in {**DEMO_FIXED, "epochs": 2}.items()})
    env = offline_env(folder, YOLOSWEEP_HOME=str(folder / "home"))
    sweep_id = create_local_sweep(config, folder, env, "--data", str(write_demo_dataset(folder / "data")))
    agent = subprocess.Popen(
        [sys.executable, "-m", "yolosweep", "agent", sweep_id, "--count=1"],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peaks = {"agent": 0.0, "run": 0.0}
    process = psutil.Process(agent.pid)
    while agent.poll() is None:
        try:
            peaks["agent"] = max(peaks["agent"], process.memory_info().rss / 2**20)
            for child in process.children():
                peaks["run"] = max(
                    peaks["run"], sum(p.memory_info().rss for p in [child, *child.children(recursive=True)]) / 2**20
                )
        except psutil.Error:
            pass
        time.sleep(0.1)
    if agent.returncode != 0:
        raise SystemExit(f"the agent failed with {agent.returncode}")
    return peaks


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    config = spec.load_sweep(REPO / "sweep_config.yaml")
    rng = np.random.default_rng(0)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "sweeps.db")
        for n in SIZES:
            sweep_id = store.create_sweep(config)
            fill(store, sweep_id, config, n, rng)
            read = timed(lambda sweep_id=sweep_id: store.runs(sweep_id), REPEATS)
            suggestion = timed(lambda sweep_id=sweep_id: suggest(config, store.runs(sweep_id)), REPEATS)
            check = timed(lambda sweep_id=sweep_id: runs_to_stop(config, store.runs(sweep_id)), REPEATS)
            # the launcher's progress view, read once a second: the running runs' last epochs only,
            # against reading every run's history as it did before
            progress = timed(lambda sweep_id=sweep_id: sweep_progress(store, sweep_id), REPEATS)
            progress_all = timed(
                lambda sweep_id=sweep_id: sweep_progress(store, sweep_id, runs=store.runs(sweep_id)), REPEATS
            )
            results.append(
                {
                    "runs": n,
                    "store_read": read,
                    "bayes_suggestion": suggestion,
                    "hyperband_check": check,
                    "progress_view": progress,
                    "progress_view_all_histories": progress_all,
                }
            )
            print(
                f"{n:4d} runs: read {read['median_s']:.3f}s  suggest {suggestion['median_s']:.3f}s  "
                f"hyperband {check['median_s']:.3f}s  progress {progress['median_s']:.4f}s "
                f"(all histories {progress_all['median_s']:.4f}s)",
                flush=True,
            )
        controller_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB
        agent = agent_peak_rss(Path(tmp))
    print(f"peak RSS: controller {controller_mb:.0f} MB, agent {agent['agent']:.0f} MB, its run {agent['run']:.0f} MB")
    payload = {
        "epochs_per_run": EPOCHS,
        "repeats": REPEATS,
        "peak_rss_mb": {"controller": controller_mb, **agent},
        "swept_parameters": len([p for p in config["parameters"].values() if "value" not in p]),
        "results": results,
    }
    lines = [
        f"# Controller scaling ({time.strftime('%Y-%m-%d')}, {machine()})",
        "",
        f"Each figure: median of {REPEATS}, including reading all runs (with {EPOCHS}-epoch histories) from SQLite.",
        "",
        "| runs in sweep | store read (s) | bayes suggestion (s) | Hyperband check (s) "
        "| progress view (s) | it, reading all histories (s) | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['runs']} | {r['store_read']['median_s']:.3f} | {r['bayes_suggestion']['median_s']:.3f} | "
        f"{r['hyperband_check']['median_s']:.3f} | {r['progress_view']['median_s']:.4f} | "
        f"{r['progress_view_all_histories']['median_s']:.4f} | "
        f"{r['progress_view_all_histories']['median_s'] / r['progress_view']['median_s']:.0f}x |"
        for r in results
    ]
    lines += [
        "",
        "The progress view is what the launcher and `status --watch` read once a second; the runs "
        "ranking, suggestion and Hyperband check need every history and still read it.",
    ]
    lines += [
        "",
        "| peak RSS | MB |",
        "|---|---|",
        f"| this benchmark process after all sizes: the sweeps engine and store reads up to {SIZES[-1]} runs, "
        "plus torch, which the YAML's validation against Ultralytics imports (an upper bound) | "
        f"{controller_mb:.0f} |",
        f"| local agent process while it runs one demo-sized run (controller + supervision) | {agent['agent']:.0f} |",
        f"| that run's process tree (train_sweep.py: YOLO training, offline wandb) | {agent['run']:.0f} |",
    ]
    write_results("controller_scaling", payload, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
