"""launch_sweep.sh: pick a backend, create or join a sweep, start one agent per GPU slot, wait.

Each agent logs to its own file; this process shows their progress lines, forwards Ctrl+C as
a clean stop to every agent (which stops its run), and prints the sweep's summary at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import arguments, spec
from .backends.local import agent_command, create_sweep, die_with_parent
from .preflight import ready_sweep
from .progress import Display, sweep_progress
from .priors import TAG as PRIOR_TAG
from .store import Store, StoreError, default_path, new_id
from .states import STOP_SIGNALS
from .tracking import has_api_key

REPO = Path(__file__).resolve().parent.parent
DEMO_RUNS, DEMO_EPOCHS = 6, 5
# Fixed values of the demo on top of sweep_config.yaml: a tiny generated dataset, from scratch,
# on CPU. AdamW, because SGD from scratch needs tens of epochs before mAP moves. A 1-epoch
# warm-up: the swept 1-5 epochs would fill most of a 5-epoch run and leave Hyperband no band.
DEMO_FIXED = {"epochs": DEMO_EPOCHS, "imgsz": 64, "batch": 16, "model": "yolo11n.yaml", "device": "cpu",
              "workers": 0, "optimizer": "AdamW", "warmup_epochs": 1}


@dataclass
class Slot:
    name: str
    visible_devices: str  # CUDA_VISIBLE_DEVICES for the agent; "" hides every GPU


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="launch_sweep.sh", description="Create or join a sweep and run one agent per GPU.")
    parser.add_argument("--config", default=str(REPO / "sweep_config.yaml"), help="sweep YAML (default: sweep_config.yaml)")
    parser.add_argument("--backend", choices=("auto", "wandb", "local"), default="auto",
                        help="auto: W&B when an API key is configured, else local")
    parser.add_argument("--gpus", default="all", help="'all' (default; CPU when none), 'cpu', or ids like 0,1")
    parser.add_argument("--agents-per-gpu", type=arguments.positive_int, default=1, help="agents sharing each GPU (default 1)")
    parser.add_argument("--count", type=arguments.positive_int, default=None, help="runs in all, spread over the agents")
    parser.add_argument("--sweep-id", default=None, help="join or resume this sweep instead of creating one")
    parser.add_argument("--project", default=None, help="W&B project (default: yolosweep)")
    parser.add_argument("--entity", default=None, help="W&B entity (default: your default entity)")
    parser.add_argument("--prior", action="append", default=[], metavar="FILE.yaml",
                        help="a configuration to run first and teach the search (best_config.yaml, a run's "
                             "args.yaml, or 'defaults'); repeatable. Local sweeps of train_sweep.py run "
                             "'defaults' first unless told otherwise")
    parser.add_argument("--no-prior", action="store_true",
                        help="local backend: do not run Ultralytics' defaults first")
    parser.add_argument("--baseline", type=float, default=None,
                        help="your current model's metric: progress shows the gain over it (default: the defaults run)")
    parser.add_argument("--demo", action="store_true",
                        help=f"offline demo: generated data, {DEMO_RUNS} runs of {DEMO_EPOCHS} epochs on CPU")
    arguments.add_override_flags(parser)
    return parser


def choose_backend(requested: str) -> str:
    if requested == "wandb" and not has_api_key():
        raise spec.ConfigError("--backend", "wandb", "no W&B API key is configured",
                               "run `wandb login` or set WANDB_API_KEY, or use --backend local")
    if requested != "auto":
        print(f"yolosweep: backend {requested} (as asked)")
        return requested
    if has_api_key():
        print("yolosweep: backend wandb (a W&B API key is configured; --backend local to stay offline)")
        return "wandb"
    print("yolosweep: backend local (no W&B API key found; runs log offline for `wandb sync` later)")
    return "local"


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def plan_slots(gpus: str, agents_per_gpu: int) -> list[Slot]:
    if gpus == "cpu":
        devices = [("cpu", "")]
    else:
        found = visible_gpus()
        if gpus == "all":
            devices = [(f"gpu{i}", str(i)) for i in range(found)] or [("cpu", "")]
        else:
            ids = [part.strip() for part in gpus.split(",") if part.strip()]
            for gpu in ids:
                if not gpu.isdigit() or int(gpu) >= found:
                    raise spec.ConfigError("--gpus", gpu, f"no such GPU (this machine shows {found})",
                                           "use ids from nvidia-smi, 'all' or 'cpu'")
            devices = [(f"gpu{gpu}", gpu) for gpu in ids]
    return [Slot(f"{name}-{k}" if agents_per_gpu > 1 else name, visible) for name, visible in devices
            for k in range(agents_per_gpu)]


def split_count(count: int | None, agents: int) -> list[int | None]:
    if count is None:
        return [None] * agents
    share = [count // agents + (1 if i < count % agents else 0) for i in range(agents)]
    return [n for n in share if n > 0]


def _demo_overrides(options: argparse.Namespace, store_dir: Path) -> dict[str, Any]:
    from .demo import write_demo_dataset

    data = store_dir / "demo-data" / "data.yaml"
    if not data.exists():
        print(f"yolosweep: generating the demo dataset in {data.parent}")
        write_demo_dataset(data.parent)
    return {**DEMO_FIXED, "data": str(data), **arguments.overrides(options)}


def launch(argv: list[str]) -> int:
    options = _parser().parse_args(argv)
    if options.demo:
        options.backend, options.gpus = "local", "cpu"
        options.count = options.count or DEMO_RUNS
    backend = choose_backend(options.backend)
    slots = plan_slots(options.gpus, options.agents_per_gpu)
    counts = split_count(options.count, len(slots))
    slots = slots[: len(counts)]
    if backend == "wandb":
        return _launch_wandb(options, slots, counts)
    return _launch_local(options, slots, counts)


def _launch_local(options: argparse.Namespace, slots: list[Slot], counts: list[int | None]) -> int:
    if options.sweep_id:
        _no_priors_when_joining(options)
        store = Store(create=False)  # joining needs an existing store; never make one for a typo
        store.sweep_config(options.sweep_id)  # fails clearly on an unknown id
        sweep_id = options.sweep_id
        print(f"yolosweep: joining local sweep {sweep_id}")
    else:
        overrides = _demo_overrides(options, default_path().parent) if options.demo else arguments.overrides(options)
        store, sweep_id = create_sweep(options.config, overrides, options.prior, defaults_first=not options.no_prior)
    print(f"yolosweep: more agents, any terminal: {agent_command(sweep_id, store)}")
    log_dir = store.path.parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    prefix = log_dir / sweep_id
    commands = [[sys.executable, "-m", "yolosweep", "agent", sweep_id, *([f"--count={n}"] if n else []),
                 f"--events={prefix}-{slot.name}.events"] for n, slot in zip(counts, slots)]
    planned = options.count or None
    display = Display(lambda: sweep_progress(store, sweep_id, baseline=options.baseline, planned=planned, agents=len(slots)))
    try:
        code = _run_agents(commands, slots, prefix, shown=".events", display=display)
    finally:
        display.close()
    from .report import print_status

    print()
    print_status(store, sweep_id)
    _print_best(store, sweep_id)
    return code


def _print_best(store: Store, sweep_id: str) -> None:
    from .report import objective_of, ranked

    config = store.sweep_config(sweep_id)
    goal = spec.objective(config)
    if goal is None:
        return  # nothing to rank by: the status table lists the runs
    metric = goal.name
    runs = [r for r in ranked(store.runs(sweep_id), goal) if objective_of(r, metric) is not None]
    if not runs:
        print("yolosweep: no run has reached the metric yet")
        return
    best = runs[0]
    swept = {k: best.params[k] for k, v in config["parameters"].items() if "value" not in v and k in best.params}
    print(f"\nbest run: {best.id} ({best.state}, {len(best.history)} epochs) {metric} = {objective_of(best, metric):.4f}")
    print("  " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in swept.items()))
    print(f"offline wandb runs: {best.wandb_dir} (upload: wandb sync {best.wandb_dir}/offline-run-*)")


def _launch_wandb(options: argparse.Namespace, slots: list[Slot], counts: list[int | None]) -> int:
    import wandb

    project = options.project or os.environ.get("WANDB_PROJECT") or "yolosweep"
    if options.sweep_id:
        _no_priors_when_joining(options)
        sweep_id = options.sweep_id
    else:
        overrides = arguments.overrides(options)
        if isinstance(overrides.get("data"), str) and Path(overrides["data"]).exists():
            overrides["data"] = str(Path(overrides["data"]).resolve())  # agents run from the repo folder
        config, priors = ready_sweep(options.config, overrides, options.prior)
        prior_runs = _train_priors_on_wandb(priors, slots, project, options.entity) if priors else []
        if prior_runs is None:
            return 1
        sweep_id = wandb.sweep(config, project=project, entity=options.entity, prior_runs=prior_runs or None)
    path = wandb_sweep_path(sweep_id, project, options.entity)
    print(f"yolosweep: W&B sweep {path}; more agents, any machine: wandb agent {path}")
    commands = wandb_agent_commands(path, counts)
    # `program: train_sweep.py` is relative, as W&B expects, so agents start in this repository.
    return _run_agents(commands, slots, REPO / "wandb-agent-logs" / sweep_id.rsplit("/", 1)[-1], cwd=REPO)


def wandb_sweep_path(sweep_id: str, project: str, entity: str | None) -> str:
    """ENTITY/PROJECT/ID (or PROJECT/ID without an entity), as `wandb agent` takes it; a full path stays as given."""
    return sweep_id if "/" in sweep_id else "/".join(part for part in (entity, project, sweep_id) if part)


def wandb_agent_commands(path: str, counts: list[int | None]) -> list[list[str]]:
    """One `wandb agent` command per slot; its GPU comes from CUDA_VISIBLE_DEVICES in _run_agents."""
    return [["wandb", "agent", *([f"--count={n}"] if n else []), path] for n in counts]


def _no_priors_when_joining(options: argparse.Namespace) -> None:
    if options.prior:
        raise spec.ConfigError("--prior", " ".join(options.prior), "priors are set when a sweep is created",
                               "drop --prior when joining a sweep with --sweep-id")


def _train_priors_on_wandb(priors: list[dict[str, Any]], slots: list[Slot], project: str,
                           entity: str | None) -> list[str] | None:
    """W&B's API teaches a sweep finished runs (`prior_runs`), not configurations: train each prior
    as a tagged run first, one per slot at a time, and return their ids (None if one failed)."""
    run_ids = []
    for start in range(0, len(priors), len(slots)):
        batch = [(new_id(), params) for params in priors[start: start + len(slots)]]
        commands = [["/usr/bin/env", f"WANDB_RUN_ID={run_id}", f"WANDB_TAGS={PRIOR_TAG}", f"WANDB_PROJECT={project}",
                     *([f"WANDB_ENTITY={entity}"] if entity else []), sys.executable, str(REPO / spec.TRAIN_PROGRAM),
                     *(f"--{k}={v}" for k, v in params.items())] for run_id, params in batch]
        print(f"yolosweep: training prior run(s) {', '.join(r for r, _ in batch)} before the sweep starts")
        if _run_agents(commands, slots, REPO / "wandb-agent-logs" / "priors") != 0:
            print("yolosweep: a prior run failed; no sweep was created (see wandb-agent-logs/priors-*.log)")
            return None
        run_ids += [run_id for run_id, _ in batch]
    return run_ids


def _run_agents(commands: list[list[str]], slots: list[Slot], log_prefix: Path, cwd: Path | None = None,
                shown: str = ".log", display: Display | None = None) -> int:
    """Start one agent per slot, echo their progress lines, stop them all cleanly on Ctrl+C.

    shown: the file of each slot whose lines are echoed. Local agents write their own lines to
    `.events` as well as to the log, which runs share, so no run's output can pose as an agent line.
    """
    log_prefix.parent.mkdir(parents=True, exist_ok=True)
    agents, logs = [], []
    for command, slot in zip(commands, slots):
        log_path = Path(f"{log_prefix}-{slot.name}.log")
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": slot.visible_devices}
        with open(log_path, "ab") as log:
            agents.append(subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                           preexec_fn=die_with_parent))
        logs.append(_LogTail(log_path.with_suffix(shown), slot.name, display.say if display else print))
        print(f"yolosweep: agent on {slot.name} (pid {agents[-1].pid}), log {log_path}")

    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        if not stopping:
            try:
                print(f"\nyolosweep: {signal.Signals(signum).name}: stopping every agent and its run cleanly ...", flush=True)
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


def main(argv: list[str]) -> int:
    try:
        return launch(argv)
    except (spec.ConfigError, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
