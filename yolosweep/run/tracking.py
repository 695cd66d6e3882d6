"""The one wandb run of a trial: metric names, credentials, and reading offline runs back.

A trial logs to exactly one wandb run, online or offline (`WANDB_MODE=offline`), one history
row per epoch with step = epoch, because the sweep engine's Hyperband counts history rows.
"""

from __future__ import annotations

import json
import math
import netrc
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from yolosweep.objective import DEFAULT_OBJECTIVE

OBJECTIVE = DEFAULT_OBJECTIVE.name
VALIDATION_PREFIX = "metrics/"
# Keys whose summary is the best epoch's value, written by the trial (Ultralytics' validation
# metrics, validation losses and fitness): any of them can be a sweep's metric.
EPOCH_RESULT_PREFIXES = (VALIDATION_PREFIX, "val/", "fitness")
DEFAULT_PROJECT = "yolosweep"


def has_api_key() -> bool:
    """Whether a W&B API key is configured (environment or netrc), without reading it out."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def resolve_mode() -> str | None:
    """Log offline when no key is configured, instead of wandb prompting for a login."""
    if os.environ.get("WANDB_MODE"):
        return None
    if has_api_key():
        return None
    print("yolosweep: no W&B API key found, logging offline (sync later with `wandb sync`)", flush=True)
    return "offline"


def clean_value(value: Any) -> Any:
    """A JSON-friendly version of an Ultralytics argument or metric."""
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class TrialRun:
    """The wandb run of one trial."""

    def __init__(self, config: dict[str, Any], job_type: str = "sweep-run", tags: list[str] | None = None):
        import wandb

        self._wandb = wandb
        project = None if os.environ.get("WANDB_PROJECT") else DEFAULT_PROJECT
        self.run = wandb.init(
            project=project,
            config=config,
            job_type=job_type,
            tags=tags,
            mode=resolve_mode(),  # type: ignore[arg-type]
        )
        # wandb would otherwise keep the last logged value as each metric's summary, overwriting
        # the best-epoch values this run writes there (what the sweep and the analysis rank by).
        for prefix in EPOCH_RESULT_PREFIXES:
            self.run.define_metric(f"{prefix}*", summary="none")

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def dir(self) -> Path:
        """The run's folder (`.../wandb/offline-run-*/` offline): what `wandb sync` takes."""
        return Path(self.run.dir).parent

    def sweep_metric(self) -> dict[str, Any] | None:
        """The W&B sweep's `metric` section, read through the public API (a W&B cloud sweep only)."""
        sweep_id = os.environ.get("WANDB_SWEEP_ID")
        if not sweep_id or self.run.settings.mode == "offline":
            return None
        try:
            config = self._wandb.Api().sweep(f"{self.run.entity}/{self.run.project}/{sweep_id}").config
        except Exception as err:  # a network or API problem: the run still trains, ranked by the default
            print(
                f"yolosweep: WARNING: could not read sweep {sweep_id}'s metric ({type(err).__name__}); "
                f"the run summary ranks epochs by {OBJECTIVE}",
                flush=True,
            )
            return None
        return config.get("metric")

    def sweep_params(self) -> dict[str, Any]:
        """What the sweep agent put in wandb.config (empty when run standalone)."""
        return dict(self.run.config)

    def record_config(self, args: dict[str, Any]) -> None:
        self.run.config.update({k: clean_value(v) for k, v in args.items()}, allow_val_change=True)

    def log_epoch(self, epoch: int, metrics: dict[str, Any], summary: dict[str, Any]) -> None:
        """One history row per epoch; the summary then is overwritten with best-so-far values."""
        self.run.log({k: clean_value(v) for k, v in metrics.items()}, step=epoch)
        self.run.summary.update(summary)

    def log_model(self, weights: Path, name: str, metadata: dict[str, Any]) -> None:
        artifact = self._wandb.Artifact(name, type="model", metadata=metadata)
        artifact.add_file(str(weights))
        self.run.log_artifact(artifact, aliases=["best"])

    def finish(self, summary: dict[str, Any], exit_code: int) -> None:
        self.run.summary.update(summary)
        self.run.finish(exit_code=exit_code)


# --- reading an offline run back (history lives only in the binary .wandb log) ---
# The .wandb file is a LevelDB-style log of protobuf Records: a 7-byte header, then 32 KiB
# blocks of chunks, each with a 7-byte header (crc32, length, type).
_FILE_HEADER = struct.Struct("<4sHB")
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _records(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    ident, magic, _version = _FILE_HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError(f"{path} is not a wandb run log")
    pos, pending = _FILE_HEADER.size, b""
    while pos + _CHUNK_HEADER.size <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _CHUNK_HEADER.size:
            pos += room
            continue
        _crc, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        pos += _CHUNK_HEADER.size
        chunk = data[pos : pos + length]
        pos += length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""
        else:
            break  # zero padding at the end of a partly written log


@dataclass
class OfflineRun:
    """What an offline wandb run recorded, read back from its .wandb log."""

    history: list[dict[str, Any]]
    summary: dict[str, Any]
    config: dict[str, Any]
    exit_code: int | None
    artifacts: list[str]
    tags: list[str] = field(default_factory=list)


def _item_key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_offline_run(run_dir: str | Path) -> OfflineRun:
    """Read an offline run folder (`wandb/offline-run-*`): history rows, final summary, config."""
    from wandb.proto import wandb_internal_pb2

    (log_file,) = Path(run_dir).glob("*.wandb")
    run = OfflineRun(history=[], summary={}, config={}, exit_code=None, artifacts=[])
    for raw in _records(log_file):
        record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]  # generated protobuf
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            run.history.append({_item_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            run.summary.update({_item_key(i): json.loads(i.value_json) for i in record.summary.update})
        elif kind == "config":
            run.config.update({_item_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "artifact":
            run.artifacts.append(f"{record.artifact.name}:{record.artifact.type}")
        elif kind == "run":  # the config given to wandb.init (a sweep's parameters included) comes here
            run.tags = list(record.run.tags)
            run.config.update({_item_key(i): json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run
