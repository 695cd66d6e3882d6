"""The local dashboard as a person sees it: a real headless Chromium loads the page of a real sweep."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .conftest import default_sigint
from .test_local_backend import agent, create, curve_sweep, store_runs
from .waiting import wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _dom(url: str) -> str:
    done = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


@dataclass
class Served:
    url: str
    output: str = ""  # everything the dashboard printed, once it has stopped


@contextlib.contextmanager
def served_dashboard(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[Served]:
    """`yolosweep dashboard ARGS --port 0` serving, with its URL; stopped after with Ctrl+C, as a person stops it,
    and required to exit cleanly."""
    board = subprocess.Popen(
        [sys.executable, "-m", "yolosweep", "dashboard", *args, "--port", "0"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    first = board.stdout.readline()
    try:
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", first)
        assert found, first
        served = Served(found.group(1))
        yield served
    finally:
        board.send_signal(signal.SIGINT)
        out, err = board.communicate(timeout=30)
    served.output = first + out + err
    assert board.returncode == 0, err


def _epochs_shown(dom: str) -> dict[str, int]:
    return {run: int(n) for run, n in re.findall(r'data-run="([a-z0-9]{8})" data-epochs="(\d+)"', dom)}


@pytest.mark.integration
def test_the_dashboard_lists_the_runs_and_shows_a_new_epoch_after_it_lands(tmp_path, home_env):
    if CHROMIUM is None:
        pytest.skip("no chromium here (Debian package `chromium`, installed by .ci/run where apt works)")
    sweep_id = create(curve_sweep(tmp_path, "grid", [0.4, 0.8], epochs=60, epoch_s=0.4), home_env, tmp_path)
    runner = agent(sweep_id, home_env, tmp_path)
    try:
        with served_dashboard([sweep_id], home_env, tmp_path) as board:
            wait_for(lambda: any(len(r.history) >= 2 for r in store_runs(home_env, sweep_id)), what="two epochs")
            page = _dom(board.url)
            first = _epochs_shown(page)
            curves = page[page.index('id="curves"') : page.index('id="importance"')]
            assert 'class="xtick"' in curves and not re.search(
                r'class="xtick"><text[^>]*>\d+\.\d', curves
            )  # whole epochs
            assert re.search(
                r'id="importance-warning"[^>]*>warning: only \d runs have a result', page
            )  # 2 runs: said on the page
            (running,) = [r.id for r in store_runs(home_env, sweep_id) if r.state == "running"]
            assert running in first and first[running] >= 2, first
            time.sleep(3)  # more epochs land
            second = _epochs_shown(_dom(board.url))
            assert second[running] > first[running], (first, second)

            def fetch(_: int) -> int:  # many viewers at once
                with urllib.request.urlopen(board.url + "api/sweep", timeout=30) as response:
                    return response.status if json.loads(response.read())["sweep"] == sweep_id else 0

            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(fetch, range(16))) == [200] * 16
    finally:
        runner.send_signal(signal.SIGINT)
        runner.communicate(timeout=60)


@pytest.mark.integration
def test_the_dashboard_serves_on_loopback_only_and_never_writes_the_store(tmp_path, home_env):
    sweep_id = create(curve_sweep(tmp_path, "grid", [0.5], epochs=2, epoch_s=0.0), home_env, tmp_path)
    agent(sweep_id, home_env, tmp_path).communicate(timeout=120)
    home = Path(home_env["YOLOSWEEP_HOME"])
    (home / "sweeps.db-reserve").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in home.iterdir()}
    with served_dashboard([], home_env, tmp_path) as board:
        with urllib.request.urlopen(board.url + "api/sweep", timeout=30) as response:
            data = json.loads(response.read())
        assert data["sweep"] == sweep_id and data["runs"][0]["state"] == "finished"
        assert data["best"]["id"] == data["runs"][0]["id"] and data["runs"][0]["curve"] == [[1, 0.25], [2, 0.5]]
        with urllib.request.urlopen(board.url + "plotly.min.js", timeout=30) as response:
            assert b"plotly" in response.read(2000).lower()
        for _ in range(3):  # a browser that goes away mid-download (#42: a BrokenPipeError traceback in the log)
            host, port = re.search(r"//([\d.]+):(\d+)/", board.url).groups()
            with socket.create_connection((host, int(port)), timeout=30) as sock:
                sock.sendall(b"GET /plotly.min.js HTTP/1.1\r\nHost: x\r\n\r\n")
                sock.recv(100)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not a close
        time.sleep(1)
    assert "Traceback" not in board.output and "Error" not in board.output, board.output
    assert {p.name: p.stat().st_mtime_ns for p in home.iterdir() if p.name in before} == before
    assert not (home / "sweeps.db-reserve").exists()


def test_the_page_warns_about_importance_from_fewer_than_ten_runs_as_the_analysis_does(tmp_path):
    from yolosweep.agent.loop import Agent
    from yolosweep.results.dashboard import Dashboard
    from yolosweep.states import RunState
    from yolosweep.store import Store

    store = Store(tmp_path / "sweeps.db")
    sweep_id = store.create_sweep(
        {
            "program": "p.py",
            "method": "random",
            "metric": {"name": "m", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
        }
    )
    agent = Agent(store, sweep_id)

    def finish_runs(n: int) -> dict:
        for _ in range(n):
            run_id, params, _ = agent._next()
            store.log_epoch(run_id, 1, {"m": params["x"]}, {"m": params["x"]})
            store.end_run(run_id, RunState.FINISHED)
        return Dashboard(store.path, sweep_id).snapshot()

    few = finish_runs(6)
    assert few["importance"] and few["importance_warning"].startswith("only 6 runs have a result")
    assert finish_runs(4)["importance_warning"] is None  # 10 runs: the bars stand alone


@pytest.mark.integration
def test_a_run_page_opened_by_a_click_shows_every_metric_and_its_stop_button_ends_the_run(tmp_path, home_env):
    """#42 item 14 as a person uses the page in Chromium: sort the runs table, click a run, see its curves and
    parameters, press stop, see it end `stopped` (ended by the user, its epochs kept)."""
    from .webdriver import CHROMEDRIVER, Browser

    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "no chromium/chromedriver here (Debian packages `chromium` and `chromium-driver`, installed by .ci/run)"
        )
    curve_sweep(tmp_path, "grid", [0.3, 0.6, 0.9], epochs=300, epoch_s=0.2)
    config = yaml.safe_load((tmp_path / "curve_sweep.yaml").read_text())
    config["parameters"]["extra_metrics"] = {"value": 1}
    (tmp_path / "extra.yaml").write_text(yaml.safe_dump(config))
    sweep_id = create(tmp_path / "extra.yaml", home_env, tmp_path)
    runner = agent(sweep_id, home_env, tmp_path)
    try:
        with served_dashboard([sweep_id], home_env, tmp_path) as board, Browser() as page:
            running = wait_for(
                lambda: [r for r in store_runs(home_env, sweep_id) if len(r.history) >= 3], what="a run with epochs"
            )[0]
            page.open(board.url)
            page.wait(
                "the runs table", lambda: page.run("return document.querySelectorAll('#runs-table tr.run-row').length")
            )
            page.click('#runs-table th[data-key="quality"]')  # sorted by a parameter, then the other way
            page.click('#runs-table th[data-key="quality"]')
            assert "\u25bc" in page.text('#runs-table th[data-key="quality"]')
            page.click(f'#runs-table tr[data-run="{running.id}"]')
            page.wait("the run's page", lambda: page.text("#run-id") == running.id)
            assert page.run("return document.getElementById('sweep-view').hidden") is True
            wanted = {"metrics/mAP50(B)", "metrics/precision(B)", "train/box_loss", "lr/pg0"}  # in three plots
            page.wait(
                f"its curves {wanted}",
                lambda: (
                    wanted
                    <= set(
                        page.run(
                            "return [...document.querySelectorAll('#run-view .legendtext')].map(e => e.textContent)"
                        )
                    )
                ),
            )
            assert "quality" in page.text("#run-params-table") and "offline wandb folder:" in page.text("#run-facts")
            page.click("#stop-run")
            page.wait("the stop to be taken", lambda: "will stop" in page.text("#run-message"))
            page.wait("the page to show it stopped", lambda: page.text("#run-state") == "stopped", timeout=60)
            page.wait(
                "who stopped it",
                lambda: "ended by user · reason: stopped by the user (dashboard)" in page.text("#run-facts"),
            )  # the run says SIGTERM; its agent adds who sent it
            assert page.run("return document.getElementById('stop-run').hidden") is True
        (run,) = [r for r in store_runs(home_env, sweep_id) if r.id == running.id]
        assert run.state == "stopped" and run.ended_by == "user" and len(run.history) >= 3
    finally:
        runner.send_signal(signal.SIGINT)
        runner.communicate(timeout=60)
