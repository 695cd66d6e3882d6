"""analyze_sweep.py's answer: the printed ranking, importance and verdict, and the files it writes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from yolosweep.results.status import cell, reduced_batch_lines
from yolosweep.results.verdict import judge_best, verdict_lines
from yolosweep.states import Origin
from yolosweep.store import masked
from yolosweep.sweep.task import dead_parameters

if TYPE_CHECKING:
    import pandas as pd

    from yolosweep.results.analysis import SweepRuns


def _markdown_table(frame: pd.DataFrame) -> str:
    cells = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return "\n".join([header, rule, *("| " + " | ".join(row) + " |" for row in cells)])


def _early_priors_gap_disk(table: pd.DataFrame, sweep: SweepRuns, top: int) -> list[str]:
    """The lines on runs that ended early, prior configurations, overfitting and disk use; none when n/a."""
    lines = []
    early = table[table["ended_by"] != ""]
    if not early.empty:
        causes = early.groupby("ended_by")["run_id"].apply(list).to_dict()
        lines.append(
            "ended early: " + "; ".join(f"{cause}: {len(ids)} ({', '.join(ids)})" for cause, ids in causes.items())
        )
    for rank, row in table[table["origin"] == Origin.PRIOR.value].iterrows():
        lines.append(f"prior {row['run_id']}: rank {rank + 1} of {len(table)}, objective {cell(row['objective'])}")
    gaps = table.head(top).dropna(subset=["train_val_gap"])
    if not gaps.empty:
        lines.append(
            f"train-val gap of the top runs ({sweep.metric} on train images minus on val; large = overfitting): "
            + ", ".join(f"{r.run_id} {r.train_val_gap:+.3f}" for r in gaps.itertuples())
        )
    pruned = [run for run in sweep.runs if run.summary.get("pruned_runs")]
    if pruned:
        removed = sorted({rid for run in pruned for rid in run.summary["pruned_runs"]})
        freed = sum(run.summary.get("freed_mb") or 0 for run in pruned)
        lines.append(f"disk: keep_top_k removed the weights of {len(removed)} run(s), {freed:.1f} MB freed")
    return lines


def _importance_lines(imp: pd.DataFrame, table: pd.DataFrame, swept: list[str]) -> list[str]:
    """The importance table, or one line on why there is none (a table of NaN says nothing)."""
    if imp["rf_importance"].notna().any():
        return [
            "parameter importance (correlation with the objective, random-forest importance):",
            imp.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
        ]
    scored = table.dropna(subset=["objective"])
    if len(scored) >= 3 and all(scored[name].astype(str).nunique() <= 1 for name in swept if name in scored):
        return [
            f"parameter importance: none, the {len(scored)} runs with a result share one configuration "
            "(no swept parameter differs between them)"
        ]
    return [f"parameter importance: none yet, {len(scored)} run(s) with a result (it needs 3 that differ)"]


def _median_run_s(sweep: SweepRuns) -> float | None:
    """A run's wall time at this sweep's length, from the summaries of runs that trained every epoch."""
    import statistics

    times = [
        r.summary["wall_time_s"]
        for r in sweep.runs
        if isinstance(r.summary.get("wall_time_s"), (int, float)) and r.state == "finished"
    ]
    return statistics.median(times) if times else None


def analyze(
    sweep: SweepRuns, out_dir: Path, baseline: float | None, top: int, levels: tuple[float, float, float]
) -> int:
    """Print the ranking, importance and verdict; write runs.csv, best_config.yaml, plots, report.md."""
    import yaml

    from yolosweep.results import analysis, plots
    from yolosweep.results.band_check import band_advice, band_fits
    from yolosweep.results.best_config import write_best_config

    table = analysis.runs_table(sweep)
    if table.empty:
        raise analysis.AnalysisError(f"sweep {sweep.sweep_id} has no runs yet. Fix: start an agent first")
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "runs.csv", index=False)
    chosen, why = analysis.handed_over(sweep, table)  # raises when no run has the metric
    best_value = float(table.iloc[0]["objective"])

    shown = table.head(top).copy()
    if baseline is not None:  # a gain is an increase when maximizing, a decrease when minimizing
        objective = sweep.objective
        shown.insert(6, "vs_baseline", shown["objective"].map(lambda v: objective.improvement(v, baseline)))
        shown.insert(7, "vs_baseline_%", shown["objective"].map(lambda v: objective.gain_pct(v, baseline)))
    imp = analysis.importance(table, sweep.swept)
    dead = dead_parameters(sweep.config)
    if dead:  # their "importance" can only be noise: say so beside the number
        imp["note"] = [
            f"no effect: {dead[name].split('. Fix:')[0]}" if name in dead else "" for name in imp["parameter"]
        ]
    key_params = list(imp["parameter"].head(5))
    ranking = shown[
        [
            "run_id",
            "state",
            "epochs_done",
            "objective",
            *(["vs_baseline", "vs_baseline_%"] if baseline is not None else []),
            *key_params,
        ]
    ]
    states = table["state"].value_counts().to_dict()
    scored_runs = int(table["objective"].notna().sum())
    lines = [
        f"sweep {sweep.sweep_id} ({sweep.config.get('method')}) from {masked(sweep.source)}: {len(table)} runs, "
        + ", ".join(f"{n} {s}" for s, n in sorted(states.items())),
        "",
        f"top {min(top, len(table))} by {sweep.metric}:",
        ranking.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
    ]
    judged = judge_best(sweep.runs, sweep.objective, best_value, baseline)
    if judged is not None:  # against --baseline, else the defaults the sweep ran first (their seeds' mean)
        verdict, named = judged
        lines += [""]
        lines += verdict_lines(
            verdict,
            named,
            sweep.sweep_id,
            _median_run_s(sweep),
            sweep.config["parameters"].get("epochs", {}).get("value"),
            levels,
        )
    lines += ["", *_importance_lines(imp, table, sweep.swept)]
    lines += [f"WARNING: {line}" for line in reduced_batch_lines(sweep.runs)]
    caveat = analysis.importance_warning(scored_runs)
    if caveat:
        lines.append(f"WARNING: {caveat}")
    savings = analysis.hyperband_savings(table, sweep.planned_epochs) if band_fits(sweep) else None
    if savings:
        lines.append(
            f"\nHyperband: {savings['epochs_trained']} epochs trained of {savings['epochs_if_all_ran']} "
            f"had every run gone to the end ({savings['saved_fraction']:.0%} saved)"
        )
    lines += band_advice(sweep)
    lines += _early_priors_gap_disk(table, sweep, top)
    failed = table[table["state"].isin(["failed", "crashed"])]
    for _, row in failed.iterrows():
        lines.append(f"  {row['run_id']} {row['state']}: {row['reason']}")

    config = write_best_config(out_dir / "best_config.yaml", sweep, chosen, why, best_value)
    pictures = {
        "parallel coordinates": plots.parallel_coordinates(table, sweep, out_dir / "parallel_coordinates.png"),
        "parameter importance": plots.importance_bars(imp, sweep, out_dir / "importance.png"),
        "objective against each parameter": plots.objective_vs_parameters(
            table, sweep, out_dir / "objective_vs_params.png"
        ),
        "learning curves": plots.learning_curves(table, sweep, out_dir / "learning_curves.png", top=top),
    }
    lines += [
        "",
        f"wrote {out_dir}: runs.csv, best_config.yaml (run {chosen.id}{': ' + why if why else ''}), report.md, "
        + ", ".join(p.name for p in pictures.values()),
    ]
    text = "\n".join(lines)
    print(text)
    report = [
        f"# Sweep {sweep.sweep_id}",
        "",
        "```",
        "\n".join(lines[:-1]),
        "```",
        "",
        "## Top runs",
        "",
        _markdown_table(ranking),
        "",
    ]
    for title, picture in pictures.items():
        report += [f"## {title.capitalize()}", "", f"![{title}]({picture.name})", ""]
    report += ["## Best configuration", "", "```yaml", yaml.safe_dump(config, sort_keys=False), "```"]
    (out_dir / "report.md").write_text("\n".join(report))
    return 0
