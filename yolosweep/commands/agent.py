"""`yolosweep agent ID`: run trials of a local sweep, as `wandb agent ID` does for a W&B one."""

from __future__ import annotations

import argparse
from pathlib import Path

from yolosweep.agent.loop import Agent
from yolosweep.commands import arguments
from yolosweep.store import LEASE_S, Store


@arguments.one_line_errors
def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("sweep_id")
    parser.add_argument("--count", type=arguments.positive_int, default=None, help="runs this agent does, then exits")
    parser.add_argument(
        "--max-consecutive-failed-runs",
        type=arguments.positive_int,
        default=None,
        help="give up after this many failed runs in a row (as `wandb agent`)",
    )
    parser.add_argument(
        "--lease",
        type=arguments.positive_float,
        default=LEASE_S,
        metavar="SECONDS",
        help=f"with agents on several machines: a run of this agent whose heartbeat is older than this is "
        f"marked crashed by the others (default {LEASE_S:g}; it beats every lease/6 s)",
    )
    parser.add_argument("--events", type=Path, default=None, help=argparse.SUPPRESS)  # the launcher's copy of its lines
    arguments.add_store_flag(parser)
    options = parser.parse_args(argv)
    arguments.use_store(options)
    return Agent(
        Store(create=False, lease=options.lease),
        options.sweep_id,
        count=options.count,
        max_consecutive_failed_runs=options.max_consecutive_failed_runs,
        events=options.events,
    ).run_loop()
