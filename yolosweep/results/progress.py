"""Watching a long sweep from the terminal: each running run's epoch, metric and ETA, and the sweep's state.

`sweep_progress` reads the store into a `SweepProgress` (pure, testable with a fixed clock);
`show` renders it: a table refreshed in place on a terminal (rich), plain lines otherwise (logs, CI).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from yolosweep.objective import Objective, sweep_objective
from yolosweep.results.verdict import Verdict, judge_best
from yolosweep.states import EndedBy, RunState
from yolosweep.store import Run, Store
from yolosweep.sweep.train_args import fixed_values

PLAIN_EVERY_S = 60.0  # without a terminal: a progress line this often (and whenever a run ends)


@dataclass
class RunProgress:
    run_id: str
    epoch: int
    epochs: int | None
    current: float | None
    best: float | None
    eta_s: float | None


@dataclass
class SweepProgress:
    sweep_id: str
    metric: Objective | None
    ended: int
    planned: int | None
    by_hyperband: int | None  # None: the sweep has no Hyperband band
    running: list[RunProgress] = field(default_factory=list)
    best: float | None = None
    best_run: str | None = None
    baseline: float | None = None
    baseline_from: str = ""  # "--baseline", the defaults run's id, or the mean of the defaults' seeds
    left_s: float | None = None
    verdict: Verdict | None = None  # the gain against the seed spread (verdict.py)

    @property
    def gain_pct(self) -> float | None:
        return self.verdict.gain_pct if self.verdict is not None else None


def _run_epochs(run: Run, config: dict[str, Any]) -> int | None:
    epochs = run.params.get("epochs", fixed_values(config).get("epochs"))
    return epochs if isinstance(epochs, int) else None


def sweep_progress(
    store: Store,
    sweep_id: str,
    baseline: float | None = None,
    planned: int | None = None,
    agents: int = 1,
    now: float | None = None,
    runs: list[Run] | None = None,
    since: float | None = None,
) -> SweepProgress:
    """Where a sweep stands: ended runs, what each running run is at, the best so far and what is left.
    `runs`: the sweep's runs already read from `store`, so a caller that needs both reads once.
    `since`: count against `planned` only the runs created from then on (a launch that joined a sweep)."""
    now = time.time() if now is None else now
    config = store.sweep_config(sweep_id)
    goal = sweep_objective(config)
    if runs is None:  # the ended runs' histories are not needed: read only the running runs' last epochs
        runs, latest = store.runs(sweep_id, with_history=False), store.latest_epochs(sweep_id)
    else:
        latest = {r.id: (len(r.history), r.history[-1]) for r in runs if r.history}
    planned = planned or config.get("run_cap")
    ended = [r for r in runs if r.state is not RunState.RUNNING]
    counted = [r for r in ended if since is None or r.created >= since]
    progress = SweepProgress(
        sweep_id,
        goal,
        len(counted),
        planned,
        sum(r.ended_by is EndedBy.HYPERBAND for r in runs) if config.get("early_terminate") else None,
    )
    for run in runs:
        if run.state is not RunState.RUNNING:
            continue
        epochs, (done, last) = _run_epochs(run, config), latest.get(run.id, (0, {}))
        per_epoch = (now - run.created) / done if done else None
        eta = per_epoch * (epochs - done) if per_epoch is not None and epochs else None
        current = goal.value(last) if goal and done else None
        best = goal.value(run.summary) if goal else None
        progress.running.append(RunProgress(run.id, done, epochs, current, best, eta))
    if goal is not None:
        best_run = goal.best(runs, lambda r: goal.value(r.summary), tie=lambda r: r.id)
        if best_run is not None:
            progress.best, progress.best_run = goal.value(best_run.summary), best_run.id
        # a local sweep runs Ultralytics' defaults first (with other seeds): the natural baseline
        judged = judge_best(runs, goal, progress.best, baseline) if progress.best is not None else None
        if judged is not None:
            progress.verdict, progress.baseline_from = judged
            progress.baseline = progress.verdict.reference
    durations = [r.ended - r.created for r in ended if r.ended]
    if planned and durations:
        started = sum(r.state is RunState.RUNNING and (since is None or r.created >= since) for r in runs)
        remaining = max(planned - len(counted) - started, 0)
        running_left = max((p.eta_s or 0.0 for p in progress.running), default=0.0)
        progress.left_s = running_left + remaining * statistics.median(durations) / max(agents, 1)
    return progress


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def sweep_line(p: SweepProgress) -> str:
    ended = f"{p.ended}/{p.planned}" if p.planned else str(p.ended)  # no plan known (no --count, no run_cap): no "/?"
    stopped = "" if p.by_hyperband is None else f", {p.by_hyperband} stopped by Hyperband"  # only with a band
    parts = [f"sweep {p.sweep_id}: {ended} runs ended, {len(p.running)} running{stopped}"]
    if p.best is not None and p.metric is not None:
        best = f"best {p.metric.name} {p.best:.4f} ({p.best_run})"
        if p.verdict is not None:
            best += ", " + p.verdict.describe(p.baseline_from)
        parts.append(best)
    if p.left_s is not None:
        parts.append(f"about {_duration(p.left_s)} left")
    return "; ".join(parts)


def run_line(r: RunProgress, metric: Objective | None) -> str:
    name = metric.name if metric else "metric"
    return (
        f"  run {r.run_id}: epoch {r.epoch}/{r.epochs or '?'}, {name} {_number(r.current)} "
        f"(best {_number(r.best)}), ETA {_duration(r.eta_s)}"
    )


def plain_lines(p: SweepProgress) -> list[str]:
    return [sweep_line(p), *(run_line(r, p.metric) for r in p.running)]


def _table(p: SweepProgress) -> Any:
    from rich.table import Table

    name = p.metric.name if p.metric else "metric"
    table = Table(title=sweep_line(p), title_justify="left", expand=False)
    for column in ("run", "epoch", name, "best", "ETA"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for r in p.running:
        table.add_row(r.run_id, f"{r.epoch}/{r.epochs or '?'}", _number(r.current), _number(r.best), _duration(r.eta_s))
    return table


class Display:
    """Progress on a terminal (refreshed in place) or as plain lines (at most every PLAIN_EVERY_S)."""

    def __init__(self, read: Callable[[], SweepProgress], out: TextIO | None = None, every_s: float = PLAIN_EVERY_S):
        self.read, self.out, self.every_s = read, out or sys.stdout, every_s
        self.live: Any = None
        self.last_plain, self.last_ended = 0.0, -1
        if self.out.isatty():
            from rich.console import Console
            from rich.live import Live

            self.live = Live(console=Console(file=self.out), auto_refresh=False, transient=False)
            self.live.start()

    def say(self, line: str) -> None:
        """An event line (an agent's), printed above the live table."""
        if self.live is not None:
            self.live.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.out, flush=True)

    def update(self, force: bool = False) -> None:
        progress = self.read()
        if self.live is not None:
            self.live.update(_table(progress), refresh=True)
            return
        now = time.time()
        if force or progress.ended != self.last_ended or now - self.last_plain >= self.every_s:
            self.last_plain, self.last_ended = now, progress.ended
            for line in plain_lines(progress):
                print(line, file=self.out, flush=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def watch_status(
    store: Store, sweep_id: str, interval_s: float, lines: Callable[[], list[str]], out: TextIO | None = None
) -> int:
    """`status --watch`: the status table and the progress, refreshed every interval until Ctrl+C."""
    out = out or sys.stdout
    live = None
    if out.isatty():
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        live = Live(console=Console(file=out), auto_refresh=False)
        live.start()
    try:
        while True:
            block = [*lines(), *plain_lines(sweep_progress(store, sweep_id))]
            if live is not None:
                live.update(Text("\n".join(block)), refresh=True)
            else:
                print(time.strftime("--- %H:%M:%S"), *block, sep="\n", file=out, flush=True)
            time.sleep(interval_s)
    except KeyboardInterrupt:
        return 0
    finally:
        if live is not None:
            live.stop()
