"""The sweep program (train_sweep.py, `yolosweep train`): one run = one YOLO training with the suggested parameters.

Under `wandb agent` (or the local agent) the parameters arrive as `--key=value` arguments.
Standalone, the fixed values of the sweep_config.yaml beside the program apply, then any `--key=value`:
    python train_sweep.py --data DATA.yaml --epochs 3 --imgsz 64 --batch 8 --device cpu
Under an agent (WANDB_SWEEP_ID set) the agent passes every value of the sweep's own YAML, fixed ones
included, so no other YAML's values are mixed in unless --sweep-config names one.
"""

import argparse
import os
import sys
from pathlib import Path

from yolosweep.commands import arguments
from yolosweep.objective import sweep_objective
from yolosweep.run import trial
from yolosweep.run.endings import EXIT_BAD_CONFIG
from yolosweep.run.sink import StoreSink
from yolosweep.store import StoreError
from yolosweep.sweep import spec
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.train_args import fixed_values


def main(argv: list[str], prog: str | None = None) -> int:
    """`prog` None: run as a program file (train_sweep.py), whose fixed values come from the YAML beside it;
    else as `yolosweep train`, from the working folder's."""
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sweep-config",
        default=None,
        help="sweep YAML whose fixed values apply (default: sweep_config.yaml when run standalone, "
        "none under a sweep agent)",
    )
    parser.add_argument("--no-log-model", action="store_true", help="do not log best.pt as a W&B model artifact")
    arguments.add_override_flags(parser)
    options, rest = parser.parse_known_args(argv)
    sweep_config = options.sweep_config
    if sweep_config is None and not os.environ.get("WANDB_SWEEP_ID"):
        beside = (Path(sys.argv[0]).parent if prog is None else Path(".")) / "sweep_config.yaml"
        sweep_config = beside if beside.is_file() else None
    try:
        # A YAML named here ranks the epochs by its metric, so it is checked against the model that trains (a
        # --model of another task logs other metrics); the shipped one only lends its fixed values.
        config = (
            spec.load_sweep(sweep_config, arguments.overrides(options) if options.sweep_config else None)
            if sweep_config
            else None
        )
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    params = fixed_values(config) if config else {}
    params.update(arguments.parse_params(rest))
    params.update(arguments.overrides(options))
    try:
        sink = StoreSink.from_env()
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    # A YAML named here ranks the epochs by its metric; otherwise the agent's sweep, or the task's main metric.
    objective = sweep_objective(config) if config and options.sweep_config else None
    result = trial.run(params, log_model=not options.no_log_model, sink=sink, objective=objective)
    print(
        f"yolosweep: run {result.run_id or '-'} {result.state} after {result.epochs_done} epochs"
        + (f": {result.reason}" if result.reason else ""),
        file=sys.stderr if result.state == "failed" else sys.stdout,
    )
    return result.exit_code


if __name__ == "__main__":  # `${interpreter} -m yolosweep.commands.train ${args}` in a sweep's `command`
    sys.exit(main(sys.argv[1:]))
