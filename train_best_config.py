#!/usr/bin/env python3
"""Retrain a sweep's best configuration for longer.

yolosweep/commands/retrain.py; `yolosweep retrain` once installed."""

import sys

from yolosweep.commands.retrain import main

sys.exit(main(sys.argv[1:]))
