"""How a training ended, in our words: a stop asked for, a failure classified (out of memory, shared memory, a full
disk, a NaN loss, patience) with its fix."""

from __future__ import annotations

import errno
import math
import os
import shutil
import signal
from pathlib import Path
from typing import Any

from yolosweep.states import EndedBy, RunState
from yolosweep.sweep.errors import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_BAD_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


class StopRequested(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class TrialFailed(Exception):
    """A failure with a known cause, already worded as one line with a fix."""

    def __init__(self, message: str, cause: EndedBy = EndedBy.ERROR):
        super().__init__(message)
        self.cause = cause


def _oom_reason(err: BaseException, args: dict[str, Any]) -> str | None:
    message = str(err).lower()
    if "out of memory" in message:
        where = "CUDA" if "cuda" in message else "GPU"
    elif "can't allocate memory" in message:  # torch's CPU allocator
        where = "CPU RAM"
    else:
        return None
    batch = args.get("batch", 16)
    smaller = max(int(batch) // 2, 1) if isinstance(batch, (int, float)) and batch >= 1 else 8
    return f"{where} out of memory at batch={batch}, imgsz={args.get('imgsz')}. Fix: try --batch {smaller}"


def _shared_memory_reason(err: BaseException, args: dict[str, Any]) -> str | None:
    """A dataloader worker killed for want of /dev/shm (Docker's default is 64 MB): torch says "bus error" or
    "out of shared memory"; as a plain error it would read as a crash of the training."""
    message = str(err).lower()
    if "shared memory" not in message and "bus error" not in message:
        return None
    from yolosweep.sweep.resources import SHM

    free = f"{shutil.disk_usage(SHM).free / 2**20:.0f} MB free" if SHM.is_dir() else "absent"
    return (
        f"the dataloader workers ran out of shared memory ({SHM}: {free}; workers={args.get('workers', 8)}). "
        "Fix: start the container with --shm-size=8g (Docker's default is 64 MB), or lower `workers` (0 uses none)"
    )


def _disk_full_reason(err: BaseException, save_dir: Path) -> str | None:
    while err is not None:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return (
                f"disk full while writing training outputs to {save_dir} ({err.strerror}). "
                f"Fix: free space there, or set `project:` to a folder on another disk"
            )
        err = err.__cause__ or err.__context__  # type: ignore[assignment]  # None ends the loop
    return None


def patience_reason(trainer: Any) -> str:
    """Why a normally returning training ended before its last epoch: Ultralytics' patience."""
    stopper = trainer.stopper
    if trainer.epoch + 1 >= trainer.epochs or trainer.epoch + 1 - stopper.best_epoch < stopper.patience:
        return ""
    return f"patience: no improvement in the {stopper.patience} epoch(s) after epoch {stopper.best_epoch}"


def check_finite_loss(trainer: Any) -> None:
    losses = trainer.label_loss_items(trainer.tloss, prefix="train")
    bad = [k for k, v in losses.items() if not math.isfinite(float(v))]
    if bad:
        lr0 = trainer.args.lr0
        raise TrialFailed(
            f"loss became NaN/Inf in epoch {trainer.epoch + 1} ({', '.join(bad)}). "
            f"Fix: lower lr0 (now {lr0}) or the loss gains box/cls/dfl, raise warmup_epochs, or check the labels",
            EndedBy.NAN_LOSS,
        )


def classify_ending(err: BaseException, args: dict[str, Any], agent_pid: int) -> tuple[RunState, str, EndedBy, int]:
    """How a training that raised `err` ended: state, one-line reason, cause and exit code."""
    if isinstance(err, StopRequested):
        # A new parent means the agent died and the kernel sent SIGTERM (PR_SET_PDEATHSIG).
        cause = EndedBy.AGENT_DIED if os.getppid() != agent_pid else EndedBy.SIGNAL
        return RunState.STOPPED, f"{err} received", cause, EXIT_INTERRUPTED if err.signum == signal.SIGINT else EXIT_OK
    if isinstance(err, ConfigError):
        return RunState.FAILED, str(err), EndedBy.BAD_CONFIG, EXIT_BAD_CONFIG
    if isinstance(err, TrialFailed):
        return RunState.FAILED, str(err), err.cause, EXIT_FAILED
    save_dir = Path(args.get("project", ".")) / str(args.get("name", ""))
    shm, oom, disk = _shared_memory_reason(err, args), _oom_reason(err, args), _disk_full_reason(err, save_dir)
    cause = (
        EndedBy.SHARED_MEMORY if shm else EndedBy.OUT_OF_MEMORY if oom else EndedBy.DISK_FULL if disk else EndedBy.ERROR
    )
    return RunState.FAILED, shm or oom or disk or f"{type(err).__name__}: {err}".splitlines()[0], cause, EXIT_FAILED
