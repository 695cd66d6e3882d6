"""Plain-text views of a local sweep for the terminal."""

from __future__ import annotations

from typing import Any

from .store import Run, Store


def objective_of(run: Run, metric: str) -> float | None:
    value = run.summary.get(metric)
    return value if isinstance(value, (int, float)) else None


def ranked(runs: list[Run], metric: str, goal: str) -> list[Run]:
    """Best first by the sweep's metric; runs without it last."""
    sign = -1 if goal == "maximize" else 1
    return sorted(runs, key=lambda r: (objective_of(r, metric) is None, sign * (objective_of(r, metric) or 0.0)))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def status_lines(config: dict[str, Any], runs: list[Run]) -> list[str]:
    metric, goal = config["metric"]["name"], config["metric"].get("goal", "maximize")
    swept = [k for k, v in config["parameters"].items() if "value" not in v]
    header = ["run", "state", "epochs", metric, *swept]
    rows = [header]
    for run in ranked(runs, metric, goal):
        objective = objective_of(run, metric)
        rows.append([run.id, run.state, str(len(run.history)), "-" if objective is None else f"{objective:.4f}",
                     *(_cell(run.params.get(k, "-")) for k in swept)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    counts = {}
    for run in runs:
        counts[run.state] = counts.get(run.state, 0) + 1
    lines.append(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no runs yet")
    return lines


def print_status(store: Store, sweep_id: str) -> None:
    config = store.sweep_config(sweep_id)
    runs = store.runs(sweep_id)
    print(f"sweep {sweep_id} ({config.get('method')}, {len(runs)} runs) in {store.path}")
    for line in status_lines(config, runs):
        print(line)
    failed = [r for r in runs if r.state in ("failed", "crashed") and r.reason]
    for run in failed:
        print(f"  {run.id} {run.state}: {run.reason}")
