"""Any W&B sweep program, as W&B's docs write them: wandb.init(), read wandb.config, train, wandb.log.

No yolosweep import. Its metric climbs to --quality over --steps steps of --step_s seconds each.
"""

import time

import wandb

run = wandb.init()
quality, steps, step_s = run.config["quality"], int(run.config.get("steps", 10)), float(run.config.get("step_s", 0.3))
for step in range(1, steps + 1):
    time.sleep(step_s)
    wandb.log({"val/score": quality * step / steps, "train/loss": 1.0 - quality * step / steps})
run.finish()
