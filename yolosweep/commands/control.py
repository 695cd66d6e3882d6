"""Control a running sweep as `wandb sweep` does: --pause, --resume, --stop (running runs finish), --cancel (they are
stopped now); and stop one run (W&B's "stop run"). A local sweep is controlled through its store, so every agent on
every host sharing it obeys within a poll; an id the store does not know goes to `wandb sweep` when W&B is set up."""

from __future__ import annotations

import shutil
import subprocess

from yolosweep.invocation import command
from yolosweep.run.tracking import has_api_key
from yolosweep.states import SweepState
from yolosweep.store import Store, StoreError

ACTIONS = {
    "pause": SweepState.PAUSED,
    "resume": SweepState.RUNNING,
    "stop": SweepState.FINISHED,
    "cancel": SweepState.CANCELED,
}
SAID = {
    "pause": "paused: agents start no new run until `{resume}`; running runs go on",
    "resume": "running again: agents take new runs",
    "stop": "stopped: running runs finish, no new run starts",
    "cancel": "canceled: its running runs are being stopped, no new run starts",
}


def control_sweep(action: str, sweep_id: str) -> int:
    """`yolosweep sweep --ACTION ID`."""
    try:
        store = Store(create=False)
    except StoreError:
        return _on_wandb(["sweep", f"--{action}", sweep_id], f"no local sweep {sweep_id!r}")
    if sweep_id not in store.sweep_ids():
        store.close()
        return _on_wandb(["sweep", f"--{action}", sweep_id], f"no local sweep {sweep_id!r}")
    try:
        before = store.set_sweep_state(sweep_id, ACTIONS[action])
        if before in (SweepState.FINISHED, SweepState.CANCELED):
            raise StoreError(
                f"sweep {sweep_id} is already {before}: it cannot be {action}d. Fix: create a new sweep, "
                f"or join this one's runs with `{command('analyze')} {sweep_id}`"
            )
    finally:
        store.close()
    print(f"yolosweep: sweep {sweep_id} " + SAID[action].format(resume=f"{command('sweep')} --resume {sweep_id}"))
    return 0


def stop_run(run_id: str) -> int:
    """`yolosweep stop-run RUN_ID`: its agent stops it within a poll; it ends `stopped`, ended by the user."""
    store = Store(create=False)
    try:
        run = store.request_stop(run_id, "stopped by the user")
    finally:
        store.close()
    if run is None:
        raise StoreError(f"no running run {run_id!r} in {store.where}. Fix: check the id with `{command('status')}`")
    print(
        f"yolosweep: run {run_id} of sweep {run.sweep_id} will stop within a poll of its agent (host {run.host}); "
        "its epochs are kept"
    )
    return 0


def _on_wandb(args: list[str], why: str) -> int:
    if not has_api_key() or shutil.which("wandb") is None:
        raise StoreError(
            f"{why}, and no W&B API key to ask W&B. Fix: check the id (`{command('status')}`), or "
            "`wandb login` for a W&B sweep"
        )
    return subprocess.call(["wandb", *args])
