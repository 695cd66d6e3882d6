"""The training arguments a sweep produces, checked against Ultralytics' own names, types and ranges
(`ultralytics.cfg`), and yolosweep's per-run options beside them."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from yolosweep.sweep.errors import ConfigError

TRAIN_PROGRAM = "train_sweep.py"


# Ranges Ultralytics' check_cfg does not enforce but that make no sense for training.
_EXTRA_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "lr0": (1e-12, None),
    "imgsz": (32, None),
    "warmup_epochs": (0, None),
    "close_mosaic": (0, None),
    "degrees": (-180, 180),
    "workers": (0, None),
}


# yolosweep's own per-run options, set like any parameter (`value:` in the YAML, --key=value).
TRIAL_OPTIONS = {
    "train_metrics_every": 0,  # validate on the train split every N epochs too (train/ metrics); 0 = never
    "keep_top_k": 3,  # when a sweep run ends, keep weights of the sweep's best K ended runs only; 0 = keep all
}


def ultralytics_defaults() -> dict[str, Any]:
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return dict(DEFAULT_CFG_DICT)


def check_train_args(args: dict[str, Any], source: str) -> dict[str, Any]:
    """Validate training arguments against Ultralytics; return them with types normalised."""
    from ultralytics.cfg import check_cfg

    defaults = ultralytics_defaults()
    checked = dict(args)
    for key, value in args.items():
        if key in TRIAL_OPTIONS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(
                    source, key, f"{value!r} is not a whole number >= 0", f"give {key} a whole number, 0 = off"
                )
            continue
        if key not in defaults:
            close = difflib.get_close_matches(key, defaults, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(map(repr, close))}?" if close else "see `yolo cfg` for the valid names"
            raise ConfigError(source, key, "not an Ultralytics training argument", hint)
        try:
            one = {key: value}
            check_cfg(one, hard=True)
            checked[key] = one[key]
        except (TypeError, ValueError) as err:
            raise ConfigError(source, key, str(err).rstrip("."), f"give {key} a valid value") from None
        low, high = _EXTRA_BOUNDS.get(key, (None, None))
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in _EXTRA_BOUNDS and not numeric:
            raise ConfigError(source, key, f"{value!r} is not a number", f"give {key} a number")
        if numeric and ((low is not None and value < low) or (high is not None and value > high)):
            span = f">= {low}" if high is None else f"between {low} and {high}"
            raise ConfigError(source, key, f"{value} is out of range", f"use a value {span}")
    if "device" in checked:
        check_one_gpu_per_run(checked["device"], source)
    batch = checked.get("batch")
    if batch is not None and not (batch == -1 or batch > 0):
        raise ConfigError(
            source, "batch", f"{batch} is not a batch size", "use a positive size, -1 or a 0-1 fraction (AutoBatch)"
        )
    return checked


def device_ids(device: Any) -> list[str]:
    """The GPUs an Ultralytics `device` value names: '0,1' and [0, 1] name two, 0 and 'cuda:0' one, 'cpu' none."""
    if device is None or isinstance(device, bool):
        return []
    parts = device if isinstance(device, (list, tuple)) else str(device).replace("cuda:", "").split(",")
    ids = [str(p).strip() for p in parts if str(p).strip()]
    return [] if ids in ([], ["cpu"], ["mps"], ["cuda"]) else ids


def check_one_gpu_per_run(device: Any, source: str) -> None:
    """A run trains on one device. Ultralytics' multi-GPU path (DDP) would start a torchrun of its own that
    our callbacks cannot follow (they hold the store's connection, which cannot be pickled; rank 1+ has no
    metrics; a stop reaches only the parent), so `device: 0,1` is refused everywhere it can appear."""
    if len(device_ids(device)) > 1:
        raise ConfigError(
            source,
            "device",
            f"{device!r} trains one run on several GPUs (DDP), which yolosweep does not run",
            "train one run per GPU: drop `device` and start one agent per GPU (./launch_sweep.sh --gpus 0,1)",
        )


def candidate_values(name: str, entry: dict[str, Any]) -> list[Any]:
    """The values a sweep parameter can take that can be checked without sampling."""
    if "value" in entry:
        return [entry["value"]]
    if "values" in entry:
        return list(entry["values"])
    return [entry[k] for k in ("min", "max") if k in entry]


def fixed_values(config: dict[str, Any]) -> dict[str, Any]:
    """The parameters a sweep fixes with `value:`."""
    return {k: v["value"] for k, v in config["parameters"].items() if "value" in v}


def trains_yolo(config: dict[str, Any]) -> bool:
    """Ultralytics' names apply to sweeps of our entrypoint; another program has its own."""
    return Path(str(config.get("program", TRAIN_PROGRAM))).name == TRAIN_PROGRAM
