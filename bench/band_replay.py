"""Does a Hyperband band pay on the recorded learning curves themselves (#39)? No surrogate: W&B's own Hyperband
(sweeps.hyperband_stopping) replayed over real curves in random orders, against the same orders without a band.

    python bench/band_replay.py --regime finetune_long --bands 30,45,60,50/2   # -> bench/results/band_replay_<regime>.*

Each repetition draws a random order of the recorded configurations (seed 0 each; the defaults' seeds aside) and
runs them one after another, as one agent of a random search would, with a budget of R full runs' epochs. Without
a band it trains the first R configurations to the end; with one, the engine stops runs at the band (asked on the
epoch a run passes it, where its decision falls) and the epochs it saves go to the next configurations of the same
order. Either hands over the run with the best value seen (the summary `analyze` ranks by); the score is that
configuration's recorded result (its best epoch had it trained to the end), so a run stopped while it led is scored
by where it would have ended. Paired: the same order with and without the band.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import curve_forecast  # noqa: E402
import value_data  # noqa: E402

from yolosweep.results.band_check import MIN_RUNS_FOR_BAND_CHECK, PREDICTIVE_BAND_RHO  # noqa: E402
from yolosweep.sweep.band import hyperband_bands  # noqa: E402

# the shipped eta (each band keeps the top 1/eta); --bands 50/2 replays another
ETA = yaml.safe_load((BENCH.parent / "sweep_config.yaml").read_text())["early_terminate"]["eta"]


def _stop(band: int, history: list[float], ended: list[list[float]], eta: int = ETA) -> bool:
    """W&B's Hyperband decision for the one running run on the epoch it passes `band` (one band: the only one
    a run reaches when min_iter x eta passes its last epoch; later bands are judged the same way)."""
    import sweeps
    from sweeps.hyperband_stopping import hyperband_stop_runs

    metric = value_data.METRIC
    runs = [
        sweeps.SweepRun(name=str(i), state="finished", sampledHistory=[{metric: v} for v in values])
        for i, values in enumerate(ended)
    ] + [sweeps.SweepRun(name="now", state="running", sampledHistory=[{metric: v} for v in history])]
    config = {
        "method": "random",
        "metric": {"name": metric, "goal": "maximize"},
        "early_terminate": {"type": "hyperband", "min_iter": band, "eta": eta},
        "parameters": {"x": {"value": 1}},
    }
    return any(run.name == "now" for run in hyperband_stop_runs(runs, config))


def placed_band(complete: list[list[float]], epochs: int) -> int | None:
    """The band a sweep would set from its own complete runs (the adaptive candidate), by the analysis' own band-check
    rule: the first history index, up to half the run, where the best value so far ranks those runs' results with
    Spearman >= PREDICTIVE_BAND_RHO; None before MIN_RUNS_FOR_BAND_CHECK of them, or where no index that early does."""
    from scipy.stats import spearmanr

    if len(complete) < MIN_RUNS_FOR_BAND_CHECK:
        return None
    results = [max(c) for c in complete]
    for index in range(1, epochs // 2):
        rho = spearmanr([max(c[: index + 1]) for c in complete], results).statistic
        if np.isfinite(rho) and rho >= PREDICTIVE_BAND_RHO:
            return index
    return None


def spread_by_epoch(recorded: dict[tuple[str, int], list[dict[str, Any]]], epochs: int) -> dict[int, dict[str, float]]:
    """Luck against signal at each epoch: the standard deviation of the best value so far (what Hyperband compares)
    across the defaults' seeds and across the sampled configurations. A band ranks runs by their seed where the
    first is as large as the second."""
    best = {
        kind: np.maximum.accumulate(value_data.metric_curves(recorded, defaults=kind == "seeds", epochs=epochs), axis=1)
        for kind in ("seeds", "configs")
    }
    return {
        epoch: {kind: float(values[:, epoch - 1].std(ddof=1)) for kind, values in best.items()}
        for epoch in range(1, epochs + 1)
    }


def replay(
    curves: list[list[float]],
    order: list[int],
    budget: int,
    band: int | str | None,
    forecasts: np.ndarray | None = None,
    eta: int = ETA,
) -> tuple[float, int, int]:
    """One search over `order` within `budget` epochs: (the handed-over configuration's result, runs started,
    runs stopped by the band). band: a min_iter, None for no band, "adaptive" (placed_band, placed anew before
    each run from the complete runs so far) or "forecast" (curve_forecast.stops at every epoch; `forecasts`:
    curve_forecast.forecast_table(curves), computed here when not given)."""
    epochs = len(curves[0])
    ended: list[list[float]] = []
    complete: list[int] = []
    table, results = None, np.array([])
    if band == "forecast":
        table = curve_forecast.forecast_table(curves) if forecasts is None else forecasts
        results = np.array([max(c) for c in curves])
    spent, best_seen, handed, stopped = 0, -1.0, 0.0, 0
    for started, index in enumerate(order, start=1):
        if band == "adaptive":
            placed = placed_band([h for h in ended if len(h) == epochs], epochs)
        else:
            placed = band if isinstance(band, int) else None
        bands = hyperband_bands({"min_iter": placed, "eta": eta}) if placed else []
        judged = {b + 1 for b in bands if b + 1 < epochs}
        curve, history = curves[index], []
        for epoch, value in enumerate(curve, start=1):
            history.append(value)
            spent += 1
            if max(history) > best_seen:
                best_seen, handed = max(history), max(curve)
            if spent == budget:
                return handed, started, stopped
            forecast_stop = (
                table is not None and epoch < epochs and curve_forecast.stops(table, results, index, epoch, complete)
            )
            if forecast_stop or (epoch in judged and _stop(int(placed or 0), history, ended, eta)):
                stopped += 1
                break
        ended.append(history)
        complete += [index] if len(history) == epochs else []
    return handed, len(order), stopped


def main() -> int:
    from harness import write_results
    from scipy.stats import wilcoxon

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regime", choices=("scratch", "finetune", "finetune_long"), default="finetune_long")
    parser.add_argument(
        "--bands",
        default="30,50,adaptive",
        help="min_iter values to replay, comma-separated, each with /ETA for an eta other than the shipped one "
        "(50/2); adaptive: placed from the sweep's own complete runs; forecast: bench/curve_forecast.py's stop "
        "rule instead of a band",
    )
    parser.add_argument("--runs", type=int, default=20, help="the budget in full runs (at most half the configs)")
    parser.add_argument("--reps", type=int, default=1000)
    options = parser.parse_args()
    value_data.use_regime(options.regime)
    recorded = value_data.load_curves()
    epochs = value_data.TASK["epochs"]
    curves = value_data.metric_curves(recorded)
    runs = min(options.runs, len(curves) // 2)
    summary = value_data.summary(recorded)
    defaults, best = summary["defaults_mean"], max(max(c) for c in curves)
    rng = np.random.default_rng(0)
    orders = [list(rng.permutation(len(curves))) for _ in range(options.reps)]
    budget = runs * epochs
    base = [replay(curves, order, budget, None)[0] for order in orders]
    payload: dict[str, Any] = {
        "regime": options.regime,
        "epochs": epochs,
        "configs": len(curves),
        "runs_budget": runs,
        "reps": options.reps,
        "defaults_mean": defaults,
        "best_config": best,
        "ranking_by_epoch": summary.get("spearman_epoch_with_result"),
        "no_band": {"share_median": float(np.median([(q - defaults) / (best - defaults) for q in base]))},
        "bands": {},
    }
    lines = [
        f"# Hyperband replayed on the recorded curves, {options.regime} ({epochs} epochs a run)",
        "",
        f"{len(curves)} configurations, {options.reps} random orders, a budget of {runs} full runs "
        f"({budget} epochs); a band's saved epochs go to more configurations. Share: the handed-over "
        "configuration's recorded result, 0 = the defaults' mean, 1 = the best recorded configuration. "
        "Worse/better: repetitions where the band handed over a worse/better configuration than the same order "
        "without it; p: two-sided Wilcoxon, paired.",
        "",
        "| min_iter (band at epoch) | Spearman there | share, median [q1-q3] | runs started | stopped | "
        "worse / better / same | mean difference (mAP50) | p |",
        "|---|---|---|---|---|---|---|---|",
        f"| none | - | {payload['no_band']['share_median']:.2f} | {runs} | 0 | - | - | - |",
    ]
    specs = options.bands.split(",")
    table = curve_forecast.forecast_table(curves) if "forecast" in specs else None
    for spec in specs:
        name, _, eta_given = spec.partition("/")
        band: int | str = name if name in ("adaptive", "forecast") else int(name)
        eta = int(eta_given or ETA)
        found = [replay(curves, order, budget, band, table, eta) for order in orders]
        handed = np.array([q for q, _, _ in found])
        shares = (handed - defaults) / (best - defaults)
        difference = handed - np.array(base)
        q1, median, q3 = np.percentile(shares, [25, 50, 75])
        p = float(wilcoxon(difference).pvalue) if difference.any() else 1.0
        rho = None if isinstance(band, str) else (summary.get("spearman_epoch_with_result") or {}).get(band + 1)
        entry = {
            "share_median": float(median),
            "share_q1": float(q1),
            "share_q3": float(q3),
            "runs_started_median": float(np.median([r for _, r, _ in found])),
            "stopped_median": float(np.median([s for _, _, s in found])),
            "worse": int((difference < 0).sum()),
            "better": int((difference > 0).sum()),
            "mean_difference": float(difference.mean()),
            "p": p,
            "spearman_at_band": rho,
            "eta": eta,
        }
        payload["bands"][spec] = entry
        label = band if isinstance(band, str) else f"{band} ({band + 1})" + (f", eta {eta}" if eta != ETA else "")
        lines.append(
            f"| {label} | {'-' if rho is None else f'{rho:.2f}'} | {median:.2f} [{q1:.2f}-{q3:.2f}] | "
            f"{entry['runs_started_median']:.0f} | {entry['stopped_median']:.0f} | "
            f"{entry['worse']} / {entry['better']} / {options.reps - entry['worse'] - entry['better']} | "
            f"{entry['mean_difference']:+.4f} | {p:.2g} |"
        )
        print(lines[-1], flush=True)
    spread = spread_by_epoch(recorded, epochs)
    payload["spread_by_epoch"] = spread
    judged = sorted({int(spec.partition("/")[0]) + 1 for spec in specs if spec[0].isdigit()} | {epochs})
    lines += [
        "",
        f"Luck against signal where the bands judge: the standard deviation of the best value so far across the "
        f"defaults' {summary['defaults_seeds']} seeds and across the {len(curves)} configurations.",
        "",
        "| epoch | " + " | ".join(str(epoch) for epoch in judged) + " |",
        "|---|" + "---|" * len(judged),
        "| seeds | " + " | ".join(f"{spread[epoch]['seeds']:.3f}" for epoch in judged) + " |",
        "| configurations | " + " | ".join(f"{spread[epoch]['configs']:.3f}" for epoch in judged) + " |",
    ]
    write_results(f"band_replay_{options.regime}", payload, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
