"""Retrain a sweep's best configuration for longer, optionally with other model sizes, and compare.

python train_best_config.py --from sweep_report/ID/best_config.yaml            # 300 epochs
python train_best_config.py --sweep ID --model yolo11n.pt,yolo11s.pt,yolo11m.pt
python train_best_config.py --from best_config.yaml --resume                   # continue after a kill
python train_best_config.py --sweep ID --top 3 --epochs 300                    # did the ranking hold?
python train_best_config.py --sweep ID --top 3 --seeds 3 --epochs 60           # the winner by a mean, not a lucky run
"""

import argparse
import sys
from pathlib import Path

from yolosweep.commands import arguments
from yolosweep.invocation import command
from yolosweep.results import analysis, retrain
from yolosweep.results.best_config import from_sweep, load_best_config
from yolosweep.store import StoreError
from yolosweep.sweep.errors import ConfigError


def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.replace("python train_best_config.py", command("retrain")),  # the words this user has
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    written = f"best_config.yaml written by `{command('analyze')}`"
    source.add_argument("--from", dest="config_file", type=Path, help=written)
    source.add_argument("--sweep", help="take the best run of this sweep directly")
    parser.add_argument("--backend", choices=("auto", "wandb", "local"), default="auto", help="where --sweep lives")
    parser.add_argument("--entity", default=None)
    parser.add_argument("--project", default="yolosweep")
    parser.add_argument("--name", default="best", help="run folder prefix under runs/retrain (default: best)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted retrain from its last.pt")
    parser.add_argument(
        "--top",
        type=arguments.positive_int,
        default=None,
        help="with --sweep: retrain the best K runs and report whether their ranking held",
    )
    parser.add_argument(
        "--seeds",
        type=arguments.positive_int,
        default=1,
        help="with --top: retrain each of the K and the defaults S times with fresh seeds; hand over "
        "the best by mean, its gain over the defaults against the noise (kept in a local store)",
    )
    parser.add_argument(
        "--baseline", type=float, default=None, help="your current model's objective, for the comparison"
    )
    parser.add_argument("--no-log-model", action="store_true", help="do not log best.pt as a W&B model artifact")
    arguments.add_override_flags(parser)
    arguments.add_store_flag(parser)
    parser.set_defaults(epochs=300)
    options, rest = parser.parse_known_args(argv)
    arguments.use_store(options)
    try:
        if options.top and not options.sweep:
            raise ConfigError("--top", str(options.top), "needs the sweep's runs", "give --sweep ID with --top")
        if options.seeds > 1 and not options.top:
            raise ConfigError(
                "--seeds", str(options.seeds), "retrains the sweep's top runs", "give --sweep ID --top K with --seeds"
            )
        if options.top:
            sweep = analysis.load(options.sweep, options.backend, options.entity, options.project)
            overrides = {**arguments.overrides(options), **arguments.parse_params(rest)}
            if options.seeds > 1:
                return retrain.top_k_seeded(
                    sweep,
                    options.top,
                    options.seeds,
                    overrides,
                    log_model=not options.no_log_model,
                    store=analysis.local_store_of(sweep),
                )
            return retrain.top_k(sweep, options.top, overrides, log_model=not options.no_log_model)
        if options.config_file:
            config, origin = load_best_config(options.config_file)
        else:
            sweep = analysis.load(options.sweep, options.backend, options.entity, options.project)
            config, origin = from_sweep(sweep)
        overrides = {**arguments.overrides(options), **arguments.parse_params(rest)}
        models = str(overrides.pop("model", config.get("model", "yolo11n.pt"))).split(",")
        return retrain.retrain(
            config,
            origin,
            models,
            options.name,
            overrides,
            options.resume,
            options.baseline,
            log_model=not options.no_log_model,
        )
    except (ConfigError, StoreError, analysis.AnalysisError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
