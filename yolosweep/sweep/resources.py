"""What a sweep's runs may ask of the machine the launcher shares out: the device each run names, AutoBatch
and RAM caching beside other agents, dataloader processes per core, shared memory.

Checked once, before the sweep is stored or any agent starts (launcher, both backends): each rule
here would otherwise fail or skew every run after the sweep was created.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.slots import Slot

SHM = Path("/dev/shm")
_ONE_VISIBLE_GPU = {"0", "cuda", "cuda:0", "-1", "cpu"}  # what a run may name under its agent's one-GPU mask


def check_slots(fixed: dict[str, Any], slots: list[Slot], source: str = "--device", shm: Path = SHM) -> None:
    """The launcher's plan against the runs' fixed values; refusals raise ConfigError, the rest are warnings.
    `shm`: the shared-memory mount the runs' dataloader workers use."""
    gpu_slots = [s for s in slots if s.gpu]
    device = fixed.get("device")
    if gpu_slots and device is not None and str(device).strip() not in _ONE_VISIBLE_GPU:
        chosen = ",".join(dict.fromkeys(s.visible_devices for s in gpu_slots))
        raise ConfigError(
            source,
            str(device),
            f"each agent sees only its own GPU (--gpus {chosen}), as device 0, "
            f"so device {device} does not exist in any run",
            f"choose GPUs with --gpus {device} and drop --device (or `device:` from the YAML)",
        )
    per_gpu = max((sum(t.visible_devices == s.visible_devices for t in gpu_slots) for s in gpu_slots), default=0)
    batch = fixed.get("batch")
    if per_gpu > 1 and isinstance(batch, (int, float)) and (batch == -1 or 0 < batch < 1):
        raise ConfigError(
            "batch",
            str(batch),
            f"AutoBatch sizes each run from the GPU memory free when it starts, "
            f"and {per_gpu} agents per GPU start together, so they would over-commit it",
            "give a fixed batch (e.g. the size AutoBatch picks for one run, halved), or --agents-per-gpu 1",
        )
    if len(slots) > 1 and fixed.get("cache") in (True, "ram", "True", "true"):
        raise ConfigError(
            "cache",
            str(fixed["cache"]),
            f"each of the {len(slots)} agents would size its RAM cache "
            "from the memory free at its own start, so together they over-commit it",
            "use `cache: disk` (the same speed-up, no RAM race) or `cache: false`",
        )
    _check_loader_processes(fixed, slots, shm)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def shm_needed_bytes(fixed: dict[str, Any]) -> int:
    """Shared memory one run's dataloaders hold: each worker prefetches 2 batches of uint8 images, training
    and validation alike. 2.5 GB at batch 64, imgsz 640, workers 8, the shipped YAML's values."""
    workers, batch, imgsz = (fixed.get(k) for k in ("workers", "batch", "imgsz"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (workers, batch, imgsz)) or workers == 0:
        return 0
    assert isinstance(workers, int) and isinstance(batch, int) and isinstance(imgsz, int)
    return 2 * workers * max(batch, 1) * 3 * imgsz * imgsz * 2


def _check_loader_processes(fixed: dict[str, Any], slots: list[Slot], shm: Path) -> None:
    workers = fixed.get("workers", 8)
    if not isinstance(workers, int) or workers == 0:
        return
    cores, agents = _cores(), len(slots)
    # Ultralytics caps a run's workers at the cores it sees, so one agent cannot oversubscribe them; several can.
    if agents > 1 and min(workers, cores) * agents > cores:
        fits = cores // agents
        print(
            f"yolosweep: WARNING: workers {workers} x {agents} agents = {workers * agents} training loader processes "
            f"(and as many for validation) on {cores} cores: they compete for the CPU. Fix: "
            f"`workers: {fits}` in the sweep YAML ({cores} cores / {agents} agents)",
            flush=True,
        )
    needed = shm_needed_bytes(fixed) * agents
    if needed and shm.is_dir():
        free = shutil.disk_usage(shm).free
        if free < needed:
            raise ConfigError(
                str(shm),
                "workers",
                f"{free / 2**20:.0f} MB free of shared memory; {agents} run(s) of "
                f"workers {workers}, batch {fixed.get('batch')}, imgsz {fixed.get('imgsz')} need about "
                f"{needed / 2**20:.0f} MB, or every run dies with a bus error",
                "in Docker start the container with --shm-size=8g (its default is 64 MB), or lower "
                "`workers` (0 uses no shared memory)",
            )


AMP_CHECK_WEIGHTS = "yolo26n.pt"  # what Ultralytics 8.4's check_amp (utils/checks.py) loads, downloading it if absent


def amp_check_env(fixed: dict[str, Any], slots: list[Slot], weights_dir: Path) -> dict[str, str]:
    """The environment agents need so Ultralytics' AMP check costs a run nothing.

    On a GPU the check loads yolo26n.pt from the weights folder and downloads it when absent, in every
    run. It is fetched once here when this machine is online; offline, the agents get YOLO_OFFLINE=1
    so each run's check gives up at once (AMP stays on, as Ultralytics decides offline) instead of
    retrying the download; measured on CPU: YOLO('yolo26n.pt') fails in 1.6 s with it.
    """
    if not any(s.gpu for s in slots) or fixed.get("amp") is False or (weights_dir / AMP_CHECK_WEIGHTS).is_file():
        return {}
    from ultralytics.utils import is_online
    from ultralytics.utils.downloads import attempt_download_asset

    if is_online():
        try:
            attempt_download_asset(weights_dir / AMP_CHECK_WEIGHTS)
            return {}
        except ConnectionError:
            pass
    print(
        f"yolosweep: Ultralytics' AMP check needs {AMP_CHECK_WEIGHTS} in {weights_dir}, which is not there and "
        "cannot be downloaded: runs skip the check at once (YOLO_OFFLINE=1) and train with AMP on. "
        f"Fix: put {AMP_CHECK_WEIGHTS} there to have AMP checked, or set `amp: false`",
        flush=True,
    )
    return {"YOLO_OFFLINE": "1"}
