"""`yolosweep COMMAND` (or `python -m yolosweep COMMAND`): every verb, one module of yolosweep/commands/ each.

The scripts at the root of a clone (launch_sweep.sh, analyze_sweep.py, ...) call the same modules.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from yolosweep import __version__

Main = Callable[[list[str], str | None], int]

SUMMARIES = {
    "init": "write a starter sweep_config.yaml and train_sweep.py into a folder",
    "launch": "create or join a sweep and start one agent per GPU (= ./launch_sweep.sh)",
    "demo": "the offline demo sweep on CPU: generated data, 6 short runs (= ./launch_sweep.sh --demo)",
    "sweep": "validate a sweep YAML and create a local sweep; or control one as `wandb sweep` does "
    "(--pause, --resume, --stop, --cancel ID)",
    "agent": "run trials of a local sweep",
    "train": "one training with sweep parameters, as an agent runs it (= train_sweep.py)",
    "stop-run": "stop one running run (W&B's stop run); its epochs are kept",
    "status": "the runs of a local sweep, best first",
    "dashboard": "serve a local page with the sweep's runs, curves and importance",
    "analyze": "rank a sweep's runs, parameter importance, best_config.yaml (= analyze_sweep.py)",
    "retrain": "retrain the best configuration for longer (= train_best_config.py)",
    "store": "move sweeps between stores (SQLite <-> PostgreSQL)",
    "demo-data": "write a small generated YOLO dataset (detect, segment, pose, obb, classify)",
}


def command_main(verb: str) -> Main:
    """The verb's main, imported when called: an agent's start does not pay for pandas and plotly."""
    match verb:
        case "init":
            from yolosweep.commands import init

            return init.main
        case "launch":
            from yolosweep.commands import launch

            return launch.main
        case "demo":
            from yolosweep.commands import launch

            return launch.demo
        case "sweep":
            from yolosweep.commands import sweep

            return sweep.main
        case "agent":
            from yolosweep.commands import agent

            return agent.main
        case "train":
            from yolosweep.commands import train

            return train.main
        case "stop-run":
            from yolosweep.commands import stop_run

            return stop_run.main
        case "status":
            from yolosweep.commands import status

            return status.main
        case "dashboard":
            from yolosweep.commands import dashboard

            return dashboard.main
        case "analyze":
            from yolosweep.commands import analyze

            return analyze.main
        case "retrain":
            from yolosweep.commands import retrain

            return retrain.main
        case "store":
            from yolosweep.commands import store

            return store.main
        case "demo-data":
            from yolosweep.commands import demo_data

            return demo_data.main
        case _:
            raise KeyError(verb)


def program_name() -> str:
    return "yolosweep" if Path(sys.argv[0]).name == "yolosweep" else "python -m yolosweep"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in SUMMARIES:
        return command_main(argv[0])(argv[1:], f"{program_name()} {argv[0]}")
    parser = argparse.ArgumentParser(prog=program_name())  # what is left: --help, --version, an unknown verb
    parser.add_argument("--version", action="version", version=f"yolosweep {__version__}")
    verbs = parser.add_subparsers(dest="command", required=True)
    for verb, summary in SUMMARIES.items():
        verbs.add_parser(verb, help=summary, add_help=False)
    parser.parse_args(argv)
    return 2


if __name__ == "__main__":
    sys.exit(main())
