"""How the user in front of this terminal calls a command: `yolosweep VERB` once the package is installed,
the scripts at a clone's root when run there (`python analyze_sweep.py`), else `python -m yolosweep VERB`.
Every hint that names a command asks here, so an installed user is never sent to a file they do not have."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The clone's own entry points, one per verb that has one.
SCRIPTS = {
    "launch": "./launch_sweep.sh",
    "analyze": "python analyze_sweep.py",
    "retrain": "python train_best_config.py",
    "train": "python train_sweep.py",
}


def in_clone() -> bool:
    """Run from a source folder (a clone), not an installed package."""
    return (REPO / "pyproject.toml").is_file()


def command(verb: str) -> str:
    """The words that run `verb` here, e.g. `yolosweep retrain` or `python train_best_config.py`."""
    if not in_clone():
        return f"yolosweep {verb}"
    if verb in SCRIPTS and Path.cwd().resolve() == REPO:
        return SCRIPTS[verb]
    return f"python -m yolosweep {verb}"


def create_hint(store_flag: str = "") -> str:
    """How to make a first sweep from this folder: from its sweep_config.yaml when there is one."""
    if Path("sweep_config.yaml").is_file():
        return f"create one with `{command('sweep')} sweep_config.yaml{store_flag}`"
    return (
        f"start one with `{command('launch')} --data path/to/data.yaml{store_flag}` "
        f"(`{command('init')}` first writes a sweep_config.yaml of your own)"
    )
