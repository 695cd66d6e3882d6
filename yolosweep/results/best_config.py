"""best_config.yaml, written and read in one place: the configuration a sweep hands over (its best run, or the
winner verified by retraining), with the run it came from in a header the retrain reads back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from yolosweep.invocation import command
from yolosweep.objective import DEFAULT_OBJECTIVE, Objective, companion_metric
from yolosweep.results import analysis
from yolosweep.results.analysis import MACHINE_ARGS
from yolosweep.store import Run
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.train_args import fixed_values

_HEADER = re.compile(
    r"# best configuration of sweep (?P<sweep>\S+): run (?P<run>\S+), (?P<metric>\S+) = (?P<value>[\d.eE+-]+)"
    r"(?: \((?P<goal>maximize|minimize)\))?"
)


@dataclass
class SweepSource:
    """The sweep run a configuration came from."""

    sweep_id: str
    run_id: str
    objective: float | None
    epochs: int | None
    companion: float | None  # the metric shown beside the objective (companion_metric)
    metric: Objective = DEFAULT_OBJECTIVE


def load_best_config(path: Path) -> tuple[dict[str, Any], SweepSource | None]:
    """best_config.yaml as written by analyze_sweep.py: Ultralytics arguments, origin in the header."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            str(path), "-", "file not found", f"run `{command('analyze')}` first, or pass --sweep SWEEP_ID"
        ) from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(
            str(path),
            f"line {mark.line + 1}" if mark else "-",
            "not valid YAML",
            f"regenerate it with `{command('analyze')}`",
        ) from None
    if not isinstance(config, dict) or "data" not in config:
        raise ConfigError(
            str(path), "data", "not a training configuration (no `data`)", f"regenerate it with `{command('analyze')}`"
        )
    match = _HEADER.search(text)
    if not match:
        return config, None
    epochs = re.search(r"epochs_done=(\d+)", text)
    metric = Objective(match["metric"], match["goal"] or "maximize")  # files before goals were written: mAP50
    companion = companion_metric(metric.name)
    found = re.search(re.escape(companion) + r"=([\d.eE+-]+)", text) if companion else None
    origin = SweepSource(
        match["sweep"],
        match["run"],
        float(match["value"]),
        int(epochs[1]) if epochs else config.get("epochs"),
        float(found[1]) if found else None,
        metric,
    )
    return config, origin


def from_sweep(sweep: analysis.SweepRuns) -> tuple[dict[str, Any], SweepSource]:
    table = analysis.runs_table(sweep)
    if table.empty:
        raise analysis.AnalysisError(f"sweep {sweep.sweep_id} has no runs yet. Fix: run the sweep first")
    best, why = analysis.handed_over(sweep, table)
    if why:
        print(f"yolosweep: run {best.id}: {why}")
    metric = sweep.objective
    companion = companion_metric(metric.name)
    origin = SweepSource(
        sweep.sweep_id,
        best.id,
        best.summary.get(sweep.metric),
        len(best.history),
        best.summary.get(companion) if companion else None,
        metric,
    )
    return analysis.best_config(sweep, best), origin


def write_best_config(
    path: Path, sweep: analysis.SweepRuns, chosen: Run, why: str | None, best_value: float
) -> dict[str, Any]:
    """best_config.yaml: the chosen run's Ultralytics arguments under a header that load_best_config reads back."""
    config = analysis.best_config(sweep, chosen)
    companion = companion_metric(sweep.metric)
    beside = chosen.summary.get(companion) if companion else None
    header = (
        f"# best configuration of sweep {sweep.sweep_id}: run {chosen.id}, {sweep.metric} = "
        f"{float(chosen.summary.get(sweep.metric, best_value)):.4f} ({sweep.objective.goal})\n"
        + (f"# handed over: {why}\n" if why else "")
        + f"# that run: epochs_done={len(chosen.history)}"
        + (f" {companion}={beside:.4f}" if isinstance(beside, (int, float)) else "")
        + "\n"
        + _machine_line(sweep, chosen)
        + f"# retrain: {command('retrain')} --from {path}\n"
    )
    path.write_text(header + yaml.safe_dump(config, sort_keys=False))
    return config


def _machine_line(sweep: analysis.SweepRuns, run: Run) -> str:
    """The sweep machine's settings best_config.yaml leaves out, so the retrain's machine picks its own."""
    values = {**fixed_values(sweep.config), **run.params}
    kept = [f"{k}={values[k]}" for k in MACHINE_ARGS if k in values]
    return (
        (
            f"# not carried over, the sweep's machine had: {' '.join(kept)} (the retrain's machine picks its own; "
            "--device to choose)\n"
        )
        if kept
        else ""
    )
