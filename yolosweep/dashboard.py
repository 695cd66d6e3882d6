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

from . import analysis
from .invocation import create_hint
from .progress import sweep_line, sweep_progress
from .retrain import verified_line
from .spec import dead_parameters
from .states import RunState
from .store import Store, StoreError, masked

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
            self.sweep_id = sweep_id or (store.sweep_ids() or [None])[-1]
            if self.sweep_id is None:
                raise StoreError(f"{store.where}: no sweeps yet. Fix: {create_hint()}")
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
            curve = [[row.get("epoch", i + 1), row[goal.name]] for i, row in enumerate(run.history)
                     if goal and isinstance(row.get(goal.name), (int, float))]
            runs.append({"id": run.id, "state": str(run.state), "ended_by": run.ended_by, "origin": run.origin,
                         "seed": run.params.get("seed"), "epochs": len(run.history), "objective": value if isinstance(value, (int, float)) else None,
                         "params": {k: run.params.get(k) for k in sweep.swept}, "curve": curve})
        best: dict[str, Any] | None = None
        if progress.best_run is not None:
            record = next(r for r in sweep.runs if r.id == progress.best_run)
            best = {"id": record.id, "value": progress.best, "config": analysis.best_config(sweep, record)}
        return _clean({
            "sweep": self.sweep_id, "method": sweep.config.get("method"), "source": masked(self.location),
            "sweep_state": str(state),
            "metric": goal.name if goal else None, "goal": goal.goal if goal else None,
            "progress": sweep_line(progress), "swept": sweep.swept, "runs": runs, "best": best,
            "baseline": progress.baseline, "baseline_from": progress.baseline_from, "gain_pct": progress.gain_pct,
            "gain": progress.verdict.describe(progress.baseline_from) if progress.verdict else None,
            "noise_band": _noise_band(progress),
            "verified": verified_line(verified) if verified else None,
            "beyond_noise": progress.verdict.beyond if progress.verdict else None,
            "importance": self._importance_rows(sweep) if goal else [],
            "importance_warning": analysis.importance_warning(sum(r["objective"] is not None for r in runs)) if goal else None,
            "running": sum(r["state"] == RunState.RUNNING for r in runs),
        })

    def run_page(self, run_id: str) -> dict[str, Any] | None:
        """One run as its page shows it: every logged metric by epoch, its parameters, state, who ended it and why,
        its offline wandb folder. None for a run not in this sweep."""
        store = Store.read_only(self.location)
        try:
            run = next((r for r in store.runs(self.sweep_id) if r.id == run_id), None)
        finally:
            store.close()
        if run is None:
            return None
        return _clean({"id": run.id, "sweep": self.sweep_id, "state": str(run.state), "ended_by": str(run.ended_by),
                       "reason": run.reason, "origin": run.origin, "host": run.host, "params": run.params,
                       "summary": run.summary, "history": run.history, "wandb_dir": run.wandb_dir,
                       "epochs": len(run.history)})

    def stop(self, run_id: str) -> tuple[int, dict[str, Any]]:
        """W&B's "stop run" from the page: its agent stops it within a poll. The page's only write."""
        store = Store(self.location, create=False)
        try:
            run = store.request_stop(run_id, "stopped by the user (dashboard)")
        finally:
            store.close()
        if run is None or run.sweep_id != self.sweep_id:
            return 409, {"error": f"run {run_id} is not running in sweep {self.sweep_id}"}
        return 200, {"message": f"run {run_id} will stop within a poll of its agent (host {run.host}); its epochs are kept"}

    def _importance_rows(self, sweep: analysis.SweepRuns) -> list[dict[str, Any]]:
        """Recomputed only when another run has a result: a 200-tree forest per poll would be wasted work."""
        table = analysis.runs_table(sweep)
        scored = int(table["objective"].notna().sum()) if not table.empty else 0
        with self._importance_lock:
            if scored != self._importance[0]:
                frame = analysis.importance(table, sweep.swept) if scored else None
                dead = dead_parameters(sweep.config)
                rows = [] if frame is None else [
                    {"parameter": r.parameter, "correlation": r.correlation, "rf_importance": r.rf_importance,
                     "note": "no effect on this task" if r.parameter in dead else ""} for r in frame.itertuples()]
                self._importance = (scored, rows)
            return self._importance[1]

    @cached_property
    def plotly_js(self) -> bytes:
        import plotly

        return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


def serve(dashboard: Dashboard, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for the page; the caller runs serve_forever() (or a thread does)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path in ("/", "/index.html"):
                self._send(200, "text/html; charset=utf-8", PAGE.replace("__REFRESH_MS__", str(REFRESH_MS)).encode())
            elif self.path == "/plotly.min.js":
                self._send(200, "application/javascript", dashboard.plotly_js, cache=True)
            elif self.path == "/api/sweep":
                self._answer(dashboard.snapshot)
            elif self.path.startswith("/api/run/"):
                run_id = self.path[len("/api/run/"):]
                self._answer(lambda: dashboard.run_page(run_id) or {"error": f"no run {run_id} in this sweep"})
            else:
                self._send(404, "text/plain", b"not found")

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            parts = self.path.strip("/").split("/")
            # The custom header makes a browser ask before sending it from another site's page (CORS): only this
            # page's own button can stop a run.
            if len(parts) != 4 or parts[:2] != ["api", "run"] or parts[3] != "stop" \
                    or self.headers.get("X-Yolosweep") != "stop":
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


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>yolosweep dashboard</title>
<script src="/plotly.min.js"></script>
<style>
 body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
 h1 { font-size: 20px; margin: 0 0 4px; } .muted { color: #666; }
 .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
 .panel { border: 1px solid #ddd; border-radius: 6px; padding: 8px; }
 table { border-collapse: collapse; width: 100%; font-size: 12px; }
 th, td { border-bottom: 1px solid #eee; padding: 3px 6px; text-align: right; } th:first-child, td:first-child { text-align: left; }
 .running { color: #0a6; font-weight: 600; } .stopped { color: #a60; } .failed, .crashed { color: #c22; }
 th.sortable { cursor: pointer; user-select: none; } tr.run-row { cursor: pointer; } tr.run-row:hover { background: #f4f8ff; }
 pre { margin: 0; font-size: 12px; } .warning { color: #a60; font-size: 12px; } .within { color: #a60; } .beyond { color: #0a6; }
</style></head>
<body>
<h1>sweep <span id="sweep">…</span> <span class="muted" id="method"></span></h1>
<div id="progress" class="muted">loading…</div>
<div id="best" style="margin: 6px 0 2px"></div>
<div id="verified" style="margin: 0 0 12px"></div>
<div id="run-view" hidden>
 <p><a href="#" id="back">&larr; all runs</a></p>
 <h2 style="font-size:17px; margin: 4px 0">run <span id="run-id"></span> <span id="run-state"></span>
  <button id="stop-run" hidden>stop run</button> <span id="run-message" class="muted"></span></h2>
 <div id="run-facts" class="muted" style="margin-bottom: 8px"></div>
 <div class="grid">
  <div class="panel"><b>metrics</b><div id="run-metrics" style="height:300px"></div></div>
  <div class="panel"><b>losses</b><div id="run-losses" style="height:300px"></div></div>
  <div class="panel"><b>learning rates</b><div id="run-lr" style="height:300px"></div></div>
  <div class="panel"><b>parameters</b><div id="run-params"></div></div>
 </div>
</div>
<div class="grid" id="sweep-view">
 <div class="panel"><b>learning curves</b><div id="curves" style="height:320px"></div></div>
 <div class="panel"><b>parameter importance</b> <span id="importance-warning" class="warning"></span><div id="importance" style="height:320px"></div></div>
 <div class="panel" style="grid-column: span 2"><b>parallel coordinates</b><div id="parcoords" style="height:340px"></div></div>
 <div class="panel" style="grid-column: span 2"><b>runs</b><div id="runs"></div></div>
 <div class="panel" style="grid-column: span 2"><b>best configuration</b><pre id="config"></pre></div>
</div>
<script>
const fmt = v => v === null || v === undefined ? "-" : (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v));
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
async function refresh() {
  let data;
  try { data = await (await fetch("/api/sweep", {cache: "no-store"})).json(); }
  catch (e) { document.getElementById("progress").textContent = "dashboard server unreachable"; return; }
  if (data.error) { document.getElementById("progress").textContent = data.error; return; }
  document.getElementById("sweep").textContent = data.sweep;
  document.getElementById("method").textContent = `${data.method}, ${data.metric || "no metric"} (${data.goal || "-"})`;
  document.getElementById("progress").textContent = data.progress;
  const best = data.best;
  document.getElementById("best").innerHTML = best ? `best run <b>${esc(best.id)}</b>: ${esc(data.metric)} = <b>${fmt(best.value)}</b>` +
    (data.gain ? `, <span id="gain" class="${data.beyond_noise ? "beyond" : "within"}">${esc(data.gain)}</span>` : "") : "no result yet";
  document.getElementById("verified").textContent = data.verified || "";
  document.getElementById("config").textContent = best ? Object.entries(best.config).map(([k, v]) => `${k}: ${fmt(v)}`).join("\\n") : "";
  lastData = data;
  renderRuns();
  if (data.sweep_state && data.sweep_state !== "running") document.getElementById("progress").textContent += ` (sweep ${data.sweep_state})`;
  const lastEpoch = Math.max(1, ...data.runs.flatMap(r => r.curve.map(p => p[0])));  // whole epochs only on the axis
  Plotly.react("curves", data.runs.filter(r => r.curve.length).map(r => ({x: r.curve.map(p => p[0]), y: r.curve.map(p => p[1]),
    mode: "lines+markers", name: r.id, line: {width: r.state === "running" ? 3 : 1.5}})),
    {margin: {t: 10, r: 10, b: 40, l: 50}, yaxis: {title: {text: data.metric || ""}},
     xaxis: {title: {text: "epoch"}, tickmode: "linear", tick0: 1, dtick: Math.max(1, Math.ceil(lastEpoch / 10))},
     shapes: data.noise_band ? [{type: "rect", xref: "paper", x0: 0, x1: 1, y0: data.noise_band[0], y1: data.noise_band[1],
       fillcolor: "#999", opacity: 0.15, line: {width: 0}, layer: "below"}] : []});
  document.getElementById("importance-warning").textContent = data.importance_warning ? "warning: " + data.importance_warning : "";
  const imp = data.importance.filter(r => r.rf_importance !== null);
  Plotly.react("importance", [{type: "bar", orientation: "h", x: imp.map(r => r.rf_importance), y: imp.map(r => r.parameter + (r.note ? " *" : "")),
    text: imp.map(r => r.note || `corr ${fmt(r.correlation)}`), hoverinfo: "x+text"}],
    {margin: {t: 10, r: 10, b: 40, l: 120}, yaxis: {autorange: "reversed"}, xaxis: {title: {text: "random-forest importance (* no effect on this task)"}}},
    {displayModeBar: false});  // the toolbar would sit over the top bars
  const scored = data.runs.filter(r => r.objective !== null);
  const numeric = data.swept.filter(k => scored.every(r => typeof r.params[k] === "number"));
  if (scored.length) {
    Plotly.react("parcoords", [{type: "parcoords", line: {color: scored.map(r => r.objective), showscale: true,
      reversescale: data.goal === "minimize"}, dimensions: [...numeric.map(k => ({label: k, values: scored.map(r => r.params[k])})),
      {label: data.metric, values: scored.map(r => r.objective)}]}], {margin: {t: 70, r: 40, b: 20, l: 60}});  // labels sit above the axes
  }
}
let lastData = null, sortKey = null, sortDir = 1, shownRun = null;
function sortValue(r, key) {
  return {run: r.id, state: r.state, "ended by": r.ended_by || "", epochs: r.epochs, objective: r.objective}[key] ?? r.params[key];
}
function renderRuns() {  // the runs table, sorted by the column last clicked (again: the other way)
  const data = lastData, runs = [...data.runs];
  if (sortKey !== null) runs.sort((a, b) => { const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
    if (x === y) return 0; if (x === null || x === undefined) return 1; if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sortDir; });
  const head = [["run", "run"], ["state", "state"], ["ended by", "ended by"], ["epochs", "epochs"],
    ["objective", data.metric || "metric"], ...data.swept.map(k => [k, k])];
  const rows = runs.map(r => `<tr class="run-row" data-run="${esc(r.id)}" data-epochs="${r.epochs}"><td>${esc(r.id)}${r.origin === "prior" ? " (prior)" : r.origin === "noise" ? ` (seed repeat, seed ${esc(r.seed)})` : ""}</td>` +
    `<td class="${esc(r.state)}">${esc(r.state)}</td><td>${esc(r.ended_by || "")}</td><td>${r.epochs}</td><td>${fmt(r.objective)}</td>` +
    data.swept.map(k => `<td>${fmt(r.params[k])}</td>`).join("") + "</tr>");
  const arrow = key => key === sortKey ? (sortDir > 0 ? " \u25b2" : " \u25bc") : "";
  document.getElementById("runs").innerHTML = `<table id="runs-table"><tr>${head.map(([key, label]) =>
    `<th class="sortable" data-key="${esc(key)}">${esc(label)}${arrow(key)}</th>`).join("")}</tr>${rows.join("")}</table>`;
  document.querySelectorAll("#runs-table th.sortable").forEach(th => th.onclick = () => {
    sortDir = sortKey === th.dataset.key ? -sortDir : 1; sortKey = th.dataset.key; renderRuns(); });
  document.querySelectorAll("#runs-table tr.run-row").forEach(tr => tr.onclick = () => { location.hash = "run=" + tr.dataset.run; });
}
function plotGroup(div, history, keys) {
  const panel = document.getElementById(div).parentElement;
  panel.hidden = !keys.length;
  if (keys.length) Plotly.react(div, keys.map(k => ({x: history.map((row, i) => row.epoch ?? i + 1), y: history.map(row => row[k]),
    mode: "lines+markers", name: k})), {margin: {t: 10, r: 10, b: 40, l: 50}, showlegend: true, legend: {orientation: "h", y: -0.25},
    xaxis: {title: {text: "epoch"}, tickmode: "linear", tick0: 1, dtick: Math.max(1, Math.ceil(history.length / 10))}},
    {displayModeBar: false});
}
async function showRun(id) {  // one run's page: every metric it logged by epoch, its parameters, how it ended
  let run;
  try { run = await (await fetch("/api/run/" + encodeURIComponent(id), {cache: "no-store"})).json(); }
  catch (e) { document.getElementById("run-message").textContent = "dashboard server unreachable"; return; }
  shownRun = id;
  document.getElementById("sweep-view").hidden = true;
  document.getElementById("run-view").hidden = false;
  document.getElementById("run-id").textContent = id;
  if (run.error) { document.getElementById("run-facts").textContent = run.error; return; }
  const state = document.getElementById("run-state");
  state.textContent = run.state; state.className = run.state;
  document.getElementById("stop-run").hidden = run.state !== "running";
  document.getElementById("run-facts").textContent = [`${run.epochs} epochs`, run.origin !== "search" ? run.origin : "",
    run.ended_by ? `ended by ${run.ended_by}` : "", run.reason ? `reason: ${run.reason}` : "", `host ${run.host}`,
    run.wandb_dir ? `offline wandb folder: ${run.wandb_dir}` : ""].filter(Boolean).join(" \u00b7 ");
  const keys = [...new Set(run.history.flatMap(row => Object.keys(row)))].filter(k => k !== "epoch" &&
    run.history.some(row => typeof row[k] === "number"));
  plotGroup("run-losses", run.history, keys.filter(k => k.includes("loss")));
  plotGroup("run-lr", run.history, keys.filter(k => k.startsWith("lr/")));
  plotGroup("run-metrics", run.history, keys.filter(k => !k.includes("loss") && !k.startsWith("lr/")));
  document.getElementById("run-params").innerHTML = `<table id="run-params-table">${Object.keys(run.params).sort().map(k =>
    `<tr><td>${esc(k)}</td><td>${esc(fmt(run.params[k]))}</td></tr>`).join("")}</table>`;
}
function route() {
  const match = location.hash.match(/^#run=(.+)$/);
  if (match) { document.getElementById("run-message").textContent = ""; showRun(decodeURIComponent(match[1])); return; }
  shownRun = null;
  document.getElementById("run-view").hidden = true;
  document.getElementById("sweep-view").hidden = false;
  refresh();
}
document.getElementById("back").onclick = e => { e.preventDefault(); location.hash = ""; };
document.getElementById("stop-run").onclick = async () => {
  const answer = await (await fetch(`/api/run/${encodeURIComponent(shownRun)}/stop`, {method: "POST",
    headers: {"X-Yolosweep": "stop"}})).json();
  document.getElementById("run-message").textContent = answer.message || answer.error;
};
window.addEventListener("hashchange", route);
refresh(); route(); setInterval(() => shownRun ? showRun(shownRun) : refresh(), __REFRESH_MS__);
</script></body></html>
"""
