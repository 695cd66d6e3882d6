"""`yolosweep dashboard [ID]`: a local page with the sweep's runs, curves and importance, live."""

from __future__ import annotations

import argparse
import sys

from yolosweep.commands import arguments
from yolosweep.results.dashboard import Dashboard, serve
from yolosweep.store import default_location


@arguments.one_line_errors
def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("sweep_id", nargs="?", help="default: the newest sweep")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument(
        "--baseline", type=float, default=None, help="your current model's metric (default: the defaults run)"
    )
    arguments.add_store_flag(parser)
    options = parser.parse_args(argv)
    arguments.use_store(options)
    board = Dashboard(default_location(), options.sweep_id, options.baseline)
    try:
        server = serve(board, options.host, options.port)
    except OSError as err:
        print(
            f"error: cannot serve on {options.host}:{options.port} ({err.strerror!s}). Fix: pick another --port",
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
