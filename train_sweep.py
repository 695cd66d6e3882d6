#!/usr/bin/env python3
"""The sweep's program: one run = one YOLO training (yolosweep/commands/train.py; `--help` for its options)."""

import sys

from yolosweep.commands.train import main

sys.exit(main(sys.argv[1:]))
