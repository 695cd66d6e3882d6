"""Close the loop with real trainings (#24, item 4): a real sweep of the value task, then the retrain that
settles it (train_best_config.py --sweep ID --top K --seeds S), to measure how much of the sweep's best
run was the seed's luck and whether the verified winner is another configuration.

    python bench/retrain_loop.py --runs 10 --top 3 --seeds 3   # ~25 trainings of ~40 s; adds one repetition
                                                               # to bench/results/retrain_loop.{json,md}

Everything runs through the product's own commands in a scratch folder (python -m yolosweep sweep, agent,
status, retrain), on the value task of bench/value_data.py (the generated tunable dataset, 20 epochs at
imgsz 96, AdamW), with the shipped YAML's search space and its Hyperband band. Each call adds one
repetition, so the results grow over sessions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import value_data  # noqa: E402
from harness import RESULTS, write_results  # noqa: E402

NAME = "retrain_loop"


def _yolosweep(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "yolosweep", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"python -m yolosweep {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.stdout


def repetition(runs: int, top: int, seeds: int) -> dict[str, Any]:
    from yolosweep.sweep.demo_data import write_tunable_dataset

    with tempfile.TemporaryDirectory(prefix="retrain-loop-") as tmp:
        work = Path(tmp)
        data = write_tunable_dataset(work / "data", seed=value_data.DATA_SEED)
        config = yaml.safe_load((BENCH.parent / "sweep_config.yaml").read_text())
        config["program"] = str(BENCH.parent / "train_sweep.py")
        config["run_cap"] = runs
        for key, value in {**value_data.TASK, "data": str(data)}.items():
            config["parameters"][key] = {"value": value}
        (work / "sweep.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH.parent), os.environ.get("PYTHONPATH")])),
            "YOLOSWEEP_HOME": str(work),
            "YOLO_OFFLINE": "1",
            "WANDB_MODE": "offline",
            "YOLO_CONFIG_DIR": str(work / "ucfg"),
        }
        env.pop("YOLOSWEEP_STORE", None)
        started = time.monotonic()
        created = _yolosweep(["sweep", "sweep.yaml", "--prior", "defaults"], work, env)
        sweep_id = re.search(r"created local sweep (\S+)", created).group(1)
        _yolosweep(["agent", sweep_id], work, env)
        swept_s = time.monotonic() - started
        status = _yolosweep(["status", sweep_id], work, env)
        retrained = _yolosweep(
            [
                "retrain",
                "--sweep",
                sweep_id,
                "--backend",
                "local",
                "--top",
                str(top),
                "--seeds",
                str(seeds),
                "--epochs",
                str(value_data.TASK["epochs"]),
                "--no-log-model",
            ],
            work,
            env,
        )
        with open(work / "runs" / "retrain" / f"top{top}x{seeds}-{sweep_id}.csv") as f:
            rows = list(csv.DictReader(f))
        gain = next((line.strip() for line in status.splitlines() if line.startswith("gain of the best:")), "")
        verified = next(
            (line.strip() for line in retrained.splitlines() if line.startswith("verified by retraining")), ""
        )
        held = next((line.strip() for line in retrained.splitlines() if line.startswith("ranking ")), "")
    sweep_column = next(k for k in rows[0] if k.startswith("sweep "))
    table = [
        {
            "what": r["what"],
            "run": r["run"],
            "sweep": float(r[sweep_column]) if r[sweep_column] else None,
            "mean": float(r["mean"]),
            "std": float(r["std"]) if r["std"] else None,
            "values": [float(v) for v in r["values"].split()],
            "retrain_rank": int(r["retrain_rank"]),
        }
        for r in rows
    ]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "runs": runs,
        "top": top,
        "seeds": seeds,
        "sweep_minutes": swept_s / 60,
        "total_minutes": (time.monotonic() - started) / 60,
        "status_gain": gain,
        "verified": verified,
        "ranking": held,
        "rows": table,
    }


def report(reps: list[dict[str, Any]]) -> list[str]:
    lines = [
        "# The loop closed with real trainings: a sweep of the value task, then --top K --seeds S",
        "",
        "Each repetition: `python -m yolosweep sweep` (defaults first, 2 seed repeats) and an agent up to the run cap, "
        "then `python -m yolosweep retrain --sweep ID --top K --seeds S --epochs 20`. `sweep`: the run's value in "
        "the sweep (one seed); `mean`/`std`: the S fresh seeds.",
        "",
    ]
    for number, rep in enumerate(reps, start=1):
        lines += [
            f"## Repetition {number} ({rep['date']}; {rep['runs']} runs, top {rep['top']} x {rep['seeds']} seeds; "
            f"{rep['total_minutes']:.0f} min)",
            "",
            f"- sweep: {rep['status_gain']}",
            f"- retrain: {rep['verified']}",
            f"- {rep['ranking']}",
            "",
            "| what | run | sweep | retrained mean +- std | seeds | rank |",
            "|---|---|---|---|---|---|",
        ]
        for row in rep["rows"]:
            sweep = f"{row['sweep']:.3f}" if row["sweep"] is not None else "-"
            lines.append(
                f"| {row['what']} | {row['run']} | {sweep} | {row['mean']:.3f} +- {row['std'] or 0:.3f} | "
                f"{' '.join(f'{v:.3f}' for v in row['values'])} | {row['retrain_rank']} |"
            )
        lines.append("")
    tops = [row for rep in reps for row in rep["rows"] if row["what"] == "top1" and row["sweep"] is not None]
    if tops:
        shrink = [row["sweep"] - row["mean"] for row in tops]
        lines += [
            f"The sweeps' best runs lost {statistics.median(shrink):+.3f} (median over {len(tops)}) from their "
            "sweep value to their fresh-seed mean: that much of a winner's lead was the seed's."
        ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="the sweep's run cap (the defaults and repeats included)")
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--report", action="store_true", help="rewrite the report from the recorded repetitions only")
    options = parser.parse_args()
    path = RESULTS / f"{NAME}.json"
    reps = json.loads(path.read_text())["repetitions"] if path.exists() else []
    if not options.report:
        reps.append(repetition(options.runs, options.top, options.seeds))
    write_results(NAME, {"repetitions": reps}, report(reps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
