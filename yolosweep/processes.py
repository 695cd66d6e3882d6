"""Process helpers both floors use: the launcher's supervisor (supervise.py) and the local agent (backends/local.py)."""

from __future__ import annotations

import ctypes
import signal


def die_with_parent() -> None:
    # If the agent is killed outright, its run gets SIGTERM and ends cleanly as `stopped`
    # instead of training on, unwatched, on a GPU the next agent wants.
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
