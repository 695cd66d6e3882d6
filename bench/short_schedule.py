"""Short complete schedules as the low fidelity (#39): does a sweep of short runs, then its best few trained to the
full length, hand over better configurations for the same budget than full-length runs alone? No surrogate: the
configurations recorded in both fine-tuning regimes (the same draws of W&B's samplers, c000, c001, ...), replayed
in random orders.

    python bench/short_schedule.py --top 3 --short finetune_short   # -> bench/results/short_schedule_<short>.*

Per order, at a budget of B full runs: "long only" trains the first B configurations for 100 epochs (random search
at the shipped length); "short, then the top K" trains as many as fit of the same order for 15 epochs (a complete
schedule: warm-up, lrf decay and close_mosaic run their course), then the K best of those for 100 epochs, the
budget's rest going to the next best by the short ranking. Both hand over the best 100-epoch result trained.

A short run's cost, two ways: in epochs (15 of 100) and in compute (the fastest recorded training of each kind,
closest to an idle machine, from the curves' `time` column). --short finetune_short: the long regime's task (imgsz
160, the photos halved) in 15 epochs, as a user would run both; --short finetune: the 15-epoch regime, recorded at
imgsz 320 on the full photos, so its epoch costs about 3 long ones.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import value_data  # noqa: E402

from yolosweep.sweep.band import SHIPPED_FIRST_BAND  # noqa: E402

BUDGETS = (3.5, 4, 4.5, 5, 6, 8, 11)  # full-length runs' worth; 11: half the 23 configurations both regimes share


def recorded(
    curves: dict[tuple[str, int], list[dict[str, Any]]], epochs: int
) -> dict[str, tuple[float, list[float], float]]:
    """Each sampled configuration's (result, curve, training seconds), seed 0, from a regime's loaded curves."""
    return {
        run: (value_data.final(rows), [row.get(value_data.METRIC, 0.0) for row in rows], float(rows[-1]["time"]))
        for (run, seed), rows in curves.items()
        if run != "defaults" and seed == 0 and len(rows) >= epochs
    }


def long_only(long: list[float], order: list[int], runs: int) -> float:
    """The best 100-epoch result among the first `runs` configurations of the order."""
    return max(long[i] for i in order[:runs])


def short_then_top(
    short: list[float], long: list[float], order: list[int], budget: float, top: int, cost: float
) -> float:
    """Short runs of the order while `top` long runs still fit, then the best by the short result trained long (the
    budget's rest to the next best; long runs beyond those tried go to the order's next configurations, untried);
    the best 100-epoch result among those trained long."""
    tried = order[: short_runs_tried(len(order), budget, top, cost)]
    trained = math.floor(budget - len(tried) * cost + 1e-9)
    ranked = sorted(tried, key=lambda i: short[i], reverse=True)
    chosen = ranked[:trained] + order[len(tried) : len(tried) + max(0, trained - len(tried))]
    return max(long[i] for i in chosen)


def short_runs_tried(configs: int, budget: float, top: int, cost: float) -> int:
    """How many short runs fit while `top` long runs still do (at most the configurations there are)."""
    return min(configs, max(0, math.floor((budget - top) / cost + 1e-9)))


def main() -> int:
    from harness import write_results
    from scipy.stats import spearmanr, wilcoxon

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=3, help="configurations trained to the full length after the short")
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--short", choices=("finetune_short", "finetune"), default="finetune_short")
    options = parser.parse_args()

    value_data.use_regime(options.short)
    short_epochs = value_data.TASK["epochs"]
    short_runs = recorded(value_data.load_curves(), short_epochs)
    value_data.use_regime("finetune_long")
    long_epochs = value_data.TASK["epochs"]
    long_curves = value_data.load_curves()
    long_runs = recorded(long_curves, long_epochs)
    summary = value_data.summary(long_curves)
    band = int(SHIPPED_FIRST_BAND * long_epochs)  # the shipped band's history index (min_iter 60: epoch 61)
    names = sorted(set(short_runs) & set(long_runs))
    short = [short_runs[n][0] for n in names]
    long = [long_runs[n][0] for n in names]
    defaults, best = summary["defaults_mean"], max(long)
    costs = {
        "epochs": short_epochs / long_epochs,
        "compute": min(t for _, _, t in short_runs.values()) / min(t for _, _, t in long_runs.values()),
    }
    ranks = {
        "short_result": float(spearmanr(short, long).statistic),
        f"long_at_epoch_{short_epochs}": float(
            spearmanr([max(long_runs[n][1][:short_epochs]) for n in names], long).statistic
        ),
        f"long_at_epoch_{band + 1}": float(
            spearmanr([max(long_runs[n][1][: band + 1]) for n in names], long).statistic
        ),
    }
    rng = np.random.default_rng(0)
    orders = [list(rng.permutation(len(names))) for _ in range(options.reps)]

    def share(values: np.ndarray) -> np.ndarray:
        return (values - defaults) / (best - defaults)

    base = {b: np.array([long_only(long, order, int(b)) for order in orders]) for b in BUDGETS}
    target = float(np.median(base[max(BUDGETS)]))
    payload: dict[str, Any] = {
        "short": options.short,
        "configs": len(names),
        "top": options.top,
        "reps": options.reps,
        "short_cost": costs,
        "spearman_with_long_result": ranks,
        "defaults_mean": defaults,
        "best_config": best,
        "long_only": {str(b): {"share_median": float(np.median(share(base[b])))} for b in BUDGETS},
        "short_then_top": {},
    }
    lines = [
        f"# Short complete schedules, then the top {options.top} at full length (fine-tuning, bccd)",
        "",
        f"{len(names)} configurations recorded at both lengths, {options.reps} random orders. Ranking the 100-epoch "
        f"results (Spearman): the {short_epochs}-epoch result {ranks['short_result']:.2f}; the 100-epoch run's own "
        f"best by epoch {short_epochs} {ranks[f'long_at_epoch_{short_epochs}']:.2f}, by epoch {band + 1} (the shipped "
        f"band) {ranks[f'long_at_epoch_{band + 1}']:.2f}. "
        f"A short run ({options.short}) costs {costs['epochs']:.2f} of a long one in epochs, {costs['compute']:.2f} "
        "in compute. Share: the handed-over configuration's 100-epoch result, 0 = the "
        "defaults' mean, 1 = the best recorded. Worse/better: against long only in the same order; p: two-sided "
        "Wilcoxon, paired.",
        "",
        "| budget (full runs) | long only | costed in epochs: short runs, share | worse / better | p "
        "| costed in compute: short runs, share | worse / better | p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for budget in BUDGETS:
        row = [f"| {budget:g} | {np.median(share(base[budget])):.2f}"]
        for unit, cost in costs.items():
            handed = np.array([short_then_top(short, long, o, budget, options.top, cost) for o in orders])
            difference = handed - base[budget]
            p = float(wilcoxon(difference).pvalue) if difference.any() else 1.0
            entry = {
                "share_median": float(np.median(share(handed))),
                "worse": int((difference < 0).sum()),
                "better": int((difference > 0).sum()),
                "mean_difference": float(difference.mean()),
                "p": p,
            }
            payload["short_then_top"].setdefault(unit, {})[str(budget)] = entry
            tried = short_runs_tried(len(names), budget, options.top, cost)
            entry["short_runs"] = tried
            runs = f"{tried} (all: the pool runs out)" if tried == len(names) else str(tried)
            row.append(f"{runs}, {entry['share_median']:.2f} | {entry['worse']} / {entry['better']} | {p:.2g}")
        lines.append(" | ".join(row) + " |")
        print(lines[-1], flush=True)
    # the moonshot's question: the budget at which the short-then-long median reaches long only's at the largest
    grid = np.arange(options.top, max(BUDGETS) + 0.01, 0.25)
    for unit, cost in costs.items():
        reached = next(
            (
                float(b)
                for b in grid
                if np.median([short_then_top(short, long, o, b, options.top, cost) for o in orders]) >= target
            ),
            None,
        )
        payload["short_then_top"][unit]["budget_to_long_only_max"] = reached
        lines += [
            "",
            f"Costed in {unit}: long only's median at {max(BUDGETS)} runs ({target:.4f}) is reached at "
            + (f"{reached:g} runs' budget ({reached / max(BUDGETS):.0%})." if reached else "no budget up to it."),
        ]
        print(lines[-1], flush=True)
    write_results(f"short_schedule_{options.short}", payload, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
