"""The run's command line as `wandb agent` builds it: the YAML's `command` with W&B's macros."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any


def build_command(config: dict[str, Any], params: dict[str, Any], param_file: Path) -> list[str]:
    """The sweep's `command` expanded by W&B's own agent code; a list, never a shell string.

    As `wandb agent` does (wandb_agent.py, _command_run): `${envvar:NAME}` is filled from the
    environment, every `${macro}` from W&B's list, an unknown one is dropped, and a non-string item
    (`- 5`) becomes its text. The parameters are written to `param_file` (WANDB_SWEEP_PARAM_PATH,
    which wandb.init loads into wandb.config). Two deliberate differences, both in the README:
    `${interpreter}` is this agent's Python (W&B: `python` from PATH) and `${program}` is absolute.
    """
    from wandb.sdk.launch.sweeps import utils as wandb_sweep_utils
    from wandb.sdk.lib import config_util

    template = copy.deepcopy(config.get("command") or wandb_sweep_utils.DEFAULT_SWEEP_COMMAND)
    template = wandb_sweep_utils.create_sweep_command(template)
    args = {k: {"value": v} for k, v in params.items()}
    config_util.save_config_file_from_dict(str(param_file), args)
    macros = wandb_sweep_utils.create_sweep_command_args({"args": args})
    json_file = param_file.with_suffix(".json")
    json_file.write_text(macros["args_json"][0])
    macros.update(
        interpreter=[sys.executable], program=[config["program"]], args_json_file=[str(json_file)], env=["/usr/bin/env"]
    )
    command: list[str] = []
    for item in map(str, template):
        if item.startswith("${") and item.endswith("}"):
            command += macros.get(item[2:-1]) or []
        else:
            command.append(item)
    return command


def shown_value(value: Any) -> str:
    """A value for the agent's log on one line: a newline in a parameter cannot forge an agent line."""
    text = str(value)
    return repr(text) if any(ch in text for ch in "\n\r\x00\x1b") else text
