"""The dataset a sweep trains on, checked before anything trains: data.yaml, its image folders and labels, rare
classes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from yolosweep.invocation import command
from yolosweep.sweep.errors import ConfigError

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
