"""`python -m yolosweep status`: a local sweep's runs best first, for the terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from yolosweep.objective import Objective, sweep_objective
from yolosweep.results.verdict import Verified, judge_best
from yolosweep.states import Origin, SweepState
from yolosweep.store import Run, Store, StoreError


def ranked(runs: list[Run], goal: Objective | None) -> list[Run]:
    """Best first by the sweep's metric, ties by run id as in analysis.runs_table; runs without it last.

    A sweep without a metric (W&B allows it for grid and random) lists its runs in start order.
    """
    if goal is None:
        return sorted(runs, key=lambda r: r.created)
    return goal.ranked(runs, lambda r: goal.value(r.summary), tie=lambda r: r.id)


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def origin_tag(run: Run) -> str:
    """Beside a run's id: a prior, or one of the first prior's seed repeats (the noise runs), never a searched run."""
    if run.origin is Origin.NOISE:
        return f" (seed repeat, seed {run.params.get('seed', '?')})"
    return " (prior)" if run.origin is Origin.PRIOR else ""


def status_lines(config: dict[str, Any], runs: list[Run], epochs: Mapping[str, int]) -> list[str]:
    """The table, best first; `epochs`: each run's count of logged epochs (Store.epoch_counts)."""
    goal = sweep_objective(config)
    swept = [k for k, v in config["parameters"].items() if "value" not in v]
    header = ["run", "state", "epochs", *([f"{goal.name} ({goal.goal})"] if goal else []), *swept]
    rows = [header]
    for run in ranked(runs, goal):
        value = goal.value(run.summary) if goal else None
        rows.append(
            [
                run.id + origin_tag(run),
                run.state,
                str(epochs.get(run.id, 0)),
                *(["-" if value is None else f"{value:.4f}"] if goal else []),
                *(cell(run.params.get(k, "-")) for k in swept),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    counts = Counter(run.state for run in runs)
    lines.append(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no runs yet")
    return lines


def expire_lapsed(store: Store, sweep_id: str) -> None:
    """Runs of other hosts whose agent stopped answering are marked crashed by status too: it reads through a
    read-only session, so a writing one is opened only when there is one to mark, and a store that cannot be
    written (an archive) is shown as it is."""
    if store.lapsed(sweep_id):
        try:
            writer = Store(store.location, create=False)
        except StoreError:
            return
        try:
            writer.expire_leases(sweep_id)
        except StoreError:
            pass
        finally:
            writer.close()


def status_report(store: Store, sweep_id: str) -> list[str]:
    """`python -m yolosweep status`: the runs best first, then the reasons of failed and crashed runs."""
    expire_lapsed(store, sweep_id)
    config = store.sweep_config(sweep_id)
    runs = store.runs(sweep_id, with_history=False)  # once per --watch interval: the counts are enough
    state = store.sweep_state(sweep_id)
    lines = [
        f"sweep {sweep_id} ({config.get('method')}, {len(runs)} runs) in {store.where}"
        + ("" if state is SweepState.RUNNING else f": {state}"),
        *status_lines(config, runs, store.epoch_counts(sweep_id)),
    ]
    goal = sweep_objective(config)
    best = goal.best(runs, lambda r: goal.value(r.summary), tie=lambda r: r.id) if goal else None
    judged = judge_best(runs, goal, goal.value(best.summary) or 0.0) if goal is not None and best is not None else None
    if judged is not None:
        lines.append(f"gain of the best: {judged[0].describe(judged[1])}")
    verified = store.verified(sweep_id)
    if verified is not None:
        lines.append(Verified.from_dict(verified).line())
    lines += [
        f"  {run.id} {run.state}: {run.reason}" for run in runs if run.state in ("failed", "crashed") and run.reason
    ]
    lines += [f"  {line}" for line in reduced_batch_lines(runs)]
    return lines


def reduced_batch_lines(runs: Iterable[Any]) -> list[str]:
    """Runs (store runs or analysis records: an id and a summary) that trained at a smaller batch than the sweep
    gave them (Ultralytics' out-of-memory halving)."""
    return [
        f"{run.id} trained at batch {run.summary['batch_used']}, not {run.summary['batch_reduced_from']} "
        "(out of GPU memory): not comparable with the other runs"
        for run in runs
        if "batch_reduced_from" in run.summary
    ]


def print_status(store: Store, sweep_id: str) -> None:
    print("\n".join(status_report(store, sweep_id)))
