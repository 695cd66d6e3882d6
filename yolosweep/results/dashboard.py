"""`python -m yolosweep dashboard [ID]`: a local page with the W&B sweep page's panels, fed from the store.

Runs table with live states, parallel coordinates, parameter importance, learning curves (running
runs updating), the best run and its configuration, the gain over the baseline. Read-only on the
store (opened with SQLite's mode=ro), served on 127.0.0.1 unless told otherwise, one thread per
request so many viewers can watch. Plotly draws the figures; its script is served from the
installed plotly package, so the page works with no internet.
"""

from __future__ import annotations

import json
import math
import threading
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from yolosweep.invocation import create_hint
from yolosweep.results import analysis
from yolosweep.results.progress import sweep_line, sweep_progress
from yolosweep.results.verdict import Verified
from yolosweep.states import RunState
from yolosweep.store import Store, StoreError, masked
from yolosweep.sweep.task import dead_parameters

REFRESH_MS = 2000


def _clean(value: Any) -> Any:
    """JSON for the page: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def _noise_band(progress: Any) -> list[float] | None:
    """The reference's mean +- its seed spread, drawn behind the curves: where a run's result is the seed's luck."""
    spread = progress.verdict.spread if progress.verdict is not None else None
    if spread is None or spread.std is None:
        return None
    return [spread.mean - spread.std, spread.mean + spread.std]


class Dashboard:
    """What the page shows, read from the store at each request."""

    def __init__(self, location: str, sweep_id: str | None, baseline: float | None = None):
        self.location, self.baseline = location, baseline
        store = Store.read_only(location)
        try:
            chosen = sweep_id or store.newest_sweep()
            if chosen is None:
                raise StoreError(f"{store.where}: no sweeps yet. Fix: {create_hint()}")
            self.sweep_id = chosen
            store.sweep_config(self.sweep_id)  # an unknown id fails here, with the known ones
        finally:
            store.close()
        self._importance_lock = threading.Lock()
        self._importance: tuple[int, list[dict[str, Any]]] = (-1, [])

    def snapshot(self) -> dict[str, Any]:
        store = Store.read_only(self.location)
        try:
            stored = store.runs(self.sweep_id)  # one read: the table and the progress line agree
            sweep = analysis.from_store(store, self.sweep_id, stored)
            progress = sweep_progress(store, self.sweep_id, baseline=self.baseline, runs=stored)
            verified = store.verified(self.sweep_id)
            state = store.sweep_state(self.sweep_id)
        finally:
            store.close()
        goal = progress.metric
        runs = []
        for run in sweep.runs:
            value = run.summary.get(goal.name) if goal else None
            curve = [
                [row.get("epoch", i + 1), row[goal.name]]
                for i, row in enumerate(run.history)
                if goal and isinstance(row.get(goal.name), (int, float))
            ]
            runs.append(
                {
                    "id": run.id,
                    "state": str(run.state),
                    "ended_by": run.ended_by,
                    "origin": run.origin,
                    "seed": run.params.get("seed"),
                    "epochs": len(run.history),
                    "objective": value if isinstance(value, (int, float)) else None,
                    "params": {k: run.params.get(k) for k in sweep.swept},
                    "curve": curve,
                }
            )
        best: dict[str, Any] | None = None
        if progress.best_run is not None:
            record = next(r for r in sweep.runs if r.id == progress.best_run)
            best = {"id": record.id, "value": progress.best, "config": analysis.best_config(sweep, record)}
        return _clean(
            {
                "sweep": self.sweep_id,
                "method": sweep.config.get("method"),
                "source": masked(self.location),
                "sweep_state": str(state),
                "metric": goal.name if goal else None,
                "goal": goal.goal if goal else None,
                "progress": sweep_line(progress),
                "swept": sweep.swept,
                "runs": runs,
                "best": best,
                "baseline": progress.baseline,
                "baseline_from": progress.baseline_from,
                "gain_pct": progress.gain_pct,
                "gain": progress.verdict.describe(progress.baseline_from) if progress.verdict else None,
                "noise_band": _noise_band(progress),
                "verified": Verified.from_dict(verified).line() if verified else None,
                "beyond_noise": progress.verdict.beyond if progress.verdict else None,
                "importance": self._importance_rows(sweep) if goal else [],
                "importance_warning": analysis.importance_warning(sum(r["objective"] is not None for r in runs))
                if goal
                else None,
                "running": sum(r["state"] == RunState.RUNNING for r in runs),
            }
        )

    def run_page(self, run_id: str) -> dict[str, Any] | None:
        """One run as its page shows it: every logged metric by epoch, its parameters, state, who ended it and why,
        its offline wandb folder. None for a run not in this sweep."""
        store = Store.read_only(self.location)
        try:
            run = store.run(run_id)
        finally:
            store.close()
        if run is None or run.sweep_id != self.sweep_id:
            return None
        return _clean(
            {
                "id": run.id,
                "sweep": self.sweep_id,
                "state": str(run.state),
                "ended_by": str(run.ended_by),
                "reason": run.reason,
                "origin": run.origin,
                "host": run.host,
                "params": run.params,
                "summary": run.summary,
                "history": run.history,
                "wandb_dir": run.wandb_dir,
                "epochs": len(run.history),
            }
        )

    def stop(self, run_id: str) -> tuple[int, dict[str, Any]]:
        """W&B's "stop run" from the page: its agent stops it within a poll. The page's only write."""
        store = Store(self.location, create=False)
        try:
            run = store.request_stop(run_id, "stopped by the user (dashboard)")
        finally:
            store.close()
        if run is None or run.sweep_id != self.sweep_id:
            return 409, {"error": f"run {run_id} is not running in sweep {self.sweep_id}"}
        return 200, {
            "message": f"run {run_id} will stop within a poll of its agent (host {run.host}); its epochs are kept"
        }

    def _importance_rows(self, sweep: analysis.SweepRuns) -> list[dict[str, Any]]:
        """Recomputed only when another run has a result: a 200-tree forest per poll would be wasted work."""
        table = analysis.runs_table(sweep)
        scored = int(table["objective"].notna().sum()) if not table.empty else 0
        with self._importance_lock:
            if scored != self._importance[0]:
                frame = analysis.importance(table, sweep.swept) if scored else None
                dead = dead_parameters(sweep.config)
                rows = (
                    []
                    if frame is None
                    else [
                        {
                            "parameter": r.parameter,
                            "correlation": r.correlation,
                            "rf_importance": r.rf_importance,
                            "note": "no effect on this task" if r.parameter in dead else "",
                        }
                        for r in frame.itertuples()
                    ]
                )
                self._importance = (scored, rows)
            return self._importance[1]

    @cached_property
    def plotly_js(self) -> bytes:
        import plotly

        return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


def serve(dashboard: Dashboard, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for the page; the caller runs serve_forever() (or a thread does)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in ("/", "/index.html"):
                self._send(200, "text/html; charset=utf-8", PAGE.replace("__REFRESH_MS__", str(REFRESH_MS)).encode())
            elif self.path == "/plotly.min.js":
                self._send(200, "application/javascript", dashboard.plotly_js, cache=True)
            elif self.path == "/api/sweep":
                self._answer(dashboard.snapshot)
            elif self.path.startswith("/api/run/"):
                run_id = self.path[len("/api/run/") :]
                self._answer(lambda: dashboard.run_page(run_id) or {"error": f"no run {run_id} in this sweep"})
            else:
                self._send(404, "text/plain", b"not found")

        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            # The custom header makes a browser ask before sending it from another site's page (CORS): only this
            # page's own button can stop a run.
            if (
                len(parts) != 4
                or parts[:2] != ["api", "run"]
                or parts[3] != "stop"
                or self.headers.get("X-Yolosweep") != "stop"
            ):
                self._send(404, "text/plain", b"not found")
                return
            try:
                code, answer = dashboard.stop(parts[2])
            except StoreError as err:
                code, answer = 503, {"error": str(err)}
            self._send(code, "application/json", json.dumps(answer).encode())

        def _answer(self, make: Any) -> None:
            try:
                body, code = json.dumps(make()).encode(), 200
            except StoreError as err:
                body, code = json.dumps({"error": str(err)}).encode(), 503
            self._send(code, "application/json", body)

        def _send(self, code: int, kind: str, body: bytes, cache: bool = False) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser went away mid-answer (a closed tab, a reload): nothing to tell anyone

        def log_message(self, *_args: Any) -> None:  # one line per request would drown the terminal
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


# The page: static HTML and JavaScript, fed by /api/sweep and /api/run/ID.
PAGE = (Path(__file__).parent / "dashboard.html").read_text()
