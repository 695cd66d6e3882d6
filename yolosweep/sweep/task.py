"""What a sweep trains and what it ranks by: the model's task (from its YAML or checkpoint) and the metric names
that task logs, so a misspelt or wrong-task metric is one line before anything trains."""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path
from typing import Any

from yolosweep.objective import sweep_objective
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.train_args import fixed_values, trains_yolo


def check_metric(config: dict[str, Any], source: str) -> None:
    metric = config.get("metric")
    if metric is None:
        if config["method"] == "bayes":
            raise ConfigError(
                source,
                "metric",
                "missing: bayes search learns from a metric",
                "add `metric: {name: ..., goal: maximize|minimize}`, or use method random or grid",
            )
        if config.get("early_terminate"):
            raise ConfigError(
                source,
                "metric",
                "missing: Hyperband compares runs by a metric",
                "add `metric: {name: ..., goal: maximize|minimize}`, or drop early_terminate",
            )
        return
    if not isinstance(metric, dict) or not isinstance(metric.get("name"), str) or not metric["name"]:
        raise ConfigError(source, "metric.name", "missing", "name the metric the runs log, e.g. metrics/mAP50(B)")
    target = metric.get("target")
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))):
        raise ConfigError(source, "metric.target", f"{target!r} is not a number", "give the value that ends the sweep")


TASKS = ("detect", "segment", "pose", "obb", "classify")


_TASK_SUFFIXES = {"-seg": "segment", "-pose": "pose", "-obb": "obb", "-cls": "classify"}


_LOSS_NAME = re.compile(r"(train|val)/(\w+_)?loss")


_TYPICAL_LOSSES = {
    "detect": ("box", "cls", "dfl"),
    "segment": ("box", "seg", "cls", "dfl"),
    "pose": ("box", "pose", "kobj", "cls", "dfl"),
    "obb": ("box", "cls", "dfl", "angle"),
    "classify": (),
}


def model_task(config: dict[str, Any]) -> str | None:
    """The Ultralytics task a sweep trains: its fixed `task`, else the model's name (yolo11n-seg.pt: segment),
    else, for a checkpoint of another name (a custom best.pt), the task it was trained for.

    None when not even the file says (not an Ultralytics checkpoint, or an architecture YAML of another name).
    """
    fixed = fixed_values(config)
    if fixed.get("task") in TASKS:
        return fixed["task"]
    model = Path(str(fixed.get("model", "yolo11n.pt")))
    for suffix, task in _TASK_SUFFIXES.items():
        if suffix in model.stem:
            return task
    if re.fullmatch(r"yolo\w*?\d+[nsmlx]?", model.stem) or not model.is_file():
        return "detect"
    if model.suffix != ".pt":  # a custom architecture YAML: only building it would tell
        return None
    stat = model.stat()
    return _checkpoint_task(str(model.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _checkpoint_task(path: str, mtime_ns: int, size: int) -> str | None:
    """The task in an Ultralytics checkpoint's train_args (read once per file version: 0.2 s for yolo11n), or None."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # not a checkpoint torch can read: the run will say why when it loads it
        return None
    task = (checkpoint.get("train_args") or {}).get("task") if isinstance(checkpoint, dict) else None
    return task if task in TASKS else None


def task_metric_names(task: str) -> list[str]:
    """The per-epoch metric names a model of `task` logs (Ultralytics' metric classes), fitness and typical losses."""
    from ultralytics.utils import metrics

    kinds = {
        "detect": metrics.DetMetrics,
        "segment": metrics.SegmentMetrics,
        "pose": metrics.PoseMetrics,
        "obb": metrics.OBBMetrics,
        "classify": metrics.ClassifyMetrics,
    }
    losses = [f"{split}/{name}_loss" for name in _TYPICAL_LOSSES[task] for split in ("val", "train")]
    return [*kinds[task]().keys, "fitness", *(losses or ["val/loss", "train/loss"])]


def check_metric_for_task(config: dict[str, Any], source: str) -> None:
    """A sweep of train_sweep.py must name a metric its model logs: a typo would rank every run as missing."""
    goal, task = sweep_objective(config), model_task(config)
    if goal is None or task is None:
        return
    names = task_metric_names(task)
    train_split = {"train/" + n[len("metrics/") :] for n in names if n.startswith("metrics/")}
    if (
        goal.name in names
        or goal.name in train_split
        or _LOSS_NAME.fullmatch(goal.name)
        or goal.name.startswith("lr/pg")
    ):
        if _LOSS_NAME.fullmatch(goal.name) and goal.maximize:
            print(
                f"yolosweep: WARNING: {source}: metric.goal maximize for the loss {goal.name}. Fix: goal: minimize",
                flush=True,
            )
        return
    close = difflib.get_close_matches(goal.name, names, n=3, cutoff=0.4)
    raise ConfigError(
        source,
        "metric.name",
        f"{goal.name!r} is not a metric a {task} model logs",
        f"use {' or '.join(map(repr, close)) if close else 'one of ' + ', '.join(names[:6])}",
    )


# Swept parameters that cannot change a task's training (Ultralytics 8.4): (parameter, tasks where it acts, why).
# Their "importance" can only be noise.
_ACTS_ONLY_IN = [
    ("dropout", {"classify"}, "dropout acts only in classification heads"),
    ("copy_paste", {"segment", "obb"}, "copy_paste needs segment labels (polygons or rotated boxes)"),
    ("mosaic", {"detect", "segment", "pose", "obb"}, "classification does not use mosaic"),
    ("mixup", {"detect", "segment", "pose", "obb"}, "classification does not use mixup"),
    ("cutmix", {"detect", "segment", "pose", "obb"}, "classification does not use cutmix"),
    ("close_mosaic", {"detect", "segment", "pose", "obb"}, "classification does not use mosaic"),
]


def dead_parameters(config: dict[str, Any]) -> dict[str, str]:
    """Swept parameters that cannot change this sweep's training, each with why and the fix."""
    if not trains_yolo(config):
        return {}
    task = model_task(config)
    swept = {k for k, v in config["parameters"].items() if "value" not in v}
    dead = {}
    if task is not None:
        for name, tasks, why in _ACTS_ONLY_IN:
            if name in swept and task not in tasks:
                dead[name] = f"{why}, and this sweep trains {task}. Fix: fix it with `value:` or drop it"
    if "close_mosaic" in swept and fixed_values(config).get("mosaic") == 0 and "close_mosaic" not in dead:
        dead["close_mosaic"] = (
            "mosaic is fixed at 0, so there is no mosaic to close. Fix: fix close_mosaic or sweep mosaic"
        )
    return dead
