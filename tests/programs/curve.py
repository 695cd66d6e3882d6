"""A stand-in trial for controller tests: logs a deterministic learning curve per epoch.

It goes through the same logging path as a real trial (one wandb run, the store sink, the
same summary and stop handling) but trains nothing, so the controller is what is tested.
Parameters: --quality=Q (the plateau of the curve), --epochs=N, --epoch_s=seconds per epoch,
--seed=S with --seed_noise=A: the plateau moves by up to +-A with the seed, the same for the same seed
(a seed's luck, as a real training's), so a sweep's seed spread can be set.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from yolosweep.commands import arguments
from yolosweep.run.endings import StopRequested, TrialFailed
from yolosweep.run.epochs import summarize
from yolosweep.run.signals import StopSignals
from yolosweep.run.sink import StoreSink
from yolosweep.run.tracking import OBJECTIVE, TrialRun
from yolosweep.states import EndedBy, RunState


def main() -> int:
    params = arguments.parse_params(sys.argv[1:])
    quality, epochs, epoch_s = params["quality"], int(params.get("epochs", 10)), float(params.get("epoch_s", 0.3))
    quality += float(params.get("seed_noise", 0.0)) * ((int(params.get("seed", 0)) * 0.6180339887) % 1.0 * 2 - 1)
    sink, run, history = StoreSink.from_env(), TrialRun(config=params), []
    state, reason, ended_by = RunState.FINISHED, "", EndedBy.COMPLETED
    with StopSignals() as stop:
        try:
            for epoch in range(1, epochs + 1):
                time.sleep(epoch_s)
                stop.check()
                row = {"epoch": epoch, OBJECTIVE: quality * epoch / epochs}
                if params.get("extra_metrics"):  # a few more of Ultralytics' columns, for pages that show them all
                    row.update(
                        {
                            "train/box_loss": 2.0 - epoch / epochs,
                            "metrics/precision(B)": quality * 0.9,
                            "lr/pg0": 0.01 * (1 - epoch / epochs),
                        }
                    )
                history.append(row)
                summary = summarize(history)
                run.log_epoch(epoch, row, summary)
                if sink:
                    sink.log_epoch(epoch, row, summary)
        except StopRequested as err:
            state, reason, ended_by = RunState.STOPPED, f"{err} received", EndedBy.SIGNAL
        except TrialFailed as err:  # the store could not take an epoch
            state, reason, ended_by = RunState.FAILED, str(err), err.cause
        # Still inside StopSignals, as in the real trial: Ctrl+C reaches a run twice (from the
        # terminal's process group and from its agent), and a second SIGTERM landing after the
        # handlers were restored killed the run before it recorded its end (CI: 'crashed').
        summary = {**summarize(history), "state": state.value, "reason": reason, "ended_by": ended_by.value}
        if sink:
            sink.end(state, reason, summary, ended_by)
        failed = state is RunState.FAILED
        run.finish(summary, exit_code=1 if failed else 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
