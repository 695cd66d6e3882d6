"""A learning-curve forecast deciding the stop (#39, item 2's LC-PFN candidate), on the recorded curves.

LC-PFN (`lcpfn` on PyPI) downloads its trained weights at first use from ml.informatik.uni-freiburg.de, which
this machine cannot reach (only the package registries), and training one is beyond its two cores. Its forecast
is Bayesian inference over a prior built from parametric curve families (Domhan et al. 2015: pow3, ilog2,
Janoschek); the forecast here fits those same families to a run's best value so far by least squares and takes
their median at the run's last epoch: the point that prior centres on, without the posterior's spread. The spread
comes instead from the sweep's own complete runs (what the forecast missed on them), as the stop rule uses it.

    python bench/curve_forecast.py --regime finetune_long   # forecast vs raw value: ranking and error by epoch
    python bench/band_replay.py --regime finetune_long --bands 50,forecast   # the stop rule, replayed

The stop rule (LC-PFN's: stop when the run is unlikely to beat the best so far): once MIN_RUNS_FOR_BAND_CHECK
runs are complete, a running run stops at any epoch where its forecast plus the 95th percentile of the complete
runs' forecast errors at that epoch (an optimistic forecast) stays below the best complete result.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import value_data  # noqa: E402

FIRST_EPOCH = 3  # the first epoch two families can be fitted at (ilog2: 2 parameters, pow3: 3)
OPTIMISM = 0.95  # the quantile of the complete runs' forecast errors added before comparing (LC-PFN's 5%)


def _pow3(t: np.ndarray, c: float, a: float, alpha: float) -> np.ndarray:
    return c - a * t ** (-alpha)


def _ilog2(t: np.ndarray, c: float, a: float) -> np.ndarray:
    return c - a / np.log(t + 1)


def _janoschek(t: np.ndarray, a: float, b: float, k: float, d: float) -> np.ndarray:
    return a - (a - b) * np.exp(-k * t**d)


def forecast(prefix: Sequence[float], epochs: int) -> float:
    """The metric a run ends with, from its first len(prefix) epochs: the median of the three families fitted to
    the best value so far, evaluated at `epochs`, never below what the run already reached nor above 1."""
    from scipy.optimize import curve_fit

    best = np.maximum.accumulate(np.asarray(prefix, dtype=float))
    if len(best) < FIRST_EPOCH:
        return float(best[-1])
    t = np.arange(1, len(best) + 1, dtype=float)
    found = []
    for family, start in (
        (_pow3, (best[-1], best[-1], 0.5)),
        (_ilog2, (best[-1], 0.1)),
        (_janoschek, (best[-1], 0.0, 0.1, 1.0)),
    ):
        if len(best) < len(start):  # more parameters than points: no fit
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # overflow while the fit searches; a failed fit is skipped
                params, _ = curve_fit(family, t, best, p0=start, maxfev=2000)
                value = float(family(np.array(float(epochs)), *params))
        except RuntimeError:  # no convergence within maxfev
            continue
        if np.isfinite(value):
            found.append(min(max(value, best[-1]), 1.0))
    return float(np.median(found)) if found else float(best[-1])


def forecast_table(curves: Sequence[Sequence[float]]) -> np.ndarray:
    """table[i, k - 1]: curve i's forecast from its first k epochs (the forecast depends only on the prefix, so a
    replay of 1,000 orders reads it instead of fitting again)."""
    epochs = len(curves[0])
    return np.array([[forecast(curve[:k], epochs) for k in range(1, epochs + 1)] for curve in curves])


def stops(table: np.ndarray, results: np.ndarray, running: int, epoch: int, complete: Sequence[int]) -> bool:
    """The stop rule at `epoch` for curve `running`, given the indices of the complete runs so far."""
    from yolosweep.results.band_check import MIN_RUNS_FOR_BAND_CHECK

    if len(complete) < MIN_RUNS_FOR_BAND_CHECK or epoch < FIRST_EPOCH:
        return False
    done = list(complete)
    errors = results[done] - table[done, epoch - 1]
    return bool(table[running, epoch - 1] + np.quantile(errors, OPTIMISM) < results[done].max())


def main() -> int:
    from harness import write_results
    from scipy.stats import spearmanr

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regime", choices=("scratch", "finetune", "finetune_long"), default="finetune_long")
    options = parser.parse_args()
    value_data.use_regime(options.regime)
    epochs = value_data.TASK["epochs"]
    curves = value_data.metric_curves(value_data.load_curves())
    table = forecast_table(curves)
    results = np.array([max(c) for c in curves])
    raw = np.maximum.accumulate(np.array(curves), axis=1)
    payload: dict[str, Any] = {"regime": options.regime, "epochs": epochs, "configs": len(curves), "by_epoch": {}}
    lines = [
        f"# A learning-curve forecast against the raw value, {options.regime} ({epochs} epochs a run)",
        "",
        f"{len(curves)} configurations. Forecast: pow3, ilog2 and Janoschek (LC-PFN's prior families) fitted to the "
        "best value so far, their median at the last epoch. Spearman: with the run's result (its best epoch); "
        "raw: the best value so far, what W&B's Hyperband compares. Error: the forecast's mean absolute error.",
        "",
        "| epoch | Spearman, raw | Spearman, forecast | forecast error (mAP50) | raw error |",
        "|---|---|---|---|---|",
    ]
    for epoch in sorted({max(FIRST_EPOCH, epochs * share // 10) for share in range(1, 10)}):
        row = {
            "spearman_raw": float(spearmanr(raw[:, epoch - 1], results).statistic),
            "spearman_forecast": float(spearmanr(table[:, epoch - 1], results).statistic),
            "forecast_error": float(np.abs(table[:, epoch - 1] - results).mean()),
            "raw_error": float(np.abs(raw[:, epoch - 1] - results).mean()),
        }
        payload["by_epoch"][epoch] = row
        lines.append(
            f"| {epoch} | {row['spearman_raw']:.2f} | {row['spearman_forecast']:.2f} | "
            f"{row['forecast_error']:.3f} | {row['raw_error']:.3f} |"
        )
    write_results(f"curve_forecast_{options.regime}", payload, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
