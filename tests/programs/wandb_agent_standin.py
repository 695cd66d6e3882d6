"""W&B's own agent (wandb.wandb_agent.Agent) running train_sweep.py, with only the server replaced.

A contract test of our program against W&B's client, not coverage of W&B's cloud: the three
agent-API calls the client makes to W&B's server (_sweep_with_runs, _register_agent,
_agent_heartbeat) and the server client object (wandb.Api) are answered here. The answers come
from W&B's open-source engine (`sweeps`), as the server's would: `run` commands from next_run,
`stop` commands from Hyperband's stop_runs over the histories the run logged (read from its
offline wandb log, which is what the client would have streamed to the server).

Usage: wandb_agent_standin.py SWEEP.yaml PRIOR_VALUE OUT.json
The sweep teaches the engine one finished prior run at PRIOR_VALUE every epoch, as W&B's
`prior_runs` does, so Hyperband has something to compare the live run with.
"""

import json
import multiprocessing
import os
import random
import string
import sys
import time
from pathlib import Path

import sweeps
import wandb
import wandb.apis.public.sweeps as agent_api
import yaml
from wandb import wandb_agent

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from yolosweep.run.tracking import read_offline_run

SWEEP_ID = "standin1"


class StandInServer:
    def __init__(self, config: dict, prior_value: float):
        self.config, self.metric = config, config["metric"]["name"]
        prior_history = [{self.metric: prior_value, "epoch": e} for e in range(1, 11)]
        self.prior = sweeps.SweepRun(
            name="prior",
            state="finished",
            config={},
            sampledHistory=prior_history,
            summaryMetrics={self.metric: prior_value},
        )
        self.runs: dict[str, dict] = {}  # run id -> {"params", "state"}
        self.log: list[dict] = []

    # --- the three calls of wandb.apis.public.sweeps the agent makes ---
    def sweep_with_runs(self, _api, _sweep, _specs, **_kw):
        return {"config": yaml.safe_dump(self.config)}

    def register_agent(self, _api, _host, **_kw):
        return {"id": "agent-standin"}

    def heartbeat(self, _api, _agent_id, _metrics, run_states):
        now = time.time()
        for run_id, run in self.runs.items():
            if run["state"] == "running" and run_id not in run_states and run.get("started_seen"):
                run["state"], run["ended_seen"] = "ended", now
                self.log.append({"event": "ended", "run_id": run_id, "t": now})
            if run_id in run_states:
                run["started_seen"] = True
        if not self.runs:
            suggestion = sweeps.next_run(self.config, [self.prior])
            run_id = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
            params = {k: v["value"] for k, v in suggestion.config.items()}
            self.runs[run_id] = {"params": params, "state": "running"}
            self.log.append({"event": "run", "run_id": run_id, "t": now, "params": params})
            return [
                {
                    "type": "run",
                    "run_id": run_id,
                    "program": self.config["program"],
                    "args": {k: {"value": v} for k, v in params.items()},
                }
            ]
        live = [self._engine_run(run_id) for run_id, run in self.runs.items() if run["state"] == "running"]
        stop = [run.name for run in sweeps.stop_runs(self.config, [self.prior, *live])]
        for run_id in stop:  # W&B's server repeats `stop` until the run is gone; the agent kills after 30 s
            self.log.append({"event": "stop", "run_id": run_id, "t": now})
        return [{"type": "stop", "run_id": run_id} for run_id in stop]

    def _engine_run(self, run_id: str) -> sweeps.SweepRun:
        found = list(Path(os.environ["WANDB_DIR"], "wandb").glob(f"offline-run-*-{run_id}"))
        history = read_offline_run(found[0]).history if found else []
        return sweeps.SweepRun(name=run_id, state="running", config={}, sampledHistory=history)


class StandInApi:
    """What wandb.Api() returns: the agent only hands it back to the three calls above."""


def main() -> int:
    config_path, prior_value, out = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
    server = StandInServer(yaml.safe_load(Path(config_path).read_text()), prior_value)
    agent_api._sweep_with_runs = server.sweep_with_runs
    agent_api._register_agent = server.register_agent
    agent_api._agent_heartbeat = server.heartbeat
    wandb.Api = StandInApi
    os.environ[wandb.env.SWEEP_ID] = SWEEP_ID  # as wandb_agent.run_agent sets it
    agent = wandb_agent.Agent(StandInApi(), multiprocessing.Queue(), sweep_id=SWEEP_ID, count=1)
    agent.run()
    # With --count reached the agent returns without another heartbeat: its return bounds the run's end.
    server.log.append({"event": "agent returned", "t": time.time()})
    out.write_text(json.dumps({"log": server.log, "agent_finished": agent._finished, "agent_failed": agent._failed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
