"""Safety and durability: metacharacters stay values, secrets stay out of files, the store is private and
concurrent-safe."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from yolosweep.store import SCHEMA_VERSION, Store, StoreError

from .test_local_backend import agent, create, curve_sweep, store_runs

SENTINEL = "sentinel0key0" + "f" * 27  # 40 characters, the shape of a W&B API key


@pytest.mark.integration
def test_parameter_values_with_shell_metacharacters_reach_the_program_as_values(tmp_path, offline_env):
    env = {**offline_env, "YOLOSWEEP_HOME": str(tmp_path / "home")}
    canary = tmp_path / "pwned"
    values = [f"a b; touch {canary}", f"$(touch {canary})", 'it\'s "quoted" `touch x` | & > <']
    config = yaml.safe_load(curve_sweep(tmp_path, "grid", [0.5], epochs=1, epoch_s=0.05).read_text())
    config["parameters"]["label"] = {"values": values}
    path = tmp_path / "meta.yaml"
    path.write_text(yaml.safe_dump(config))
    sweep_id = create(path, env, tmp_path)
    out, _ = agent(sweep_id, env, tmp_path).communicate(timeout=180)
    runs = store_runs(env, sweep_id)
    assert sorted(r.params["label"] for r in runs) == sorted(values), out
    assert all(r.state == "finished" for r in runs), out
    assert not canary.exists() and not (tmp_path / "x").exists()


@pytest.mark.integration
def test_api_key_never_reaches_any_written_file_and_store_is_private(tmp_path, offline_env):
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine api.wandb.ai\n  login user\n  password {SENTINEL}\n")
    netrc.chmod(0o600)
    env = {**offline_env, "YOLOSWEEP_HOME": str(tmp_path / "home"), "WANDB_API_KEY": SENTINEL, "NETRC": str(netrc)}
    sweep_id = create(curve_sweep(tmp_path, "random", [0.5], epochs=2, epoch_s=0.05), env, tmp_path)
    out, _ = agent(sweep_id, env, tmp_path, "--count", "1").communicate(timeout=180)
    assert SENTINEL not in out
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != netrc]
    assert any(p.suffix == ".wandb" for p in written) and any(p.name == "sweeps.db" for p in written)
    leaks = [p for p in written if SENTINEL.encode() in p.read_bytes()]
    assert not leaks, leaks
    home = tmp_path / "home"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "sweeps.db").stat().st_mode) == 0o600


def test_newer_store_schema_is_refused_with_a_clear_message(tmp_path):
    store = Store(tmp_path / "sweeps.db")
    with store.transaction() as db:
        db.exec_driver_sql("UPDATE meta SET value='99' WHERE key='schema_version'")
    store.close()
    with pytest.raises(StoreError, match=rf"schema version 99, this yolosweep reads version {SCHEMA_VERSION}\. Fix:"):
        Store(tmp_path / "sweeps.db")


def test_version_1_store_is_upgraded_in_place_and_keeps_its_runs(tmp_path):
    store = Store(tmp_path / "sweeps.db")
    sweep_id = store.create_sweep({"method": "random", "parameters": {}})
    with store.transaction() as db:
        store.add_run(sweep_id, "run00001", {"lr0": 0.01})
        db.exec_driver_sql("DROP TABLE priors")  # what a version-1 store looks like
        db.exec_driver_sql("UPDATE meta SET value='1' WHERE key='schema_version'")
    store.close()
    upgraded = Store(tmp_path / "sweeps.db")
    assert upgraded.db.exec_driver_sql("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    assert [(r.id, r.origin) for r in upgraded.runs(sweep_id)] == [("run00001", "search")]


@pytest.mark.integration
def test_eight_writers_on_one_store_lose_nothing(tmp_path):
    store = Store(tmp_path / "sweeps.db")
    sweep_id = store.create_sweep({"method": "random", "metric": {"name": "metrics/mAP50(B)"}, "parameters": {}})
    writer = Path(__file__).parent / "programs" / "store_writer.py"
    procs = [
        subprocess.Popen(
            [sys.executable, str(writer), str(store.path), sweep_id, "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err[-500:] for _, err in results]
    written = sum(int(out) for out, _ in results)
    runs = store.runs(sweep_id)
    assert len(runs) == 8 and all(r.state == "finished" for r in runs)
    assert sum(len(r.history) for r in runs) == written > 8 * 10
    assert all(r.summary["epochs_done"] == len(r.history) for r in runs)
