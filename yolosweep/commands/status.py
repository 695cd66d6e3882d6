"""`yolosweep status [ID]`: the runs of a local sweep, best first; --watch refreshes it."""

from __future__ import annotations

import argparse

from yolosweep.commands import arguments
from yolosweep.invocation import create_hint
from yolosweep.results.progress import watch_status
from yolosweep.results.status import print_status, status_report
from yolosweep.store import Store, StoreError


@arguments.one_line_errors
def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("sweep_id", nargs="?", help="default: the newest sweep")
    parser.add_argument("--watch", action="store_true", help="refresh until Ctrl+C (in place on a terminal)")
    parser.add_argument(
        "--interval", type=float, default=5.0, help="seconds between refreshes with --watch (default 5)"
    )
    arguments.add_store_flag(parser)
    options = parser.parse_args(argv)
    arguments.use_store(options)
    store = Store.read_only(upgrade=True)  # a reader: an archived store on a read-only share is fine
    sweep_id = options.sweep_id or store.newest_sweep()
    if sweep_id is None:
        raise StoreError(f"{store.where}: no sweeps yet. Fix: {create_hint()}")
    if options.watch:
        return watch_status(store, sweep_id, options.interval, lambda: status_report(store, sweep_id))
    print_status(store, sweep_id)
    return 0
