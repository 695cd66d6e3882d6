"""A lab cluster's faults (#40): a PostgreSQL server that crashes and recovers, in any language, a run whose
epochs wait out the outage, a busy host whose live runs stay live.

The decisions are tested in memory (milliseconds); the faults themselves on a real server in the integration tier.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psycopg
import pytest

from yolosweep.run.sink import StoreSink, replay_spool
from yolosweep.states import EndedBy, RunState
from yolosweep.store import Store, StoreError, StoreUnreachable, explain_postgres

from .conftest import REPO, server_binaries
from .pgserver import NoLocale, NoUnprivilegedUser, PostgresServer
from .test_postgres import _curve_sweep, _yolosweep
from .waiting import wait_for

WHERE = "postgresql://lab@db/sweeps"


@pytest.mark.parametrize("sqlstate", ["57P01", "57P02", "57P03", "53300", "08006", "08001", "40001", "40P01"])
def test_an_outage_is_told_by_its_sqlstate_in_any_language(sqlstate):
    err = psycopg.errors.lookup(sqlstate)("Das Datenbanksystem nimmt noch keine Verbindungen an")
    assert isinstance(explain_postgres(err, WHERE), StoreUnreachable)


@pytest.mark.parametrize("sqlstate, fix", [("28P01", "right password"), ("3D000", "createdb"), ("28000", "createuser")])
def test_a_wrong_password_user_or_database_stays_one_line_and_an_exit_in_any_language(sqlstate, fix):
    found = explain_postgres(psycopg.errors.lookup(sqlstate)("Passwort-Authentifizierung fehlgeschlagen"), WHERE)
    assert not isinstance(found, StoreUnreachable) and fix in str(found) and "\n" not in str(found)


def test_a_refusal_to_connect_is_an_outage_once_this_process_has_connected_with_the_url():
    """A failure while connecting has no SQLSTATE (libpq keeps it), only the server's words in its lc_messages: a
    German server's "not yet accepting connections" read as a wrong URL ended every agent (exit 2)."""
    refused = psycopg.OperationalError("connection failed: FATAL: das Datenbanksystem nimmt noch keine Verbindungen an")
    assert not isinstance(explain_postgres(refused, WHERE), StoreUnreachable)  # a first connection: said, not waited
    assert isinstance(explain_postgres(refused, WHERE, proven=True), StoreUnreachable)
    english = psycopg.OperationalError("connection failed: FATAL: the database system is not yet accepting connections")
    assert isinstance(explain_postgres(english, WHERE), StoreUnreachable)
    crowded = psycopg.OperationalError("connection failed: FATAL: sorry, too many clients already")
    assert isinstance(explain_postgres(crowded, WHERE), StoreUnreachable)
    assert "Fix: put PgBouncer in front of it" in str(explain_postgres(crowded, WHERE))


def test_a_spooled_run_is_written_once_in_order_with_its_end(tmp_path, monkeypatch):
    """What a run could not write during an outage outlives its process in the spool, and its agent writes it: epochs
    in order, then the end; a second replay (a lost acknowledgement, an agent restart) duplicates nothing."""
    store = Store(tmp_path / "sweeps.db")
    sweep_id = store.create_sweep(
        {
            "program": "p.py",
            "method": "random",
            "metric": {"name": "m", "goal": "maximize"},
            "parameters": {"x": {"values": [1]}},
        }
    )
    store.add_run(sweep_id, "run00001", {"x": 1})
    monkeypatch.setenv("YOLOSWEEP_SPOOL", str(tmp_path / "spool"))
    sink = StoreSink(store, "run00001")
    store.log_epoch("run00001", 1, {"epoch": 1, "m": 0.1}, {"m": 0.1})  # written before the outage
    sink.waiting = [(e, {"epoch": e, "m": e / 10}, {"m": e / 10}) for e in (1, 2, 3)]  # 1 again: its ack was lost
    sink._spool({"state": "finished", "reason": "", "summary": {"m": 0.3}, "ended_by": ""})
    spool = tmp_path / "spool" / "run00001.jsonl"
    assert [json.loads(line).get("epoch") for line in spool.read_text().splitlines()] == [1, 2, 3, None]
    assert replay_spool(store, "run00001", tmp_path / "spool") == 3 and not spool.exists()
    assert replay_spool(store, "run00001", tmp_path / "spool") == 0
    (run,) = store.runs(sweep_id)
    assert [row["epoch"] for row in run.history] == [1, 2, 3] and run.state is RunState.FINISHED
    assert run.summary == {"m": 0.3} and run.ended_by is EndedBy.COMPLETED


def _curve_sweep_on(url: str, folder, env: dict[str, str], epochs: int, epoch_s: float) -> str:
    """A random sweep of the stand-in curve program created on the PostgreSQL store `url`: its id."""
    created = _yolosweep(
        ["sweep", str(_curve_sweep(folder, epochs=epochs, epoch_s=epoch_s)), "--store", url], env, folder
    )
    return created.stdout.split("created local sweep ", 1)[1].split()[0]


def _agent(sweep_id: str, url: str, env: dict[str, str], folder, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "yolosweep", "agent", sweep_id, "--store", url, *args],
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def german_server():
    bindir = server_binaries()
    if bindir is None:
        pytest.skip("the PostgreSQL server is not installed (Debian package postgresql; .ci/run installs it)")
    try:
        server = PostgresServer(bindir, messages="de_DE.UTF-8")
    except NoUnprivilegedUser:
        pytest.skip("no unprivileged user to run PostgreSQL as")
    except NoLocale as err:
        pytest.skip(str(err))
    try:
        yield server
    finally:
        try:
            server.stop("immediate")
        except AssertionError:
            pass


def _busy_elsewhere(server: PostgresServer, megabytes: int) -> None:
    """Recent writes in another database, so a crash leaves WAL to replay: seconds of recovery, as on a busy server."""
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS ballast (id bigint, pad text)")
        admin.execute(
            "INSERT INTO ballast SELECT i, repeat('x', 200) FROM generate_series(1, %s) AS i", (megabytes * 4000,)
        )


@pytest.mark.integration
def test_a_crash_with_recovery_on_a_german_server_loses_no_epoch_and_ends_every_run(
    tmp_path, offline_env, german_server
):
    """The attack of #40 on its two surviving hosts: the server crashes (`pg_ctl stop -m immediate`) while runs train,
    refuses connections in German while it replays its WAL, and comes back. Before, both agents exited 2 ("check the
    server's log and the URL"), their runs stayed `running` and lost their last epochs."""
    server: PostgresServer = german_server
    with pytest.raises(StoreError, match="Passwort"):  # the server does answer in German
        Store(server.url().replace(server.PASSWORD, "falsch"))
    url = server.new_database()
    sweep_id = _curve_sweep_on(url, tmp_path, offline_env, epochs=25, epoch_s=0.4)
    agents = [_agent(sweep_id, url, offline_env, tmp_path, "--count", "1", "--lease", "3") for _ in range(2)]
    store = Store.read_only(url)
    wait_for(
        lambda: len(runs := store.runs(sweep_id)) == 2 and all(len(r.history) >= 3 for r in runs),
        what="two runs three epochs in",
    )
    store.close()
    _busy_elsewhere(server, 60)
    server.stop("immediate")  # a crash: no checkpoint, the WAL to replay at the next start
    down = time.time()
    server.start()  # pg_ctl -w: returns once recovery is over; clients meanwhile get 57P03, in German
    recovery = time.time() - down
    outputs = [a.communicate(timeout=300)[0] for a in agents]
    assert all(a.returncode == 0 for a in agents), outputs
    assert not any("Traceback" in out or "check the server's log" in out for out in outputs), outputs
    assert any("reachable again" in out for out in outputs), outputs

    store = Store.read_only(url)
    runs = store.runs(sweep_id)
    store.close()
    assert len(runs) == 2 and {r.state for r in runs} == {RunState.FINISHED}, [
        (r.state, r.reason, recovery) for r in runs
    ]
    assert all([row["epoch"] for row in r.history] == list(range(1, 26)) for r in runs)  # no epoch lost
    assert server.PASSWORD not in "".join(outputs)


@pytest.mark.integration
def test_a_run_is_beaten_for_while_its_agent_waits_on_the_write_lock(pg_url):
    """Live runs were crashed 10 s into a sweep: their agent beat from its own loop, which waited on the store's write
    lock (another agent suggesting on a busy CPU) and on the run's start-up. The beat now has a thread and a
    connection of its own, from the moment the run's row exists."""
    from yolosweep.agent.heartbeat import Heartbeat

    store = Store(pg_url, lease=0.6)  # a beat every 0.1 s
    sweep_id = store.create_sweep({"program": "p.py", "method": "random", "parameters": {"x": {"values": [1]}}})
    with store.transaction():
        store.add_run(sweep_id, "run00001", {"x": 1})
    beats = Heartbeat(store)
    try:
        beats.follow("run00001")
        other = Store(pg_url)
        with other.transaction():  # another agent holds the write lock for 2 s; this agent's loop would queue behind it
            first = _beat(store, "run00001")
            time.sleep(2)
            during = _beat(store, "run00001")
        assert during - first > 1.5, (first, during)  # beaten throughout, lock or not
        beats.follow(None)
        time.sleep(0.5)
        stopped = _beat(store, "run00001")
        time.sleep(0.5)
        assert _beat(store, "run00001") == stopped  # no beat for a run the agent no longer follows
    finally:
        beats.close()
        store.close()


def _beat(store: Store, run_id: str) -> float:
    return float(store.db.exec_driver_sql("SELECT heartbeat FROM runs WHERE id=%(id)s", {"id": run_id}).scalar_one())


@pytest.mark.integration
def test_a_run_reports_through_its_agent_so_an_agent_holds_one_connection_not_two(tmp_path, offline_env, pg_url):
    """32 agents held 64 connections (each agent's and each run's): a default server (100) served ~45 agents. The run
    now relays its epochs through its agent's spool, and the heartbeat connects only for each beat."""
    sweep_id = _curve_sweep_on(pg_url, tmp_path, offline_env, epochs=12, epoch_s=0.3)
    agent = _agent(sweep_id, pg_url, offline_env, tmp_path, "--count", "1")
    store = Store.read_only(pg_url)
    deadline, held = time.time() + 120, []
    while time.time() < deadline:
        runs = store.runs(sweep_id)
        if runs and runs[0].state is RunState.RUNNING and len(runs[0].history) >= 2:  # training, its epochs arriving
            held.append(
                store.db.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).scalar_one()
            )
        elif held:
            break
        time.sleep(0.05)
    out = agent.communicate(timeout=120)[0]
    (run,) = store.runs(sweep_id)
    store.close()
    assert agent.returncode == 0, out
    assert len(held) > 20 and sorted(held)[len(held) // 2] == 1 and max(held) <= 2, held  # a beat's is brief
    assert run.state is RunState.FINISHED and [row["epoch"] for row in run.history] == list(range(1, 13))
    assert not list((tmp_path / ".yolosweep" / "spool").glob("*.jsonl"))  # relayed whole, then removed


def _hosted(name: str, command: list[str]) -> list[str]:
    """`command` as another machine: its own hostname (UTS namespace) and process tree (PID namespace), so killing the
    tree's root takes every process of that "host" down at once, as a power cut does."""
    return [
        "unshare",
        "--uts",
        "--pid",
        "--fork",
        "--kill-child",
        "--",
        "sh",
        "-c",
        f'hostname {name} && exec "$@"',
        "sh",
        *command,
    ]


@pytest.mark.integration
def test_the_attack_of_issue_40_ends_with_every_run_recorded_and_no_live_run_called_dead(
    tmp_path, offline_env, german_server
):
    """Three hosts on a 12-point grid (run_cap 10, 6 epochs a run, --lease 3) beside two CPU-bound neighbours: one host
    loses power mid-run, then the server crashes and recovers while the other two train. Goal: 10 of 10 runs, each
    finished with epochs 1..6 but the killed host's (crashed, naming it, within lease + a beat), both surviving agents
    exit 0, nothing left running, no live run crashed, every grid point once, the password nowhere."""
    probe = subprocess.run(_hosted("probe", ["hostname"]), capture_output=True, text=True)
    if probe.returncode != 0 or probe.stdout.strip() != "probe":
        pytest.skip(f"cannot give a process its own host here (unshare: {probe.stderr.strip()})")
    server: PostgresServer = german_server
    url = server.new_database()
    sweep = tmp_path / "grid.yaml"
    sweep.write_text(
        json.dumps(
            {
                "program": str(REPO / "tests" / "programs" / "curve.py"),
                "method": "grid",
                "run_cap": 10,
                "metric": {"name": "metrics/mAP50(B)", "goal": "maximize"},
                "parameters": {
                    "quality": {"values": [round(0.1 + 0.07 * i, 2) for i in range(12)]},
                    "epochs": {"value": 6},
                    "epoch_s": {"value": 1.0},
                },
            }
        )
    )
    created = _yolosweep(["sweep", str(sweep), "--store", url], offline_env, tmp_path)
    sweep_id = created.stdout.split("created local sweep ", 1)[1].split()[0]
    neighbours = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    command = [sys.executable, "-m", "yolosweep", "agent", sweep_id, "--store", url, "--lease", "3"]
    agents = {
        host: subprocess.Popen(
            _hosted(host, command),
            env=offline_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for host in ("host-a", "host-b", "host-c")
    }
    store = Store.read_only(url)
    try:

        def training(hosts: set[str], epochs: int) -> bool:
            runs = store.runs(sweep_id)
            return hosts <= {r.host for r in runs if r.state is RunState.RUNNING and len(r.history) >= epochs}

        wait_for(lambda: training({"host-a"}, 2), timeout=180, what="a run mid-way on host-a", every=0.1)
        agents["host-a"].kill()  # the namespace's first process: the kernel takes all of host-a with it
        killed = time.time()
        wait_for(
            lambda: any(r.host == "host-a" and r.state is RunState.CRASHED for r in store.runs(sweep_id)),
            timeout=30,
            what="host-a's run called crashed",
            every=0.1,
        )
        # the crash meets runs training
        wait_for(lambda: training({"host-b", "host-c"}, 1), what="hosts b and c training at once", every=0.1)
        store.close()
        _busy_elsewhere(server, 40)
        server.stop("immediate")
        server.start()
        outputs = {host: agents[host].communicate(timeout=300)[0] for host in ("host-b", "host-c")}
    finally:
        for neighbour in neighbours:
            neighbour.kill()
        for proc in agents.values():
            if proc.poll() is None:
                proc.kill()
    assert all(agents[h].returncode == 0 for h in outputs), outputs
    store = Store.read_only(url)
    runs = store.runs(sweep_id)
    store.close()
    assert len(runs) == 10 and len({r.params["quality"] for r in runs}) == 10  # run_cap held, no point twice
    dead = [r for r in runs if r.host == "host-a" and r.state is RunState.CRASHED]
    assert dead and all(r.reason.startswith("host host-a stopped answering") for r in dead)
    assert all(r.ended - killed < 3 + 0.5 + 2 for r in dead), [
        r.ended - killed for r in dead
    ]  # lease + a beat (+ a poll)
    alive = [r for r in runs if r not in dead]
    assert {r.state for r in alive} == {RunState.FINISHED}, [(r.host, r.state, r.reason) for r in alive]
    assert all([row["epoch"] for row in r.history] == list(range(1, 7)) for r in alive)
    assert not any("Traceback" in out or server.PASSWORD in out for out in outputs.values())


@pytest.mark.integration
def test_an_agent_joining_on_the_same_host_leaves_a_live_runs_spool_to_its_own_agent(tmp_path, offline_env, pg_url):
    """Agents of one host share its spool folder (one per GPU, one working folder): a new agent writes only the
    spools of runs that have ended. Reading a live run's spool too, it removed the file under its agent's reader."""
    sweep_id = _curve_sweep_on(pg_url, tmp_path, offline_env, epochs=20, epoch_s=0.3)
    first = _agent(sweep_id, pg_url, offline_env, tmp_path, "--count", "1")
    store = Store.read_only(pg_url)
    wait_for(lambda: (runs := store.runs(sweep_id)) and len(runs[0].history) >= 3, what="three epochs", every=0.1)
    second = _agent(sweep_id, pg_url, offline_env, tmp_path, "--count", "1")
    outputs = [first.communicate(timeout=120)[0], second.communicate(timeout=120)[0]]
    runs = store.runs(sweep_id)
    store.close()
    assert first.returncode == 0 and second.returncode == 0, outputs
    assert len(runs) == 2 and all([row["epoch"] for row in r.history] == list(range(1, 21)) for r in runs), [
        [row["epoch"] for row in r.history] for r in runs
    ]
