"""launch_sweep.sh: its options, the backend choice, the local launch and the summary at the end.

Slots are planned in slots.py, agent processes supervised in supervise.py, the W&B side is
backends/wandb.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from yolosweep.agent.supervise import run_agents
from yolosweep.commands import arguments
from yolosweep.commands.sweep import agent_command, create_sweep
from yolosweep.objective import sweep_objective
from yolosweep.results.progress import Display, sweep_progress
from yolosweep.run.tracking import has_api_key
from yolosweep.states import Origin, RunState
from yolosweep.store import Store, home
from yolosweep.sweep import spec
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.model import weights_dir
from yolosweep.sweep.resources import amp_check_env, check_slots
from yolosweep.sweep.slots import Slot, plan_slots, split_count
from yolosweep.sweep.train_args import fixed_values, trains_yolo

DEMO_RUNS, DEMO_EPOCHS = 6, 20
# Fixed values of the demo on top of sweep_config.yaml: the tunable task at bench/value_data.py's settings, where
# tuning pays within a few runs on CPU (docs/benchmarks.md); AdamW, as SGD from scratch needs tens of epochs.
DEMO_FIXED = {
    "epochs": DEMO_EPOCHS,
    "imgsz": 96,
    "batch": 16,
    "model": "yolo11n.yaml",
    "device": "cpu",
    "workers": 0,
    "optimizer": "AdamW",
}


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "launch_sweep.sh", description="Create or join a sweep and run one agent per GPU."
    )
    parser.add_argument(
        "--config", default=None, help="sweep YAML (default: sweep_config.yaml here, else the shipped one)"
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "wandb", "local"),
        default="auto",
        help="auto: W&B when an API key is configured, else local",
    )
    parser.add_argument("--gpus", default="all", help="'all' (default; CPU when none), 'cpu', or ids like 0,1")
    parser.add_argument(
        "--agents-per-gpu", type=arguments.positive_int, default=1, help="agents sharing each GPU (default 1)"
    )
    parser.add_argument(
        "--count", type=arguments.positive_int, default=None, help="runs in all, spread over the agents"
    )
    parser.add_argument("--sweep-id", default=None, help="join or resume this sweep instead of creating one")
    parser.add_argument("--project", default=None, help="W&B project (default: yolosweep)")
    parser.add_argument("--entity", default=None, help="W&B entity (default: your default entity)")
    parser.add_argument(
        "--prior",
        action="append",
        default=[],
        metavar="FILE.yaml",
        help="a configuration to run first and teach the search (best_config.yaml, a run's "
        "args.yaml, or 'defaults'); repeatable. Local sweeps of train_sweep.py run "
        "'defaults' first unless told otherwise",
    )
    parser.add_argument("--no-prior", action="store_true", help="local backend: do not run Ultralytics' defaults first")
    arguments.add_noise_runs_flag(parser)
    arguments.add_keep_band_flag(parser)
    parser.add_argument(
        "--baseline",
        type=float,
        default=None,
        help="your current model's metric: progress shows the gain over it (default: the defaults run)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"offline demo: generated data, {DEMO_RUNS} runs of {DEMO_EPOCHS} epochs on CPU",
    )
    arguments.add_override_flags(parser)
    arguments.add_store_flag(parser)
    return parser


def choose_backend(requested: str) -> str:
    if requested == "wandb" and not has_api_key():
        raise ConfigError(
            "--backend",
            "wandb",
            "no W&B API key is configured",
            "run `wandb login` or set WANDB_API_KEY, or use --backend local",
        )
    if requested != "auto":
        print(f"yolosweep: backend {requested} (as asked)")
        return requested
    if has_api_key():
        print("yolosweep: backend wandb (a W&B API key is configured; --backend local to stay offline)")
        return "wandb"
    print("yolosweep: backend local (no W&B API key found; runs log offline for `wandb sync` later)")
    return "local"


def _demo_overrides(options: argparse.Namespace, store_dir: Path) -> dict[str, Any]:
    from yolosweep.sweep.demo_data import write_tunable_dataset

    data = store_dir / "demo-tunable-data" / "data.yaml"
    if not data.exists():
        print(f"yolosweep: generating the demo dataset in {data.parent}")
        write_tunable_dataset(data.parent)
    return {**DEMO_FIXED, "data": str(data), **arguments.overrides(options)}


def launch(argv: list[str], prog: str | None = None) -> int:
    options = _parser(prog).parse_args(argv)
    arguments.use_store(options)
    if options.demo:
        options.backend, options.gpus = "local", "cpu"
        options.count = options.count or DEMO_RUNS
    options.config = options.config or str(
        spec.STARTER / "sweep_config.yaml" if options.demo else spec.default_sweep_yaml()
    )
    if options.sweep_id and options.prior:
        raise ConfigError(
            "--prior",
            " ".join(options.prior),
            "priors are set when a sweep is created",
            "drop --prior when joining a sweep with --sweep-id",
        )
    backend = choose_backend(options.backend)
    slots = plan_slots(options.gpus, options.agents_per_gpu)
    counts = split_count(options.count, len(slots))
    slots = slots[: len(counts)]
    if backend == "wandb":
        from yolosweep.agent import wandb_cloud as wandb_backend

        return wandb_backend.launch(options, arguments.overrides(options), slots, counts)
    return _launch_local(options, slots, counts)


def _launch_local(options: argparse.Namespace, slots: list[Slot], counts: list[int | None]) -> int:
    if options.sweep_id:
        store = Store(create=False)  # joining needs an existing store; never make one for a typo
        joined = store.sweep_config(options.sweep_id)  # fails clearly on an unknown id
        if trains_yolo(joined):  # these agents' GPUs against the sweep's runs, as at creation
            check_slots(fixed_values(joined), slots)
        sweep_id = options.sweep_id
        print(f"yolosweep: joining local sweep {sweep_id}")
    else:
        overrides = _demo_overrides(options, home()) if options.demo else arguments.overrides(options)
        store, sweep_id = create_sweep(
            options.config,
            overrides,
            options.prior,
            defaults_first=not options.no_prior,
            slots=slots,
            noise_runs=options.noise_runs,
            count=options.count,
            keep_band=options.keep_band,
        )
    print(f"yolosweep: more agents, any terminal: {agent_command(sweep_id, store)}")
    log_dir = store.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    prefix = log_dir / sweep_id
    commands = [
        [
            sys.executable,
            "-m",
            "yolosweep",
            "agent",
            sweep_id,
            *([f"--count={n}"] if n else []),
            f"--events={prefix}-{slot.name}.events",
        ]
        for n, slot in zip(counts, slots)
    ]
    planned = options.count or None
    since = time.time() if options.sweep_id else None  # joining: --count counts this launch's runs, not the sweep's
    display = Display(
        lambda: sweep_progress(
            store, sweep_id, baseline=options.baseline, planned=planned, agents=len(slots), since=since
        )
    )
    env = amp_check_env(fixed_values(store.sweep_config(sweep_id)), slots, weights_dir())
    try:
        code = run_agents(commands, slots, prefix, shown=".events", display=display, env=env)
    finally:
        display.close()
    from yolosweep.results.status import print_status

    print()
    print_status(store, sweep_id)
    _print_best(store, sweep_id, options.baseline)
    return code


def _print_best(store: Store, sweep_id: str, baseline: float | None = None) -> None:
    config = store.sweep_config(sweep_id)
    goal = sweep_objective(config)
    if goal is None:
        return  # nothing to rank by: the status table lists the runs
    metric = goal.name
    stored = store.runs(sweep_id)
    best = goal.best(stored, lambda r: goal.value(r.summary), tie=lambda r: r.id)
    if best is None:
        print("yolosweep: no run has reached the metric yet")
        return
    swept = {k: best.params[k] for k, v in config["parameters"].items() if "value" not in v and k in best.params}
    luck = (
        f"; the first prior again with seed {best.params.get('seed')}: a seed's luck"
        if best.origin is Origin.NOISE
        else ""
    )
    print(
        f"\nbest run: {best.id} ({best.state}, {len(best.history)} epochs{luck}) "
        f"{metric} = {goal.value(best.summary):.4f}"
    )
    print("  " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in swept.items()))
    final = sweep_progress(store, sweep_id, baseline=baseline, runs=stored)
    if final.verdict is not None:  # there is a best and a non-zero baseline (the defaults or --baseline)
        from yolosweep.results.verdict import verdict_lines

        durations = [r.ended - r.created for r in stored if r.ended and r.state is not RunState.RUNNING]
        print(
            "\n".join(
                verdict_lines(
                    final.verdict,
                    final.baseline_from,
                    sweep_id,
                    statistics.median(durations) if durations else None,
                    fixed_values(config).get("epochs"),
                )
            )
        )
    print(f"offline wandb runs: {best.wandb_dir} (upload: wandb sync {best.wandb_dir}/offline-run-*)")


@arguments.one_line_errors
def main(argv: list[str], prog: str | None = None) -> int:
    return launch(argv, prog)


def demo(argv: list[str], prog: str | None = None) -> int:
    """`yolosweep demo`: the launcher with --demo."""
    return main(["--demo", *argv], prog)
