"""`yolosweep store copy SRC DST`: move sweeps between stores (SQLite <-> PostgreSQL)."""

from __future__ import annotations

import argparse

from yolosweep.commands import arguments
from yolosweep.store import Store, copy_sweeps


@arguments.one_line_errors
def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    verbs = parser.add_subparsers(dest="store_command", required=True)
    copy = verbs.add_parser(
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
    options = parser.parse_args(argv)
    source, target = Store.read_only(options.src, upgrade=True), Store(options.dst)
    sweeps, runs, epochs = copy_sweeps(source, target, options.sweep or None)
    print(f"yolosweep: copied {sweeps} sweep(s), {runs} runs and {epochs} epochs from {source.where} to {target.where}")
    return 0
