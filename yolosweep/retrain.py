"""Retrain a sweep's best configuration for longer (and with other model sizes), then compare.

Uses the same training path as a sweep run (`trial.run`), so a retrain logs the same metrics
to W&B, tagged with the sweep and run it came from.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import analysis, trial
from .spec import DEFAULT_OBJECTIVE, ConfigError, Objective, companion_metric

RETRAIN_PROJECT = "runs/retrain"
_HEADER = re.compile(r"# best configuration of sweep (?P<sweep>\S+): run (?P<run>\S+), (?P<metric>\S+) = (?P<value>[\d.eE+-]+)"
                     r"(?: \((?P<goal>maximize|minimize)\))?")


@dataclass
class Origin:
    """The sweep run a configuration came from."""

    sweep_id: str
    run_id: str
    objective: float | None
    epochs: int | None
    companion: float | None  # the metric shown beside the objective (companion_metric)
    metric: Objective = DEFAULT_OBJECTIVE



def load_best_config(path: Path) -> tuple[dict[str, Any], Origin | None]:
    """best_config.yaml as written by analyze_sweep.py: Ultralytics arguments, origin in the header."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "file not found", "run analyze_sweep.py first, or pass --sweep SWEEP_ID") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(str(path), f"line {mark.line + 1}" if mark else "-", "not valid YAML",
                          "regenerate it with analyze_sweep.py") from None
    if not isinstance(config, dict) or "data" not in config:
        raise ConfigError(str(path), "data", "not a training configuration (no `data`)", "regenerate it with analyze_sweep.py")
    match = _HEADER.search(text)
    if not match:
        return config, None
    epochs = re.search(r"epochs_done=(\d+)", text)
    metric = Objective(match["metric"], match["goal"] or "maximize")  # files before goals were written: mAP50
    companion = companion_metric(metric.name)
    found = re.search(re.escape(companion) + r"=([\d.eE+-]+)", text) if companion else None
    origin = Origin(match["sweep"], match["run"], float(match["value"]), int(epochs[1]) if epochs else config.get("epochs"),
                    float(found[1]) if found else None, metric)
    return config, origin


def from_sweep(sweep: analysis.SweepRuns) -> tuple[dict[str, Any], Origin]:
    table = analysis.runs_table(sweep)
    if table.empty:
        raise analysis.AnalysisError(f"sweep {sweep.sweep_id} has no runs yet. Fix: run the sweep first")
    best = analysis.best_run(sweep, table)
    metric = Objective(sweep.metric, "maximize" if sweep.maximize else "minimize")
    companion = companion_metric(metric.name)
    origin = Origin(sweep.sweep_id, best.id, best.summary.get(sweep.metric), len(best.history),
                    best.summary.get(companion) if companion else None, metric)
    return analysis.best_config(sweep, best), origin


def _checkpoint(name: str) -> Path:
    return Path(RETRAIN_PROJECT).resolve() / name / "weights" / "last.pt"


def retrain(config: dict[str, Any], origin: Origin | None, models: list[str], name: str, overrides: dict[str, Any],
            resume: bool, baseline: float | None, log_model: bool = True) -> int:
    metric = origin.metric if origin else DEFAULT_OBJECTIVE
    companion = companion_metric(metric.name)
    rows: list[dict[str, Any]] = []
    if baseline is not None:
        rows.append({"what": "baseline", "run": "-", "model": "-", "epochs": "-", metric.name: baseline, "companion": None})
    if origin is not None:
        rows.append({"what": f"sweep {origin.sweep_id}", "run": origin.run_id, "model": config.get("model"),
                     "epochs": origin.epochs, metric.name: origin.objective, "companion": origin.companion})
    tags = ["retrain"] + ([f"sweep:{origin.sweep_id}", f"run:{origin.run_id}"] if origin else [])
    code = trial.EXIT_OK
    save_dirs = []
    for model in models:
        run_name = f"{name}-{Path(model).stem}"
        if resume:
            checkpoint = _checkpoint(run_name)
            if not checkpoint.exists():
                raise ConfigError("--resume", run_name, f"no checkpoint at {checkpoint}", "start it without --resume first")
            print(f"yolosweep: resuming {run_name} from {checkpoint}")
            params = {"model": str(checkpoint), "resume": True, "data": overrides.get("data", config["data"])}
            run_tags = tags + ["resumed"]
        else:
            params = {**config, **overrides, "model": model, "project": str(Path(RETRAIN_PROJECT).resolve()),
                      "name": run_name, "exist_ok": True}
            run_tags = tags
        print(f"yolosweep: retraining {run_name}: {params.get('epochs', '(from checkpoint)')} epochs")
        result = trial.run(params, log_model=log_model, job_type="retrain", tags=run_tags, objective=metric)
        if result.save_dir:
            save_dirs.append(result.save_dir)
        rows.append({"what": f"retrain ({result.state})", "run": result.run_id, "model": model,
                     "epochs": result.history[-1]["epoch"] if result.history else 0,
                     metric.name: result.summary.get(metric.name),
                     "companion": result.summary.get(companion) if companion else None})
        if result.exit_code != trial.EXIT_OK:
            print(f"yolosweep: {run_name} {result.state}: {result.reason}")
            code = result.exit_code
            if result.state == "stopped":
                break
    rows = [{(companion if k == "companion" else k): v for k, v in row.items() if k != "companion" or companion}
            for row in rows]
    _print_comparison(rows)
    for folder in save_dirs:
        _write_csv(rows, folder / "comparison.csv")
        print(f"wrote {folder / 'comparison.csv'}")
    return code


def top_k(sweep: analysis.SweepRuns, k: int, overrides: dict[str, Any], log_model: bool = True) -> int:
    """Retrain the sweep's best K runs (longer, as `overrides` say) and report whether their ranking held.

    Short runs can rank configurations differently from long ones (yolov5 PR #876: settings found
    at 30 of 300 epochs "did not correlate well"): this measures it on the user's own task.
    """
    from scipy.stats import spearmanr

    table = analysis.runs_table(sweep).dropna(subset=["objective"])
    if table.empty:
        raise analysis.AnalysisError(f"sweep {sweep.sweep_id}: no run has a value of {sweep.metric} yet. Fix: run the sweep first")
    metric = Objective(sweep.metric, "maximize" if sweep.maximize else "minimize")
    chosen = [next(r for r in sweep.runs if r.id == run_id) for run_id in table["run_id"].head(k)]
    rows, code = [], trial.EXIT_OK
    for rank, run in enumerate(chosen, start=1):
        params = {**analysis.best_config(sweep, run), **overrides, "project": str(Path(RETRAIN_PROJECT).resolve()),
                  "name": f"top{rank}-{run.id}", "exist_ok": True}
        print(f"yolosweep: retraining the sweep's number {rank}, run {run.id}: {params.get('epochs')} epochs")
        result = trial.run(params, log_model=log_model, job_type="retrain", objective=metric,
                           tags=["retrain", f"sweep:{sweep.sweep_id}", f"run:{run.id}", f"top:{rank}"])
        rows.append({"sweep_rank": rank, "run": run.id, "sweep_epochs": len(run.history),
                     f"sweep {metric.name}": run.summary.get(metric.name), "retrain_run": result.run_id,
                     "retrain_epochs": result.epochs_done, f"retrain {metric.name}": result.summary.get(metric.name)})
        if result.exit_code != trial.EXIT_OK:
            print(f"yolosweep: top{rank}-{run.id} {result.state}: {result.reason}")
            code = result.exit_code
            if result.state == "stopped":
                break
    sign = -1 if metric.maximize else 1
    values = [sign * (row[f"retrain {metric.name}"] if row[f"retrain {metric.name}"] is not None else -sign * float("inf"))
              for row in rows]
    for row, retrain_rank in zip(rows, [sorted(values).index(v) + 1 for v in values]):
        row["retrain_rank"] = retrain_rank
    _print_comparison(rows)
    if len(rows) > 1:
        rho = float(spearmanr([r["sweep_rank"] for r in rows], [r["retrain_rank"] for r in rows]).statistic)
        held = rows[0]["retrain_rank"] == 1
        print(f"\nranking {'held' if held else 'did not hold'}: the sweep's best is number {rows[0]['retrain_rank']} "
              f"after retraining; Spearman rank correlation {rho:+.2f} over {len(rows)} runs")
    out = Path(RETRAIN_PROJECT).resolve() / f"top{k}-{sweep.sweep_id}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out)
    print(f"wrote {out}")
    return code


def _print_comparison(rows: list[dict[str, Any]]) -> None:
    header = list(rows[0])
    cells = [header] + [[("-" if r[k] is None else f"{r[k]:.4f}" if isinstance(r[k], float) else str(r[k])) for k in header]
                        for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print()
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
