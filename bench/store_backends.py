"""The store on SQLite against PostgreSQL, side by side: what an agent does per decision, and connections held.

1. For sweeps of 20 to 200 runs (sweep_config.yaml's 13 parameters, 100-epoch histories, 4 runs running), the
   time of one bayes suggestion and of one Hyperband check, each including reading every run back from the
   store, as the agent does: SQLite file and PostgreSQL server (a throwaway cluster on this machine, TCP),
   alternated, REPEATS timings each; medians, quartiles and the PostgreSQL / SQLite ratio.
2. Agents on one PostgreSQL server with its default settings (max_connections 100): 10, 50 and 200 simulated
   agents (threads of a few processes, each a real Agent with its own store connection and heartbeat, taking
   runs under the write lock and writing replayed epochs as the agent does for a run), straight to the server
   and through PgBouncer in transaction pooling (a pool of 20): connections the server held at most, epochs
   written per second, the median suggestion's wait, and epochs lost (written but not in the store after).
Run: python bench/store_backends.py [--agents 10,50,200] [--only scale]  ->  bench/results/store_backends.{json,md}
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import REPO, RESULTS, offline_env, write_results

from tests.pgserver import PgBouncer, PostgresServer, server_binaries
from yolosweep.agent.engine import runs_to_stop, suggest
from yolosweep.run.tracking import OBJECTIVE
from yolosweep.store import Store
from yolosweep.sweep import spec

SIZES = (20, 50, 100, 200)
REPEATS = 7
EPOCHS = 100
# The scale runs: each simulated agent takes RUNS_EACH runs of SCALE_EPOCHS epochs, one every EPOCH_S seconds.
RUNS_EACH, SCALE_EPOCHS, EPOCH_S, THREADS_PER_PROCESS = 2, 5, 0.2, 25


def fill(store: Store, sweep_id: str, config: dict, n: int, rng: np.random.Generator) -> None:
    """n runs: all but 4 finished, 4 running halfway, each with a noisy saturating curve (the same draws per store)."""
    for i in range(n):
        params = suggest({**config, "method": "random"}, [])
        run_id = f"{sweep_id[:4]}{i:04d}"
        plateau, epochs = rng.uniform(0.3, 0.8), EPOCHS if i < n - 4 else EPOCHS // 2
        rows = [
            {"epoch": e, OBJECTIVE: float(plateau * (1 - np.exp(-e / 15)) + rng.normal(0, 0.01))}
            for e in range(1, epochs + 1)
        ]
        with store.transaction():
            store.add_run(sweep_id, run_id, params)
            store.db.execute(
                sa.text("INSERT INTO metrics (run_id, epoch, metrics) VALUES (:run, :epoch, :metrics)"),
                [{"run": run_id, "epoch": r["epoch"], "metrics": json.dumps(r)} for r in rows],
            )
            store.db.execute(
                sa.text("UPDATE runs SET summary=:summary WHERE id=:id"),
                {"summary": json.dumps({OBJECTIVE: max(r[OBJECTIVE] for r in rows)}), "id": run_id},
            )
        if i < n - 4:
            store.end_run(run_id, "finished")


def timings(store: Store, sweep_id: str, config: dict) -> dict[str, float]:
    started = time.perf_counter()
    suggest(config, store.runs(sweep_id))
    suggested = time.perf_counter()
    runs_to_stop(config, store.runs(sweep_id))
    return {"suggest": suggested - started, "hyperband": time.perf_counter() - suggested}


def quartiles(values: list[float]) -> list[float]:
    q = statistics.quantiles(values, n=4)
    return [q[0], statistics.median(values), q[2]]


def decisions(server: PostgresServer, folder: Path, config: dict) -> list[dict]:
    rows = []
    for n in SIZES:
        stores = {"sqlite": Store(folder / f"sweeps-{n}.db"), "postgresql": Store(server.new_database())}
        sweeps = {}
        for name, store in stores.items():
            sweeps[name] = store.create_sweep(config)
            fill(store, sweeps[name], config, n, np.random.default_rng(n))
        measured: dict[str, dict[str, list[float]]] = {name: {"suggest": [], "hyperband": []} for name in stores}
        for _ in range(REPEATS):  # alternated, so drift on the machine falls on both alike
            for name, store in stores.items():
                for key, value in timings(store, sweeps[name], config).items():
                    measured[name][key].append(value)
        row = {"runs": n}
        for name in stores:
            for key in ("suggest", "hyperband"):
                row[f"{name}_{key}_s"] = quartiles(measured[name][key])
        row["ratio_suggest"] = row["postgresql_suggest_s"][1] / row["sqlite_suggest_s"][1]
        row["ratio_hyperband"] = row["postgresql_hyperband_s"][1] / row["sqlite_hyperband_s"][1]
        rows.append(row)
        print(
            f"{n} runs: suggest {row['sqlite_suggest_s'][1]:.3f} s vs {row['postgresql_suggest_s'][1]:.3f} s, "
            f"hyperband {row['sqlite_hyperband_s'][1]:.3f} s vs {row['postgresql_hyperband_s'][1]:.3f} s",
            flush=True,
        )
        for store in stores.values():
            store.close()
    return rows


def agent_worker(url: str, sweep_id: str, threads: int, out: str) -> None:
    """`threads` agents in this process, as Agent runs them minus the child: take a run, beat for it, write its epochs
    as a run's relay does through its agent, end it. What each saw goes to `out` as JSON."""
    import threading

    from yolosweep.agent.heartbeat import Heartbeat
    from yolosweep.agent.loop import Agent
    from yolosweep.states import RunState
    from yolosweep.store import StoreError

    waits: list[float] = []
    written, errors = [0], []
    lock = threading.Lock()

    def one() -> None:
        try:
            store = Store(url, create=False)
            agent = Agent(store, sweep_id)
            beats = Heartbeat(store)
        except StoreError as err:
            with lock:
                errors.append(str(err).split(" Fix:")[0][-120:])
            return
        try:
            for _ in range(RUNS_EACH):
                started = time.perf_counter()
                run_id, _params, _origin = agent._next()
                with lock:
                    waits.append(time.perf_counter() - started)
                if run_id is None:
                    break
                beats.follow(run_id)
                for epoch in range(1, SCALE_EPOCHS + 1):
                    time.sleep(EPOCH_S)
                    row = {"epoch": epoch, OBJECTIVE: epoch / SCALE_EPOCHS}
                    store.log_epoch(run_id, epoch, row, {OBJECTIVE: row[OBJECTIVE]})
                    with lock:
                        written[0] += 1
                store.end_run(run_id, RunState.FINISHED)
                beats.follow(None)
        except StoreError as err:
            with lock:
                errors.append(str(err).split(" Fix:")[0][-120:])
        finally:
            beats.close()
            store.close()

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    Path(out).write_text(json.dumps({"suggest_waits": waits, "epochs_written": written[0], "errors": errors}))


def scale(server: PostgresServer, bouncer: PgBouncer, folder: Path, agents: int, via: str) -> dict:
    url = server.new_database()
    database = url.rsplit("/", 1)[1]
    store = Store(url)
    sweep_id = store.create_sweep(
        {
            "program": "p.py",
            "method": "random",
            "metric": {"name": OBJECTIVE, "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
        }
    )
    store.close()
    target = bouncer.url(database) if via == "pgbouncer" else url
    procs, outs, left = [], [], agents
    started = time.time()
    while left > 0:
        threads = min(THREADS_PER_PROCESS, left)
        outs.append(folder / f"scale-{via}-{agents}-{len(outs)}.json")
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--worker", target, sweep_id, str(threads), str(outs[-1])],
                env={**offline_env(folder), "PYTHONPATH": str(REPO)},
            )
        )
        left -= threads
    admin = sa.create_engine(
        server.url().replace("postgresql://", "postgresql+psycopg://"),
        poolclass=sa.pool.NullPool,
        isolation_level="AUTOCOMMIT",
    )
    held = 0
    with admin.connect() as conn:  # autocommit: each count is a new snapshot
        while any(proc.poll() is None for proc in procs):
            held = max(
                held,
                conn.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"), {"db": database}
                ).scalar_one(),
            )
            time.sleep(0.1)
    admin.dispose()
    seconds = time.time() - started
    reports = [json.loads(out.read_text()) for out in outs if out.exists()]
    check = Store.read_only(url)
    stored = check.epochs_logged(sweep_id)
    check.close()
    written = sum(r["epochs_written"] for r in reports)
    waits = [w for r in reports for w in r["suggest_waits"]]
    errors = [e for r in reports for e in r["errors"]]
    row = {
        "agents": agents,
        "via": via,
        "connections": int(held),
        "epochs_per_s": stored / seconds,
        "suggest_s": quartiles(waits) if len(waits) > 1 else waits,
        "epochs_lost": written - stored,
        "agents_refused": len(errors),
        "refusals": sorted(set(errors))[:3],
        "seconds": seconds,
        "epochs_written": written,
        "epochs_stored": stored,
    }
    print(
        f"{agents} agents {via}: {held} server connections, {row['epochs_per_s']:.1f} epochs/s, suggestion "
        f"{statistics.median(waits) if waits else float('nan'):.3f} s, lost {row['epochs_lost']}, "
        f"refused {len(errors)}",
        flush=True,
    )
    return row


def main() -> int:
    if sys.argv[1:2] == ["--worker"]:  # one process of simulated agents (scale)
        url, sweep_id, threads, out = sys.argv[2:6]
        agent_worker(url, sweep_id, int(threads), out)
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="10,50,200", help="simulated agents per scale row (default 10,50,200)")
    parser.add_argument(
        "--only", choices=("decisions", "scale"), default=None, help="one part; the other's last results are kept"
    )
    options = parser.parse_args()
    bindir = server_binaries()
    if bindir is None:
        print("error: PostgreSQL is not installed. Fix: apt-get install postgresql", file=sys.stderr)
        return 2
    previous = (
        json.loads((RESULTS / "store_backends.json").read_text()) if (RESULTS / "store_backends.json").exists() else {}
    )
    config = spec.load_sweep(REPO / "sweep_config.yaml")
    server = PostgresServer(bindir, max_connections=None)  # PostgreSQL's default settings: 100 connections
    bouncer = PgBouncer(server)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = decisions(server, Path(tmp), config) if options.only != "scale" else previous.get("decisions", [])
            scaled = (
                previous.get("connections", [])
                if options.only == "decisions"
                else [
                    scale(server, bouncer, Path(tmp), int(n), via)
                    for n in options.agents.split(",")
                    for via in ("direct", "pgbouncer")
                ]
            )
    finally:
        bouncer.stop()
        server.stop("immediate")
    lines = [
        f"# The store: SQLite against PostgreSQL ({time.strftime('%Y-%m-%d')}, `python bench/store_backends.py`)",
        "",
        f"One decision of an agent, reading every run back (sweep_config.yaml, {EPOCHS}-epoch histories); "
        f"median [quartiles] of {REPEATS} alternated timings. PostgreSQL: a local server over TCP.",
        "",
        "| runs | bayes suggestion, SQLite (s) | PostgreSQL (s) | ratio | Hyperband check, SQLite (s) | "
        "PostgreSQL (s) | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    fmt = lambda q: f"{q[1]:.3f} [{q[0]:.3f}-{q[2]:.3f}]" if len(q) == 3 else "-"  # noqa: E731
    for r in rows:
        lines.append(
            f"| {r['runs']} | {fmt(r['sqlite_suggest_s'])} | {fmt(r['postgresql_suggest_s'])} | "
            f"{r['ratio_suggest']:.2f} | "
            f"{fmt(r['sqlite_hyperband_s'])} | {fmt(r['postgresql_hyperband_s'])} | {r['ratio_hyperband']:.2f} |"
        )
    lines += [
        "",
        f"Agents on one server with default settings (max_connections 100), each taking {RUNS_EACH} runs of "
        f"{SCALE_EPOCHS} epochs ({EPOCH_S} s apart) as a real Agent does, its run relayed through it: "
        "straight to the server, and through PgBouncer in transaction pooling (pool 20).",
        "",
        "| agents | via | server connections (max) | epochs/s | suggestion wait (s) | epochs lost | agents refused |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in scaled:
        lines.append(
            f"| {r['agents']} | {r['via']} | {r['connections']} | {r['epochs_per_s']:.1f} | {fmt(r['suggest_s'])} | "
            f"{r['epochs_lost']} | {r['agents_refused']}" + (f": {r['refusals'][0]}" if r["refusals"] else "") + " |"
        )
    write_results("store_backends", {"decisions": rows, "connections": scaled}, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
