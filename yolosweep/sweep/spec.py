"""Load and validate a W&B sweep YAML and the training arguments it produces.

Two layers of checks, both before anything trains or is written:
- the sweep itself, against W&B's own JSON schema (the `sweeps` package);
- every parameter, against Ultralytics' argument names, types and ranges (`ultralytics.cfg`).
Every error is one line that names the file, the key and the fix.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import yaml

from yolosweep.sweep.band import check_hyperband, first_band_after_warmup, hyperband_bands
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.task import check_metric, check_metric_for_task
from yolosweep.sweep.train_args import candidate_values, check_train_args, fixed_values, trains_yolo

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
    check_metric(config, source)
    if trains_yolo(config) and check_metric_name:
        check_metric_for_task(config, source)
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
            for value in candidate_values(name, entry):
                check_train_args({name: value}, f"{source}: parameters")
    violations = _schema_violations(engine_view(config))
    if violations:
        key, message = violations[0]
        raise ConfigError(source, key, message, "see W&B's sweep configuration reference")
    check_hyperband(config, source)
    if method == "grid":
        _check_grid(config, source)
    return config


METHODS = ("grid", "random", "bayes")


def _check_run_cap(config: dict[str, Any], source: str) -> None:
    cap = config.get("run_cap")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ConfigError(
            source, "run_cap", f"{cap!r} is not a whole number >= 1", "give the most runs the sweep may start"
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
        check_hyperband(config, str(path))
    if trains_yolo(config):
        check_metric_for_task(config, str(path))
    return config


def with_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of the sweep with some parameters fixed to new values (the --data/--epochs/... flags).

    A new epoch count moves Hyperband's bands with it, so they stay at the same fraction of a
    run (min_iter 60 of 100 epochs becomes 30 of 50): otherwise a short sweep is never pruned.
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
        f"band{'s' if len(bands) > 1 else ''} at epoch{'s' if len(bands) > 1 else ''} {', '.join(map(str, bands))}"
        if bands
        else "no band before the last epoch"
    )
    return f"hyperband min_iter {before} -> {after} for {epochs} epochs a run ({where})"
