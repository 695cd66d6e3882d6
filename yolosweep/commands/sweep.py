"""`yolosweep sweep FILE`: validate a sweep YAML and create a local sweep. `yolosweep sweep --pause/--resume/--stop/
--cancel ID` controls one as `wandb sweep` does (--stop: running runs finish; --cancel: they are stopped now). A local
sweep is controlled through its store, so every agent on every host sharing it obeys within a poll; an id the store
does not know goes to `wandb sweep` when W&B is set up."""

from __future__ import annotations

import argparse
import shutil
import subprocess

from yolosweep.commands import arguments
from yolosweep.invocation import command
from yolosweep.run.tracking import has_api_key
from yolosweep.states import SweepState
from yolosweep.store import Store, StoreError
from yolosweep.sweep.create import agent_command, create_sweep
from yolosweep.sweep.errors import ConfigError

ACTIONS = {
    "pause": SweepState.PAUSED,
    "resume": SweepState.RUNNING,
    "stop": SweepState.FINISHED,
    "cancel": SweepState.CANCELED,
}
SAID = {
    "pause": "paused: agents start no new run until `{resume}`; running runs go on",
    "resume": "running again: agents take new runs",
    "stop": "stopped: running runs finish, no new run starts",
    "cancel": "canceled: its running runs are being stopped, no new run starts",
}


def control_sweep(action: str, sweep_id: str) -> int:
    """`yolosweep sweep --ACTION ID`."""
    try:
        store = Store(create=False)
    except StoreError:
        return _on_wandb(["sweep", f"--{action}", sweep_id], f"no local sweep {sweep_id!r}")
    if sweep_id not in store.sweep_ids():
        store.close()
        return _on_wandb(["sweep", f"--{action}", sweep_id], f"no local sweep {sweep_id!r}")
    try:
        before = store.set_sweep_state(sweep_id, ACTIONS[action])
        if before in (SweepState.FINISHED, SweepState.CANCELED):
            raise StoreError(
                f"sweep {sweep_id} is already {before}: it cannot be {action}d. Fix: create a new sweep, "
                f"or join this one's runs with `{command('analyze')} {sweep_id}`"
            )
    finally:
        store.close()
    print(f"yolosweep: sweep {sweep_id} " + SAID[action].format(resume=f"{command('sweep')} --resume {sweep_id}"))
    return 0


def _on_wandb(args: list[str], why: str) -> int:
    if not has_api_key() or shutil.which("wandb") is None:
        raise StoreError(
            f"{why}, and no W&B API key to ask W&B. Fix: check the id (`{command('status')}`), or "
            "`wandb login` for a W&B sweep"
        )
    return subprocess.call(["wandb", *args])


WORDS = {
    "pause": "agents start no new run; running runs go on",
    "resume": "undo --pause",
    "stop": "running runs finish, no new run starts",
    "cancel": "stop the running runs now",
}


@arguments.one_line_errors
def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("config", nargs="?", help="sweep YAML, e.g. sweep_config.yaml")
    control = parser.add_mutually_exclusive_group()
    for name in ACTIONS:
        control.add_argument(f"--{name}", metavar="ID", help=f"{WORDS[name]} (W&B sweeps: passed to `wandb sweep`)")
    parser.add_argument(
        "--prior",
        action="append",
        default=[],
        metavar="FILE.yaml",
        help="a configuration its agents run first (best_config.yaml, args.yaml or 'defaults'); repeatable",
    )
    arguments.add_noise_runs_flag(parser)
    arguments.add_keep_band_flag(parser)
    arguments.add_override_flags(parser)
    arguments.add_store_flag(parser)
    options = parser.parse_args(argv)
    arguments.use_store(options)
    action = next((a for a in ACTIONS if getattr(options, a)), None)
    if action is not None:
        return control_sweep(action, getattr(options, action))
    if not options.config:
        raise ConfigError(
            "sweep",
            "-",
            "no sweep YAML given",
            "pass one, e.g. `sweep sweep_config.yaml`, or --pause/--resume/--stop/--cancel ID",
        )
    store, sweep_id = create_sweep(
        options.config,
        arguments.overrides(options),
        options.prior,
        noise_runs=options.noise_runs,
        keep_band=options.keep_band,
    )
    print(f"yolosweep: start an agent (one per GPU, any terminal): {agent_command(sweep_id, store)}")
    return 0
