"""Load and validate a W&B sweep YAML and the training arguments it produces.

Two layers of checks, both before anything trains or is written:
- the sweep itself, against W&B's own JSON schema (the `sweeps` package);
- every parameter, against Ultralytics' argument names, types and ranges (`ultralytics.cfg`).
Every error is one line that names the file, the key and the fix.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
from pathlib import Path
from typing import Any

import yaml

from yolosweep.objective import sweep_objective

TRAIN_PROGRAM = "train_sweep.py"
# The shipped sweep_config.yaml and train_sweep.py live in the package, so an installed yolosweep has them
# (in a clone they are links to the files at its root); `yolosweep init` copies them into a user's folder.
STARTER = Path(__file__).parents[1] / "starter"


def default_sweep_yaml() -> Path:
    """sweep_config.yaml in the working folder (e.g. written by `yolosweep init`), else the shipped one."""
    here = Path("sweep_config.yaml")
    return here if here.is_file() else STARTER / "sweep_config.yaml"


# Keys the W&B server accepts that sweeps 0.2.0's JSON schema does not list.
_SERVER_ONLY_KEYS = ("run_cap",)
# `strict` (W&B: prune more aggressively, closer to the Hyperband paper) is documented by W&B but
# unknown to the open-source engine, which always judges runs the default way.
_SERVER_ONLY_HYPERBAND_KEYS = ("strict",)

# Ranges Ultralytics' check_cfg does not enforce but that make no sense for training.
_EXTRA_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "lr0": (1e-12, None),
    "imgsz": (32, None),
    "warmup_epochs": (0, None),
    "close_mosaic": (0, None),
    "degrees": (-180, 180),
    "workers": (0, None),
}


class ConfigError(ValueError):
    """A bad sweep or training configuration, worded as a one-line message with a fix."""

    def __init__(self, source: str, key: str, problem: str, fix: str):
        self.source, self.key, self.problem, self.fix = source, key, problem, fix
        super().__init__(f"{source}: {key}: {problem}. Fix: {fix}")


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


def _candidate_values(name: str, entry: dict[str, Any]) -> list[Any]:
    """The values a sweep parameter can take that can be checked without sampling."""
    if "value" in entry:
        return [entry["value"]]
    if "values" in entry:
        return list(entry["values"])
    return [entry[k] for k in ("min", "max") if k in entry]


MAX_YAML_BYTES = 1 << 20  # a sweep YAML is a few KB; a bigger file is a mistake or an attack
MAX_YAML_NODES = 100_000  # values after aliases are expanded: a 720-byte alias bomb expands to 10^9


def _load_yaml(path: Path) -> Any:
    """Parse a sweep YAML, refusing before any object is built what would exhaust memory or time."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(
                str(path),
                "-",
                f"{size / 2**20:.1f} MB, larger than a sweep YAML can be ({MAX_YAML_BYTES >> 10} KB)",
                "pass the sweep YAML, not a data or values file",
            )
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "file not found", "pass the path of an existing sweep YAML") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "-", "is a folder", "pass the path of a sweep YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "-", "not a text file", "pass a sweep YAML (UTF-8 text)") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_YAML_NODES:
            raise ConfigError(
                str(path),
                "-",
                f"expands to more than {MAX_YAML_NODES} values through its aliases (&/*)",
                "write the values out instead of nesting aliases",
            )
        config = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "-"
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise ConfigError(str(path), where, problem, "correct the YAML syntax there") from None
    finally:
        loader.dispose()
    return config


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values a node stands for once every alias is copied out (as JSON storage would)."""
    if id(node) not in memo:
        memo[id(node)] = 1  # a recursive alias counts once instead of looping
        if isinstance(node, yaml.SequenceNode):
            memo[id(node)] += sum(_expanded_size(child, memo) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            memo[id(node)] += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    return memo[id(node)]


def _first_non_json(value: Any, where: str) -> tuple[str, Any] | None:
    """The first value a W&B sweep cannot hold (a YAML date, a set, ...), with its key."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where}.{key}" if where else str(key), key
            found = _first_non_json(item, f"{where}.{key}" if where else key)
            if found:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_non_json(item, f"{where}[{index}]")
            if found:
                return found
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return None
    return where or "-", value


def validate_sweep(config: Any, source: str, check_metric_name: bool = True) -> dict[str, Any]:
    """Check a sweep config against W&B's schema and Ultralytics' arguments; return it.

    Our own checks run first because they name the key and the fix; W&B's schema check
    then catches whatever else the server would refuse. `check_metric_name=False` leaves the
    metric's task check to a caller that still has a --model or --task override to apply.
    """
    if not isinstance(config, dict):
        raise ConfigError(source, "-", "a sweep config must be a mapping", "start from sweep_config.yaml")
    odd = _first_non_json(config, "")
    if odd:
        raise ConfigError(
            source,
            odd[0],
            f"{odd[1]!r} is a {type(odd[1]).__name__}, which a W&B sweep cannot hold",
            "quote it to make it a string, or give a number",
        )
    known = _schema_keys()
    for key in config:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                source, key, "not a W&B sweep key", f"{hint}W&B sweep keys are: {', '.join(sorted(known))}"
            )
    method = config.get("method")
    if method not in METHODS:
        raise ConfigError(
            source,
            "method",
            f"{method!r} is not a search method" if method else "missing",
            f"use one of {', '.join(METHODS)}",
        )
    parameters = config.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise ConfigError(source, "parameters", "missing or empty", "list the hyperparameters to sweep")
    _check_metric(config, source)
    if trains_yolo(config) and check_metric_name:
        _check_metric_name(config, source)
    _check_run_cap(config, source)
    for name, entry in parameters.items():
        where = f"parameters.{name}"
        if not isinstance(entry, dict):
            raise ConfigError(source, where, "must be a mapping", "use `value:`, `values:` or `min:`/`max:`")
        if "values" in entry and not entry["values"]:
            raise ConfigError(source, f"{where}.values", "empty list", "list at least one value")
        if (
            isinstance(entry.get("min"), (int, float))
            and isinstance(entry.get("max"), (int, float))
            and entry["min"] > entry["max"]
        ):
            raise ConfigError(source, where, f"min {entry['min']} > max {entry['max']}", "swap min and max")
        if "probabilities" in entry and method != "random":
            # The engine's bayes and grid cannot use weighted values (bayes fails with an IndexError).
            raise ConfigError(
                source,
                f"{where}.probabilities",
                f"weighted values only apply to method random, not {method}",
                "drop `probabilities:`, or use method random",
            )
        if trains_yolo(config):
            for value in _candidate_values(name, entry):
                check_train_args({name: value}, f"{source}: parameters")
    violations = _schema_violations(engine_view(config))
    if violations:
        key, message = violations[0]
        raise ConfigError(source, key, message, "see W&B's sweep configuration reference")
    _check_hyperband(config, source)
    if method == "grid":
        _check_grid(config, source)
    return config


METHODS = ("grid", "random", "bayes")


def _check_metric(config: dict[str, Any], source: str) -> None:
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


def _check_metric_name(config: dict[str, Any], source: str) -> None:
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


# Swept parameters that cannot change a task's training (Ultralytics 8.4, measured in DESIGN.md):
# (parameter, tasks where it acts, why). Their measured "importance" is noise.
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


def _check_run_cap(config: dict[str, Any], source: str) -> None:
    cap = config.get("run_cap")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ConfigError(
            source, "run_cap", f"{cap!r} is not a whole number >= 1", "give the most runs the sweep may start"
        )


def hyperband_bands(early_terminate: dict[str, Any]) -> list[int]:
    """The epochs at which Hyperband compares runs, computed as the `sweeps` engine does (hyperband_stopping.py)."""
    eta = early_terminate.get("eta", 3)
    if "max_iter" in early_terminate:
        band, bands = float(early_terminate["max_iter"]), []
        for _ in range(int(early_terminate.get("s", 0))):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        return sorted(bands)
    if "min_iter" in early_terminate:
        return [int(early_terminate["min_iter"] * eta**i) for i in range(3)]  # the first three of the engine's 100
    return []


def _check_hyperband(config: dict[str, Any], source: str) -> None:
    hyperband = config.get("early_terminate")
    if hyperband and not hyperband_bands(hyperband):
        raise ConfigError(
            source,
            "early_terminate",
            f"max_iter {hyperband.get('max_iter')} with s {hyperband.get('s')} and "
            f"eta {hyperband.get('eta', 3)} leaves Hyperband no band to judge runs at (the agent would crash)",
            "raise max_iter or s, or give min_iter instead",
        )


def _schema_violations(config: dict[str, Any]) -> list[tuple[str, str]]:
    """W&B's schema violations as (key, first line of the message), the key from the error's path."""
    from jsonschema.exceptions import best_match
    from sweeps.config.cfg import validator

    error = best_match(validator.iter_errors(config))  # descends into oneOf/anyOf to the deepest cause
    if error is not None:
        return [(".".join(map(str, error.absolute_path)) or "-", error.message.splitlines()[0][:200])]
    from sweeps import schema_violations_from_proposed_config

    try:
        messages = schema_violations_from_proposed_config(config)
    except ValueError as err:
        messages = [str(err)]
    return [(_violation_key(m, config), m.splitlines()[0][:200]) for m in messages]


def _check_grid(config: dict[str, Any], source: str) -> None:
    """The engine can only enumerate listed, constant or quantised parameters; it would fail at the first run."""
    from sweeps.params import HyperParameter, HyperParameterSet

    enumerable = {
        HyperParameter.CATEGORICAL,
        HyperParameter.CONSTANT,
        HyperParameter.INT_UNIFORM,
        HyperParameter.Q_UNIFORM,
    }
    for param in HyperParameterSet.from_config(config["parameters"]):
        if param.type not in enumerable:
            raise ConfigError(
                source,
                f"parameters.{param.name}",
                f"a grid cannot enumerate distribution {param.config['distribution']}",
                "list `values:` (without probabilities) or use method bayes or random",
            )


def trains_yolo(config: dict[str, Any]) -> bool:
    """Ultralytics' names apply to sweeps of our entrypoint; another program has its own."""
    return Path(str(config.get("program", TRAIN_PROGRAM))).name == TRAIN_PROGRAM


def engine_view(config: dict[str, Any]) -> dict[str, Any]:
    """The sweep as the `sweeps` engine takes it: without the keys only W&B's server knows."""
    view = {k: v for k, v in config.items() if k not in _SERVER_ONLY_KEYS}
    if isinstance(view.get("early_terminate"), dict):
        view["early_terminate"] = {
            k: v for k, v in view["early_terminate"].items() if k not in _SERVER_ONLY_HYPERBAND_KEYS
        }
    return view


def _schema_keys() -> list[str]:
    from sweeps.config.schema import sweep_config_jsonschema

    return list(sweep_config_jsonschema["properties"]) + list(_SERVER_ONLY_KEYS)


def _violation_key(message: str, config: dict[str, Any]) -> str:
    for name in config.get("parameters", {}):
        if f"'{name}'" in message or name in message:
            return f"parameters.{name}"
    for key in config:
        if f"'{key}'" in message or key in message:
            return key
    return "-"


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read and validate a sweep YAML file once, with the --data/--epochs/... overrides applied.

    The file is validated whole; the overrides are then checked alone (and what they move: the
    metric's task, Hyperband's bands), so no value is validated twice on its way to the store.
    The metric is checked against the model the runs will train: a --model override decides the
    task (yolo11n-seg.yaml logs mask metrics), not the YAML's model it replaces.
    """
    path = Path(path)
    config = validate_sweep(_load_yaml(path), str(path), check_metric_name=False)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if given:
        config = with_overrides(config, given)
        if trains_yolo(config):
            check_train_args(given, f"{path}: parameters")
        _check_hyperband(config, str(path))
    if trains_yolo(config):
        _check_metric_name(config, str(path))
    return config


def fixed_values(config: dict[str, Any]) -> dict[str, Any]:
    """The parameters a sweep fixes with `value:`."""
    return {k: v["value"] for k, v in config["parameters"].items() if "value" in v}


def with_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of the sweep with some parameters fixed to new values (the --data/--epochs/... flags).

    A new epoch count moves Hyperband's bands with it, so they stay at the same fraction of a
    run (min_iter 30 of 100 epochs becomes 15 of 50): otherwise a short sweep is never pruned.
    The first band never moves into the warm-up, though: see first_band_after_warmup.
    """
    result = copy.deepcopy(config)
    old_epochs = fixed_values(config).get("epochs")
    for key, value in overrides.items():
        if value is not None:
            result["parameters"][key] = {"value": value}
    new_epochs = fixed_values(result).get("epochs")
    hyperband = result.get("early_terminate") or {}
    if (
        "min_iter" in hyperband
        and isinstance(old_epochs, int)
        and isinstance(new_epochs, int)
        and new_epochs != old_epochs
    ):
        floor = first_band_after_warmup(result) if trains_yolo(result) else 1
        scaled = max(floor, round(hyperband["min_iter"] * new_epochs / old_epochs))
        hyperband["min_iter"] = scaled  # at or after the last epoch: preflight.check_sweep warns
    return result


def moved_band_line(path: str | Path, config: dict[str, Any]) -> str | None:
    """What with_overrides did to the YAML's Hyperband, in epochs as the other band messages count them; None if
    nothing moved. Said once the sweep has passed its checks, not before an error that ends it."""
    before = (_load_yaml(Path(path)).get("early_terminate") or {}).get("min_iter")
    hyperband = config.get("early_terminate") or {}
    after, epochs = hyperband.get("min_iter"), fixed_values(config).get("epochs")
    if before is None or after is None or before == after:
        return None
    bands = [band + 1 for band in hyperband_bands(hyperband) if isinstance(epochs, int) and band + 1 < epochs]
    where = (
        f"bands at epoch{'s' if len(bands) > 1 else ''} {', '.join(map(str, bands))}"
        if bands
        else "no band before the last epoch"
    )
    return f"hyperband min_iter {before} -> {after} for {epochs} epochs a run ({where})"


def longest_warmup(config: dict[str, Any]) -> float:
    """The most epochs any run of the sweep spends warming up its learning rate.

    Ultralytics ends the warm-up before the last epoch (warm-up is capped at epochs - 1).
    """
    default = ultralytics_defaults()["warmup_epochs"]
    entry = config["parameters"].get("warmup_epochs", {"value": default})
    longest = float(max(_candidate_values("warmup_epochs", entry), default=default))
    epochs = fixed_values(config).get("epochs")
    return min(longest, epochs - 1) if isinstance(epochs, int) else longest


def first_band_after_warmup(config: dict[str, Any]) -> int:
    """The earliest epoch at which Hyperband may compare runs: the first one after every warm-up.

    Measured in bench/search_efficiency.py: during the warm-up mAP50 says little about the end
    (epoch-2 values of 0.01 and 0.25 ended at 0.91 and 0.25), so a band there stops by chance.
    """
    return int(longest_warmup(config)) + 1
