"""One sweep run: parameters in, one Ultralytics YOLO training, one wandb run, a TrialResult out.

States a trial ends in: `finished`, `stopped` (SIGTERM/SIGINT: the agent or Hyperband asked;
a normal outcome), `failed` (with a one-line reason). The epochs done are kept in every case.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yolosweep.objective import Objective, default_objective
from yolosweep.run import weights as hygiene
from yolosweep.run.endings import (
    EXIT_BAD_CONFIG,
    EXIT_OK,
    StopRequested,
    TrialFailed,
    classify_ending,
    patience_reason,
)
from yolosweep.run.epochs import EpochLog, Sink
from yolosweep.run.signals import StopSignals
from yolosweep.run.tracking import TrialRun, clean_value
from yolosweep.states import EndedBy, RunState
from yolosweep.sweep import preflight
from yolosweep.sweep.dataset import check_dataset
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.model import load_model
from yolosweep.sweep.task import model_task
from yolosweep.sweep.train_args import TRIAL_OPTIONS, check_train_args


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


def run_objective(tracker: TrialRun, args: dict[str, Any]) -> Objective:
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


def _prepared_model(args: dict[str, Any], tracker: TrialRun, epochs: EpochLog, stop: StopSignals) -> Any:
    """Check what the run needs, load the model and hook our callbacks into its training."""
    check_dataset(args.get("data"))
    preflight.check_output_folder(args["project"])
    model, weights_source = load_model(args["model"])
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
    by default the agent's sweep's metric (run_objective).
    """
    started = time.time()
    try:
        args = check_train_args(params, "training arguments")
    except ConfigError as err:
        return _fail_before_start(str(err), EXIT_BAD_CONFIG, params, job_type, tags, sink)

    tracker = TrialRun(config=args, job_type=job_type, tags=tags)
    objective = objective or run_objective(tracker, args)
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
            result.state, result.reason = RunState.FINISHED, patience_reason(model.trainer)
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
