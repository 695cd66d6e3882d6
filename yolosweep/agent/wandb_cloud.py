"""The W&B cloud backend: create the sweep with wandb.sweep, run `wandb agent` per slot. Public wandb APIs only.

W&B's server is the controller here (suggestions, Hyperband); this module only starts things.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from yolosweep.agent.supervise import run_agents
from yolosweep.store import new_id
from yolosweep.sweep.model import weights_dir
from yolosweep.sweep.preflight import ready_sweep
from yolosweep.sweep.priors import NOISE_TAG, seed_repeats
from yolosweep.sweep.priors import TAG as PRIOR_TAG
from yolosweep.sweep.resources import amp_check_env
from yolosweep.sweep.slots import Slot
from yolosweep.sweep.train_args import TRAIN_PROGRAM, fixed_values

AGENT_LOGS = Path("wandb-agent-logs")  # in the folder the launch was started from


def launch(options: argparse.Namespace, overrides: dict[str, Any], slots: list[Slot], counts: list[int | None]) -> int:
    """`overrides`: the fixed values the command line sets over the YAML's."""
    import wandb

    project = options.project or os.environ.get("WANDB_PROJECT") or "yolosweep"
    print(f"yolosweep: {server_line(os.environ)}")
    env: dict[str, str] = {}  # a joined sweep's config lives on W&B's server: its AMP check is Ultralytics' own
    if options.sweep_id:
        sweep_id = options.sweep_id
    else:
        overrides = dict(overrides)
        if isinstance(overrides.get("data"), str) and Path(overrides["data"]).exists():
            overrides["data"] = str(Path(overrides["data"]).resolve())  # agents run from the repo folder
        config, priors = ready_sweep(options.config, overrides, options.prior, slots=slots, keep_band=options.keep_band)
        noise = seed_repeats(priors, config, options.noise_runs)
        # The repeats go to W&B as prior runs too, tagged `noise`: the analysis finds them among the sweep's runs.
        # Measured with the engine W&B's server runs (sweeps.next_run, bayes): repeated points do not break it.
        prior_runs = (
            _train_priors(priors, slots, project, options.entity, noise, program_folder(options.config))
            if priors
            else []
        )
        if prior_runs is None:
            return 1
        sweep_id = wandb.sweep(config, project=project, entity=options.entity, prior_runs=prior_runs or None)
        env = amp_check_env(fixed_values(config), slots, weights_dir())
    path = wandb_sweep_path(sweep_id, project, options.entity)
    print(f"yolosweep: W&B sweep {path}; more agents, any machine: wandb agent {path}")
    commands = wandb_agent_commands(path, counts)
    # `program: train_sweep.py` is relative, as W&B expects, so agents start in the sweep YAML's folder.
    return run_agents(
        commands, slots, AGENT_LOGS.resolve() / sweep_id.rsplit("/", 1)[-1], cwd=program_folder(options.config), env=env
    )


def program_folder(config_path: str) -> Path:
    """Where `wandb agent` finds a relative `program`: beside the sweep YAML (the shipped one: its train_sweep.py)."""
    return Path(config_path).resolve().parent


def server_line(env: Mapping[str, str]) -> str:
    """Which W&B server the sweep goes to. A self-hosted W&B Server is reached through WANDB_BASE_URL, which
    every `wandb agent` started here inherits unchanged."""
    if env.get("WANDB_BASE_URL"):
        return f"W&B server {env['WANDB_BASE_URL']} (WANDB_BASE_URL; agents started here use it too)"
    return "W&B's hosted server (set WANDB_BASE_URL, or `wandb login --host URL`, for a W&B Server of your own)"


def wandb_sweep_path(sweep_id: str, project: str, entity: str | None) -> str:
    """ENTITY/PROJECT/ID (or PROJECT/ID without an entity), as `wandb agent` takes it; a full path stays as given."""
    return sweep_id if "/" in sweep_id else "/".join(part for part in (entity, project, sweep_id) if part)


def wandb_agent_commands(path: str, counts: list[int | None]) -> list[list[str]]:
    """One `wandb agent` command per slot; its GPU comes from CUDA_VISIBLE_DEVICES in supervise.run_agents."""
    return [["wandb", "agent", *([f"--count={n}"] if n else []), path] for n in counts]


def _train_priors(
    priors: list[dict[str, Any]],
    slots: list[Slot],
    project: str,
    entity: str | None,
    noise: list[dict[str, Any]],
    folder: Path,
) -> list[str] | None:
    """W&B's API teaches a sweep finished runs (`prior_runs`), not configurations: train each prior (and each
    seed repeat of the first, tagged `noise` too) as a tagged run first, one per slot at a time, and return
    their ids (None if one failed)."""
    run_ids = []
    planned = (
        [(p, PRIOR_TAG) for p in priors[:1]]
        + [(p, f"{PRIOR_TAG},{NOISE_TAG}") for p in noise]
        + [(p, PRIOR_TAG) for p in priors[1:]]
    )
    for start in range(0, len(planned), len(slots)):
        batch = [(new_id(), params, tags) for params, tags in planned[start : start + len(slots)]]
        commands = [
            [
                "/usr/bin/env",
                f"WANDB_RUN_ID={run_id}",
                f"WANDB_TAGS={tags}",
                f"WANDB_PROJECT={project}",
                *([f"WANDB_ENTITY={entity}"] if entity else []),
                sys.executable,
                str(folder / TRAIN_PROGRAM),
                *(f"--{k}={v}" for k, v in params.items()),
            ]
            for run_id, params, tags in batch
        ]
        print(f"yolosweep: training prior run(s) {', '.join(r for r, _, _ in batch)} before the sweep starts")
        if run_agents(commands, slots, AGENT_LOGS.resolve() / "priors") != 0:
            print("yolosweep: a prior run failed; no sweep was created (see wandb-agent-logs/priors-*.log)")
            return None
        run_ids += [run_id for run_id, _, _ in batch]
    return run_ids
