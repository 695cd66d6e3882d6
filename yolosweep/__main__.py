"""`python -m yolosweep COMMAND`: the package's own commands."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yolosweep")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo-data", help="write a small generated YOLO detection dataset")
    demo.add_argument("dir", help="folder to write images/, labels/ and data.yaml into")
    demo.add_argument("--train", type=int, default=320, help="training images (default 320)")
    demo.add_argument("--val", type=int, default=40, help="validation images (default 40)")
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.command == "demo-data":
        from .demo import write_demo_dataset

        print(write_demo_dataset(args.dir, n_train=args.train, n_val=args.val, seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
