"""The local agent (`yolosweep agent ID`, as `wandb agent ID` for a W&B sweep): its loop over the store.

Each turn asks W&B's engine (engine.py) for the next parameters given every run of the sweep (other agents'
running runs included), starts the sweep's command (command.py) with WANDB_MODE=offline, and after every new
epoch asks the engine which runs Hyperband stops, sending those SIGTERM. The run reports its epochs into the
store itself (run/sink.py), or through this agent's spool reader on PostgreSQL, so the agent sees them while
the run is going.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from yolosweep.agent.command import build_command, shown_value
from yolosweep.agent.engine import runs_to_stop, suggest
from yolosweep.agent.failures import FailureCutoff, job_cause, start_failure
from yolosweep.agent.heartbeat import Heartbeat
from yolosweep.agent.logfeed import LOG_FLUSH, OfflineLogFeed
from yolosweep.invocation import command
from yolosweep.objective import sweep_objective
from yolosweep.processes import die_with_parent
from yolosweep.run.sink import SINK_ENV, SPOOL_ENV, SpoolReader, spool_folder
from yolosweep.states import STOP_SIGNALS, EndedBy, Origin, RunState, SweepState
from yolosweep.store import PROVEN_ENV, Run, Store, StoreError, new_id
from yolosweep.sweep.priors import NOISE_TAG
from yolosweep.sweep.priors import TAG as PRIOR_TAG
from yolosweep.sweep.train_args import trains_yolo

POLL_S = 1.0
STOP_GRACE_S = 120.0


class Agent:
    def __init__(
        self,
        store: Store,
        sweep_id: str,
        count: int | None = None,
        max_consecutive_failed_runs: int | None = None,
        events: Path | None = None,
    ):
        self.store, self.sweep_id, self.count, self.events = store, sweep_id, count, events
        self.config = store.sweep_config(sweep_id)
        self.objective = sweep_objective(self.config)
        self.stop_signal: int | None = None
        self.child: subprocess.Popen | None = None
        self.cutoff = FailureCutoff(time.time(), max_consecutive_failed_runs)
        self.spool = spool_folder()

    def _handle(self, signum: int, _frame: object) -> None:
        self.stop_signal = signum
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def run_loop(self) -> int:
        """Run trials until --count, the run cap, an exhausted grid or a stop signal; return an exit code."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)
        for run_id in self.store.mark_crashed(self.sweep_id):
            self._say(f"run {run_id} was left running by a dead process: marked crashed")
        self._expire_leases()
        self._replay_leftovers()
        done, gave_up = 0, None
        # Across hosts a run lives by its agent's beats: beaten apart from this loop, so no slow step here lapses it.
        beats = Heartbeat(self.store) if self.store.postgres else None
        try:
            while self.stop_signal is None and (self.count is None or done < self.count) and gave_up is None:
                run_id, params, origin = self._next()
                if run_id is None:
                    if origin == "paused":  # paused between the wait and the take: wait again
                        continue
                    break
                if beats is not None:
                    beats.follow(run_id)
                state = self._train(run_id, params, origin)
                if beats is not None:
                    beats.follow(None)
                done += 1
                gave_up = self.cutoff.record(state is RunState.FAILED, time.time())
        except StoreError:
            self._stop_child()  # the store is what failed: the run must not train on unwatched
            raise
        finally:
            if beats is not None:
                beats.close()
        self._say(f"{done} run(s) done in sweep {self.sweep_id}")
        if gave_up:
            self._say(
                f"giving up: {gave_up}. Fix: read the failed runs' reasons "
                f"({command('status')} {self.sweep_id}), then start an agent again"
            )
            return 1
        return 130 if self.stop_signal == signal.SIGINT else 0

    def _replay_leftovers(self) -> None:
        """The spools an earlier agent on this host left: only of runs that have ended (crashed with it, or ended
        while the store was out of reach). A running run's spool is its live agent's, which reads it as it grows."""
        if not self.spool.is_dir():
            return
        ended = {r.id for r in self.store.runs(self.sweep_id, with_history=False) if r.state is not RunState.RUNNING}
        for left in sorted(self.spool.glob("*.jsonl")):
            if left.stem in ended:
                self._replay(left.stem)

    def _replay(self, run_id: str, spool: SpoolReader | None = None) -> None:
        """Write the rest of a run's spool and its end, waiting out an outage as every store call does."""
        reader = spool or SpoolReader(run_id, self.spool)
        relayed = reader.offset > 0
        written = self.store.retrying(lambda: reader.finish(self.store))
        if written and not relayed:
            self._say(f"run {run_id}: wrote {written} epoch(s) it kept while the store was out of reach")

    def _say(self, line: str) -> None:
        """The agent's own progress line: on stdout, and in the events file the launcher shows.

        Runs share stdout, so a line there may come from a run; only the events file, which runs
        are never told about, is the agent's alone.
        """
        print(f"yolosweep agent: {line}", flush=True)
        if self.events is not None:
            with open(self.events, "a") as f:
                f.write(f"yolosweep agent: {line}\n")

    def _stop_child(self) -> None:
        if self.child is None or self.child.poll() is not None:
            return
        self.child.send_signal(signal.SIGTERM)
        try:
            self.child.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()

    def _expire_leases(self) -> None:
        """Runs of other hosts whose agent stopped beating are crashed, so the search and Hyperband see them end."""
        for run_id, host, _beat in self.store.expire_leases(self.sweep_id):
            self._say(
                f"run {run_id} of host {host}: its agent stopped answering (lease {self.store.lease:g} s): "
                "marked crashed"
            )

    def _next(self) -> tuple[str | None, dict[str, Any], str]:
        """The next run and its origin: the next --prior (or seed repeat) not yet run, else the engine's suggestion."""
        self.store.room_to_end_a_run()
        self._expire_leases()
        self._wait_while_paused()
        if self.stop_signal is not None:
            return None, {}, Origin.SEARCH
        return self.store.retrying(self._take_next)  # the whole transaction again if the store drops mid-way

    def _wait_while_paused(self) -> None:
        """A paused sweep starts no run (W&B's agents wait the same); runs already training go on."""
        said = False
        while self.stop_signal is None and self.store.sweep_state(self.sweep_id) is SweepState.PAUSED:
            if not said:
                self._say(f"sweep {self.sweep_id} is paused: waiting for `{command('sweep')} --resume {self.sweep_id}`")
                said = True
            self._expire_leases()
            time.sleep(POLL_S)
        if said and self.stop_signal is None:
            self._say(f"sweep {self.sweep_id} resumed")

    def _take_next(self) -> tuple[str | None, dict[str, Any], str]:
        with self.store.transaction():
            state = self.store.sweep_state(self.sweep_id)
            if state is SweepState.PAUSED:
                return None, {}, "paused"
            if not state.takes_runs:
                self._say(f"sweep {self.sweep_id} is {state}: no new runs")
                return None, {}, Origin.SEARCH
            runs = self.store.runs(self.sweep_id)
            cap = self.config.get("run_cap")
            if cap is not None and len(runs) >= cap:
                self._say(f"run cap {cap} reached")
                return None, {}, Origin.SEARCH
            reached = self._target_reached(runs)
            if reached and self.objective is not None:
                self._say(
                    f"run {reached.id} reached the sweep's target "
                    f"{self.objective.name} {self.objective.target}: no new runs"
                )
                return None, {}, Origin.SEARCH
            run_id = new_id()
            planned = self.store.add_prior_run(self.sweep_id, run_id)
            if planned is not None:
                return run_id, *planned
            params = suggest(self.config, runs)
            if params is None:
                self._say("search space exhausted")
                return None, {}, Origin.SEARCH
            self.store.add_run(self.sweep_id, run_id, params)
        return run_id, params, Origin.SEARCH

    def _target_reached(self, runs: list[Run]) -> Run | None:
        """W&B creates no new runs once any run reaches `metric.target`."""
        if self.objective is None or self.objective.target is None:
            return None
        return next((r for r in runs if self.objective.reached_target(r.summary.get(self.objective.name))), None)

    def _train(self, run_id: str, params: dict[str, Any], origin: str) -> RunState:
        """Run one trial to its end; return its final state. `origin`: 'search', 'prior' or 'noise'."""
        swept = {k: v for k, v in params.items() if "value" not in self.config["parameters"].get(k, {})}
        shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={shown_value(v)}" for k, v in swept.items())
        said: dict[str, str] = {
            Origin.PRIOR: " (prior)",
            Origin.NOISE: f" (the first prior again, seed {params.get('seed')}: the seed spread)",
        }
        self._say(f"run {run_id}{said.get(origin, '')}: {shown}")
        wandb_dir = Path(os.environ.get("WANDB_DIR", ".")).resolve()
        # As `wandb agent` sets them: the run id, the sweep id, the parameter file wandb.init loads.
        param_file = wandb_dir / "wandb" / f"sweep-{self.sweep_id}" / f"config-{run_id}.yaml"
        env = {
            **os.environ,
            "WANDB_MODE": "offline",
            "WANDB_RUN_ID": run_id,
            "WANDB_DIR": str(wandb_dir),
            "WANDB_SWEEP_ID": self.sweep_id,
            "WANDB_SWEEP_PARAM_PATH": str(param_file),
            "YOLOSWEEP_RUN_ID": run_id,
            "YOLOSWEEP_STORE": self.store.reachable_from_elsewhere(),
            "YOLOSWEEP_SWEEP_ID": self.sweep_id,
            PROVEN_ENV: "1",
            SPOOL_ENV: str(self.spool.resolve()),
        }
        if self.store.postgres:  # the run reports through this agent: no connection of its own to the server
            env[SINK_ENV] = "relay"
        if self.objective is not None:  # what the run's summary and keep_top_k rank by
            env.update(YOLOSWEEP_METRIC=self.objective.name, YOLOSWEEP_GOAL=self.objective.goal)
        if origin is not Origin.SEARCH:
            tags = [PRIOR_TAG] + ([NOISE_TAG] if origin is Origin.NOISE else [])
            env["WANDB_TAGS"] = ",".join(filter(None, [os.environ.get("WANDB_TAGS"), *tags]))
        env.setdefault("WANDB_PROJECT", self.config.get("project") or "yolosweep")
        if not trains_yolo(self.config):  # its offline log is what the store follows (logfeed.py)
            env.setdefault(*LOG_FLUSH)
        try:
            command = build_command(self.config, params, param_file)
            self.child = subprocess.Popen(command, env=env, preexec_fn=die_with_parent)
        except (OSError, ValueError) as err:  # not executable, no interpreter, NUL byte, arguments too long
            reason = f"could not start the run's command: {start_failure(err)}"
            self.store.end_run(run_id, RunState.FAILED, reason, ended_by=EndedBy.COULD_NOT_START)
            self._say(f"run {run_id} failed: {reason}")
            return RunState.FAILED
        self.store.set_process(run_id, self.child.pid, str(wandb_dir / "wandb"))
        # A program other than train_sweep.py may log only with wandb.log: the store follows its offline log.
        feed = (
            None
            if trains_yolo(self.config)
            else OfflineLogFeed(
                self.store, self.sweep_id, run_id, wandb_dir / "wandb", self.objective.name if self.objective else None
            )
        )
        spool = SpoolReader(run_id, self.spool)
        stopped = self._watch(run_id, feed, spool if self.store.postgres else None)
        code = self.child.wait()
        self.child = None
        if feed is not None:
            feed.poll(final=True)  # the rows and summary it logged last
        if code == 0 or (stopped and code == -signal.SIGTERM):  # a plain program dies of the SIGTERM that stops it
            state, reason, ended_by = (
                (RunState.STOPPED, *stopped[::-1]) if stopped else (RunState.FINISHED, "", EndedBy.COMPLETED)
            )
        elif code < 0:
            state, reason, ended_by = RunState.CRASHED, f"killed by {signal.Signals(-code).name}", EndedBy.VANISHED
        else:
            state, reason, ended_by = RunState.FAILED, f"exit code {code}", EndedBy.ERROR
        summary = feed.summary if feed is not None and feed.owner else None
        self._replay(run_id, spool)  # what the run relayed or could not write, before its end is decided here
        self.store.end_run(run_id, state, reason, summary, ended_by)  # no-op when the trial recorded its own ending
        if stopped:
            self.store.explain_stop(run_id, stopped[1], stopped[0])
        final = self.store.run(run_id, with_history=False)
        assert final is not None  # this agent added it
        self._say(f"run {run_id} {final.state}" + (f": {shown_value(final.reason)}" if final.reason else ""))
        return final.state

    def _watch(
        self, run_id: str, feed: OfflineLogFeed | None = None, relay: SpoolReader | None = None
    ) -> tuple[EndedBy, str] | None:
        """Wait for the child; after each new epoch anywhere in the sweep, ask Hyperband. Who stopped it, and why.
        `feed`: the run's offline wandb log, fed into the store at each poll (a program without a store sink);
        `relay`: the run's spool, whose epochs this agent writes for it at each poll."""
        seen, stopped, term_at, beat = -1, None, None, time.monotonic()
        child = self.child
        assert child is not None, "a run's process is watched once started"
        while child.poll() is None:
            try:
                child.wait(timeout=POLL_S)  # wakes as soon as the run exits: the next run starts without a poll's delay
            except subprocess.TimeoutExpired:
                pass
            if feed is not None:
                feed.poll()
            if relay is not None:
                relay.pump(self.store)
            if time.monotonic() - beat >= self.store.lease / 6:  # five beats may be missed before the lease lapses
                beat = time.monotonic()
                self.store.heartbeat(run_id)
                self._expire_leases()
            if self.stop_signal is not None and not stopped:
                cause = f"agent received {signal.Signals(self.stop_signal).name}{job_cause()}"
                stopped, term_at = (EndedBy.USER, cause), time.time()
            if not stopped:  # the user's stop of this run, or of the whole sweep now (--cancel)
                state, asked = self.store.control(self.sweep_id, run_id)
                if asked or state is SweepState.CANCELED:
                    stopped, term_at = (EndedBy.USER, asked or f"sweep {self.sweep_id} canceled"), time.time()
                    self._say(f"run {run_id}: stopping it ({stopped[1]})")
                    child.send_signal(signal.SIGTERM)
            epochs = self.store.epochs_logged(self.sweep_id)
            if epochs != seen and not stopped:
                seen = epochs
                if run_id in runs_to_stop(self.config, self.store.runs(self.sweep_id)):
                    stopped, term_at = (EndedBy.HYPERBAND, "hyperband"), time.time()
                    child.send_signal(signal.SIGTERM)
            if term_at is not None and time.time() - term_at > STOP_GRACE_S:
                child.kill()
        return stopped
