"""Overhead of the package: train_sweep.py (offline wandb + the store) against plain Ultralytics.

Same arguments, same generated data, alternated A/B/A/B so the machine's drift hits both. For
each process: per-epoch wall time (from Ultralytics' results.csv, epoch 1 left out as warm-up),
start-up time (process start to the end of epoch 1 minus that epoch), and peak RSS of the
process tree. Run: python bench/overhead.py [--repeats 2 --epochs 5 --imgsz 64]
->  bench/results/overhead.{json,md}
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import AgentStandIn, machine, offline_env, write_results  # noqa: E402  (bench/ is on the path when run as a script)

from yolosweep.sweep.demo_data import write_demo_dataset  # noqa: E402

PLAIN = """
import sys
from ultralytics import YOLO
YOLO("yolo11n.yaml").train(data=sys.argv[1], epochs=int(sys.argv[2]), imgsz=int(sys.argv[3]), batch=16, device="cpu",
    workers=0, optimizer="AdamW", lr0=0.005, seed=0, deterministic=True, plots=False, project=sys.argv[4], name="plain",
    exist_ok=True)
"""


def run_measured(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of the whole process tree."""
    start, peak = time.perf_counter(), 0
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.1)
    if proc.returncode != 0:
        raise SystemExit(f"{command[:3]} failed with {proc.returncode}")
    return time.perf_counter() - start, peak


def epoch_times(results_csv: Path) -> list[float]:
    with open(results_csv) as f:
        elapsed = [float(row["time"]) for row in csv.DictReader(f)]
    return [b - a for a, b in zip([0.0, *elapsed], elapsed)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--imgsz", type=int, default=64)
    options = parser.parse_args()
    samples: dict[str, list[dict]] = {"plain": [], "yolosweep": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = write_demo_dataset(tmp / "data")
        env = offline_env(tmp)
        agent = AgentStandIn(tmp)
        for repeat in range(options.repeats):
            for kind in ("plain", "yolosweep"):
                project = tmp / f"{kind}{repeat}"
                if kind == "plain":
                    command = [
                        sys.executable,
                        "-c",
                        PLAIN,
                        str(data),
                        str(options.epochs),
                        str(options.imgsz),
                        str(project),
                    ]
                    run_env = env
                else:
                    run_id = f"bench{repeat:03d}"
                    command = [
                        sys.executable,
                        str(REPO / "train_sweep.py"),
                        "--data",
                        str(data),
                        "--epochs",
                        str(options.epochs),
                        "--imgsz",
                        str(options.imgsz),
                        "--batch",
                        "16",
                        "--device",
                        "cpu",
                        "--model",
                        "yolo11n.yaml",
                        "--workers=0",
                        "--optimizer=AdamW",
                        "--lr0=0.005",
                        f"--project={project}",
                        "--name=plain",
                        "--no-log-model",
                    ]
                    run_env = agent.run_env(env, run_id)
                wall, peak = run_measured(command, run_env, tmp)
                epochs = epoch_times(project / "plain" / "results.csv")
                startup = wall - sum(epochs)
                samples[kind].append(
                    {"wall_s": wall, "epoch_s": epochs, "outside_epochs_s": startup, "peak_rss_mb": peak / 2**20}
                )
                print(
                    f"{kind:9s} repeat {repeat}: wall {wall:.1f}s, epochs {[round(e, 2) for e in epochs]}, "
                    f"outside epochs {startup:.1f}s, peak {peak / 2**20:.0f} MB",
                    flush=True,
                )

    def per_epoch(kind: str) -> float:
        return statistics.median(e for s in samples[kind] for e in s["epoch_s"][1:])

    def median_of(kind: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[kind])

    summary = {
        "per_epoch_s": {k: per_epoch(k) for k in samples},
        "per_epoch_ratio": per_epoch("yolosweep") / per_epoch("plain"),
        "outside_epochs_s": {k: median_of(k, "outside_epochs_s") for k in samples},
        "peak_rss_mb": {k: median_of(k, "peak_rss_mb") for k in samples},
    }
    payload = {"options": vars(options), "summary": summary, "samples": samples}
    s = summary
    lines = [
        f"# Overhead of train_sweep.py against plain Ultralytics ({time.strftime('%Y-%m-%d')}, {machine()})",
        "",
        f"YOLO11n from scratch on the generated dataset, imgsz {options.imgsz}, batch 16, {options.epochs} epochs, "
        f"{options.repeats} alternated repeats each; medians.",
        "",
        "| | plain Ultralytics | train_sweep.py | ratio |",
        "|---|---|---|---|",
        f"| per-epoch wall time (s) | {s['per_epoch_s']['plain']:.2f} | {s['per_epoch_s']['yolosweep']:.2f} | "
        f"{s['per_epoch_ratio']:.3f} |",
        f"| time outside epochs: start-up, final validation, exit (s) | {s['outside_epochs_s']['plain']:.1f} | "
        f"{s['outside_epochs_s']['yolosweep']:.1f} | "
        f"{s['outside_epochs_s']['yolosweep'] / s['outside_epochs_s']['plain']:.2f} |",
        f"| peak RSS of the process tree (MB) | {s['peak_rss_mb']['plain']:.0f} | "
        f"{s['peak_rss_mb']['yolosweep']:.0f} | "
        f"{s['peak_rss_mb']['yolosweep'] / s['peak_rss_mb']['plain']:.2f} |",
    ]
    write_results("overhead", payload, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
