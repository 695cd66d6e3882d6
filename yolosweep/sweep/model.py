"""The model a sweep trains: its weights found on this machine (nothing downloads) and loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yolosweep.sweep.errors import ConfigError


def load_model(model: str) -> tuple[Any, str]:
    """YOLO(model) and where its weights came from: the file it loaded, or the architecture it built.

    Never falls back to training from scratch: a sweep whose runs silently mixed pretrained and
    from-scratch trainings would compare starting points, not hyperparameters. The weights were
    found (or fetched) once at creation (resolve_weights); a run that still cannot load them fails.
    """
    from ultralytics import YOLO

    try:
        loaded = YOLO(model)
    except (ConnectionError, FileNotFoundError) as err:
        raise ConfigError(
            "model", str(model), f"could not be loaded here ({type(err).__name__})", _weights_fix(str(model))
        ) from None
    source = getattr(loaded, "ckpt_path", None) or str(model)
    return loaded, "architecture (from scratch)" if Path(str(model)).suffix in (
        ".yaml",
        ".yml",
    ) else f"weights {source}"


def weights_dir() -> Path:
    """Ultralytics' weights folder (its settings' weights_dir): where a bare name like yolo11n.pt is also looked up."""
    from ultralytics.utils import SETTINGS

    return Path(SETTINGS["weights_dir"]).resolve()  # a relative setting is relative to the working folder


def _weights_fix(model: str) -> str:
    return (
        f"put {Path(model).name} in {weights_dir()} (Ultralytics' weights folder), or pass --model PATH "
        f"to weights you have, or --model {Path(model).stem}.yaml to train from scratch"
    )


def resolve_weights(model: str) -> str | None:
    """Where a sweep's pretrained weights are, found once before the sweep exists, or one line why not.

    A file given by path, or an official name (yolo11n.pt) in the working folder or Ultralytics'
    weights folder, is where each run will load it. An official name found nowhere is downloaded
    now, once, into the weights folder when this machine is online (not YOLO_OFFLINE); offline the
    sweep is refused: each run would otherwise retry the download (measured: about 2.5 min of
    retries where HTTP is blocked) and then fail. Returns the file, or None for an architecture (.yaml).
    """
    from ultralytics.utils import is_online
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES, attempt_download_asset

    path = Path(str(model))
    if path.suffix != ".pt":
        return None
    for candidate in (path, weights_dir() / path.name if path.name == str(model) else None):
        if candidate is not None and candidate.is_file():
            return str(candidate.resolve())
    if path.name != str(model) or path.name not in GITHUB_ASSETS_NAMES:
        raise ConfigError("model", str(model), "weights file not found", _weights_fix(str(model)))
    if not is_online():
        raise ConfigError(
            "model",
            str(model),
            "pretrained weights not found here, and this machine is offline",
            _weights_fix(str(model)),
        )
    print(f"yolosweep: downloading {model} once into {weights_dir()} (every run will load it from there)", flush=True)
    try:
        return str(Path(attempt_download_asset(weights_dir() / path.name)).resolve())
    except ConnectionError:
        raise ConfigError(
            "model", str(model), "pretrained weights could not be downloaded", _weights_fix(str(model))
        ) from None
