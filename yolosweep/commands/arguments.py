"""Command-line values: the shared override flags and W&B's `--key=value` parameter arguments."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import yaml

from yolosweep.store import StoreError
from yolosweep.sweep.errors import ConfigError

# Fixed sweep values every entry script can override without editing the YAML. Their values are
# typed like any other parameter and checked against Ultralytics with everything else.
OVERRIDE_FLAGS = (
    "data",
    "epochs",
    "imgsz",
    "batch",
    "model",
    "device",
    "patience",
    "train_metrics_every",
    "keep_top_k",
)


def add_override_flags(parser: argparse.ArgumentParser) -> None:
    for name in OVERRIDE_FLAGS:
        parser.add_argument(f"--{name}", type=parse_value, default=None, help=f"override the sweep's fixed `{name}`")


def overrides(namespace: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(namespace, k) for k in OVERRIDE_FLAGS if getattr(namespace, k) is not None}


def add_store_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="the local backend's store: a SQLite path, or postgresql://USER@HOST[:PORT]/DB for agents on "
        "several machines (default: $YOLOSWEEP_STORE, else .yolosweep/sweeps.db under $YOLOSWEEP_HOME)",
    )


def use_store(namespace: argparse.Namespace) -> None:
    """--store for this command and every process it starts (agents, runs): they read YOLOSWEEP_STORE."""
    if getattr(namespace, "store", None):
        os.environ["YOLOSWEEP_STORE"] = namespace.store


def add_keep_band_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep-band",
        action="store_true",
        help="keep the YAML's Hyperband band on runs of 20 epochs or fewer, where it was measured to "
        "cost the search and is left out otherwise (docs/benchmarks.md)",
    )


def add_noise_runs_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--noise-runs",
        type=whole_number,
        default=None,
        metavar="N",
        help="run the first prior (Ultralytics' defaults) N more times with other seeds, so every gain "
        "is judged against the seed spread (default 2 when there is a first prior; 0 skips)",
    )


def whole_number(text: str, least: int = 0) -> int:
    """argparse type for counts that may be 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} must be at least {least}")
    return value


def positive_float(text: str) -> float:
    """argparse type for durations: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be above 0")
    return value


def positive_int(text: str) -> int:
    """argparse type for counts: a whole number of at least 1."""
    return whole_number(text, least=1)


def parse_value(text: str) -> Any:
    """'8' -> 8, '1e-3' -> 0.001, 'true' -> True, '[1, 2]' -> [1, 2], anything else stays a string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (bool, list, dict)) or value is None else text


def parse_params(tokens: list[str]) -> dict[str, Any]:
    """Parameters as a W&B agent passes them: `--key=value`, `--key value` or `key=value`."""
    params: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        key, sep, value = token.lstrip("-").partition("=")
        if not key:
            raise SystemExit(f"error: cannot read argument {token!r}; use --key=value")
        if not sep:
            if not token.startswith("--") or i + 1 >= len(tokens):
                raise SystemExit(f"error: argument {token!r} has no value; use --{key}=VALUE")
            value, i = tokens[i + 1], i + 1
        params[key.replace("-", "_")] = parse_value(value)
        i += 1
    return params


def one_line_errors(main: Callable[[list[str], str | None], int]) -> Callable[[list[str], str | None], int]:
    """A user's mistake (a bad YAML, an unreachable store) is one line on stderr and exit status 2, no traceback."""

    @functools.wraps(main)
    def wrapped(argv: list[str], prog: str | None = None) -> int:
        try:
            return main(argv, prog)
        except (ConfigError, StoreError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    return wrapped
