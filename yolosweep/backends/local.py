"""The embedded backend: W&B's own sweep engine (the `sweeps` package) over the local store.

`prepare_sweep` readies a validated sweep for the store; `Agent.run_loop` asks the engine for the next
parameters given every run of the sweep (other agents' running runs included), starts the
sweep's command with WANDB_MODE=offline, and after every new epoch asks the engine which runs
Hyperband stops, sending those SIGTERM. The trial process reports epochs into the store
itself (`StoreSink`), so the controller sees them while the run is going.
"""

from __future__ import annotations

import copy
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import sweeps

from .. import spec
from ..preflight import check_sweep
from ..priors import DEFAULTS
from ..priors import TAG as PRIOR_TAG
from ..priors import load_priors
from ..store import Run, Store, new_id

REPO = Path(__file__).resolve().parents[2]
POLL_S = 1.0
STOP_GRACE_S = 120.0

# Our states as the engine knows them. A Hyperband-stopped run is a normal outcome whose
# metrics count: as "finished" bayes learns from its best value; as "killed" it would be
# imputed the worst value of the sweep.
_ENGINE_STATE = {"running": "running", "finished": "finished", "stopped": "finished", "failed": "failed", "crashed": "crashed"}


def prepare_sweep(config: dict[str, Any], program_dir: Path) -> dict[str, Any]:
    """A validated sweep made ready to store: paths become absolute so agents can start from any folder."""
    config = copy.deepcopy(config)
    config["program"] = str(_find_program(config.get("program", spec.TRAIN_PROGRAM), program_dir))
    data = spec.fixed_values(config).get("data")
    if isinstance(data, str) and Path(data).exists():
        config["parameters"]["data"] = {"value": str(Path(data).resolve())}
    return config


def create_sweep(config_path: str, overrides: dict[str, Any], prior_sources: list[str],
                 defaults_first: bool = False) -> tuple[Store, str]:
    """Check a sweep YAML with its overrides, dataset, model and priors, then store it.

    Every check runs before the store is opened, so bad input leaves nothing behind.
    `defaults_first`: with no prior given, run Ultralytics' defaults first where they lie in the
    search space (bench/search_efficiency.py: at an equal budget the same sweep found a better
    model that way in every repetition).
    """
    config = spec.with_overrides(spec.load_sweep(config_path), overrides)
    config = prepare_sweep(spec.validate_sweep(config, config_path), Path(config_path).resolve().parent)
    check_sweep(config)
    priors = load_priors(prior_sources, config)
    if defaults_first and not prior_sources and spec.trains_yolo(config):
        try:
            priors, prior_sources = load_priors([DEFAULTS], config), [DEFAULTS]
        except spec.ConfigError as err:
            print(f"yolosweep: Ultralytics' defaults are not run first: {err.key} {err.problem}")
    store = Store()
    sweep_id = store.create_sweep(config, priors)
    print(f"yolosweep: created local sweep {sweep_id} in {store.path}")
    if priors:
        print(f"yolosweep: {len(priors)} prior configuration(s) run first: {', '.join(prior_sources)}")
    return store, sweep_id


def agent_command(sweep_id: str, store: Store) -> str:
    """The exact command that adds an agent to this sweep from another terminal."""
    command = f"cd {Path.cwd()} && " + (f"PYTHONPATH={REPO} " if Path.cwd() != REPO else "")
    if store.path.resolve() != (Path.cwd() / ".yolosweep" / "sweeps.db").resolve():
        command += f"YOLOSWEEP_HOME={store.path.parent.resolve()} "
    return command + f"python -m yolosweep agent {sweep_id}"


def _find_program(program: str, program_dir: Path) -> Path:
    """The YAML's `program`, looked for next to the YAML, then here; ours when it names train_sweep.py."""
    candidates = [Path(program)] if Path(program).is_absolute() else [program_dir / program, Path.cwd() / program]
    if Path(program).name == spec.TRAIN_PROGRAM:
        candidates.append(REPO / spec.TRAIN_PROGRAM)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise spec.ConfigError("program", program, f"not found (looked in {', '.join(str(c.parent) for c in candidates)})",
                           "give the program's path relative to the sweep YAML")


def engine_runs(runs: list[Run]) -> list[sweeps.SweepRun]:
    # Aliases, not field names: sweeps 0.2.0 under pydantic 2 silently drops `history=` and
    # `summary_metrics=`, which would leave Hyperband and bayes blind.
    return [
        sweeps.SweepRun(
            name=run.id,
            state=_ENGINE_STATE[run.state],
            config={k: {"value": v} for k, v in run.params.items()},
            sampledHistory=run.history,
            summaryMetrics=run.summary,
        )
        for run in runs
    ]


def suggest(config: dict[str, Any], runs: list[Run]) -> dict[str, Any] | None:
    """The engine's next parameters, or None when the search space is exhausted (grid)."""
    with warnings.catch_warnings():
        # The GP's length scales often sit at their bounds with few runs; sklearn says so every time.
        warnings.filterwarnings("ignore", module="sklearn.gaussian_process")
        suggestion = sweeps.next_run(spec.engine_view(config), engine_runs(runs), validate=False)
    if suggestion is None:
        return None
    return {k: v["value"] for k, v in suggestion.config.items()}


def runs_to_stop(config: dict[str, Any], runs: list[Run]) -> list[str]:
    if "early_terminate" not in config:
        return []
    return [r.name for r in sweeps.stop_runs(spec.engine_view(config), engine_runs(runs))]


def build_command(config: dict[str, Any], params: dict[str, Any], args_file: Path) -> list[str]:
    """The sweep's `command` with W&B's macros expanded; a list, never a shell string."""
    template = config.get("command") or ["${env}", "${interpreter}", "${program}", "${args}"]
    args_file.write_text(json.dumps(params))
    macros: dict[str, list[str]] = {
        "${env}": ["/usr/bin/env"],
        "${interpreter}": [sys.executable],
        "${program}": [config["program"]],
        "${args}": [f"--{k}={v}" for k, v in params.items()],
        "${args_no_hyphens}": [f"{k}={v}" for k, v in params.items()],
        "${args_json}": [json.dumps(params)],
        "${args_json_file}": [str(args_file)],
    }
    command: list[str] = []
    for item in template:
        command.extend(macros.get(item, [item]))
    return command


def die_with_parent() -> None:
    # If the agent is killed outright, its run gets SIGTERM and ends cleanly as `stopped`
    # instead of training on, unwatched, on a GPU the next agent wants.
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class StoreSink:
    """Inside the trial process: per-epoch metrics and the final state into the store."""

    def __init__(self, store: Store, run_id: str):
        self.store, self.run_id = store, run_id

    @classmethod
    def from_env(cls) -> "StoreSink | None":
        run_id, path = os.environ.get("YOLOSWEEP_RUN_ID"), os.environ.get("YOLOSWEEP_STORE")
        return cls(Store(path), run_id) if run_id and path else None

    def log_epoch(self, epoch: int, row: dict[str, Any], summary: dict[str, Any]) -> None:
        self.store.log_epoch(self.run_id, epoch, row, summary)

    def end(self, state: str, reason: str, summary: dict[str, Any]) -> None:
        self.store.end_run(self.run_id, state, reason, summary)


class Agent:
    def __init__(self, store: Store, sweep_id: str, count: int | None = None):
        self.store, self.sweep_id, self.count = store, sweep_id, count
        self.config = store.sweep_config(sweep_id)
        self.stop_signal: int | None = None
        self.child: subprocess.Popen | None = None

    def _handle(self, signum: int, _frame: object) -> None:
        self.stop_signal = signum
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def run_loop(self) -> int:
        """Run trials until --count, the run cap, an exhausted grid or a stop signal; return an exit code."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        for run_id in self.store.mark_crashed(self.sweep_id):
            print(f"yolosweep agent: run {run_id} was left running by a dead process: marked crashed", flush=True)
        done = 0
        while self.stop_signal is None and (self.count is None or done < self.count):
            run_id, params, prior = self._next()
            if run_id is None:
                break
            self._train(run_id, params, prior)
            done += 1
        print(f"yolosweep agent: {done} run(s) done in sweep {self.sweep_id}", flush=True)
        return 130 if self.stop_signal == signal.SIGINT else 0

    def _next(self) -> tuple[str | None, dict[str, Any], bool]:
        """The next run: the next --prior not yet run, else the engine's suggestion."""
        with self.store.transaction():
            runs = self.store.runs(self.sweep_id)
            cap = self.config.get("run_cap")
            if cap is not None and len(runs) >= cap:
                print(f"yolosweep agent: run cap {cap} reached", flush=True)
                return None, {}, False
            run_id = new_id()
            params = self.store.add_prior_run(self.sweep_id, run_id)
            if params is not None:
                return run_id, params, True
            params = suggest(self.config, runs)
            if params is None:
                print("yolosweep agent: search space exhausted", flush=True)
                return None, {}, False
            self.store.add_run(self.sweep_id, run_id, params)
        return run_id, params, False

    def _train(self, run_id: str, params: dict[str, Any], prior: bool) -> None:
        swept = {k: v for k, v in params.items() if "value" not in self.config["parameters"].get(k, {})}
        shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in swept.items())
        print(f"yolosweep agent: run {run_id}{' (prior)' if prior else ''}: {shown}", flush=True)
        wandb_dir = Path(os.environ.get("WANDB_DIR", ".")).resolve()
        env = {**os.environ, "WANDB_MODE": "offline", "WANDB_RUN_ID": run_id, "WANDB_DIR": str(wandb_dir),
               "YOLOSWEEP_RUN_ID": run_id, "YOLOSWEEP_STORE": str(self.store.path.resolve()),
               "YOLOSWEEP_SWEEP_ID": self.sweep_id}
        if prior:
            env["WANDB_TAGS"] = ",".join(filter(None, [os.environ.get("WANDB_TAGS"), PRIOR_TAG]))
        env.setdefault("WANDB_PROJECT", self.config.get("project") or "yolosweep")
        with tempfile.TemporaryDirectory(prefix="yolosweep-") as tmp:
            command = build_command(self.config, params, Path(tmp) / "args.json")
            self.child = subprocess.Popen(command, env=env, preexec_fn=die_with_parent)
            self.store.set_process(run_id, self.child.pid, str(wandb_dir / "wandb"))
            stopped_by = self._watch(run_id)
            code = self.child.wait()
        self.child = None
        if code == 0:
            state, reason = ("stopped", stopped_by) if stopped_by else ("finished", "")
        elif code < 0:
            state, reason = "crashed", f"killed by {signal.Signals(-code).name}"
        else:
            state, reason = "failed", f"exit code {code}"
        self.store.end_run(run_id, state, reason)  # no-op when the trial recorded its own ending
        if stopped_by:
            self.store.explain_stop(run_id, stopped_by)
        final = next(r for r in self.store.runs(self.sweep_id, with_history=False) if r.id == run_id)
        print(f"yolosweep agent: run {run_id} {final.state}" + (f": {final.reason}" if final.reason else ""), flush=True)

    def _watch(self, run_id: str) -> str:
        """Wait for the child; after each new epoch anywhere in the sweep, ask Hyperband. Returns why it was stopped."""
        seen, stopped_by, term_at = -1, "", None
        while self.child.poll() is None:
            try:
                self.child.wait(timeout=POLL_S)  # wakes as soon as the run exits: the next run starts without a poll's delay
            except subprocess.TimeoutExpired:
                pass
            if self.stop_signal is not None and not stopped_by:
                stopped_by, term_at = f"agent received {signal.Signals(self.stop_signal).name}", time.time()
            epochs = self.store.epochs_logged(self.sweep_id)
            if epochs != seen and not stopped_by:
                seen = epochs
                if run_id in runs_to_stop(self.config, self.store.runs(self.sweep_id)):
                    stopped_by, term_at = "hyperband", time.time()
                    self.child.send_signal(signal.SIGTERM)
            if term_at is not None and time.time() - term_at > STOP_GRACE_S:
                self.child.kill()
        return stopped_by
