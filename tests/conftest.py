"""Shared fixtures: an isolated offline environment and one generated dataset per session."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from yolosweep.run.tracking import OfflineRun, read_offline_run
from yolosweep.sweep.demo_data import write_demo_dataset

from .pgserver import NoUnprivilegedUser, PostgresServer, server_binaries

REPO = Path(__file__).resolve().parent.parent
# The generated demo learns in a few epochs with AdamW; SGD from scratch needs tens.
FAST = [
    "--epochs",
    "3",
    "--imgsz",
    "64",
    "--batch",
    "8",
    "--device",
    "cpu",
    "--optimizer=AdamW",
    "--lr0=0.005",
    "--workers=0",
    "--model",
    "yolo11n.yaml",
]  # offline: no pretrained weights, and runs never fall back to scratch


def default_sigint() -> None:
    """preexec_fn for a child that is sent SIGINT as Ctrl+C: a shell starting a job in the background
    (`cmd &`, as CI wrappers do) ignores SIGINT, the child inherits that, and Python then never raises
    KeyboardInterrupt. Found when a CI run started that way left dashboards and watchers running."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def offline_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a subprocess: offline wandb and Ultralytics, no key, files under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        WANDB_MODE="offline",
        WANDB_DIR=str(tmp_path),
        YOLO_CONFIG_DIR=str(tmp_path / "ultralytics-config"),
        YOLO_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.fixture
def home_env(offline_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """offline_env with its own local-backend store under tmp_path."""
    return {**offline_env, "YOLOSWEEP_HOME": str(tmp_path / "home")}


def train_sweep_cmd(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "train_sweep.py"), *args]


def run_train_sweep(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(train_sweep_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def offline_runs(wandb_dir: Path) -> list[Path]:
    return sorted((wandb_dir / "wandb").glob("offline-run-*"))


def only_offline_run(wandb_dir: Path, settle_s: float = 15) -> OfflineRun:
    """The one wandb run under wandb_dir, once its log holds the exit record.

    wandb-core writes the .wandb log asynchronously; once (in CI, in-process) a read right
    after run.finish() found no history rows yet, so wait for the run's last record.
    """
    runs = offline_runs(wandb_dir)
    assert len(runs) == 1, f"expected exactly one wandb run, found {runs}"
    deadline = time.time() + settle_s
    run = read_offline_run(runs[0])
    while run.exit_code is None and time.time() < deadline:
        time.sleep(0.2)
        run = read_offline_run(runs[0])
    return run


def shipped_sweep_yaml(
    folder: Path, method: str = "random", *, keep_swept: bool = True, early_terminate: bool = True, **parameters: dict
) -> Path:
    """sweep_config.yaml made for CPU tests (AdamW, no dataloader workers, yolo11n.yaml: no pretrained weights
    offline) with `parameters` added, as a file."""
    config = yaml.safe_load((REPO / "sweep_config.yaml").read_text())
    config["method"] = method
    if not early_terminate:
        config.pop("early_terminate")
    if not keep_swept:
        config["parameters"] = {k: v for k, v in config["parameters"].items() if "value" in v}
    config["parameters"].update(
        {"optimizer": {"value": "AdamW"}, "workers": {"value": 0}, "model": {"value": "yolo11n.yaml"}, **parameters}
    )
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def tmpfs(tmp_path):
    """mount(options) -> a fresh tmpfs folder; unmounted after the test."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); run as root to test a real full disk")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(scope="session")
def real_sweep(tmp_path_factory, demo_data):
    """A real local sweep of train_sweep.py: 3 runs of 2 epochs on generated data."""
    from .test_local_backend import agent, create

    cwd = tmp_path_factory.mktemp("real_sweep")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        WANDB_MODE="offline",
        WANDB_DIR=str(cwd),
        YOLO_CONFIG_DIR=str(cwd / "ucfg"),
        YOLO_OFFLINE="1",
        PYTHONPATH=str(REPO),
        YOLOSWEEP_HOME=str(cwd / "home"),
    )
    sweep_id = create(
        shipped_sweep_yaml(cwd),
        env,
        cwd,
        "--data",
        str(demo_data),
        "--epochs",
        "2",
        "--imgsz",
        "64",
        "--batch",
        "16",
        "--model",
        "yolo11n.yaml",
        "--device",
        "cpu",
    )
    proc = agent(sweep_id, env, cwd, "--count", "3")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    return cwd, env, sweep_id


@pytest.fixture(scope="session")
def postgres_server():
    bindir = server_binaries()
    if bindir is None:
        pytest.skip("the PostgreSQL server is not installed (Debian package postgresql; .ci/run installs it)")
    try:
        server = PostgresServer(bindir)
    except NoUnprivilegedUser:
        pytest.skip("no unprivileged user to run PostgreSQL as")
    try:
        yield server
    finally:
        try:
            server.stop("immediate")
        except AssertionError:  # already gone (a test stopped it, or its folder was removed): nothing to stop
            pass
        finally:
            shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server: its URL (with the password, as YOLOSWEEP_STORE may hold it)."""
    return postgres_server.new_database()
