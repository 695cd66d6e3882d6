"""Retrain a sweep's best configuration for longer (and with other model sizes), then compare.

Uses the same training path as a sweep run (`trial.run`), so a retrain logs the same metrics
to W&B, tagged with the sweep and run it came from.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

from yolosweep.invocation import command
from yolosweep.objective import DEFAULT_OBJECTIVE, companion_metric, number
from yolosweep.results import analysis
from yolosweep.results.best_config import SweepSource
from yolosweep.results.verdict import Verified
from yolosweep.run import trial
from yolosweep.run.endings import EXIT_FAILED, EXIT_OK
from yolosweep.states import Origin
from yolosweep.store import Run
from yolosweep.sweep.errors import ConfigError

RETRAIN_PROJECT = "runs/retrain"


def _checkpoint(name: str) -> Path:
    return Path(RETRAIN_PROJECT).resolve() / name / "weights" / "last.pt"


def retrain(
    config: dict[str, Any],
    origin: SweepSource | None,
    models: list[str],
    name: str,
    overrides: dict[str, Any],
    resume: bool,
    baseline: float | None,
    log_model: bool = True,
) -> int:
    metric = origin.metric if origin else DEFAULT_OBJECTIVE
    companion = companion_metric(metric.name)
    rows: list[dict[str, Any]] = []
    if baseline is not None:
        rows.append(
            {"what": "baseline", "run": "-", "model": "-", "epochs": "-", metric.name: baseline, "companion": None}
        )
    if origin is not None:
        rows.append(
            {
                "what": f"sweep {origin.sweep_id}",
                "run": origin.run_id,
                "model": config.get("model"),
                "epochs": origin.epochs,
                metric.name: origin.objective,
                "companion": origin.companion,
            }
        )
    tags = ["retrain"] + ([f"sweep:{origin.sweep_id}", f"run:{origin.run_id}"] if origin else [])
    code = EXIT_OK
    save_dirs = []
    for model in models:
        run_name = f"{name}-{Path(model).stem}"
        if resume:
            checkpoint = _checkpoint(run_name)
            if not checkpoint.exists():
                raise ConfigError(
                    "--resume", run_name, f"no checkpoint at {checkpoint}", "start it without --resume first"
                )
            print(f"yolosweep: resuming {run_name} from {checkpoint}")
            params = {"model": str(checkpoint), "resume": True, "data": overrides.get("data", config["data"])}
            run_tags = tags + ["resumed"]
        else:
            params = {
                **config,
                **overrides,
                "model": model,
                "project": str(Path(RETRAIN_PROJECT).resolve()),
                "name": run_name,
                "exist_ok": True,
            }
            run_tags = tags
        print(f"yolosweep: retraining {run_name}: {params.get('epochs', '(from checkpoint)')} epochs")
        result = trial.run(params, log_model=log_model, job_type="retrain", tags=run_tags, objective=metric)
        if result.save_dir:
            save_dirs.append(result.save_dir)
        rows.append(
            {
                "what": f"retrain ({result.state})",
                "run": result.run_id,
                "model": model,
                "epochs": result.history[-1]["epoch"] if result.history else 0,
                metric.name: result.summary.get(metric.name),
                "companion": result.summary.get(companion) if companion else None,
            }
        )
        if result.exit_code != EXIT_OK:
            print(f"yolosweep: {run_name} {result.state}: {result.reason}")
            code = result.exit_code
            if result.state == "stopped":
                break
    rows = [
        {(str(companion) if k == "companion" else k): v for k, v in row.items() if k != "companion" or companion}
        for row in rows
    ]
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
        raise analysis.AnalysisError(
            f"sweep {sweep.sweep_id}: no run has a value of {sweep.metric} yet. Fix: run the sweep first"
        )
    metric = sweep.objective
    chosen = [next(r for r in sweep.runs if r.id == run_id) for run_id in table["run_id"].head(k)]
    rows: list[dict[str, Any]] = []
    code = EXIT_OK
    for rank, run in enumerate(chosen, start=1):
        said = f"retraining the sweep's number {rank}, run {run.id}"
        result = _retrain_run(sweep, run, overrides, f"top{rank}-{run.id}", [f"top:{rank}"], log_model, said)
        rows.append(
            {
                "sweep_rank": rank,
                "run": run.id,
                "sweep_epochs": len(run.history),
                f"sweep {metric.name}": run.summary.get(metric.name),
                "retrain_run": result.run_id,
                "retrain_epochs": result.epochs_done,
                f"retrain {metric.name}": result.summary.get(metric.name),
            }
        )
        if result.exit_code != EXIT_OK:
            print(f"yolosweep: top{rank}-{run.id} {result.state}: {result.reason}")
            code = result.exit_code
            if result.state == "stopped":
                break
    scored = [row for row in rows if number(row, f"retrain {metric.name}") is not None]
    by_retrain = metric.ranked(scored, lambda row: number(row, f"retrain {metric.name}"), tie=lambda row: 0)
    for row in rows:  # a retrain without a result has no rank
        row["retrain_rank"] = by_retrain.index(row) + 1 if row in scored else None
    _print_comparison(rows)
    if len(rows) > 1 and len(scored) < len(rows):
        print(f"\nranking not judged: {len(rows) - len(scored)} of {len(rows)} retrains ended without {metric.name}")
    elif len(rows) > 1:
        rho = float(spearmanr([r["sweep_rank"] for r in rows], [r["retrain_rank"] for r in rows]).statistic)
        held = rows[0]["retrain_rank"] == 1
        print(
            f"\nranking {'held' if held else 'did not hold'}: the sweep's best is number {rows[0]['retrain_rank']} "
            f"after retraining; Spearman rank correlation {rho:+.2f} over {len(rows)} runs"
        )
    out = Path(RETRAIN_PROJECT).resolve() / f"top{k}-{sweep.sweep_id}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out)
    print(f"wrote {out}")
    return code


RETRAIN_SEED = (
    1000  # --seeds S retrains with seeds 1000..1000+S-1: none is the sweep's own (0) or a noise repeat's (1, 2)
)


def top_k_seeded(
    sweep: analysis.SweepRuns, k: int, seeds: int, overrides: dict[str, Any], log_model: bool = True, store: Any = None
) -> int:
    """Retrain the sweep's best K configurations and its defaults S times each with fresh seeds; hand over the
    best by mean, with its spread, its gain over the defaults retrained the same way (Welch's t, one-sided) and
    whether the sweep's ranking held. The sweep's single best run is partly the seed's luck; a mean of S is less.
    `store`: the local store, where the verdict is kept for `status` and the dashboard."""
    from scipy.stats import spearmanr, ttest_ind

    table = analysis.runs_table(sweep).dropna(subset=["objective"])
    if table.empty:
        raise analysis.AnalysisError(
            f"sweep {sweep.sweep_id}: no run has a value of {sweep.metric} yet. Fix: run the sweep first"
        )
    metric = sweep.objective
    by_id = {r.id: r for r in sweep.runs}
    reference = next((r for r in sweep.runs if r.origin is Origin.PRIOR), None)  # the defaults, the sweep's first prior
    chosen: list[Run] = []
    for run_id in table["run_id"]:  # distinct configurations other than the defaults (whose seed repeats are them)
        run = by_id[run_id]
        others = chosen + ([reference] if reference is not None else [])
        if run.origin is not Origin.NOISE and all(_swept(sweep, run) != _swept(sweep, c) for c in others):
            chosen.append(run)
        if len(chosen) == k:
            break
    entries = [(f"top{rank}", run) for rank, run in enumerate(chosen, start=1)]
    entries += [("defaults", reference)] if reference is not None else []
    results: dict[str, list[float]] = {}
    for label, run in entries:
        values = results.setdefault(label, [])
        for seed in range(RETRAIN_SEED, RETRAIN_SEED + seeds):
            said = f"retraining {label} (run {run.id}) with seed {seed}"
            name, tags = f"{label}-{run.id}-s{seed}", [label, f"seed:{seed}"]
            result = _retrain_run(sweep, run, {**overrides, "seed": seed}, name, tags, log_model, said)
            value = result.summary.get(metric.name)
            if result.exit_code != EXIT_OK or not isinstance(value, (int, float)):
                print(f"yolosweep: {label}-{run.id}-s{seed} {result.state}: {result.reason}")
                return result.exit_code or EXIT_FAILED
            values.append(float(value))
    rows: list[dict[str, Any]] = [
        {
            "what": label,
            "run": run.id,
            f"sweep {metric.name}": run.summary.get(metric.name),
            "mean": statistics.fmean(results[label]),
            "std": statistics.stdev(results[label]) if seeds > 1 else None,
            "seeds": seeds,
            "values": " ".join(f"{v:.4f}" for v in results[label]),
        }
        for label, run in entries
    ]
    ranked = metric.ranked(rows, lambda r: r["mean"], tie=lambda r: 0)  # the defaults too: they may stay the best
    for position, row in enumerate(ranked, start=1):
        row["retrain_rank"] = position
    _print_comparison(rows)
    winner = ranked[0]
    defaults = next((r for r in rows if r["what"] == "defaults"), None)
    versus = defaults is not None and bool(defaults["mean"]) and winner is not defaults
    p = None
    if versus and seeds > 1:  # one-sided Welch's t on values turned so that larger is better
        p = float(
            ttest_ind(
                [metric.sign * v for v in results[winner["what"]]],
                [metric.sign * v for v in results["defaults"]],
                equal_var=False,
                alternative="greater",
            ).pvalue
        )
    verdict = Verified(
        run=winner["run"],
        metric=metric.name,
        mean=winner["mean"],
        std=winner["std"],
        seeds=seeds,
        sweep_best=table["run_id"].iloc[0],
        defaults=winner["what"] == "defaults",
        epochs=overrides.get("epochs"),
        gain_pct=metric.gain_pct(winner["mean"], defaults["mean"]) if versus and defaults else None,
        defaults_mean=defaults["mean"] if versus and defaults else None,
        p=p,
    )
    print("\n" + verdict.line())
    tops = [r for r in ranked if r["what"] != "defaults"]
    if len(tops) > 1:
        rho = float(spearmanr([int(r["what"][3:]) for r in tops], [r["retrain_rank"] for r in tops]).statistic)
        held = tops[0]["what"] == "top1"
        print(
            f"ranking {'held' if held else 'did not hold'}: the sweep's best is number "
            f"{next(r['retrain_rank'] for r in ranked if r['what'] == 'top1')} by the mean of {seeds} seeds; "
            f"Spearman rank correlation {rho:+.2f} over {len(tops)} configurations"
        )
    if store is not None:
        store.record_verified(sweep.sweep_id, verdict.as_dict())
        print(f"kept in {store.where}: `{command('status')} {sweep.sweep_id}` and the dashboard show it")
    out = Path(RETRAIN_PROJECT).resolve() / f"top{k}x{seeds}-{sweep.sweep_id}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out)
    print(f"wrote {out}")
    return EXIT_OK


def _retrain_run(
    sweep: analysis.SweepRuns,
    run: Run,
    overrides: dict[str, Any],
    name: str,
    tags: list[str],
    log_model: bool,
    said: str,
) -> trial.TrialResult:
    """One retraining of a sweep run's configuration (with `overrides` on top) under runs/retrain/NAME."""
    params = {
        **analysis.best_config(sweep, run),
        **overrides,
        "project": str(Path(RETRAIN_PROJECT).resolve()),
        "name": name,
        "exist_ok": True,
    }
    print(f"yolosweep: {said}: {params.get('epochs')} epochs")
    return trial.run(
        params,
        log_model=log_model,
        job_type="retrain",
        objective=sweep.objective,
        tags=["retrain", f"sweep:{sweep.sweep_id}", f"run:{run.id}", *tags],
    )


def _swept(sweep: analysis.SweepRuns, run: Run) -> dict[str, Any]:
    return {k: run.params.get(k) for k in sweep.swept}


def _print_comparison(rows: list[dict[str, Any]]) -> None:
    header = list(rows[0])
    cells = [header] + [
        [("-" if r[k] is None else f"{r[k]:.4f}" if isinstance(r[k], float) else str(r[k])) for k in header]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print()
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
