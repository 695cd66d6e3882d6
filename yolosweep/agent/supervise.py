"""The launcher's agent processes: one per slot, each with its own log, their lines shown, Ctrl+C forwarded.

Local agents write their own lines to an `.events` file as well as to the log that their runs
share, so no run's output can pose as an agent line; `wandb agent`'s lines are picked from its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from yolosweep.processes import die_with_parent
from yolosweep.results.progress import Display
from yolosweep.states import STOP_SIGNALS
from yolosweep.sweep.slots import GPU_ORDER, Slot


def run_agents(
    commands: list[list[str]],
    slots: list[Slot],
    log_prefix: Path,
    cwd: Path | None = None,
    shown: str = ".log",
    display: Display | None = None,
    env: dict[str, str] | None = None,
) -> int:
    """Start one agent per slot, echo their progress lines, stop them all cleanly on Ctrl+C.

    env: variables every agent gets besides the parent's (resources.amp_check_env).
    shown: the file of each slot whose lines are echoed. Local agents write their own lines to
    `.events` as well as to the log, which runs share, so no run's output can pose as an agent line.
    """
    log_prefix.parent.mkdir(parents=True, exist_ok=True)
    agents, logs = [], []
    for command, slot in zip(commands, slots):
        log_path = Path(f"{log_prefix}-{slot.name}.log")
        agent_env = {**os.environ, **(env or {}), **GPU_ORDER, "CUDA_VISIBLE_DEVICES": slot.visible_devices}
        with open(log_path, "ab") as log:
            agents.append(
                subprocess.Popen(
                    command, env=agent_env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
                )
            )
        logs.append(
            _LogTail(
                log_path.with_suffix(shown), slot.name, display.say if display else lambda line: print(line, flush=True)
            )
        )
        print(f"yolosweep: agent on {slot.name} (pid {agents[-1].pid}), log {log_path}")

    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        if not stopping:
            try:
                print(
                    f"\nyolosweep: {signal.Signals(signum).name}: stopping every agent and its run cleanly ...",
                    flush=True,
                )
            except OSError:
                pass  # SIGHUP: the terminal is gone, but the agents still need stopping
        stopping.append(signum)
        for proc in agents:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        while any(proc.poll() is None for proc in agents):
            time.sleep(1.0)
            for tail in logs:
                tail.echo()
            if display is not None:
                display.update()
        for tail in logs:
            tail.echo()
        if display is not None:
            display.update(force=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    codes = [proc.returncode for proc in agents]
    if stopping:
        return 130
    return 0 if all(code == 0 for code in codes) else 1


class _LogTail:
    """Echo an agent's own progress lines (not training output) as they arrive."""

    def __init__(self, path: Path, name: str, say: Callable[[str], None] = lambda line: print(line, flush=True)):
        self.path, self.name, self.say = path, name, say
        self.offset = path.stat().st_size if path.exists() else 0

    def echo(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk.rpartition(b"\n")[0]
        if not complete:
            return
        self.offset += len(complete) + 1
        for line in complete.decode(errors="replace").splitlines():
            if line.startswith(("yolosweep agent", "yolosweep: WARNING", "wandb: Agent", "wandb: Sweep")):
                self.say(f"[{self.name}] {line}")
