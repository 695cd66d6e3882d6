"""`yolosweep sweep FILE`: validate a sweep YAML and create a local sweep in the store (priors and seed repeats
queued; the command that adds an agent from another terminal). `yolosweep sweep --pause/--resume/--stop/
--cancel ID` controls one as `wandb sweep` does (--stop: running runs finish; --cancel: they are stopped now). A local
sweep is controlled through its store, so every agent on every host sharing it obeys within a poll; an id the store
does not know goes to `wandb sweep` when W&B is set up."""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

from yolosweep.commands import arguments
from yolosweep.invocation import REPO, command, in_clone
from yolosweep.run.tracking import has_api_key
from yolosweep.states import SweepState
from yolosweep.store import Store, StoreError
from yolosweep.sweep import spec
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.preflight import ready_sweep
from yolosweep.sweep.priors import DEFAULTS, load_priors, seed_repeats
from yolosweep.sweep.slots import Slot
from yolosweep.sweep.train_args import TRAIN_PROGRAM, fixed_values, trains_yolo

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


def prepare_sweep(config: dict[str, Any], program_dir: Path) -> dict[str, Any]:
    """A validated sweep made ready to store: paths become absolute so agents can start from any folder."""
    config = copy.deepcopy(config)
    config["program"] = str(find_program(config.get("program", TRAIN_PROGRAM), program_dir))
    data = fixed_values(config).get("data")
    if isinstance(data, str) and Path(data).exists():
        config["parameters"]["data"] = {"value": str(Path(data).resolve())}
    # weights given as a file here: a retrain or an agent started elsewhere failed to find them (bench/weights/x.pt
    # from the clone's root); a name with no such file (yolo11n.pt) stays a name, for Ultralytics' weights folder
    model = config["parameters"].get("model", {})
    for key in ("value", "values"):
        if key in model:
            names = model[key] if key == "values" else [model[key]]
            names = [str(Path(m).resolve()) if isinstance(m, str) and Path(m).is_file() else m for m in names]
            model[key] = names if key == "values" else names[0]
    return config


def create_sweep(
    config_path: str,
    overrides: dict[str, Any],
    prior_sources: list[str],
    defaults_first: bool = False,
    slots: list[Slot] | None = None,
    noise_runs: int | None = None,
    count: int | None = None,
    keep_band: bool = False,
) -> tuple[Store, str]:
    """Check a sweep YAML with its overrides, dataset, model and priors, then store it.

    Every check runs before the store is opened, so bad input leaves nothing behind.
    `defaults_first`: with no prior given, run Ultralytics' defaults first where they lie in the
    search space (bench/search_efficiency.py: at an equal budget the same sweep found a better
    model that way in every repetition).
    `noise_runs`: the first prior again with that many other seeds, so the sweep knows its seed
    spread (priors.seed_repeats; None: its default).
    `count`: the runs the launch will do (--count), to say how many of them search.
    `keep_band`: keep a Hyperband band where it was measured to cost the search (step_aside).
    """
    folder = Path(config_path).resolve().parent
    config, priors = ready_sweep(
        config_path, overrides, prior_sources, lambda c: prepare_sweep(c, folder), slots, keep_band
    )
    if (config.get("early_terminate") or {}).get("strict"):
        print(
            "yolosweep: early_terminate.strict: the local engine (W&B's open-source `sweeps`) has no strict mode; "
            "runs are judged as W&B judges them without it",
            flush=True,
        )
    if defaults_first and not prior_sources and trains_yolo(config):
        try:
            priors, prior_sources = load_priors([DEFAULTS], config), [DEFAULTS]
        except ConfigError as err:
            print(f"yolosweep: Ultralytics' defaults are not run first: {err.key} {err.problem}")
    noise = seed_repeats(priors, config, noise_runs)
    store = Store()
    sweep_id = store.create_sweep(config, priors, noise)
    print(f"yolosweep: created local sweep {sweep_id} in {store.where}")
    if priors:
        print(f"yolosweep: {len(priors)} prior configuration(s) run first: {', '.join(prior_sources)}")
    if noise:
        print(
            f"yolosweep: then {prior_sources[0]} again with seeds {', '.join(str(p['seed']) for p in noise)}: the "
            f"seed spread every gain is judged against ({len(noise)} runs of the budget; --noise-runs 0 to skip)"
        )
    if count is not None and (priors or noise):
        print(budget_line(count, len(priors), len(noise)))
    return store, sweep_id


def budget_line(count: int, priors: int, noise: int) -> str:
    """--count N in words: W&B users read it as N searched runs, but the reference runs come out of it."""
    reference = priors + noise
    parts = f"{priors} prior run(s)" + (f" and {noise} seed repeat(s)" if noise else "")
    if count <= reference:
        return (
            f"yolosweep: WARNING: --count {count} is used up by {parts}: no configuration will be searched. "
            f"Fix: --count {reference + 3} to search 3 configurations, or --noise-runs 0"
        )
    return f"yolosweep: --count {count}: {parts} first, then {count - reference} searched configuration(s)"


def agent_command(sweep_id: str, store: Store) -> str:
    """The exact command that adds an agent to this sweep from another terminal."""
    line = f"cd {Path.cwd()} && " + (f"PYTHONPATH={REPO} " if in_clone() and Path.cwd() != REPO else "")
    agent = f"{'python -m yolosweep' if in_clone() else 'yolosweep'} agent {sweep_id}"
    if store.postgres:  # shown without a password: agents elsewhere take theirs from ~/.pgpass or PGPASSWORD
        return line + f"{agent} --store {store.where}"
    if store.file.resolve() != (Path.cwd() / ".yolosweep" / "sweeps.db").resolve():
        line += f"YOLOSWEEP_HOME={store.file.parent.resolve()} "
    return line + agent


def find_program(program: str, program_dir: Path) -> Path:
    """The YAML's `program`, looked for next to the YAML, then here; the shipped one when it names train_sweep.py."""
    candidates = [Path(program)] if Path(program).is_absolute() else [program_dir / program, Path.cwd() / program]
    if Path(program).name == TRAIN_PROGRAM:
        candidates.append(spec.STARTER / TRAIN_PROGRAM)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(
        "program",
        program,
        f"not found (looked in {', '.join(str(c.parent) for c in candidates)})",
        "give the program's path relative to the sweep YAML",
    )
