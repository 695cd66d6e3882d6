"""A sweep program that replays recorded learning curves (the tunable task's, or fine-tuning's), not training (#16).

The real local agent starts it like train_sweep.py (`--key=value` arguments); it logs, epoch by
epoch, the curve bench/surrogate.py predicts for those values, with one seed's noise, through the
same store sink and stop handling as a real trial. So the real agent, the real `sweeps` engine and
its Hyperband run a whole sweep in seconds:

    python bench/replay_trial.py --fit /tmp/surrogate.pkl        # once: fit and save the surrogate
    python bench/replay_trial.py --fit /tmp/ft.pkl --regime finetune   # or the fine-tuning regime's (#25)
    # a sweep YAML with `program: bench/replay_trial.py`, the 13 parameters of sweep_config.yaml
    # and `metric: {name: metrics/mAP50(B), goal: maximize}`, then, with YOLOSWEEP_SURROGATE=/tmp/surrogate.pkl:
    python -m yolosweep sweep replay.yaml && python -m yolosweep agent ID

REPLAY_EPOCH_S (default 0.3) is the time one epoch takes; keep it above the agent's 1-s poll
divided by a few, or Hyperband judges the run after several epochs instead of each one.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import zlib
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from yolosweep.commands import arguments  # noqa: E402
from yolosweep.run.endings import StopRequested  # noqa: E402
from yolosweep.run.epochs import summarize  # noqa: E402
from yolosweep.run.signals import StopSignals  # noqa: E402
from yolosweep.run.sink import StoreSink  # noqa: E402
from yolosweep.states import EndedBy, RunState  # noqa: E402


def main() -> int:
    if sys.argv[1:2] == ["--fit"]:
        import argparse

        import value_data
        from surrogate import Surrogate, model_for

        parser = argparse.ArgumentParser(description="fit the surrogate once and save it for the replayed runs")
        parser.add_argument("--fit", type=Path, required=True, metavar="FILE.pkl")
        parser.add_argument(
            "--regime",
            choices=("scratch", "finetune"),
            default="scratch",
            help="whose curves (bench/value_data.py); finetune: bccd from the chess checkpoint, 15 epochs",
        )
        options = parser.parse_args()
        value_data.use_regime(options.regime)
        curves = value_data.load_curves()
        options.fit.write_bytes(pickle.dumps(Surrogate.fit(curves, kind=model_for(options.regime))))
        print(f"surrogate of {len(curves)} {options.regime} trainings written to {options.fit}")
        return 0
    surrogate = pickle.loads(Path(os.environ["YOLOSWEEP_SURROGATE"]).read_bytes())
    params = arguments.parse_params(sys.argv[1:])
    run_id = os.environ.get("YOLOSWEEP_RUN_ID", "standalone")
    rng = np.random.default_rng(zlib.crc32(run_id.encode()))  # one seed per run, the same on a re-run
    curve = surrogate.curve(params, rng)
    sink, history = StoreSink.from_env(), []
    state, reason, ended_by = RunState.FINISHED, "", EndedBy.COMPLETED
    epoch_s = float(os.environ.get("REPLAY_EPOCH_S", "0.3"))
    with StopSignals() as stop:
        try:
            for epoch, value in enumerate(curve, start=1):
                time.sleep(epoch_s)
                stop.check()
                history.append({"epoch": epoch, "metrics/mAP50(B)": value})
                if sink:
                    sink.log_epoch(epoch, history[-1], summarize(history))
        except StopRequested as err:
            state, reason, ended_by = RunState.STOPPED, f"{err} received", EndedBy.SIGNAL
        if sink:  # inside StopSignals, as in the real trial: a late SIGTERM must not kill it unrecorded
            sink.end(state, reason, {**summarize(history), "state": state.value}, ended_by)
    return 0


if __name__ == "__main__":
    sys.exit(main())
