"""A program written for `wandb agent` the canonical way: wandb.init(), read wandb.config, log.

It writes what it saw (its arguments, wandb.config, the sweep id) to WANDB_DIR/seen-<run id>.json
and logs `score` = wandb.config.x (or the --x argument), so a test can check both paths.
"""

import json
import os
import sys
from pathlib import Path

import wandb

run = wandb.init()
config = dict(run.config)
seen = {"argv": sys.argv[1:], "config": config, "sweep_id": os.environ.get("WANDB_SWEEP_ID")}
Path(os.environ["WANDB_DIR"], f"seen-{run.id}.json").write_text(json.dumps(seen))
run.log({"score": float(config.get("x", 0))})
run.finish()
