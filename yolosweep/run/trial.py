"""One sweep run: parameters in, one Ultralytics YOLO training, one wandb run, a TrialResult out.

States a trial ends in: `finished`, `stopped` (SIGTERM/SIGINT: the agent or Hyperband asked;
a normal outcome), `failed` (with a one-line reason). The epochs done are kept in every case.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from yolosweep.objective import DEFAULT_OBJECTIVE, Objective, default_objective
from yolosweep.run import weights as hygiene
from yolosweep.run.tracking import EPOCH_RESULT_PREFIXES, VALIDATION_PREFIX, TrialRun, clean_value
from yolosweep.states import STOP_SIGNALS, EndedBy, RunState
from yolosweep.sweep import preflight
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.task import model_task
from yolosweep.sweep.train_args import TRIAL_OPTIONS, check_train_args

EXIT_OK, EXIT_FAILED, EXIT_BAD_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130
TRAIN_SPLIT_PREFIX = "train/"  # validation metrics measured on the training images (train_metrics_every)


def on_train_split(metric: str) -> str:
    """metrics/mAP50(B) -> train/mAP50(B): the same validation metric, measured on the training images."""
    return TRAIN_SPLIT_PREFIX + metric[len(VALIDATION_PREFIX) :]


@dataclass
class TrialResult:
    state: RunState
    reason: str = ""
    ended_by: EndedBy = EndedBy.COMPLETED
    epochs_done: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    save_dir: Path | None = None
    run_id: str | None = None
    exit_code: int = EXIT_OK


class Sink(Protocol):
    """Somewhere besides wandb that follows a trial (the local store, under the local agent)."""

    def log_epoch(self, epoch: int, row: dict[str, Any], summary: dict[str, Any]) -> None: ...

    def end(self, state: RunState, reason: str, summary: dict[str, Any], ended_by: EndedBy) -> None: ...


class StopRequested(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class TrialFailed(Exception):
    """A failure with a known cause, already worded as one line with a fix."""

    def __init__(self, message: str, cause: EndedBy = EndedBy.ERROR):
        super().__init__(message)
        self.cause = cause


class StopSignals:
    """SIGTERM/SIGINT/SIGHUP set a flag that the next training callback turns into StopRequested.

    Raising only at callback boundaries means a stop never lands while Ultralytics writes a
    checkpoint, so last.pt and best.pt stay readable. A second SIGINT aborts at once.
    Before training starts (loading the model, caching labels, AutoBatch, a download) there is no
    checkpoint to protect and no callback for minutes, which outlasts W&B's 30 s from SIGTERM to
    SIGKILL: inside `setup()` a stop raises at once.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        self._in_setup = False

    @contextmanager
    def setup(self) -> Iterator[None]:
        """The stretch before the first epoch; `training_started` (on_train_start) ends it early."""
        self._in_setup = True
        try:
            self.check()
            yield
        finally:
            self._in_setup = False

    def training_started(self, _trainer: object = None) -> None:
        self._in_setup = False
        self.check()

    def __enter__(self) -> StopSignals:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: object) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        if self._in_setup:
            self._in_setup = False  # once: the ending is then recorded without another raise
            raise StopRequested(signum)

    def check(self, _trainer: object = None) -> None:
        if self.signum is not None:
            raise StopRequested(self.signum)


def _without_ultralytics_wandb(trainer: Any) -> None:
    # Ultralytics' own wandb callback would log a second, differently stepped copy of every
    # metric into our run and finish it at on_train_end; this trial owns the run instead.
    for fns in trainer.callbacks.values():
        fns[:] = [f for f in fns if not f.__module__.endswith("callbacks.wb")]


class _ReplacedWhole(type(Path())):  # type: ignore[misc]  # PosixPath or WindowsPath
    """A checkpoint path written beside itself and renamed into place.

    Ultralytics writes last.pt and best.pt in place, so a SIGKILL (or the OOM killer) landing in
    that write left a truncated last.pt that --resume could not load; a rename is all or nothing.
    """

    def write_bytes(self, data: bytes) -> int:
        partial = self.with_name(self.name + ".partial")
        try:
            with open(partial, "wb") as f:
                f.write(data)
        except OSError:  # a full disk: the half-written file would keep it full for the store and wandb
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, self)
        return len(data)


def _atomic_checkpoints(trainer: Any) -> None:
    trainer.last, trainer.best = _ReplacedWhole(trainer.last), _ReplacedWhole(trainer.best)


def _epoch_metrics(trainer: Any) -> dict[str, float]:
    # fitness stays: Ultralytics' own blend of mAP50 and mAP50-95 is a metric a sweep may name.
    metrics = {**trainer.label_loss_items(trainer.tloss, prefix="train"), **trainer.metrics, **trainer.lr}
    return {k: clean_value(v) for k, v in metrics.items()}


def _best_epoch(history: list[dict[str, Any]], objective: Objective) -> dict[str, Any] | None:
    return objective.best(history, objective.value)  # the first of equals, as W&B's bayes sees it


def summarize(history: list[dict[str, Any]], objective: Objective = DEFAULT_OBJECTIVE) -> dict[str, Any]:
    """The best epoch's results by the sweep's metric and goal, and the last epoch's metrics under final/.

    W&B's bayes reads summary[metric]: it must hold the best epoch's value, not the last one.
    """
    summary: dict[str, Any] = {"epochs_done": len(history)}
    best = _best_epoch(history, objective)
    if best is not None:
        summary.update({k: v for k, v in best.items() if k.startswith(EPOCH_RESULT_PREFIXES)})
        summary["best_epoch"] = best["epoch"]
    if history:
        summary.update({f"final/{k}": v for k, v in history[-1].items() if k != "epoch"})
    if objective.name.startswith(VALIDATION_PREFIX):
        train_objective = on_train_split(objective.name)
        measured = [row for row in history if isinstance(row.get(train_objective), (int, float))]
        if measured and isinstance(measured[-1].get(objective.name), (int, float)):
            summary["train_val_gap"] = measured[-1][train_objective] - measured[-1][objective.name]
            summary["train_val_gap_epoch"] = measured[-1]["epoch"]
    return summary


def sweep_objective(tracker: TrialRun, args: dict[str, Any]) -> Objective:
    """The metric this run is judged by: the local agent's word, else the W&B sweep's, else its task's main metric."""
    name = os.environ.get("YOLOSWEEP_METRIC")
    if name:
        return Objective(name, os.environ.get("YOLOSWEEP_GOAL", "minimize"))
    metric = tracker.sweep_metric()
    if metric and metric.get("name"):
        return Objective(metric["name"], metric.get("goal", "minimize"))
    return default_objective(
        model_task({"parameters": {k: {"value": v} for k, v in args.items() if k in ("model", "task")}})
    )


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


class TrainSplitMetrics:
    """The validation metrics measured on the training images: next to val, the overfitting signal."""

    def __init__(self) -> None:
        self.validator: Any = None

    def __call__(self, trainer: Any) -> dict[str, float]:
        if self.validator is None:  # built once: the train images in validation mode (no augmentation)
            self.validator = trainer.get_validator()
            self.validator.dataloader = trainer.get_dataloader(trainer.data["train"], trainer.batch_size * 2, -1, "val")
        metrics = self.validator(trainer=trainer)
        return {on_train_split(k): clean_value(v) for k, v in metrics.items() if k.startswith(VALIDATION_PREFIX)}


def _patience_reason(trainer: Any) -> str:
    """Why a normally returning training ended before its last epoch: Ultralytics' patience."""
    stopper = trainer.stopper
    if trainer.epoch + 1 >= trainer.epochs or trainer.epoch + 1 - stopper.best_epoch < stopper.patience:
        return ""
    return f"patience: no improvement in the {stopper.patience} epoch(s) after epoch {stopper.best_epoch}"


def _sweep_id() -> str | None:
    return os.environ.get("WANDB_SWEEP_ID") or os.environ.get("YOLOSWEEP_SWEEP_ID")


def _tidy_sweep_folder(save_dir: Path, summary: dict[str, Any], keep: int, objective: Objective) -> dict[str, Any]:
    """Leave this run's summary for the others' ranking, then prune; a disk problem here never fails the run."""
    try:
        hygiene.write_summary(save_dir, summary)
        pruned = hygiene.prune_weights(save_dir.parent, keep, objective) if keep else None
    except OSError as err:
        print(f"yolosweep: WARNING: could not tidy {save_dir.parent} ({err}); weights kept", flush=True)
        return {}
    if pruned is None or not pruned.runs:
        return {}
    freed_mb = round(pruned.freed_bytes / 2**20, 1)
    print(
        f"yolosweep: keep_top_k={keep}: removed the weights of {len(pruned.runs)} run(s) outside the sweep's "
        f"top {keep} ({', '.join(pruned.runs)}), freed {freed_mb} MB",
        flush=True,
    )
    return {"pruned_runs": pruned.runs, "freed_mb": freed_mb}


def _check_finite_loss(trainer: Any) -> None:
    losses = trainer.label_loss_items(trainer.tloss, prefix="train")
    bad = [k for k, v in losses.items() if not math.isfinite(float(v))]
    if bad:
        lr0 = trainer.args.lr0
        raise TrialFailed(
            f"loss became NaN/Inf in epoch {trainer.epoch + 1} ({', '.join(bad)}). "
            f"Fix: lower lr0 (now {lr0}) or the loss gains box/cls/dfl, raise warmup_epochs, or check the labels",
            EndedBy.NAN_LOSS,
        )


def batch_used(requested: Any, used: int) -> dict[str, Any]:
    """The batch a run trained at, for its summary, and whether it is the one the sweep asked for.

    On a first-epoch CUDA out-of-memory Ultralytics halves the batch (up to 3 times) and trains on;
    with two agents per GPU the run that loses the race trains at 32 or 16 while its parameters say
    64. Such a run is marked and said once: its result is not comparable with the others'.
    AutoBatch (-1, or a fraction) has no size to keep, so only what it chose is recorded.
    """
    note: dict[str, Any] = {"batch_used": used}
    if isinstance(requested, int) and not isinstance(requested, bool) and requested >= 1 and used != requested:
        note["batch_reduced_from"] = requested
        print(
            f"yolosweep: WARNING: this run trains at batch {used}, not {requested}: Ultralytics reduced it after "
            f"running out of GPU memory, so its result is not comparable with runs at {requested}. Fix: lower `batch` "
            "for every run, or fewer agents per GPU",
            flush=True,
        )
    return note


class EpochLog:
    """The per-epoch side of a training: one history row per trained epoch to wandb and the sink."""

    def __init__(
        self,
        tracker: TrialRun,
        sink: Sink | None,
        objective: Objective,
        train_metrics_every: int,
        requested_batch: Any = None,
    ):
        self.tracker, self.sink, self.objective, self.every = tracker, sink, objective, train_metrics_every
        self.requested_batch = requested_batch
        self.train_split_metrics = TrainSplitMetrics() if train_metrics_every else None
        self.history: list[dict[str, Any]] = []
        self.trained: list[int] = []
        self.batch: dict[str, Any] = {}  # the batch the run trained at, once known (see batch_used)

    def summary(self) -> dict[str, Any]:
        return {**summarize(self.history, self.objective), **self.batch}

    def end_training_epoch(self, trainer: Any) -> None:
        _check_finite_loss(trainer)
        self.trained.append(trainer.epoch + 1)

    def log_epoch(self, trainer: Any) -> None:
        # Ultralytics also fires on_fit_epoch_end for its final validation of best.pt, with no
        # training epoch before it: that is not an epoch and must not add a history row.
        if not self.trained or (self.history and self.history[-1]["epoch"] == self.trained[-1]):
            return
        row = {"epoch": self.trained[-1], **_epoch_metrics(trainer)}
        if self.train_split_metrics and row["epoch"] % self.every == 0:
            row.update(self.train_split_metrics(trainer))
        self.history.append(row)
        if not self.batch:
            self.batch = batch_used(self.requested_batch, trainer.batch_size)
        summary = self.summary()
        epoch = self.trained[-1]
        self.tracker.log_epoch(epoch, row, summary)
        if self.sink:
            self.sink.log_epoch(epoch, row, summary)


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


def _prepared_model(args: dict[str, Any], tracker: TrialRun, epochs: EpochLog, stop: StopSignals) -> Any:
    """Check what the run needs, load the model and hook our callbacks into its training."""
    preflight.check_dataset(args.get("data"))
    preflight.check_output_folder(args["project"])
    model, weights_source = preflight.load_model(args["model"])
    tracker.record_config({"weights_source": weights_source})
    model.add_callback("on_pretrain_routine_start", _without_ultralytics_wandb)
    model.add_callback("on_pretrain_routine_start", _atomic_checkpoints)
    model.add_callback("on_pretrain_routine_end", lambda t: tracker.record_config(vars(t.args)))
    model.add_callback("on_train_epoch_end", epochs.end_training_epoch)
    model.add_callback("on_fit_epoch_end", epochs.log_epoch)
    model.add_callback("on_train_start", stop.training_started)
    for event in (
        "on_pretrain_routine_start",
        "on_pretrain_routine_end",
        "on_train_batch_end",
        "on_val_batch_end",
        "on_fit_epoch_end",
    ):
        model.add_callback(event, stop.check)
    return model


def run(
    params: dict[str, Any],
    log_model: bool = True,
    sink: Sink | None = None,
    job_type: str = "sweep-run",
    tags: list[str] | None = None,
    objective: Objective | None = None,
) -> TrialResult:
    """Train one YOLO model with `params` (Ultralytics arguments) and log it to one wandb run.

    objective: what ranks its epochs (the summary's best epoch) and the sweep's runs (keep_top_k);
    by default the agent's sweep's metric (sweep_objective).
    """
    started = time.time()
    try:
        args = check_train_args(params, "training arguments")
    except ConfigError as err:
        return _fail_before_start(str(err), EXIT_BAD_CONFIG, params, job_type, tags, sink)

    tracker = TrialRun(config=args, job_type=job_type, tags=tags)
    objective = objective or sweep_objective(tracker, args)
    # Values that reached only wandb.config (a program's `command` without ${args}) join the arguments.
    from_config = {k: v for k, v in tracker.sweep_params().items() if k not in args}
    options = dict(TRIAL_OPTIONS)
    args.setdefault("project", str((Path(preflight.DEFAULT_SAVE_PROJECT) / (_sweep_id() or "")).resolve()))
    args.setdefault("name", tracker.id)
    args.setdefault("exist_ok", True)
    epochs, model = EpochLog(tracker, sink, objective, 0), None
    result = TrialResult(state=RunState.RUNNING, run_id=tracker.id)
    agent_pid = os.getppid()

    with StopSignals() as stop:
        try:
            args.update(check_train_args(from_config, "wandb.config"))
            options.update({k: args.pop(k) for k in TRIAL_OPTIONS if k in args})
            epochs = EpochLog(tracker, sink, objective, options["train_metrics_every"], args.get("batch", 16))
            with stop.setup():  # until on_train_start: a stop raises at once
                model = _prepared_model(args, tracker, epochs, stop)
                model.train(**{k: v for k, v in args.items() if k != "model"})
            result.state, result.reason = RunState.FINISHED, _patience_reason(model.trainer)
            result.ended_by = EndedBy.PATIENCE if result.reason else EndedBy.COMPLETED
        except Exception as err:  # StopRequested included: every ending is recorded below
            trained_at = getattr(getattr(model, "trainer", None), "batch_size", None)  # after any halving
            result.state, result.reason, result.ended_by, result.exit_code = classify_ending(
                err, {**args, "batch": trained_at} if trained_at else args, agent_pid
            )
            if not isinstance(err, (StopRequested, ConfigError, TrialFailed)):  # a crash: the whole story in a file
                _write_traceback(Path(args["project"]) / args["name"], err)

        # Still inside StopSignals: a late SIGTERM must not kill the process while it records the end.
        trainer = getattr(model, "trainer", None)
        result.save_dir = Path(trainer.save_dir) if trainer is not None else None
        result.history, result.epochs_done = epochs.history, len(epochs.history)
        result.summary = {
            **epochs.summary(),
            "state": result.state.value,
            "reason": result.reason,
            "ended_by": result.ended_by.value,
            "wall_time_s": round(time.time() - started, 2),
        }
        best = result.save_dir / "weights" / "best.pt" if result.save_dir else None
        if log_model and result.state is RunState.FINISHED and best is not None and best.exists():
            tracker.log_model(
                best, f"model-{tracker.id}", {k: result.summary.get(k) for k in (objective.name, "best_epoch")}
            )
        if result.save_dir is not None and _sweep_id():
            result.summary.update(_tidy_sweep_folder(result.save_dir, result.summary, options["keep_top_k"], objective))
        if sink:
            sink.end(result.state, result.reason, result.summary, result.ended_by)
        tracker.finish(result.summary, exit_code=0 if result.state is not RunState.FAILED else 1)
    return result


def _fail_before_start(
    reason: str, exit_code: int, params: dict[str, Any], job_type: str, tags: list[str] | None, sink: Sink | None
) -> TrialResult:
    """Invalid arguments: under a sweep agent the run still exists and is marked failed."""
    result = TrialResult(state=RunState.FAILED, reason=reason, ended_by=EndedBy.BAD_CONFIG, exit_code=exit_code)
    summary = {"state": result.state.value, "reason": reason, "ended_by": result.ended_by.value, "epochs_done": 0}
    if sink:
        sink.end(result.state, reason, summary, result.ended_by)
    if os.environ.get("WANDB_SWEEP_ID") or sink:
        tracker = TrialRun(config={k: clean_value(v) for k, v in params.items()}, job_type=job_type, tags=tags)
        result.run_id = tracker.id
        tracker.finish(summary, exit_code=1)
    return result


def _write_traceback(folder: Path, err: BaseException) -> None:
    text = "".join(traceback.format_exception(err))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "error.log").write_text(text)
    except OSError:  # the folder's disk may be what failed: the traceback still reaches the agent's log
        print(text, file=sys.stderr, flush=True)
