"""The sweep's objective: which metric, and which way is better. Every ranking, best-run choice, gain and target
asks it, so the direction is decided here alone."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def number(row: Mapping[str, Any] | None, metric: str) -> float | None:
    """A summary's or history row's number for `metric`; None when absent, not a number, or NaN."""
    value = (row or {}).get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Objective:
    """The sweep's `metric`. W&B's default goal is minimize."""

    name: str
    goal: str = "minimize"
    target: float | None = None

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"

    @property
    def sign(self) -> int:
        """+1 when larger is better, -1 when smaller is: a difference times it is an improvement."""
        return 1 if self.maximize else -1

    def value(self, row: Mapping[str, Any] | None) -> float | None:
        return number(row, self.name)

    def rank_key(self, value: float | None) -> tuple[bool, float]:
        """Sorting by it puts the best first and a run without a value (or NaN) last."""
        if value is None or math.isnan(value):
            return (True, 0.0)
        return (False, -self.sign * value)

    def ranked(self, items: Iterable[T], value: Callable[[T], float | None], tie: Callable[[T], Any] = str) -> list[T]:
        """Best first, equals ordered by `tie` (a run id: both backends rank alike), items without a value last."""
        return sorted(items, key=lambda item: (*self.rank_key(value(item)), tie(item)))

    def best(
        self, items: Iterable[T], value: Callable[[T], float | None], tie: Callable[[T], Any] | None = None
    ) -> T | None:
        """The best of `items` by `value`; of equals the first (as W&B's bayes sees it), or the least by `tie`.
        None when none has a value."""
        order = self.ranked(items, value, tie or (lambda _: 0))
        return order[0] if order and not self.rank_key(value(order[0]))[0] else None

    def improvement(self, value: float, baseline: float) -> float:
        """How much better than the baseline, in the metric's units: negative for a loss, whichever the goal."""
        return self.sign * (value - baseline)

    def gain_pct(self, value: float, baseline: float) -> float:
        """The improvement in % of the baseline (infinite over a baseline of 0)."""
        return self.improvement(value, baseline) / abs(baseline) * 100 if baseline else math.inf

    def reached_target(self, value: Any) -> bool:
        if self.target is None or not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return self.improvement(value, self.target) >= 0


# The shipped sweep's objective, and a standalone run's when its YAML names none.
DEFAULT_OBJECTIVE = Objective("metrics/mAP50(B)", "maximize")

_TASK_DEFAULT_METRIC = {
    "detect": "metrics/mAP50(B)",
    "obb": "metrics/mAP50(B)",
    "segment": "metrics/mAP50(M)",
    "pose": "metrics/mAP50(P)",
    "classify": "metrics/accuracy_top1",
}


def default_objective(task: str | None) -> Objective:
    """What a run outside a sweep is ranked by: its task's main metric (box mAP50 for detection)."""
    return Objective(_TASK_DEFAULT_METRIC.get(task or "detect", DEFAULT_OBJECTIVE.name), "maximize")


def companion_metric(metric: str) -> str | None:
    """mAP50-95 of the objective's own head (B, M, P) when the objective is that head's mAP50: shown beside it."""
    match = re.fullmatch(r"metrics/mAP50\((\w)\)", metric)
    return f"metrics/mAP50-95({match[1]})" if match else None


def sweep_objective(config: Mapping[str, Any]) -> Objective | None:
    """The sweep's objective, or None for a sweep without `metric` (W&B allows that for grid and random)."""
    metric = config.get("metric")
    if not isinstance(metric, dict) or "name" not in metric:
        return None
    return Objective(metric["name"], metric.get("goal", "minimize"), metric.get("target"))
