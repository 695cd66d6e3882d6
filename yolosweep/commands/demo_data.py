"""`yolosweep demo-data DIR`: write a small generated YOLO dataset, for trying the tool without data of one's own."""

from __future__ import annotations

import argparse

from yolosweep.commands import arguments
from yolosweep.sweep.demo_data import write_demo_dataset


def main(argv: list[str], prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("dir", help="folder to write images/, labels/ and data.yaml into")
    parser.add_argument("--train", type=arguments.positive_int, default=320, help="training images (default 320)")
    parser.add_argument("--val", type=arguments.positive_int, default=40, help="validation images (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--task",
        choices=("detect", "segment", "pose", "obb", "classify"),
        default="detect",
        help="labels for this Ultralytics task (default detect; classify writes class folders)",
    )
    options = parser.parse_args(argv)
    print(
        write_demo_dataset(options.dir, n_train=options.train, n_val=options.val, seed=options.seed, task=options.task)
    )
    return 0
