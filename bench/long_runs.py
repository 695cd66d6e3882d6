"""Do rankings at N epochs hold at 3N (#16, point 6)? Configurations of the value data retrained 3x longer.

    python bench/long_runs.py            # resumable; -> bench/data/value_long/, bench/results/long_runs.{json,md}

The value data ranks 150 configurations by their best mAP50 in 20-epoch runs (bench/value_data.py).
A sweep hands its winner to train_best_config.py for a run several times longer, which is only
worth it if the short-run ranking survives the longer schedule (yolov5 PR #876 found settings
picked at 30 of 300 epochs "did not correlate well"). This trains the top 5 of the 20-epoch
ranking, 5 configurations spread evenly over the rest and the defaults, each for 60 epochs on the
same task, and reports the rank correlation between the two lengths and whether the top held.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import value_data  # noqa: E402

LONG = BENCH / "data" / "value_long"
FACTOR = 3


def chosen(top: int = 5, spread: int = 5) -> list[tuple[str, dict[str, Any]]]:
    """The top of the 20-epoch ranking, configurations spread over the rest of it, and the defaults."""
    curves = value_data.load_curves()
    ranked = sorted((value_data.final(rows), run) for (run, _), rows in curves.items() if run != "defaults")[::-1]
    rest = ranked[top:]
    picks = ranked[:top] + [rest[round(i * (len(rest) - 1) / (spread - 1))] for i in range(spread)]
    params = {run: {k: rows[0][k] for k in value_data.swept_space()} for (run, _), rows in curves.items()}
    return [(run, params[run]) for _, run in picks] + [("defaults", value_data.defaults())]


def report() -> tuple[dict[str, Any], list[str]]:
    from scipy.stats import spearmanr

    short, long = value_data.load_curves(), value_data.load_curves(LONG)
    short_mean: dict[str, list[float]] = {}
    for (run, _), rows in short.items():
        short_mean.setdefault(run, []).append(value_data.final(rows))
    pairs = [
        (run, sum(short_mean[run]) / len(short_mean[run]), value_data.final(rows))
        for (run, _), rows in sorted(long.items())
    ]
    by_short = [run for run, _, _ in sorted(pairs, key=lambda p: -p[1])]
    by_long = [run for run, _, _ in sorted(pairs, key=lambda p: -p[2])]
    rho = spearmanr([p[1] for p in pairs], [p[2] for p in pairs]).statistic if len(pairs) > 2 else float("nan")
    payload = {
        "epochs_short": value_data.TASK["epochs"],
        "epochs_long": value_data.TASK["epochs"] * FACTOR,
        "configs": len(pairs),
        "spearman": float(rho),
        "best_short": by_short[0] if pairs else None,
        "best_long": by_long[0] if pairs else None,
        "best_short_rank_long": by_long.index(by_short[0]) + 1 if pairs else None,
        "top3_overlap": len(set(by_short[:3]) & set(by_long[:3])),
        "runs": {run: {"short": short, "long": long} for run, short, long in pairs},
    }
    lines = [
        f"# Short-run ranking against {FACTOR}x longer runs (mAP50, best epoch)",
        "",
        f"{len(pairs)} configurations; Spearman {rho:.2f}; the 20-epoch winner ({payload['best_short']}) "
        f"ranks {payload['best_short_rank_long']} at {payload['epochs_long']} epochs; "
        f"top-3 overlap {payload['top3_overlap']} of 3.",
        "",
        f"| run | {payload['epochs_short']} epochs | {payload['epochs_long']} epochs |",
        "|---|---|---|",
    ]
    lines += [f"| {run} | {short:.3f} | {long:.3f} |" for run, short, long in sorted(pairs, key=lambda p: -p[1])]
    return payload, lines


def main() -> int:
    from harness import write_results

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="only write the results from the runs so far")
    options = parser.parse_args()
    if not options.report:
        from yolosweep.sweep.demo_data import write_tunable_dataset

        data = write_tunable_dataset(Path(tempfile.mkdtemp(prefix="value-long-")), seed=value_data.DATA_SEED)
        todo = [(run, params) for run, params in chosen() if not value_data.curve_file(run, 0, LONG).exists()]
        print(f"long runs: {len(todo)} trainings of {value_data.TASK['epochs'] * FACTOR} epochs to go", flush=True)
        for run, params in todo:
            seconds = value_data.train_one(run, 0, params, data, LONG, value_data.TASK["epochs"] * FACTOR)
            best = value_data.final(value_data.load_curves(LONG)[(run, 0)])
            print(f"{run}: best {value_data.METRIC} {best:.3f} in {seconds:.0f} s", flush=True)
    write_results("long_runs", *report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
