"""Create a local sweep in the store: the YAML checked, priors and seed repeats queued, and the command that adds
an agent from another terminal."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from yolosweep.invocation import REPO, in_clone
from yolosweep.store import Store
from yolosweep.sweep import spec
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.preflight import ready_sweep
from yolosweep.sweep.priors import DEFAULTS, load_priors, seed_repeats
from yolosweep.sweep.slots import Slot
from yolosweep.sweep.train_args import TRAIN_PROGRAM, fixed_values, trains_yolo


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
