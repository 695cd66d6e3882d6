"""W&B's own sweep engine (the `sweeps` package) over our runs: the next parameters (next_run) and the runs
Hyperband stops (stop_runs), pure functions of the sweep and its runs."""

from __future__ import annotations

import warnings
from typing import Any

import sweeps

from yolosweep.states import Origin, RunState
from yolosweep.store import Run
from yolosweep.sweep import spec

# Our states as the engine knows them. A Hyperband-stopped run is a normal outcome whose
# metrics count: as "finished" bayes learns from its best value; as "killed" it would be
# imputed the worst value of the sweep.
_ENGINE_STATE = {
    RunState.RUNNING: "running",
    RunState.FINISHED: "finished",
    RunState.STOPPED: "finished",
    RunState.FAILED: "failed",
    RunState.CRASHED: "crashed",
}


def engine_runs(runs: list[Run]) -> list[sweeps.SweepRun]:
    # Aliases, not field names: sweeps 0.2.0 under pydantic 2 silently drops `history=` and
    # `summary_metrics=`, which would leave Hyperband and bayes blind.
    # Seed repeats stay out, so Hyperband never stops the runs that measure the noise. W&B's server sees them
    # (prior runs); its GP fits their mean, and showing them here measured no different (docs/benchmarks.md).
    return [
        sweeps.SweepRun(
            name=run.id,
            state=_ENGINE_STATE[run.state],
            config={k: {"value": v} for k, v in run.params.items()},
            sampledHistory=run.history,
            summaryMetrics=run.summary,
        )
        for run in runs
        if run.origin is not Origin.NOISE
    ]


def suggest(config: dict[str, Any], runs: list[Run]) -> dict[str, Any] | None:
    """The engine's next parameters, or None when the search space is exhausted (grid)."""
    with warnings.catch_warnings():
        # The GP's length scales often sit at their bounds with few runs; sklearn says so every time.
        warnings.filterwarnings("ignore", module="sklearn.gaussian_process")
        suggestion = sweeps.next_run(spec.engine_view(config), engine_runs(runs), validate=False)
    if suggestion is None:
        return None
    # The engine hands numpy scalars (an integer `q` gives np.int64); W&B's server sends JSON.
    return {k: _plain(v["value"]) for k, v in suggestion.config.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value.item() if hasattr(value, "item") else value


def runs_to_stop(config: dict[str, Any], runs: list[Run]) -> list[str]:
    if "early_terminate" not in config:
        return []
    return [r.name for r in sweeps.stop_runs(spec.engine_view(config), engine_runs(runs))]
