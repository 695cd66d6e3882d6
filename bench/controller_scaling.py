"""Controller scaling: time per bayes suggestion and per Hyperband check as a sweep grows.

The sweep is sweep_config.yaml (13 swept parameters, 100 epochs, Hyperband); the store is a real
SQLite file holding N runs with 100 epochs of history each (synthetic curves: the controller is
measured, not training). Each figure includes reading the runs back from the store, as the agent
does. Run: python bench/controller_scaling.py  ->  bench/results/controller_scaling.{json,md}
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yolosweep import spec  # noqa: E402
from yolosweep.backends.local import runs_to_stop, suggest  # noqa: E402
from yolosweep.store import Store  # noqa: E402
from yolosweep.tracking import OBJECTIVE  # noqa: E402

from harness import machine, write_results  # noqa: E402  (bench/ is on the path when run as a script)

SIZES = (20, 50, 100, 200)
REPEATS = 5
EPOCHS = 100


def fill(store: Store, sweep_id: str, config: dict, n: int, rng: np.random.Generator) -> None:
    """n runs: all but 4 finished, 4 running halfway, each with a noisy saturating curve."""
    for i in range(n):
        params = suggest({**config, "method": "random"}, [])  # parameter sets drawn by the engine
        run_id = f"{sweep_id[:4]}{i:04d}"
        with store.transaction():
            store.add_run(sweep_id, run_id, params)
        plateau, epochs = rng.uniform(0.3, 0.8), EPOCHS if i < n - 4 else EPOCHS // 2
        history = []
        for epoch in range(1, epochs + 1):
            row = {"epoch": epoch, OBJECTIVE: float(plateau * (1 - np.exp(-epoch / 15)) + rng.normal(0, 0.01))}
            history.append(row)
        with store.transaction() as db:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?)", [(run_id, r["epoch"], json.dumps(r)) for r in history])
            best = max(r[OBJECTIVE] for r in history)
            db.execute("UPDATE runs SET summary=? WHERE id=?", (json.dumps({OBJECTIVE: best}), run_id))
        if i < n - 4:
            store.end_run(run_id, "finished")


def timed(fn, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "max_s": max(times)}


def main() -> int:
    config = spec.load_sweep(Path(__file__).resolve().parents[1] / "sweep_config.yaml")
    rng = np.random.default_rng(0)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "sweeps.db")
        for n in SIZES:
            sweep_id = store.create_sweep(config)
            fill(store, sweep_id, config, n, rng)
            read = timed(lambda: store.runs(sweep_id), REPEATS)
            suggestion = timed(lambda: suggest(config, store.runs(sweep_id)), REPEATS)
            check = timed(lambda: runs_to_stop(config, store.runs(sweep_id)), REPEATS)
            results.append({"runs": n, "store_read": read, "bayes_suggestion": suggestion, "hyperband_check": check})
            print(f"{n:4d} runs: read {read['median_s']:.3f}s  suggest {suggestion['median_s']:.3f}s  "
                  f"hyperband {check['median_s']:.3f}s", flush=True)
    payload = {"epochs_per_run": EPOCHS, "repeats": REPEATS,
               "swept_parameters": len([p for p in config["parameters"].values() if "value" not in p]), "results": results}
    lines = [f"# Controller scaling ({time.strftime('%Y-%m-%d')}, {machine()})", "",
             f"Each figure: median of {REPEATS}, including reading all runs (with {EPOCHS}-epoch histories) from SQLite.", "",
             "| runs in sweep | store read (s) | bayes suggestion (s) | Hyperband check (s) |", "|---|---|---|---|"]
    lines += [f"| {r['runs']} | {r['store_read']['median_s']:.3f} | {r['bayes_suggestion']['median_s']:.3f} | "
              f"{r['hyperband_check']['median_s']:.3f} |" for r in results]
    write_results("controller_scaling", payload, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
