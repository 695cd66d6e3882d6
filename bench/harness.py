"""What every benchmark shares: an offline environment for trial processes, the machine line, the results files."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def offline_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment a trial runs in under the local agent: offline wandb and Ultralytics, files under `folder`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        WANDB_MODE="offline",
        WANDB_DIR=str(folder),
        YOLO_OFFLINE="1",
        PYTHONPATH=str(REPO),
        YOLO_CONFIG_DIR=str(folder / "ucfg"),
        **extra,
    )
    return env


class AgentStandIn:
    """A store with one sweep, so a train_sweep.py started by a benchmark logs as under the local agent."""

    def __init__(self, folder: Path):
        from yolosweep.store import Store

        self.store = Store(folder / "sweeps.db")
        self.sweep_id = self.store.create_sweep(
            {"method": "random", "metric": {"name": "metrics/mAP50(B)"}, "parameters": {}}
        )

    def run_env(self, env: dict[str, str], run_id: str) -> dict[str, str]:
        """Register run `run_id` in the store; the environment the agent would give its process."""
        with self.store.transaction():
            self.store.add_run(self.sweep_id, run_id, {})
        return {**env, "YOLOSWEEP_STORE": str(self.store.path), "YOLOSWEEP_RUN_ID": run_id, "WANDB_RUN_ID": run_id}


def create_local_sweep(config: dict[str, Any], folder: Path, env: dict[str, str], *flags: str) -> str:
    """Write `config` as a sweep YAML in `folder`, create it with `python -m yolosweep sweep FLAGS`; its id."""
    import subprocess
    import sys

    import yaml

    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    created = subprocess.run(
        [sys.executable, "-m", "yolosweep", "sweep", str(path), *flags],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.split("created local sweep ")[1].split()[0]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, CPU only, Python {platform.python_version()}"


def write_results(name: str, payload: dict[str, Any], lines: list[str]) -> None:
    """bench/results/NAME.json (dated, with the machine) and NAME.md; the table is printed too."""
    RESULTS.mkdir(exist_ok=True)
    payload = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
