"""From a sweep's runs to a decision: one runs table, ranking, parameter importance, savings.

Both backends are read into the same `SweepRuns` (W&B through `wandb.Api()`, local through the
store); every later step works on the pandas table built from it, so the two give the same
columns and the same answers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from yolosweep.invocation import create_hint
from yolosweep.objective import Objective, number, sweep_objective
from yolosweep.states import EndedBy, Origin, RunState
from yolosweep.store import Run, Store
from yolosweep.sweep.priors import NOISE_TAG
from yolosweep.sweep.priors import TAG as PRIOR_TAG

BASE_COLUMNS = [
    "run_id",
    "state",
    "reason",
    "epochs_done",
    "best_epoch",
    "objective",
    "origin",
    "ended_by",
    "train_val_gap",
]
# Arguments that name one run's output rather than how it trains.
_PER_RUN_ARGS = {"project", "name", "exist_ok", "resume", "mode", "save_dir"}
# What the sweep's machine could afford, not how the model trains: the retrain's machine decides these
# (Ultralytics' own defaults, or --device), so a 2-core retrain is not handed a GPU box's `workers: 8`.
MACHINE_ARGS = ("device", "workers")
# Below this many runs with a result, importance numbers are mostly noise.
MIN_RUNS_FOR_IMPORTANCE = 10


class AnalysisError(RuntimeError):
    pass


@dataclass
class SweepRuns:
    sweep_id: str
    config: dict[str, Any]
    runs: list[Run]
    source: str
    verified: dict[str, Any] | None = None  # the winner retrained with several seeds (--top K --seeds S), local sweeps

    @functools.cached_property  # read in per-row loops (the band check): built once per sweep
    def objective(self) -> Objective:
        found = sweep_objective(self.config)
        if found is None:
            raise AnalysisError(
                f"sweep {self.sweep_id} names no `metric`, so its runs cannot be ranked. "
                "Fix: pass the sweep's own table (runs.csv) to your tools, or give the next sweep a metric"
            )
        return found

    @property
    def metric(self) -> str:
        return self.objective.name

    @property
    def swept(self) -> list[str]:
        return [k for k, v in self.config["parameters"].items() if "value" not in v]

    @property
    def planned_epochs(self) -> int | None:
        epochs = self.config["parameters"].get("epochs", {}).get("value")
        return epochs if isinstance(epochs, int) else None


def from_store(store: Store, sweep_id: str, runs: list[Run] | None = None) -> SweepRuns:
    """A local sweep; `runs`: its runs already read from `store`, so a caller that needs both reads once."""
    config = store.sweep_config(sweep_id)
    records = store.runs(sweep_id) if runs is None else runs
    return SweepRuns(sweep_id, config, records, source=store.location, verified=store.verified(sweep_id))


def local_store_of(sweep: SweepRuns) -> Store | None:
    """The local store a sweep was read from, opened for writing (a retrain's verdict goes back there); None for a
    W&B sweep, or with a warning where the store cannot be written (an archive on a read-only share)."""
    from yolosweep.store import StoreError, is_postgres

    if not is_postgres(sweep.source) and not Path(sweep.source).is_file():
        return None
    try:
        return Store(sweep.source, create=False)
    except StoreError as err:
        print(f"yolosweep: WARNING: the verdict will not be kept in the store: {err}", flush=True)
        return None


# W&B's run states, in ours: a run the sweep stopped shows as `killed` there; one W&B moves again, as running.
_WANDB_STATES = {"killed": "stopped", "preempted": "crashed", "preempting": "running", "pending": "running"}


def wandb_record(run: Any, metric: str, history: Iterable[dict[str, Any]] | None = None) -> Run:
    """A wandb public-API Run as our Run; the trial's own `state` and `ended_by` in the summary win."""
    summary = {k: v for k, v in dict(run.summary).items() if not k.startswith("_")}
    state = summary.get("state") or _WANDB_STATES.get(run.state, run.state)
    if history is None:
        history = run.scan_history(keys=[metric, "epoch"])
    rows = [{k: v for k, v in row.items() if not k.startswith("_")} for row in history]
    params = {k: v for k, v in dict(run.config).items() if not k.startswith("_")}
    tags = getattr(run, "tags", None) or []
    origin = Origin.NOISE if NOISE_TAG in tags else Origin.PRIOR if PRIOR_TAG in tags else Origin.SEARCH
    known = {s.value for s in RunState}
    ended_by = str(summary.get("ended_by", ""))
    return Run(
        run.id,
        RunState(state) if state in known else RunState.CRASHED,  # a state W&B added since: not ours to call success
        str(summary.get("reason", "")),
        params,
        summary,
        rows,
        origin,
        EndedBy(ended_by) if ended_by in {e.value for e in EndedBy} else EndedBy.ERROR,
    )


def from_wandb(path: str) -> SweepRuns:
    """Read a W&B cloud sweep, `ENTITY/PROJECT/SWEEP_ID`, through the public API."""
    import wandb

    sweep = wandb.Api().sweep(path)
    found = SweepRuns(sweep.id, dict(sweep.config), [], source=path)
    found.runs = [wandb_record(run, found.metric) for run in sweep.runs]
    return found


def load(
    sweep_id: str | None, backend: str = "auto", entity: str | None = None, project: str | None = "yolosweep"
) -> SweepRuns:
    """A sweep by id from either backend. auto: the local store when it holds that id (or no id is
    given, or no W&B key is configured), else W&B. One rule for analyze_sweep.py and train_best_config.py."""
    from yolosweep.run.tracking import has_api_key
    from yolosweep.store import Store, StoreError, default_location, is_postgres

    if backend == "auto":
        location = default_location()
        local = Store.read_only(upgrade=True).sweep_ids() if is_postgres(location) or Path(location).exists() else []
        backend = "local" if sweep_id is None or sweep_id in local or not has_api_key() else "wandb"
    if backend == "wandb":
        if not has_api_key():
            raise StoreError("--backend wandb: no W&B API key is configured. Fix: `wandb login`, or use a local sweep")
        return from_wandb("/".join(p for p in (entity, project, sweep_id) if p))
    store = Store.read_only(upgrade=True)
    sweep_id = sweep_id or store.newest_sweep()
    if sweep_id is None:
        raise StoreError(f"{store.where}: no sweeps yet. Fix: {create_hint()}")
    return from_store(store, sweep_id)


def runs_table(sweep: SweepRuns) -> pd.DataFrame:
    """One row per run: id, state, epochs, the objective, every swept parameter, final metrics."""
    metric, rows = sweep.metric, []
    for run in sweep.runs:
        objective = run.summary.get(metric)
        row: dict[str, Any] = {
            "run_id": run.id,
            "state": str(run.state),  # the table holds text (CSV, pandas, messages), both backends alike
            "reason": run.reason,
            "epochs_done": len(run.history) if run.history else int(run.summary.get("epochs_done") or 0),
            "best_epoch": run.summary.get("best_epoch"),
            "objective": objective if isinstance(objective, (int, float)) else math.nan,
            "origin": str(run.origin),
            "ended_by": str(run.ended_by),
            "train_val_gap": run.summary.get("train_val_gap", math.nan),
        }
        row.update({name: run.params.get(name) for name in sweep.swept})
        row.update({k: v for k, v in run.summary.items() if k.startswith("metrics/") and k != metric})
        rows.append(row)
    metrics = sorted({k for row in rows for k in row} - set(BASE_COLUMNS) - set(sweep.swept))
    # Ties (several runs at the same objective) are broken by run id, so both backends rank alike.
    ranked = sweep.objective.ranked(rows, lambda row: number(row, "objective"), tie=lambda row: row["run_id"])
    return pd.DataFrame(ranked, columns=BASE_COLUMNS + sweep.swept + metrics)


def importance(table: pd.DataFrame, swept: list[str]) -> pd.DataFrame:
    """Per parameter: Pearson correlation with the objective and random-forest importance, as W&B shows them."""
    from sklearn.ensemble import RandomForestRegressor

    scored = table.dropna(subset=["objective"])
    features = pd.DataFrame({name: pd.to_numeric(scored[name], errors="coerce") for name in swept})
    usable = [name for name in swept if features[name].notna().all() and features[name].nunique() > 1]
    result = pd.DataFrame({"parameter": swept, "correlation": math.nan, "rf_importance": math.nan}).set_index(
        "parameter"
    )
    if len(scored) < 3 or not usable:
        return result.reset_index()
    y = scored["objective"].to_numpy(dtype=float)
    for name in usable:
        x = features[name].to_numpy(dtype=float)
        result.loc[name, "correlation"] = float(np.corrcoef(x, y)[0, 1]) if np.std(y) > 0 else math.nan
    forest = RandomForestRegressor(n_estimators=200, random_state=0).fit(features[usable].to_numpy(), y)
    result.loc[usable, "rf_importance"] = forest.feature_importances_
    return result.reset_index().sort_values("rf_importance", ascending=False, na_position="last").reset_index(drop=True)


def importance_warning(scored_runs: int) -> str | None:
    """The caveat every view of the importance carries (report, dashboard) while too few runs have a result."""
    if scored_runs >= MIN_RUNS_FOR_IMPORTANCE:
        return None
    return (
        f"only {scored_runs} runs have a result; importance needs about {MIN_RUNS_FOR_IMPORTANCE} or more to be trusted"
    )


def hyperband_savings(table: pd.DataFrame, planned_epochs: int | None) -> dict[str, Any] | None:
    """Epochs trained against epochs had every run gone to the end."""
    if not planned_epochs or table.empty:
        return None
    trained = int(table["epochs_done"].sum())
    full = planned_epochs * len(table)
    return {"epochs_trained": trained, "epochs_if_all_ran": full, "saved_fraction": 1 - trained / full if full else 0.0}


def best_run(sweep: SweepRuns, table: pd.DataFrame) -> Run:
    scored = table.dropna(subset=["objective"])
    if scored.empty:
        states = table["state"].value_counts().to_dict() if not table.empty else {}
        raise AnalysisError(
            f"sweep {sweep.sweep_id}: no run has a value of {sweep.metric} yet ({states or 'no runs'}). "
            "Fix: let runs finish at least one epoch, or check the failed runs' reasons"
        )
    best_id = scored.iloc[0]["run_id"]
    return next(run for run in sweep.runs if run.id == best_id)


def handed_over(sweep: SweepRuns, table: pd.DataFrame) -> tuple[Run, str | None]:
    """The run whose configuration best_config.yaml and train_best_config.py --sweep hand over, and why when it is
    not the sweep's best run: the winner verified by retraining with several seeds, once the sweep has one.

    A best mean of seeds hands over more than the single best run, partly the seed's luck (docs/benchmarks.md)."""
    best = best_run(sweep, table)
    verdict = sweep.verified or {}
    run = next((r for r in sweep.runs if r.id == verdict.get("run")), None)
    if run is None:
        return best, None
    why = f"the winner verified by retraining ({verdict['seeds']} seeds: mean {verdict['mean']:.4f})" + (
        f"; the sweep's best single run was {best.id}" if run.id != best.id else ""
    )
    return run, why


def best_config(sweep: SweepRuns, run: Run) -> dict[str, Any]:
    """The best run's full Ultralytics training configuration, fixed values included, machine settings not."""
    from yolosweep.sweep.train_args import fixed_values, ultralytics_defaults

    names = set(ultralytics_defaults()) - _PER_RUN_ARGS - set(MACHINE_ARGS)
    config = {k: v for k, v in fixed_values(sweep.config).items() if k in names}
    config.update({k: v for k, v in run.params.items() if k in names})
    return config
