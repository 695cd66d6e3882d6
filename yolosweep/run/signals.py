"""The signals that stop a training cleanly (SIGTERM from the agent or Hyperband, Ctrl+C, a closed terminal): noted in
the handler, acted on at the next batch."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from yolosweep.run.endings import StopRequested
from yolosweep.states import STOP_SIGNALS


class StopSignals:
    """SIGTERM/SIGINT/SIGHUP set a flag that the next training callback turns into StopRequested.

    Raising only at callback boundaries means a stop never lands while Ultralytics writes a
    checkpoint, so last.pt and best.pt stay readable. A second SIGINT aborts at once.
    Before training starts (loading the model, caching labels, AutoBatch, a download) there is no
    checkpoint to protect and no callback for minutes, which outlasts W&B's 30 s from SIGTERM to
    SIGKILL: inside `setup()` a stop raises at once.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        self._in_setup = False

    @contextmanager
    def setup(self) -> Iterator[None]:
        """The stretch before the first epoch; `training_started` (on_train_start) ends it early."""
        self._in_setup = True
        try:
            self.check()
            yield
        finally:
            self._in_setup = False

    def training_started(self, _trainer: object = None) -> None:
        self._in_setup = False
        self.check()

    def __enter__(self) -> StopSignals:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: object) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        if self._in_setup:
            self._in_setup = False  # once: the ending is then recorded without another raise
            raise StopRequested(signum)

    def check(self, _trainer: object = None) -> None:
        if self.signum is not None:
            raise StopRequested(self.signum)
