"""`yolosweep init [DIR]`: a starter sweep in the user's own folder, so an installed package needs no clone.

It writes the shipped sweep_config.yaml and train_sweep.py, the five-line program W&B's `program:` names;
both agents (`wandb agent` and the local one) start it as `python train_sweep.py --key=value ...`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from yolosweep.sweep.spec import STARTER
from yolosweep.sweep.train_args import TRAIN_PROGRAM

STARTER_FILES = ("sweep_config.yaml", TRAIN_PROGRAM)


def init(folder: Path, force: bool = False) -> list[Path]:
    """Write the starter files into `folder`; an existing one is kept unless `force` (nothing written then)."""
    files = {folder / name: (STARTER / name).read_text(encoding="utf-8") for name in STARTER_FILES}
    existing = [path for path in files if path.exists()]
    if existing and not force:
        raise FileExistsError(
            f"{existing[0]} already exists. Fix: keep it (nothing was written), "
            "or rerun with --force to replace the starter files"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    (folder / TRAIN_PROGRAM).chmod(0o755)
    return list(files)


def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dir", nargs="?", type=Path, default=Path("."), help="folder to write into (default: here)")
    parser.add_argument("--force", action="store_true", help="replace sweep_config.yaml and train_sweep.py if there")
    options = parser.parse_args(argv)
    try:
        written = init(options.dir, options.force)
    except OSError as err:
        print(
            f"error: {err}"
            if isinstance(err, FileExistsError)
            else f"error: cannot write into {options.dir}: {err.strerror}. Fix: choose a folder you can write",
            file=sys.stderr,
        )
        return 2
    print(f"yolosweep: wrote {', '.join(str(p) for p in written)}")
    here = "" if options.dir == Path(".") else f"cd {options.dir} && "
    print(
        "Next, with your dataset's data.yaml:\n"
        f"  offline, this machine:  {here}yolosweep launch --data path/to/data.yaml\n"
        f"  W&B cloud:              set `data` in sweep_config.yaml, then {here}wandb sweep sweep_config.yaml "
        "and `wandb agent ID` per GPU\n"
        "  a quick look first:     yolosweep demo"
    )
    return 0
