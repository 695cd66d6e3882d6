"""Warm start: known configurations that run first and teach the search (`--prior FILE.yaml`).

A prior is a flat YAML mapping of Ultralytics arguments: a baseline's `args.yaml`, the
`best_config.yaml` of an earlier sweep, or a list of such mappings in one file; `defaults`
names Ultralytics' own default values. A prior sets the swept parameters only: the sweep's fixed
values (data, epochs, ...) stay the sweep's, and a swept parameter the prior does not give takes
Ultralytics' default. Every value must lie in the sweep's search space, which the engine's model
of the objective assumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.train_args import check_train_args, fixed_values, trains_yolo, ultralytics_defaults

DEFAULTS = "defaults"
TAG = "prior"  # the wandb tag of a prior's run, on both backends
NOISE_TAG = "noise"  # and of a seed repeat of the first prior (--noise-runs), beside TAG
# 3 trainings of the defaults are the fewest that can ever call a gain real (docs/benchmarks.md, "How many seed
# repeats"); each repeat costs one run of the budget.
DEFAULT_NOISE_RUNS = 2


def load_priors(sources: list[str], config: dict[str, Any]) -> list[dict[str, Any]]:
    """The full parameters of one run per prior, in the order given."""
    runs = []
    for source in sources:
        for where, values in _read(source):
            runs.append(_as_run_params(values, config, where))
    return runs


def seed_repeats(priors: list[dict[str, Any]], config: dict[str, Any], requested: int | None) -> list[dict[str, Any]]:
    """The first prior again with the next seeds (--noise-runs): the same configuration, other randomness, so the
    sweep measures its seed spread (results/verdict.py). `requested` None: DEFAULT_NOISE_RUNS where a sweep of
    train_sweep.py has a first prior, else none. Both backends."""

    count = requested if requested is not None else (DEFAULT_NOISE_RUNS if priors and trains_yolo(config) else 0)
    if count and not priors:
        raise ConfigError(
            "--noise-runs",
            str(count),
            "repeats the sweep's first prior with other seeds, and this sweep has none",
            "drop --no-prior, or give --prior FILE (or --noise-runs 0)",
        )
    seed = priors[0].get("seed", 0) if count else 0
    return [{**priors[0], "seed": seed + k} for k in range(1, count + 1)]


def _read(source: str) -> list[tuple[str, dict[str, Any]]]:
    if source == DEFAULTS:
        return [(DEFAULTS, ultralytics_defaults())]
    path = Path(source)
    fix = "give a YAML mapping of Ultralytics arguments (e.g. best_config.yaml or a run's args.yaml), or `defaults`"
    if not path.is_file():
        raise ConfigError("--prior", source, "file not found", fix)
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(source, "-", f"not valid YAML ({getattr(err, 'problem', err)})", "correct the YAML") from None
    items = content if isinstance(content, list) else [content]
    if not items or not all(isinstance(item, dict) and item for item in items):
        raise ConfigError(source, "-", "not a mapping of arguments (or a list of them)", fix)
    return [(source if len(items) == 1 else f"{source}[{i}]", item) for i, item in enumerate(items)]


def _as_run_params(values: dict[str, Any], config: dict[str, Any], where: str) -> dict[str, Any]:
    defaults = ultralytics_defaults()
    params = fixed_values(config)
    for name, entry in config["parameters"].items():
        if "value" in entry:
            continue
        value = values.get(name, defaults.get(name))
        if value is None:
            raise ConfigError(where, name, "has no value and Ultralytics has no default", f"add `{name}:` to the prior")
        if not _in_space(value, entry):
            space = entry["values"] if "values" in entry else f"{entry.get('min')}..{entry.get('max')}"
            origin = "" if name in values else " (Ultralytics' default)"
            raise ConfigError(
                where,
                name,
                f"{value!r}{origin} is outside the sweep's search space {space}",
                f"widen parameters.{name} in the sweep YAML, or set {name} in the prior",
            )
        params[name] = value
    return check_train_args(params, f"{where}: prior") if trains_yolo(config) else params


def _in_space(value: Any, entry: dict[str, Any]) -> bool:
    if "values" in entry:
        return value in entry["values"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return entry.get("min", value) <= value <= entry.get("max", value)
