"""Rank a sweep's runs, show which parameters mattered, compare with a baseline, write best_config.yaml.

python analyze_sweep.py                       # the newest local sweep
python analyze_sweep.py ID --baseline 0.714   # a local or W&B sweep against your baseline mAP50
"""

import argparse
import sys
from pathlib import Path

from yolosweep.commands import arguments
from yolosweep.invocation import command
from yolosweep.results import analysis, report
from yolosweep.results.verdict import DEFAULT_LEVELS
from yolosweep.store import StoreError


def _levels(text: str) -> tuple[float, float, float]:
    try:
        low, good, excellent = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("give three percentages, e.g. 5,9,12") from None
    return low, good, excellent


def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.replace("python analyze_sweep.py", command("analyze")),  # the words this user has
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sweep_id", nargs="?", help="default: the newest local sweep")
    parser.add_argument("--backend", choices=("auto", "wandb", "local"), default="auto")
    parser.add_argument("--entity", default=None, help="W&B entity (cloud sweeps)")
    parser.add_argument("--project", default="yolosweep", help="W&B project (cloud sweeps, default yolosweep)")
    parser.add_argument("--baseline", type=float, default=None, help="your current model's objective, e.g. 0.714")
    parser.add_argument(
        "--levels",
        type=_levels,
        default=DEFAULT_LEVELS,
        help="%% gains over the baseline for minimum, good, excellent (default 5,9,12)",
    )
    parser.add_argument("--top", type=int, default=10, help="runs to show (default 10)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default sweep_report/<sweep id>/)")
    arguments.add_store_flag(parser)
    options = parser.parse_args(argv)
    arguments.use_store(options)
    try:
        sweep = analysis.load(options.sweep_id, options.backend, options.entity, options.project)
        return report.analyze(
            sweep, options.out or Path("sweep_report") / sweep.sweep_id, options.baseline, options.top, options.levels
        )
    except (StoreError, analysis.AnalysisError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
