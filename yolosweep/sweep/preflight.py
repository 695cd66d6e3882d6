"""Checks that turn a missing model or dataset into one clear line before any training starts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yolosweep.sweep.band import band_after_last_epoch, first_band_after_warmup, step_aside
from yolosweep.sweep.dataset import check_labels
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.model import resolve_weights
from yolosweep.sweep.resources import check_slots
from yolosweep.sweep.slots import Slot
from yolosweep.sweep.spec import moved_band_line
from yolosweep.sweep.task import dead_parameters
from yolosweep.sweep.train_args import fixed_values, trains_yolo

DEFAULT_SAVE_PROJECT = "runs/sweep"


_OUTPUT_FIX = "set `project:` in the sweep YAML's parameters to a writable folder with free space"
LOW_DISK_BYTES = 1 << 30  # a 100-epoch run of a small model keeps a few hundred MB of checkpoints and plots


def check_output_folder(folder: str | Path) -> None:
    """Runs write checkpoints under `folder`: it (or the parent it will be made in) must be writable.

    Only checks, writes nothing. Warns when the disk is nearly full, which would otherwise fail
    runs one by one at their first checkpoint.
    """
    path = Path(folder).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError("project", str(path), f"{existing} is a file, not a folder", _OUTPUT_FIX)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError("project", str(path), f"{existing} is not writable", _OUTPUT_FIX)
    free = shutil.disk_usage(existing).free
    if free < LOW_DISK_BYTES:
        print(
            f"yolosweep: WARNING: only {free / 2**20:.0f} MB free under {existing}; runs need room for checkpoints",
            flush=True,
        )


def check_sweep(config: dict[str, Any], slots: list[Slot] | None = None) -> None:
    """What every run of a sweep will use, checked once before the sweep is stored or any agent starts.

    `slots`: where the launcher will run its agents (resources.check_slots), when it is the launcher asking.
    Only for sweeps of train_sweep.py: another program's `data` or `model` mean what it says they mean.
    """
    if not trains_yolo(config):
        return
    fixed = fixed_values(config)
    if slots:
        check_slots(fixed, slots)
    if fixed.get("data"):
        for warning in check_labels(fixed["data"]):
            print(f"yolosweep: WARNING: {warning}", flush=True)
    model = config["parameters"].get("model", {})
    for name in model.get("values", [model["value"]] if "value" in model else []):
        weights = resolve_weights(name)
        if weights:
            named = "" if Path(str(weights)) == Path(str(name)) else f" {name}"
            print(f"yolosweep: pretrained weights{named}: {weights}", flush=True)
    check_output_folder(fixed.get("project") or DEFAULT_SAVE_PROJECT)
    for name, why in dead_parameters(config).items():
        print(f"yolosweep: WARNING: parameters.{name} cannot change this training: {why}", flush=True)
    hyperband = config.get("early_terminate") or {}
    if "min_iter" in hyperband:
        first = first_band_after_warmup(config)
        if hyperband["min_iter"] < first:
            print(
                f"yolosweep: WARNING: early_terminate.min_iter {hyperband['min_iter']} judges runs while their "
                f"learning rate still warms up (up to epoch {first - 1}); Hyperband will stop runs by chance. "
                f"Fix: min_iter >= {first}",
                flush=True,
            )
        late = band_after_last_epoch(config, hyperband["min_iter"], first)
        if late:
            print(f"yolosweep: WARNING: {late}", flush=True)


def ready_sweep(
    config_path: str | Path,
    overrides: dict[str, Any],
    prior_sources: list[str],
    prepare: Callable[[dict[str, Any]], dict[str, Any]] = lambda config: config,
    slots: list[Slot] | None = None,
    keep_band: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The one road from a sweep YAML to a sweep either backend can create: load and validate with the
    overrides, `prepare` (the local backend makes paths absolute), check dataset, model and output
    folder, read the priors, drop a band where it was measured to cost (step_aside). Every check runs
    before anything is written."""
    from yolosweep.sweep.priors import load_priors
    from yolosweep.sweep.spec import load_sweep

    config = prepare(load_sweep(config_path, overrides))
    check_sweep(config, slots)
    kept = step_aside(config, keep_band)
    moved = moved_band_line(config_path, config) if "early_terminate" in kept else None
    if moved:
        print(f"yolosweep: {moved}", flush=True)
    config = kept
    return config, load_priors(prior_sources, config)
