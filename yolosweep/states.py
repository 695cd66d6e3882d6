"""A run's state, what ended it and why it exists (its origin): typed values, stored as their text (as
sweeps.RunState, Optuna's TrialState).

Both sides of the process boundary use them: the trial records how it ended, the agent adds what
only it knows (Hyperband, the user), the store keeps both as columns, the analysis reads them back.
"""

from __future__ import annotations

import signal
from enum import Enum


class _Text(str, Enum):
    def __str__(self) -> str:  # printed and formatted as its stored text, as in 3.12's StrEnum
        return self.value

    __format__ = str.__format__  # type: ignore[assignment]  # str's, as StrEnum has it
    __hash__ = str.__hash__  # equal to its text, so it hashes like it too (dict keys, sets)


class RunState(_Text):
    RUNNING = "running"
    FINISHED = "finished"  # ran to its last epoch, or Ultralytics' patience ended it
    STOPPED = "stopped"  # asked to stop (Hyperband, the user): a normal outcome whose epochs count
    FAILED = "failed"  # ended with a reason: bad values, NaN loss, out of memory, a full disk, ...
    CRASHED = "crashed"  # its process vanished; found by the next agent start

    @property
    def terminal(self) -> bool:
        return self is not RunState.RUNNING


TERMINAL_STATES = tuple(state.value for state in RunState if state.terminal)


class SweepState(_Text):
    """A sweep as `wandb sweep --pause/--resume/--stop/--cancel` leave it (W&B's own names)."""

    RUNNING = "running"
    PAUSED = "paused"  # agents start no run until it is resumed; running runs go on
    FINISHED = "finished"  # --stop: running runs finish, no new one starts
    CANCELED = "canceled"  # --cancel: running runs are stopped now, no new one starts

    @property
    def takes_runs(self) -> bool:
        return self is SweepState.RUNNING


class EndedBy(_Text):
    """What ended a run; COMPLETED when it ran to its planned last epoch."""

    COMPLETED = ""
    HYPERBAND = "hyperband"
    PATIENCE = "patience"  # Ultralytics' early stopping
    USER = "user"  # the agent got Ctrl+C or SIGTERM and stopped its run
    SIGNAL = "signal"  # SIGTERM from outside: under `wandb agent`, Hyperband or the user
    AGENT_DIED = "agent died"  # its agent vanished, the kernel sent SIGTERM (PR_SET_PDEATHSIG)
    BAD_CONFIG = "bad configuration"
    NAN_LOSS = "nan loss"
    OUT_OF_MEMORY = "out of memory"
    SHARED_MEMORY = "shared memory"  # dataloader workers without room in /dev/shm
    DISK_FULL = "disk full"
    COULD_NOT_START = "could not start"
    ERROR = "error"  # any other failure: the reason has its first line
    VANISHED = "process vanished"


class Origin(_Text):
    """Why a run exists: the search suggested it, a configuration given to run first (--prior), or the first prior
    again with another seed (--noise-runs), which measures the seed spread and is hidden from the engine."""

    SEARCH = "search"
    PRIOR = "prior"
    NOISE = "noise"


# What ends a run, an agent or the launcher cleanly: SIGTERM (the agent, Hyperband), SIGINT (Ctrl+C),
# SIGHUP (the terminal closed, an SSH session dropped; W&B's agent treats it as a shutdown too).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
