"""The store on SQLite against PostgreSQL, side by side: what an agent does per decision, and connections held.

1. For sweeps of 20 to 200 runs (sweep_config.yaml's 13 parameters, 100-epoch histories, 4 runs running), the
   time of one bayes suggestion and of one Hyperband check, each including reading every run back from the
   store, as the agent does: SQLite file and PostgreSQL server (a throwaway cluster on this machine, TCP),
   alternated, REPEATS timings each; medians, quartiles and the PostgreSQL / SQLite ratio.
2. Connections a PostgreSQL sweep holds with AGENTS agents, each with a running run that writes to the store
   as a run does (a stand-in that opens the store and waits, so 32 agents fit on a small machine): counted in
   pg_stat_activity once every run is running.
Run: python bench/store_backends.py [--agents 32]  ->  bench/results/store_backends.{json,md}
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

from tests.pgserver import PostgresServer, server_binaries  # noqa: E402
from yolosweep import spec  # noqa: E402
from yolosweep.backends.local import runs_to_stop, suggest  # noqa: E402
from yolosweep.store import Store  # noqa: E402
from yolosweep.tracking import OBJECTIVE  # noqa: E402

from harness import REPO, offline_env, write_results  # noqa: E402  (bench/ is on the path when run as a script)

SIZES = (20, 50, 100, 200)
REPEATS = 7
EPOCHS = 100
# A run as the agent starts it, reduced to what matters here: it opens the store (its one connection) and waits.
HOLDING_RUN = "import os, time; from yolosweep.store import Store; store = Store(os.environ['YOLOSWEEP_STORE']); time.sleep(600)"


def fill(store: Store, sweep_id: str, config: dict, n: int, rng: np.random.Generator) -> None:
    """n runs: all but 4 finished, 4 running halfway, each with a noisy saturating curve (the same draws per store)."""
    for i in range(n):
        params = suggest({**config, "method": "random"}, [])
        run_id = f"{sweep_id[:4]}{i:04d}"
        plateau, epochs = rng.uniform(0.3, 0.8), EPOCHS if i < n - 4 else EPOCHS // 2
        rows = [{"epoch": e, OBJECTIVE: float(plateau * (1 - np.exp(-e / 15)) + rng.normal(0, 0.01))} for e in range(1, epochs + 1)]
        with store.transaction():
            store.add_run(sweep_id, run_id, params)
            store.db.execute(sa.text("INSERT INTO metrics (run_id, epoch, metrics) VALUES (:run, :epoch, :metrics)"),
                             [{"run": run_id, "epoch": r["epoch"], "metrics": json.dumps(r)} for r in rows])
            store.db.execute(sa.text("UPDATE runs SET summary=:summary WHERE id=:id"),
                             {"summary": json.dumps({OBJECTIVE: max(r[OBJECTIVE] for r in rows)}), "id": run_id})
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
        print(f"{n} runs: suggest {row['sqlite_suggest_s'][1]:.3f} s vs {row['postgresql_suggest_s'][1]:.3f} s, "
              f"hyperband {row['sqlite_hyperband_s'][1]:.3f} s vs {row['postgresql_hyperband_s'][1]:.3f} s", flush=True)
        for store in stores.values():
            store.close()
    return rows


def connections(server: PostgresServer, folder: Path, agents: int) -> dict:
    url = server.new_database()
    program = folder / "holding_run.py"
    program.write_text(HOLDING_RUN + "\n")
    sweep_yaml = folder / "holding.yaml"
    sweep_yaml.write_text(json.dumps({"program": str(program), "method": "random", "parameters": {"x": {"min": 0, "max": 1}}}))
    env = {**offline_env(folder), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "yolosweep", "sweep", str(sweep_yaml), "--store", url], env=env, cwd=folder,
                          capture_output=True, text=True, check=True)
    sweep_id = done.stdout.split("created local sweep ", 1)[1].split()[0]
    procs = [subprocess.Popen([sys.executable, "-m", "yolosweep", "agent", sweep_id, "--store", url, "--count", "1"],
                              env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT) for _ in range(agents)]
    # Autocommit: inside one transaction pg_stat_activity is a snapshot and would never change.
    admin = sa.create_engine(server.url().replace("postgresql://", "postgresql+psycopg://"), poolclass=sa.pool.NullPool,
                             isolation_level="AUTOCOMMIT")
    database = url.rsplit("/", 1)[1]
    held, started = 0, time.time()
    try:
        with admin.connect() as conn:
            while time.time() - started < 600:
                held = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"), {"db": database}).scalar_one()
                if held >= 2 * agents:
                    time.sleep(3)  # settled: no more connections come
                    held = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"),
                                        {"db": database}).scalar_one()
                    break
                time.sleep(1)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=180)
        admin.dispose()
    return {"agents": agents, "connections": int(held), "per_agent": held / agents, "seconds_to_settle": time.time() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=32, help="agents for the connection count (default 32)")
    options = parser.parse_args()
    bindir = server_binaries()
    if bindir is None:
        print("error: PostgreSQL is not installed. Fix: apt-get install postgresql", file=sys.stderr)
        return 2
    config = spec.load_sweep(REPO / "sweep_config.yaml")
    server = PostgresServer(bindir)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = decisions(server, Path(tmp), config)
            held = connections(server, Path(tmp), options.agents)
    finally:
        server.stop("immediate")
    lines = [f"# The store: SQLite against PostgreSQL ({time.strftime('%Y-%m-%d')}, `python bench/store_backends.py`)", "",
             f"One decision of an agent, reading every run back (sweep_config.yaml, {EPOCHS}-epoch histories); "
             f"median [quartiles] of {REPEATS} alternated timings. PostgreSQL: a local server over TCP.", "",
             "| runs | bayes suggestion, SQLite (s) | PostgreSQL (s) | ratio | Hyperband check, SQLite (s) | PostgreSQL (s) | ratio |",
             "|---|---|---|---|---|---|---|"]
    fmt = lambda q: f"{q[1]:.3f} [{q[0]:.3f}-{q[2]:.3f}]"  # noqa: E731
    for r in rows:
        lines.append(f"| {r['runs']} | {fmt(r['sqlite_suggest_s'])} | {fmt(r['postgresql_suggest_s'])} | {r['ratio_suggest']:.2f} | "
                     f"{fmt(r['sqlite_hyperband_s'])} | {fmt(r['postgresql_hyperband_s'])} | {r['ratio_hyperband']:.2f} |")
    lines += ["", f"Connections with {held['agents']} agents, each with a running run: {held['connections']} "
                  f"({held['per_agent']:.2f} per agent: the agent's and its run's)."]
    write_results("store_backends", {"decisions": rows, "connections": held}, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
