"""Why a run could not start or was stopped, in words with a fix, and W&B's failure cut-off
(max_consecutive_failed_runs)."""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping


def start_failure(err: BaseException) -> str:
    if isinstance(err, ValueError):
        return f"{err} (a parameter value holds a NUL byte). Fix: remove it from the sweep YAML"
    if getattr(err, "errno", None) == errno.E2BIG:
        return (
            "its arguments exceed the system's limit (a huge parameter value?). "
            "Fix: shorten the values, or pass them in a file"
        )
    name = getattr(err, "filename", None) or ""
    if isinstance(err, PermissionError):
        return f"{name} is not executable. Fix: chmod +x it, or start it through ${{interpreter}} in `command`"
    if isinstance(err, FileNotFoundError):
        return f"{name} not found. Fix: correct `program`/`command` in the sweep YAML"
    return f"{getattr(err, 'strerror', None) or err}. Fix: correct `command` in the sweep YAML"


def job_cause() -> str:
    """Under SLURM a SIGTERM is the job's time limit drawing near (sbatch --signal) or a pre-emption: say which job."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return ""
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    return f" (SLURM job {job}{f', array task {task}' if task else ''}: its time limit is near, or it was pre-empted)"


class FailureCutoff:
    """When an agent gives up on a sweep whose runs keep failing, by W&B's agent's rules (wandb_agent.py).

    - flapping: 3 failed runs within the agent's first 60 s (off with WANDB_AGENT_DISABLE_FLAPPING=true);
    - failing: every run so far failed, and at least WANDB_AGENT_MAX_INITIAL_FAILURES of them (default 5);
    - `--max-consecutive-failed-runs N`: N failed runs in a row.
    A run counts as failed when it exits with an error (or cannot start); a run killed by a signal does not.
    """

    FLAPPING_S, FLAPPING_FAILURES, INITIAL_FAILURES = 60.0, 3, 5

    def __init__(self, started: float, max_consecutive: int | None = None, env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        self.started, self.max_consecutive = started, max_consecutive
        self.flapping_on = env.get("WANDB_AGENT_DISABLE_FLAPPING") != "true"
        try:
            self.initial_failures = int(env.get("WANDB_AGENT_MAX_INITIAL_FAILURES", self.INITIAL_FAILURES))
        except ValueError:
            self.initial_failures = self.INITIAL_FAILURES
        self.ended = self.failed = self.in_a_row = 0

    def record(self, failed: bool, now: float) -> str | None:
        """Count one ended run; the reason to give up, or None to go on."""
        self.ended += 1
        self.failed += failed
        self.in_a_row = self.in_a_row + 1 if failed else 0
        if self.max_consecutive is not None and self.in_a_row >= self.max_consecutive:
            return f"{self.in_a_row} consecutive failed runs (--max-consecutive-failed-runs {self.max_consecutive})"
        if not failed:
            return None
        if self.flapping_on and now < self.started + self.FLAPPING_S and self.failed >= self.FLAPPING_FAILURES:
            return f"{self.failed} failed runs in the first {self.FLAPPING_S:.0f} s"
        if self.failed >= self.ended and self.failed >= self.initial_failures:
            return f"{self.failed} failed runs and none succeeded"
        return None
