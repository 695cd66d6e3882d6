"""A pretrained starting point made offline (#25): YOLO11n trained on real photographs (chess), then
checked as a starting point for another real dataset (bccd) against training from scratch.

    python bench/pretrain.py                 # train (resumes after a kill), then the check
    python bench/pretrain.py --check-only    # the check alone, from the committed checkpoint

Nothing downloads: the model is built from yolo11n.yaml and the data are ../shared/data/. The
checkpoint (Ultralytics strips the optimizer: ~5 MB) goes to bench/weights/yolo11n-chess.pt; the
check's figures to bench/results/pretrain.json. Training resumes from bench/.cache/pretrain/ after
a kill (Ultralytics' resume=True on its last.pt).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
WEIGHTS = REPO / "bench" / "weights" / "yolo11n-chess.pt"
CACHE = REPO / "bench" / ".cache" / "pretrain"
RESULTS = REPO / "bench" / "results" / "pretrain.json"
# imgsz 320: an epoch of chess's 202 photos takes ~20 s on this machine's 2 cores (measured), so 150
# epochs fit an hour; 640 would take four times as long.
PRETRAIN = {
    "epochs": 150,
    "imgsz": 320,
    "batch": 16,
    "workers": 2,
    "device": "cpu",
    "seed": 0,
    "deterministic": True,
    "plots": False,
    "amp": False,
}
CHECK = {
    "epochs": 10,
    "imgsz": 320,
    "batch": 16,
    "workers": 2,
    "device": "cpu",
    "deterministic": True,
    "plots": False,
    "amp": False,
}
METRIC = "metrics/mAP50(B)"


def _train(model: str, spec: dict[str, Any]) -> subprocess.CompletedProcess:
    """One Ultralytics training in a child process (it keeps process-wide state), offline."""
    code = "import json, sys; from ultralytics import YOLO; s = json.loads(sys.argv[2]); YOLO(sys.argv[1]).train(**s)"
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code, model, json.dumps(spec)], env=env, capture_output=True, text=True
    )


def _results(run_dir: Path) -> list[dict[str, float]]:
    with open(run_dir / "results.csv") as f:
        return [{k.strip(): float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def pretrain(data: Path, epochs: int) -> dict[str, Any]:
    run_dir = CACHE / "chess"
    last = run_dir / "weights" / "last.pt"
    started = time.time()
    if not (last.exists() and len(_results(run_dir)) >= epochs):  # else: trained to the end already
        if last.exists():
            done = _train(str(last), {"resume": True})
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
            done = _train(
                "yolo11n.yaml",
                {"data": str(data), **PRETRAIN, "epochs": epochs, "project": str(CACHE), "name": "chess"},
            )
        if done.returncode != 0:
            raise SystemExit(f"pretraining failed: {done.stderr.strip().splitlines()[-3:]}")
    rows = _results(run_dir)
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(run_dir / "weights" / "best.pt", WEIGHTS)
    return {
        "data": "chess",
        "epochs": len(rows),
        "imgsz": PRETRAIN["imgsz"],
        "seconds_this_call": round(time.time() - started),
        "best_mAP50": max(r[METRIC] for r in rows),
        "best_mAP50_95": max(r["metrics/mAP50-95(B)"] for r in rows),
        "checkpoint_bytes": WEIGHTS.stat().st_size,
    }


def check(data: Path, seeds: int) -> dict[str, Any]:
    """Fine-tuning from the checkpoint vs from scratch on another dataset, equal epochs, a few seeds each."""
    found: dict[str, list[float]] = {"pretrained": [], "scratch": []}
    with tempfile.TemporaryDirectory(prefix="pretrain-check-") as tmp:
        for seed in range(seeds):
            for start, model in (("pretrained", str(WEIGHTS)), ("scratch", "yolo11n.yaml")):
                name = f"{start}-{seed}"
                done = _train(model, {"data": str(data), **CHECK, "seed": seed, "project": tmp, "name": name})
                if done.returncode != 0:
                    raise SystemExit(f"check run {name} failed: {done.stderr.strip().splitlines()[-3:]}")
                found[start].append(max(r[METRIC] for r in _results(Path(tmp) / name)))
                print(f"bccd from {start}, seed {seed}: best mAP50 {found[start][-1]:.3f}", flush=True)
    return {"data": "bccd", **{k: CHECK[k] for k in ("epochs", "imgsz")}, "mAP50": found}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=PRETRAIN["epochs"])
    parser.add_argument("--seeds", type=int, default=2, help="seeds per start in the check (default 2)")
    parser.add_argument("--check-only", action="store_true")
    options = parser.parse_args()
    report = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not options.check_only:
        report["pretrain"] = pretrain(SHARED_DATA / "chess" / "data.yaml", options.epochs)
        print(json.dumps(report["pretrain"]), flush=True)
    if not WEIGHTS.exists():
        raise SystemExit(f"{WEIGHTS} missing: run python bench/pretrain.py first")
    report["finetune_check"] = check(SHARED_DATA / "bccd" / "data.yaml", options.seeds)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["finetune_check"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
