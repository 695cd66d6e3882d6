"""Checks that turn a missing model or dataset into one clear line before any training starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .spec import ConfigError


def load_model(model: str) -> tuple[Any, str]:
    """YOLO(model) and where its weights came from.

    A local file or model .yaml loads as given. An official pretrained name (yolo11n.pt) that
    cannot be downloaded here (offline) falls back to its architecture, trained from scratch,
    with a warning: the same sweep YAML then still runs on an air-gapped machine. Any other
    missing file is an error.
    """
    from ultralytics import YOLO
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES

    try:
        return YOLO(model), "as given"
    except (ConnectionError, FileNotFoundError) as err:
        if Path(model).name == model and model in GITHUB_ASSETS_NAMES:
            scratch = f"{Path(model).stem}.yaml"
            print(
                f"yolosweep: WARNING: pretrained {model} could not be downloaded (offline?); "
                f"training {scratch} from scratch instead. Put {model} in the working folder for pretrained weights.",
                flush=True,
            )
            return YOLO(scratch), f"scratch: {model} unavailable"
        raise ConfigError("model", str(model), f"could not be loaded ({type(err).__name__})", _MODEL_FIX) from None


_MODEL_FIX = "check the path, or use an official name (yolo11n.pt, downloaded once) or an architecture (yolo11n.yaml)"


def check_model_source(model: str) -> None:
    """Cheap check before a sweep starts: a weights file that is neither here nor an official name."""
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES

    path = Path(str(model))
    if path.suffix == ".pt" and not path.exists() and path.name not in GITHUB_ASSETS_NAMES:
        raise ConfigError("model", str(model), "weights file not found", _MODEL_FIX)


def check_dataset(data: str) -> None:
    """A data.yaml must exist, name its classes and point at existing image folders."""
    path = Path(data)
    if not path.is_file():
        raise ConfigError(
            "data",
            str(data),
            "dataset YAML not found",
            "pass --data path/to/data.yaml (or make a demo one: python -m yolosweep demo-data DIR)",
        )
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(str(path), "-", f"not valid YAML ({getattr(err, 'problem', err)})", "correct the YAML") from None
    if not isinstance(spec, dict) or not spec.get("names"):
        raise ConfigError(str(path), "names", "no class names", "add `names: {0: classname, ...}`")
    root = Path(spec.get("path") or path.parent)
    if not root.is_absolute():
        root = (path.parent / root).resolve()
    for split in ("train", "val"):
        if not spec.get(split):
            raise ConfigError(str(path), split, "missing", f"add `{split}: images/{split}` (relative to `path`)")
        for folder in [spec[split]] if isinstance(spec[split], str) else spec[split]:
            if not (root / folder).exists():
                raise ConfigError(str(path), split, f"{root / folder} does not exist", "fix the path or `path:`")
