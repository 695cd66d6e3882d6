"""`yolosweep COMMAND` (or `python -m yolosweep COMMAND`): every command of the package.

Commands with options of their own (launch, demo, analyze, retrain, train, init) take the rest of the
line; the scripts at the root of a clone (launch_sweep.sh, analyze_sweep.py, ...) call the same code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from yolosweep import __version__
from yolosweep.commands import arguments
from yolosweep.invocation import create_hint
from yolosweep.store import LEASE_S, Store, StoreError
from yolosweep.sweep import spec

# Command -> (module in yolosweep, its main's name, what it does); each parses the rest of the line itself.
FORWARDED = {
    "init": ("commands.init", "main", "write a starter sweep_config.yaml and train_sweep.py into a folder"),
    "launch": ("commands.launch", "main", "create or join a sweep and start one agent per GPU (= ./launch_sweep.sh)"),
    "demo": (
        "commands.launch",
        "demo",
        "the offline demo sweep on CPU: generated data, 6 short runs (= ./launch_sweep.sh --demo)",
    ),
    "analyze": (
        "commands.analyze",
        "main",
        "rank a sweep's runs, parameter importance, best_config.yaml (= analyze_sweep.py)",
    ),
    "retrain": ("commands.retrain", "main", "retrain the best configuration for longer (= train_best_config.py)"),
    "train": ("commands.train", "main", "one training with sweep parameters, as an agent runs it (= train_sweep.py)"),
}


def program_name() -> str:
    return "yolosweep" if Path(sys.argv[0]).name == "yolosweep" else "python -m yolosweep"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=program_name())
    parser.add_argument("--version", action="version", version=f"yolosweep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, _, summary) in FORWARDED.items():
        commands.add_parser(name, help=summary, add_help=False)

    sweep = commands.add_parser(
        "sweep",
        help="validate a sweep YAML and create a local sweep; or control one as "
        "`wandb sweep` does (--pause, --resume, --stop, --cancel ID)",
    )
    sweep.add_argument("config", nargs="?", help="sweep YAML, e.g. sweep_config.yaml")
    control = sweep.add_mutually_exclusive_group()
    for action, words in (
        ("pause", "agents start no new run; running runs go on"),
        ("resume", "undo --pause"),
        ("stop", "running runs finish, no new run starts"),
        ("cancel", "stop the running runs now"),
    ):
        control.add_argument(f"--{action}", metavar="ID", help=f"{words} (W&B sweeps: passed to `wandb sweep`)")
    sweep.add_argument(
        "--prior",
        action="append",
        default=[],
        metavar="FILE.yaml",
        help="a configuration its agents run first (best_config.yaml, args.yaml or 'defaults'); repeatable",
    )
    arguments.add_noise_runs_flag(sweep)
    arguments.add_keep_band_flag(sweep)
    arguments.add_override_flags(sweep)
    arguments.add_store_flag(sweep)

    agent = commands.add_parser("agent", help="run trials of a local sweep")
    agent.add_argument("sweep_id")
    agent.add_argument("--count", type=arguments.positive_int, default=None, help="runs this agent does, then exits")
    agent.add_argument(
        "--max-consecutive-failed-runs",
        type=arguments.positive_int,
        default=None,
        help="give up after this many failed runs in a row (as `wandb agent`)",
    )
    agent.add_argument(
        "--lease",
        type=arguments.positive_float,
        default=LEASE_S,
        metavar="SECONDS",
        help=f"with agents on several machines: a run of this agent whose heartbeat is older than this is "
        f"marked crashed by the others (default {LEASE_S:g}; it beats every lease/6 s)",
    )
    agent.add_argument(
        "--events", type=Path, default=None, help=argparse.SUPPRESS
    )  # the launcher's copy of the agent's lines
    arguments.add_store_flag(agent)

    stop = commands.add_parser("stop-run", help="stop one running run (W&B's stop run); its epochs are kept")
    stop.add_argument("run_id")
    arguments.add_store_flag(stop)

    status = commands.add_parser("status", help="the runs of a local sweep, best first")
    status.add_argument("sweep_id", nargs="?", help="default: the newest sweep")
    status.add_argument("--watch", action="store_true", help="refresh until Ctrl+C (in place on a terminal)")
    status.add_argument(
        "--interval", type=float, default=5.0, help="seconds between refreshes with --watch (default 5)"
    )
    arguments.add_store_flag(status)

    board = commands.add_parser("dashboard", help="serve a local page with the sweep's runs, curves and importance")
    board.add_argument("sweep_id", nargs="?", help="default: the newest sweep")
    board.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    board.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    board.add_argument(
        "--baseline", type=float, default=None, help="your current model's metric (default: the defaults run)"
    )
    arguments.add_store_flag(board)

    store = commands.add_parser("store", help="move sweeps between stores (SQLite <-> PostgreSQL)")
    store_commands = store.add_subparsers(dest="store_command", required=True)
    copy = store_commands.add_parser(
        "copy",
        help="copy sweeps with their runs, priors and metrics from SRC to DST",
        description="e.g. a laptop's sweep onto the cluster's PostgreSQL, or a cluster sweep "
        "into a SQLite file to analyse offline; DST is created when missing",
    )
    copy.add_argument("src", help="a SQLite path or postgresql://USER@HOST/DB")
    copy.add_argument("dst", help="a SQLite path or postgresql://USER@HOST/DB")
    copy.add_argument(
        "--sweep", action="append", default=[], metavar="ID", help="copy this sweep only (repeatable; default: all)"
    )

    demo = commands.add_parser(
        "demo-data", help="write a small generated YOLO dataset (detect, segment, pose, obb, classify)"
    )
    demo.add_argument("dir", help="folder to write images/, labels/ and data.yaml into")
    demo.add_argument("--train", type=arguments.positive_int, default=320, help="training images (default 320)")
    demo.add_argument("--val", type=arguments.positive_int, default=40, help="validation images (default 40)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--task",
        choices=("detect", "segment", "pose", "obb", "classify"),
        default="detect",
        help="labels for this Ultralytics task (default detect; classify writes class folders)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in FORWARDED:
        module, function, _ = FORWARDED[argv[0]]
        return getattr(importlib.import_module(f".{module}", __package__), function)(
            argv[1:], f"{program_name()} {argv[0]}"
        )
    args = _parser().parse_args(argv)
    if args.command == "demo-data":
        from yolosweep.sweep.demo_data import write_demo_dataset

        print(write_demo_dataset(args.dir, n_train=args.train, n_val=args.val, seed=args.seed, task=args.task))
        return 0
    arguments.use_store(args)
    try:
        if args.command == "sweep" and any(getattr(args, a) for a in ("pause", "resume", "stop", "cancel")):
            from yolosweep.commands.control import control_sweep

            action = next(a for a in ("pause", "resume", "stop", "cancel") if getattr(args, a))
            return control_sweep(action, getattr(args, action))
        if args.command == "sweep" and not args.config:
            raise spec.ConfigError(
                "sweep",
                "-",
                "no sweep YAML given",
                "pass one, e.g. `sweep sweep_config.yaml`, or --pause/--resume/--stop/--cancel ID",
            )
        if args.command == "stop-run":
            from yolosweep.commands.control import stop_run

            return stop_run(args.run_id)
        if args.command == "sweep":
            from yolosweep.agent.local import agent_command, create_sweep

            store, sweep_id = create_sweep(
                args.config, arguments.overrides(args), args.prior, noise_runs=args.noise_runs, keep_band=args.keep_band
            )
            print(f"yolosweep: start an agent (one per GPU, any terminal): {agent_command(sweep_id, store)}")
            return 0
        if args.command == "agent":
            from yolosweep.agent.local import Agent

            return Agent(
                Store(create=False, lease=args.lease),
                args.sweep_id,
                count=args.count,
                max_consecutive_failed_runs=args.max_consecutive_failed_runs,
                events=args.events,
            ).run_loop()
        if args.command == "dashboard":
            from yolosweep.results.dashboard import Dashboard, serve
            from yolosweep.store import default_location

            board = Dashboard(default_location(), args.sweep_id, args.baseline)
            try:
                server = serve(board, args.host, args.port)
            except OSError as err:
                print(
                    f"error: cannot serve on {args.host}:{args.port} ({err.strerror!s}). Fix: pick another --port",
                    file=sys.stderr,
                )
                return 2
            host, port = str(server.server_address[0]), server.server_address[1]
            print(
                f"yolosweep: dashboard of sweep {board.sweep_id} at http://{host}:{port}/ (read-only; Ctrl+C to stop)",
                flush=True,
            )
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.server_close()
            return 0
        if args.command == "store":
            from yolosweep.store import copy_sweeps

            source, target = Store.for_reading(args.src), Store(args.dst)
            sweeps, runs, epochs = copy_sweeps(source, target, args.sweep or None)
            print(
                f"yolosweep: copied {sweeps} sweep(s), {runs} runs and {epochs} epochs "
                f"from {source.where} to {target.where}"
            )
            return 0
        if args.command == "status":
            from yolosweep.results.status import print_status

            store = Store.for_reading()  # a reader: an archived store on a read-only share is fine
            sweep_id = args.sweep_id or (store.sweep_ids() or [None])[-1]
            if sweep_id is None:
                raise StoreError(f"{store.where}: no sweeps yet. Fix: {create_hint()}")
            if args.watch:
                from yolosweep.results.progress import watch_status
                from yolosweep.results.status import status_report

                return watch_status(store, sweep_id, args.interval, lambda: status_report(store, sweep_id))
            print_status(store, sweep_id)
            return 0
    except (spec.ConfigError, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
