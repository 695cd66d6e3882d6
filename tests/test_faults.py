"""Faults inside real YOLO runs: NaN loss, a full disk, a read-only output folder, SIGTERM in the final validation.

The disks are real filesystems (tmpfs mounts), so a full disk is a real ENOSPC and a read-only
folder a real EROFS; the tests that need them are skipped where mounting is not allowed.
"""

from __future__ import annotations

import json
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from .conftest import REPO, offline_runs, only_offline_run, run_train_sweep, shipped_sweep_yaml, train_sweep_cmd
from .test_local_backend import create, run_agent, store_runs, yolosweep

TINY = ["--epochs", "1", "--imgsz", "32", "--batch", "16", "--model", "yolo11n.yaml", "--device", "cpu"]


@pytest.mark.integration
def test_nan_loss_fails_that_run_with_its_reason_and_the_agent_goes_on(tmp_path, home_env, demo_data):
    # A loss gain of 1e38 overflows float32 at the first batch: a real NaN/Inf loss on the CPU.
    path = shipped_sweep_yaml(tmp_path, "grid", keep_swept=False, lr0={"value": 0.005}, box={"values": [1e38, 7.5]})
    sweep_id = create(path, home_env, tmp_path, "--data", str(demo_data), *TINY)
    run_agent(sweep_id, home_env, tmp_path, count=2)

    runs = sorted(store_runs(home_env, sweep_id), key=lambda r: r.params["box"], reverse=True)
    assert [r.state for r in runs] == ["failed", "finished"]
    assert "NaN/Inf" in runs[0].reason and "Fix:" in runs[0].reason
    assert len(runs[1].history) == 1


@pytest.mark.integration
def test_out_of_memory_fails_the_run_with_a_smaller_batch_to_try(tmp_path, offline_env, demo_data):
    # A real allocation failure on the CPU: the run's address space is capped at 5 GiB, far below imgsz 2048's needs.
    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (5 << 30, 5 << 30))

    args = ["--data", str(demo_data), *TINY, "--imgsz=2048", "--workers=0", "--no-log-model"]
    done = subprocess.run(
        train_sweep_cmd(*args),
        cwd=tmp_path,
        env=offline_env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=cap_memory,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    run = only_offline_run(tmp_path)
    assert run.summary["state"] == "failed"
    assert run.summary["reason"] == "CPU RAM out of memory at batch=16, imgsz=2048. Fix: try --batch 8"
    assert "Traceback" not in done.stderr and (tmp_path / "runs" / "sweep" / run.config["name"] / "error.log").exists()


@pytest.mark.integration
def test_full_disk_fails_the_run_clearly_and_keeps_the_store_consistent(tmp_path, home_env, demo_data, tmpfs):
    outputs = tmpfs("size=2m")  # a checkpoint of yolo11n is larger than the whole disk
    path = shipped_sweep_yaml(tmp_path, "grid", keep_swept=False, project={"value": str(outputs)})
    sweep_id = create(path, home_env, tmp_path, "--data", str(demo_data), *TINY)
    out = run_agent(sweep_id, home_env, tmp_path, count=1)

    (run,) = store_runs(home_env, sweep_id)
    assert run.state == "failed", out[-3000:]
    assert run.reason.startswith("disk full while writing training outputs") and "Fix:" in run.reason
    with sqlite3.connect(Path(home_env["YOLOSWEEP_HOME"]) / "sweeps.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (wandb_run,) = offline_runs(tmp_path)
    assert "disk full" in only_offline_run(tmp_path).summary["reason"], wandb_run


@pytest.mark.integration
def test_read_only_output_folder_is_refused_before_anything_starts(tmp_path, home_env, demo_data, tmpfs):
    read_only = tmpfs("ro,size=1m")
    path = shipped_sweep_yaml(tmp_path, "grid", keep_swept=False, project={"value": str(read_only / "runs")})
    done = yolosweep(["sweep", str(path), "--data", str(demo_data), *TINY], home_env, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "project" in line and "not writable" in line and "Fix:" in line
    assert not Path(home_env["YOLOSWEEP_HOME"]).exists()

    standalone = run_train_sweep(["--data", str(demo_data), *TINY, f"--project={read_only}"], tmp_path, home_env)
    assert standalone.returncode == 2 and "not writable" in standalone.stderr
    assert "Traceback" not in standalone.stderr


@pytest.mark.integration
def test_sigterm_during_the_final_validation_ends_cleanly_with_readable_weights(tmp_path, offline_env, demo_data):
    # Validate on the 320 training images, so the final validation of best.pt lasts long enough to be hit.
    spec = yaml.safe_load((demo_data).read_text())
    spec.update(path=str(demo_data.parent), val=spec["train"])
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump(spec))
    args = ["--data", str(data), *TINY, "--epochs=2", "--optimizer=AdamW", "--workers=0", "--no-log-model"]
    proc = subprocess.Popen(
        train_sweep_cmd(*args),
        cwd=tmp_path,
        env=offline_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("Validating ") and "best.pt" in line:  # Ultralytics' final_eval
            sent = time.time()
            proc.send_signal(signal.SIGTERM)
            break
    else:
        pytest.fail("the final validation never started:\n" + "".join(seen[-30:]))
    rest = proc.communicate(timeout=60)[0]
    assert time.time() - sent < 20 and proc.returncode == 0, rest[-3000:]

    run = only_offline_run(tmp_path)
    assert run.summary["state"] == "stopped" and "SIGTERM" in run.summary["reason"]
    assert run.summary["epochs_done"] == 2 and [row["epoch"] for row in run.history] == [1, 2]
    (weights,) = tmp_path.glob("runs/sweep/*/weights")
    for name in ("best.pt", "last.pt"):
        checkpoint = torch.load(weights / name, weights_only=False)
        assert checkpoint["model"] is not None or checkpoint["ema"] is not None


KILLED_WRITER = """
import sys
from pathlib import Path
from yolosweep.run.trial import _ReplacedWhole
_ReplacedWhole(sys.argv[1]).write_bytes(b"new" * (700 * 2**20))  # 2.1 GB: still writing when the kill comes
"""


@pytest.mark.integration
def test_a_checkpoint_write_killed_midway_leaves_the_previous_checkpoint_whole(tmp_path):
    checkpoint = tmp_path / "last.pt"
    checkpoint.write_bytes(b"previous epoch")
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(checkpoint)], cwd=REPO)
    partial = tmp_path / "last.pt.partial"
    deadline = time.time() + 60
    while not (partial.exists() and partial.stat().st_size > 0):
        assert writer.poll() is None and time.time() < deadline, "the writer ended before it was killed"
        time.sleep(0.01)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert partial.stat().st_size < 2100 * 2**20  # the kill landed inside the write
    assert checkpoint.read_bytes() == b"previous epoch"


SPIED_TRAINING = """
import json, sys
from pathlib import Path
from yolosweep.run import trial
written, write = [], trial._ReplacedWhole.write_bytes
trial._ReplacedWhole.write_bytes = lambda self, data: written.append(self.name) or write(self, data)
result = trial.run({"data": sys.argv[1], "epochs": 1, "imgsz": 32, "batch": 16, "model": "yolo11n.yaml",
                    "device": "cpu", "workers": 0, "project": sys.argv[2], "name": "r"}, log_model=False)
Path(sys.argv[3]).write_text(json.dumps({"state": result.state, "reason": result.reason, "written": written}))
"""


@pytest.mark.integration
def test_ultralytics_writes_its_checkpoints_through_the_rename(tmp_path, demo_data, offline_env):
    """The guard above only works while Ultralytics saves with trainer.last/best.write_bytes.

    Its own process: wandb keeps process-wide settings that would leak into later in-process tests.
    """
    done = subprocess.run(
        [sys.executable, "-c", SPIED_TRAINING, str(demo_data), str(tmp_path / "runs"), str(tmp_path / "result.json")],
        env={**offline_env, "WANDB_DIR": str(tmp_path)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["state"] == "finished", result["reason"]
    assert result["written"] == ["last.pt", "best.pt"]
    weights = tmp_path / "runs" / "r" / "weights"
    assert torch.load(weights / "last.pt", weights_only=False)["train_args"]["epochs"] == 1
    assert not list(weights.glob("*.partial"))
