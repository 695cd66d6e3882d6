"""What each epoch of a run reports: its metrics (train-split ones too), one wandb row and the sink, and the summary
the best epoch gives."""

from __future__ import annotations

from typing import Any, Protocol

from yolosweep.objective import DEFAULT_OBJECTIVE, Objective
from yolosweep.run.endings import check_finite_loss
from yolosweep.run.tracking import EPOCH_RESULT_PREFIXES, VALIDATION_PREFIX, TrialRun, clean_value
from yolosweep.states import EndedBy, RunState

TRAIN_SPLIT_PREFIX = "train/"  # validation metrics measured on the training images (train_metrics_every)


def on_train_split(metric: str) -> str:
    """metrics/mAP50(B) -> train/mAP50(B): the same validation metric, measured on the training images."""
    return TRAIN_SPLIT_PREFIX + metric[len(VALIDATION_PREFIX) :]


class Sink(Protocol):
    """Somewhere besides wandb that follows a trial (the local store, under the local agent)."""

    def log_epoch(self, epoch: int, row: dict[str, Any], summary: dict[str, Any]) -> None: ...

    def end(self, state: RunState, reason: str, summary: dict[str, Any], ended_by: EndedBy) -> None: ...


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
        check_finite_loss(trainer)
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
