"""Checks that turn a missing model or dataset into one clear line before any training starts."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from yolosweep.invocation import command
from yolosweep.sweep.band import first_band_after_warmup
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.resources import check_slots
from yolosweep.sweep.slots import Slot
from yolosweep.sweep.spec import moved_band_line
from yolosweep.sweep.task import dead_parameters
from yolosweep.sweep.train_args import fixed_values, trains_yolo, ultralytics_defaults

DEFAULT_SAVE_PROJECT = "runs/sweep"


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


_IMAGE_SUFFIXES = {".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp", ".dng", ".mpo", ".pfm", ".heic"}


def _dataset_spec(data: str) -> tuple[Path, dict[str, Any], Path]:
    path = Path(data)
    if not path.is_file():
        raise ConfigError(
            "data",
            str(data),
            "dataset YAML not found",
            f"pass --data path/to/data.yaml (or make a demo one: {command('demo-data')} DIR)",
        )
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(
            str(path), "-", f"not valid YAML ({getattr(err, 'problem', err)})", "correct the YAML"
        ) from None
    if not isinstance(spec, dict) or not spec.get("names"):
        raise ConfigError(str(path), "names", "no class names", "add `names: {0: classname, ...}`")
    # The root as Ultralytics finds it (data/utils.py, check_det_dataset): `path:`, else the YAML's folder, as given
    # from the working folder; a relative one that is not there lies under Ultralytics' datasets folder.
    root = Path(spec.get("path") or path.parent)
    if not root.exists() and not root.is_absolute():
        from ultralytics.utils import DATASETS_DIR

        root = DATASETS_DIR / root
    try:
        return path, spec, root.resolve()
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError("Symlink loop from ...")
        raise ConfigError(
            str(path), "path", f"{root} is a symbolic link loop", "point `path:` at the dataset's real folder"
        ) from None


def _split_folders(path: Path, spec: dict[str, Any], root: Path, split: str) -> list[Path]:
    if not spec.get(split):
        raise ConfigError(str(path), split, "missing", f"add `{split}: images/{split}` (relative to `path`)")
    folders = [root / f for f in ([spec[split]] if isinstance(spec[split], str) else spec[split])]
    for folder in folders:
        if not folder.exists():
            raise ConfigError(str(path), split, f"{folder} does not exist", "fix the path or `path:`")
    return folders


def _classify_splits(folder: Path) -> list[Path]:
    """A classification dataset is a folder of train/ and val/ (or test/), each with one folder per class."""
    splits = [folder / "train", next((folder / s for s in ("val", "test") if (folder / s).is_dir()), folder / "val")]
    for split in splits:
        if not split.is_dir():
            raise ConfigError(
                "data",
                str(folder),
                f"classification dataset without {split.name}/",
                "give a folder holding train/ and val/, each with one folder of images per class",
            )
        if not any(p.is_dir() for p in split.iterdir()):
            raise ConfigError(
                "data", str(split), "no class folders", "put each class's images in a folder named after it"
            )
    return splits


def check_dataset(data: str | None) -> None:
    """A data.yaml (or a classification folder) must be given, exist, name its classes and point at images."""
    if not data:
        raise ConfigError(
            "data",
            "-",
            "no dataset given",
            "fix `data:` in the sweep YAML's parameters, or pass --data path/to/data.yaml",
        )
    if Path(data).is_dir():
        _classify_splits(Path(data))
        return
    path, spec, root = _dataset_spec(data)
    for split in ("train", "val"):
        _split_folders(path, spec, root, split)


# A class with fewer training boxes than this is too rare for a sweep to tune (chess: `bishop`, 1 box of 2,108).
RARE_CLASS_BOXES = 3


def check_labels(data: str) -> list[str]:
    """The deeper check, once per sweep: images present, labels within the classes and the image.
    Returns warnings about classes the metric will not reflect: too rare in train, absent from val.

    Ultralytics itself would skip a bad label file with a warning and train on less data.
    """
    if Path(data).is_dir():
        for split in _classify_splits(Path(data)):
            if not any(p.suffix.lower() in _IMAGE_SUFFIXES for p in split.rglob("*")):
                raise ConfigError("data", str(split), "no images", "put the images in one folder per class")
        return []
    path, spec, root = _dataset_spec(data)
    classes = len(spec["names"])
    keypoints = spec.get("kpt_shape") or [0, 0]
    boxes: dict[str, Counter[int]] = {}
    warnings: list[str] = []
    for name in ("train", "val"):
        listed = True
        for folder in _split_folders(path, spec, root, name):
            if not folder.is_dir():
                listed = False
                continue  # a .txt list of images: Ultralytics checks those itself
            images = _images_in(folder, path, name)
            if not images:
                raise ConfigError(str(path), name, f"no images in {folder}", "put the images there or fix the path")
            empty = [image for image in images if _size(image) == 0]
            if len(empty) == len(images):  # Ultralytics would fail every run with "No valid images found"
                raise ConfigError(
                    str(path),
                    name,
                    f"all {len(images)} images in {folder} are empty (0-byte) files",
                    "copy the images again from their source",
                )
            if empty:
                warnings.append(
                    f"{path}: {len(empty)} of {len(images)} {name} images are empty (0-byte) files, e.g. "
                    f"{empty[0]}: Ultralytics skips them. Fix: copy them again from their source"
                )
            for image in images:
                boxes.setdefault(name, Counter()).update(_check_label_file(_label_of(image), classes, path, keypoints))
        if not listed:
            boxes.pop(name, None)
    return warnings + rare_classes(path, spec["names"], boxes.get("train"), boxes.get("val"))


def _images_in(folder: Path, data_yaml: Path, split: str) -> list[Path]:
    try:
        return [p for p in folder.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES]
    except (RuntimeError, OSError) as err:  # a symbolic link loop below the folder
        raise ConfigError(
            str(data_yaml),
            split,
            f"cannot list {folder}: {err}",
            "remove the symbolic link that points back into the folder",
        ) from None


def _size(image: Path) -> int:
    try:
        return image.stat().st_size
    except OSError:  # a broken link or a loop reads as no image at all
        return 0


def rare_classes(
    data_yaml: Path, names: list[str] | dict[int, str], train: Counter[int] | None, val: Counter[int] | None
) -> list[str]:
    """One warning per kind: classes with under RARE_CLASS_BOXES training boxes, classes with no box in val (the
    metric averages over the classes val has, so a sweep neither measures nor tunes those)."""

    def name(c: int) -> str:
        return f"{c} {(names.get(c, c) if isinstance(names, dict) else names[c])!r}"

    def listed(classes: list[int], text: Callable[[int], str]) -> str:  # a long tail is counted, not listed
        return ", ".join(text(c) for c in classes[:10]) + (
            f" and {len(classes) - 10} more" if len(classes) > 10 else ""
        )

    ids = range(len(names))
    found = []
    if train is not None:
        rare = [c for c in ids if train[c] < RARE_CLASS_BOXES]
        if rare:
            found.append(
                f"{data_yaml}: {len(rare)} class(es) with under {RARE_CLASS_BOXES} training boxes: "
                + listed(rare, lambda c: f"{name(c)} ({train[c]})")
                + ": no setting can learn them. Fix: label more of them, or merge or drop the class"
            )
    if val is not None:
        unseen = [c for c in ids if val[c] == 0]
        if unseen:
            found.append(
                f"{data_yaml}: {len(unseen)} class(es) with no box in val: "
                + listed(unseen, name)
                + ": the sweep's metric leaves them out. Fix: move some of their images to val"
            )
    return found


def _label_of(image: Path) -> Path:
    # Ultralytics' convention: the last /images/ in the path becomes /labels/, the suffix .txt.
    parts = list(image.parts)
    index = len(parts) - 1 - parts[::-1].index("images") if "images" in parts else None
    if index is not None:
        parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")


def _check_label_file(label: Path, classes: int, data_yaml: Path, kpt_shape: Sequence[int] = (0, 0)) -> list[int]:
    """The file's class ids, each line checked."""
    if not label.exists():
        return []  # an image without objects
    found = []
    for number, line in enumerate(label.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{label}:{number}"
        try:
            cls, coords = int(float(fields[0])), [float(v) for v in fields[1:]]
        except ValueError:
            raise ConfigError(
                where, "label", f"not numbers: {line!r}", "write `class x y w h`, normalised to 0-1"
            ) from None
        if not 0 <= cls < classes:
            raise ConfigError(
                where,
                "class",
                f"class id {cls} outside 0..{classes - 1} ({data_yaml} names {classes})",
                "fix the id or add the class to `names`",
            )
        if kpt_shape[0] and len(kpt_shape) > 1 and kpt_shape[1] == 3:  # pose: x y v per keypoint, v in 0/1/2
            coords = coords[:4] + [v for i, v in enumerate(coords[4:]) if i % 3 != 2]
        if len(coords) < 4 or any(not 0.0 <= v <= 1.0 for v in coords):
            raise ConfigError(
                where,
                "box",
                f"coordinates {coords} are not 4+ values within 0-1",
                "normalise x y w h by the image width and height",
            )
        found.append(cls)
    return found


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


def band_after_last_epoch(config: dict[str, Any], min_iter: int, first: int) -> str | None:
    """Why Hyperband can stop no run (its first band at or after the run's last epoch), with the fix; None if it can.
    `first`: the first epoch after the longest warm-up, where a band may start judging."""
    swept = config["parameters"].get("epochs", {})
    epochs = fixed_values(config).get("epochs", None if swept else ultralytics_defaults()["epochs"])
    if not isinstance(epochs, int) or min_iter < epochs:
        return None
    shipped = max(first, round(30 * epochs / 100))  # sweep_config.yaml's band: epoch 30 of 100
    fix = (
        f"min_iter {shipped} (the shipped 30 of 100, scaled), or no early_terminate"
        if shipped < epochs
        else f"no early_terminate: the warm-up lasts to epoch {first - 1}, so no band fits in {epochs} epochs"
    )
    return (
        f"early_terminate.min_iter {min_iter} is not before the last of the {epochs} epochs a run trains: "
        f"Hyperband will stop no run early. Fix: {fix}"
    )


# Up to this many epochs a run, Hyperband's band cost the search in both regimes measured here. From scratch
# (bench/results/value_band.md, 20 epochs, band at epoch 7: Spearman 0.07 with the results) the band saved no
# epochs at equal result; fine-tuning bccd from a checkpoint (bench/results/value_finetune.md, 15 epochs, band at
# 7: Spearman 0.12) ours captured 0.22 of the headroom at 10 runs with the band and 0.59 without (p < 0.001), and
# a band moved to epoch 12, where the metric first ranks runs, 0.31. Longer runs were not measured.
SHORT_RUN_EPOCHS = 20


def band_in_short_run(config: dict[str, Any]) -> str | None:
    """Why Hyperband's band costs a sweep of short runs (SHORT_RUN_EPOCHS); None where it may not."""
    hyperband = config.get("early_terminate") or {}
    epochs = fixed_values(config).get("epochs")
    if (
        "min_iter" not in hyperband
        or not isinstance(epochs, int)
        or not hyperband["min_iter"] < epochs <= SHORT_RUN_EPOCHS
    ):
        return None
    return (
        f"Hyperband's first band, at epoch {hyperband['min_iter'] + 1} of {epochs}, judges runs before the metric "
        f"ranks them: on runs of {SHORT_RUN_EPOCHS} epochs or fewer, from scratch and fine-tuning alike, it stopped "
        f"runs by their seed and cost the search (fine-tuning: 0.22 of the headroom at 10 runs with the band, 0.59 "
        f"without; docs/benchmarks.md)"
    )


def step_aside(config: dict[str, Any], keep_band: bool) -> dict[str, Any]:
    """The sweep without its Hyperband band where the band was measured to cost the search (short runs), saying so;
    kept, with the warning, when the user asks (--keep-band). Longer runs keep their band: unmeasured, not judged."""
    why = band_in_short_run(config) if trains_yolo(config) else None
    if why is None:
        return config
    if keep_band:
        print(
            f"yolosweep: WARNING: early_terminate: {why}. Fix: drop --keep-band, and let `analyze` judge "
            "the band on your runs",
            flush=True,
        )
        return config
    print(
        f"yolosweep: early_terminate left out of this sweep: {why}. Every run trains to its last epoch "
        "(--keep-band keeps it)",
        flush=True,
    )
    return {k: v for k, v in config.items() if k != "early_terminate"}


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
