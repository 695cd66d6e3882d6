"""Doc checks: every command shown in README.md and docs/ names a real command and real options (#28).

Each command line of a ```bash block, and each inline `code` that starts like a command, is checked
against the parser that would read it: yolosweep's own (`--help` of that verb), W&B's CLI (click parses
without running), the options a benchmark's parser declares; a flag the parser does not know fails here, so docs
cannot rot
when an option is renamed. The commands a user starts with (the demo, init, sweep, agent, status,
analyze, retrain) are also run for real by the end-to-end tests.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import shlex
from functools import cache
from pathlib import Path

import pytest

from yolosweep.__main__ import main as yolosweep_main

from .conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Script in a clone -> the `yolosweep` verb it is.
SCRIPTS = {
    "./launch_sweep.sh": "launch",
    "python analyze_sweep.py": "analyze",
    "python train_best_config.py": "retrain",
    "python train_sweep.py": "train",
}
STARTS = ("yolosweep ", "python -m yolosweep ", "python bench/", "wandb ", *SCRIPTS)
# Not this project's commands: shown for set-up only.
OTHERS = (
    "python3 -m venv",
    ". .venv/bin/activate",
    "pip install",
    "python -m pytest",
    "cd ",
    "wandb login",
    "git clone",
    "createdb ",
    "export ",
    "sbatch ",
    "sudo ",
    "echo ",
    "chmod ",
)
# Verbs whose extra `--key=value` are Ultralytics training arguments, passed through.
PASSES_ULTRALYTICS_ARGS = {"train", "retrain"}


def _shell_lines(text: str) -> list[str]:
    commands = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    for span in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
        if span.startswith(STARTS):
            commands.append(span)
    return commands


def documented_commands() -> list[tuple[str, str]]:
    """(page, command) for every command shown, `a && b` split, leading VAR=value dropped."""
    found = []
    for page in PAGES:
        for line in _shell_lines(page.read_text()):
            for part in re.split(r"\s*(?:&&|\|\||;)\s*|\s+\|\s+", line):  # `a|b` is a value, `a | b` a pipe
                part = re.sub(r"^(?:[A-Z_]+=\S+\s+)+", "", part.strip())
                if part:
                    found.append((page.relative_to(REPO).as_posix(), part))
    return found


def _words(command: str) -> list[str]:
    """The command's words, optional parts `[--port 8765]` unwrapped, placeholders `<ID>` kept as words."""
    return [w.strip("[]") for w in shlex.split(command.replace("<", "").replace(">", "")) if w.strip("[]")]


def _flags(words: list[str]) -> list[str]:
    return [w.split("=", 1)[0] for w in words if w.startswith("--")]


@cache
def _yolosweep_help(verb: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as exit_:
        yolosweep_main([verb, "--help"] if verb else ["--help"])
    assert exit_.value.code == 0, f"`yolosweep {verb} --help` exited {exit_.value.code}"
    return out.getvalue()


@cache
def _ultralytics_keys() -> frozenset[str]:
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return frozenset(DEFAULT_CFG_DICT)


def yolosweep_verb(command: str) -> tuple[str, list[str]] | None:
    """('launch', args) for `./launch_sweep.sh ...`, `yolosweep launch ...`, `python -m yolosweep launch ...`."""
    for script, verb in SCRIPTS.items():
        if command == script or command.startswith(script + " "):
            return verb, _words(command[len(script) :])
    for prefix in ("yolosweep ", "python -m yolosweep "):
        if command.startswith(prefix):
            words = _words(command[len(prefix) :])
            return words[0], words[1:]
    return None


def test_the_pages_show_commands_and_every_one_is_of_a_known_kind():
    commands = documented_commands()
    assert len(commands) > 40, commands  # the extraction finds the commands (README alone shows over a dozen)
    unknown = [(page, c) for page, c in commands if not c.startswith(STARTS) and not c.startswith(OTHERS)]
    assert not unknown, f"commands of no known kind (add their check here): {unknown}"


def test_every_yolosweep_command_shown_names_a_real_verb_and_real_options():
    problems, checked = [], 0
    for page, command in documented_commands():
        parsed = yolosweep_verb(command)
        if parsed is None:
            continue
        verb, args = parsed
        if verb not in _yolosweep_help(""):
            problems.append(f"{page}: `{command}`: no verb {verb!r}")
            continue
        known = set(re.findall(r"--[\w-]+", _yolosweep_help(verb)))
        for flag in _flags(args):
            ultralytics = verb in PASSES_ULTRALYTICS_ARGS and flag[2:] in _ultralytics_keys()
            if flag not in known and not ultralytics:
                problems.append(f"{page}: `{command}`: {flag} is not an option of `yolosweep {verb}`")
        checked += 1
    assert checked > 30 and not problems, "\n".join(problems)


def test_a_mistyped_option_in_a_page_would_be_caught():
    """The check itself can fail: a renamed flag and an unknown verb are reported."""
    for command in ("./launch_sweep.sh --agents-per-gpus 2", "yolosweep stats", "python train_best_config.py --topk 3"):
        verb, args = yolosweep_verb(command)
        known = set(re.findall(r"--[\w-]+", _yolosweep_help(verb))) if verb in _yolosweep_help("") else set()
        assert not known or any(f not in known for f in _flags(args)), command


def test_every_wandb_command_shown_parses_as_the_wandb_cli_parses_it():
    from wandb.cli import cli

    shown = [
        (page, c) for page, c in documented_commands() if c.startswith("wandb ") and not c.startswith("wandb login")
    ]
    assert shown
    for page, command in shown:
        words = _words(command)
        sub = cli.cli.commands.get(words[1])
        assert sub is not None, f"{page}: `{command}`: wandb has no command {words[1]!r}"
        if len(words) > 2:  # a bare `wandb agent` is the command's name in a sentence
            # a count shown as N gets a number; a glob stays the shell's
            args = ["1" if w == "N" else w for w in words[2:] if "*" not in w]
            sub.make_context(words[1], args)  # click parses, runs nothing


def _declared_options(script: Path) -> set[str]:
    """The options a script's argparse parser declares, read from its source (running a benchmark would run it)."""
    calls = [
        node
        for node in ast.walk(ast.parse(script.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
    ]
    return {
        arg.value
        for call in calls
        for arg in call.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("-")
    } | {"--help"}


def test_every_benchmark_command_shown_names_a_real_script_and_real_options():
    problems, checked = [], 0
    for page, command in documented_commands():
        if not command.startswith("python bench/"):
            continue
        words = _words(command)
        script = REPO / words[1]
        if not script.is_file():
            problems.append(f"{page}: `{command}`: no {words[1]}")
            continue
        known = _declared_options(script)
        problems += [
            f"{page}: `{command}`: {flag} is not an option of {words[1]}"
            for flag in _flags(words[2:])
            if flag not in known
        ]
        checked += 1
    assert checked > 5 and not problems, "\n".join(problems)
