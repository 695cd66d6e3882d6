#!/usr/bin/env python3
"""Rank a sweep's runs and write best_config.yaml.

yolosweep/commands/analyze.py; `yolosweep analyze` once installed."""

import sys

from yolosweep.commands.analyze import main

sys.exit(main(sys.argv[1:]))
