"""`yolosweep stop-run RUN_ID` (W&B's "stop run"): its agent stops it within a poll; it ends `stopped`, ended by the
user, its epochs kept."""

from __future__ import annotations

import argparse

from yolosweep.commands import arguments
from yolosweep.invocation import command
from yolosweep.store import Store, StoreError


@arguments.one_line_errors
def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("run_id")
    arguments.add_store_flag(parser)
    options = parser.parse_args(argv)
    arguments.use_store(options)
    store = Store(create=False)
    try:
        run = store.request_stop(options.run_id, "stopped by the user")
    finally:
        store.close()
    if run is None:
        raise StoreError(
            f"no running run {options.run_id!r} in {store.where}. Fix: check the id with `{command('status')}`"
        )
    print(
        f"yolosweep: run {options.run_id} of sweep {run.sweep_id} will stop within a poll of its agent "
        f"(host {run.host}); its epochs are kept"
    )
    return 0
