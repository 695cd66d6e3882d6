"""What a GPU machine asks of a sweep, decided on the CPU (#26): which GPU each agent sees, which device a run
may name, what several agents per GPU may not share, the weights and the AMP check offline, the batch a run
really trained at, shared memory, and a stop before training starts. The decisions are tested here; the GPU
figures come from bench/gpu.py on a lent GPU machine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from yolosweep.run.endings import classify_ending
from yolosweep.run.epochs import batch_used
from yolosweep.states import EndedBy, RunState
from yolosweep.sweep import resources, spec
from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.model import resolve_weights, weights_dir
from yolosweep.sweep.slots import Slot, gpu_ids, plan_slots
from yolosweep.sweep.train_args import check_train_args, fixed_values

from .conftest import REPO, only_offline_run, run_train_sweep, train_sweep_cmd

GPU0, GPU1 = Slot("gpu0", "0"), Slot("gpu1", "1")


@pytest.mark.parametrize("device", ["0,1", [0, 1], "cuda:0,1", "2,3"])
def test_one_run_on_several_gpus_is_refused_where_the_sweep_is_made_and_where_a_run_starts(device):
    with pytest.raises(ConfigError) as caught:
        spec.load_sweep(REPO / "sweep_config.yaml", {"device": device, "model": "yolo11n.yaml"})
    assert caught.value.key == "device" and "--gpus 0,1" in caught.value.fix
    with pytest.raises(ConfigError, match="several GPUs"):  # a YAML made with plain `wandb sweep` reaches the trial
        check_train_args({"device": device}, "training arguments")
    for one in (0, "0", "cpu", "cuda:0", [0], None):
        check_train_args({"device": one} if one is not None else {}, "training arguments")


def test_a_device_other_than_the_agents_own_gpu_is_refused_with_the_gpus_flag_to_use():
    with pytest.raises(ConfigError) as caught:
        resources.check_slots({"device": 1}, [GPU1])  # --gpus 1 --device 1: inside the mask only cuda:0 exists
    assert "--gpus 1" in caught.value.fix and "device 0" in caught.value.problem
    for fine in (0, "0", "cuda:0", "cpu", None):
        resources.check_slots({"device": fine, "workers": 0}, [GPU1])
    resources.check_slots({"device": 1, "workers": 0}, [Slot("cpu", "")])  # no mask: Ultralytics' own reading


def test_gpu_slots_follow_an_inherited_mask_and_nvidia_smi_order(monkeypatch):
    assert gpu_ids("all", 2, ["2", "3"]) == ["2", "3"]  # SLURM gave GPUs 2 and 3: not 0 and 1
    assert gpu_ids("3", 2, ["2", "3"]) == ["3"]
    with pytest.raises(ConfigError, match="CUDA_VISIBLE_DEVICES=2,3"):
        gpu_ids("0", 2, ["2", "3"])
    assert gpu_ids("all", 2, None) == ["0", "1"] and gpu_ids("all", 0, None) == []
    uuids = ["GPU-8f2a", "GPU-77c1"]
    assert gpu_ids("all", 2, uuids) == uuids
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert [(s.name, s.visible_devices) for s in plan_slots("all", 2, found=2)] == [
        ("gpu2-0", "2"),
        ("gpu2-1", "2"),
        ("gpu3-0", "3"),
        ("gpu3-1", "3"),
    ]


@pytest.mark.integration
def test_each_agent_gets_its_gpu_by_nvidia_smi_order(tmp_path):
    from yolosweep.agent.supervise import run_agents

    code = (
        "import os, sys; "
        "open(sys.argv[1], 'w').write(os.environ['CUDA_VISIBLE_DEVICES'] + ' ' + os.environ['CUDA_DEVICE_ORDER'])"
    )
    outs = [tmp_path / "a.txt", tmp_path / "b.txt"]
    commands = [[sys.executable, "-c", code, str(out)] for out in outs]
    assert run_agents(commands, [Slot("gpu2", "2"), Slot("gpu3", "3")], tmp_path / "logs" / "x", env={"X": "1"}) == 0
    assert [out.read_text() for out in outs] == ["2 PCI_BUS_ID", "3 PCI_BUS_ID"]


def test_autobatch_and_ram_caching_are_refused_beside_other_agents():
    two_on_one = [Slot("gpu0-0", "0"), Slot("gpu0-1", "0")]
    for batch in (-1, 0.7):
        with pytest.raises(ConfigError, match="2 agents per GPU"):
            resources.check_slots({"batch": batch, "workers": 0}, two_on_one)
        resources.check_slots({"batch": batch, "workers": 0}, [GPU0, GPU1])  # one agent per GPU: each has its own
    with pytest.raises(ConfigError, match="cache: disk"):
        resources.check_slots({"cache": "ram", "workers": 0}, [GPU0, GPU1])
    resources.check_slots({"cache": "ram", "workers": 0}, [GPU0])
    resources.check_slots({"cache": "disk", "batch": 64, "workers": 0}, two_on_one)


def test_dataloader_processes_beyond_the_cores_are_said_with_the_numbers(capsys, monkeypatch):
    monkeypatch.setattr(resources, "_cores", lambda: 16)
    resources.check_slots({"workers": 8, "batch": 16, "imgsz": 64}, [GPU0, GPU0, GPU1, GPU1])
    out = capsys.readouterr().out
    assert "workers 8 x 4 agents = 32" in out and "`workers: 4`" in out
    resources.check_slots({"workers": 8, "batch": 16, "imgsz": 64}, [GPU0])  # Ultralytics caps one run at the cores
    assert capsys.readouterr().out == ""


def test_the_shipped_runs_need_about_2_5_gb_of_shared_memory_and_a_small_one_is_refused(tmpfs):
    shipped = fixed_values(spec.load_sweep(REPO / "sweep_config.yaml"))
    assert resources.shm_needed_bytes(shipped) / 2**30 == pytest.approx(
        2.34, abs=0.01
    )  # batch 64, imgsz 640, workers 8
    docker_default = tmpfs("size=64m")
    with pytest.raises(ConfigError) as caught:
        resources.check_slots(shipped, [GPU0], shm=docker_default)
    assert "--shm-size" in caught.value.fix and caught.value.source == str(docker_default)
    resources.check_slots({**shipped, "workers": 0}, [GPU0], shm=docker_default)


@pytest.mark.integration
def test_a_real_out_of_shared_memory_error_fails_the_run_with_the_fix(tmp_path):
    """torch's own error from a DataLoader whose workers find /dev/shm full (a 64 KB tmpfs in a mount namespace)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare here")
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent("""
        import os, torch
        from torch.utils.data import DataLoader
        from yolosweep.run.endings import classify_ending
        images = [torch.zeros(3, 640, 640, dtype=torch.uint8)] * 8
        try:
            for _ in DataLoader(images, batch_size=4, num_workers=2):
                pass
        except RuntimeError as err:
            state, reason, cause, _ = classify_ending(err, {"workers": 2}, os.getppid())
            print(state, "|", cause, "|", reason)
    """)
    )
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"mount -t tmpfs -o size=64k tmpfs /dev/shm && {sys.executable} {probe}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        pytest.skip(f"no mount namespace here ({done.stderr.strip()[:200]})")
    state, cause, reason = done.stdout.strip().splitlines()[-1].split(" | ")
    assert (state, cause) == ("failed", "shared memory"), done.stdout + done.stderr[-2000:]
    assert "/dev/shm" in reason and "--shm-size" in reason


def test_the_batch_a_run_trained_at_is_recorded_and_a_halved_one_is_marked(capsys):
    assert batch_used(64, 64) == {"batch_used": 64}
    assert batch_used(-1, 16) == {"batch_used": 16}  # AutoBatch: what it chose, nothing to compare
    halved = batch_used(64, 32)
    assert halved == {"batch_used": 32, "batch_reduced_from": 64} and "not comparable" in capsys.readouterr().out
    from yolosweep.results.status import reduced_batch_lines

    class Record:
        id, summary = "run00001", halved

    assert reduced_batch_lines([Record()]) == [
        "run00001 trained at batch 32, not 64 (out of GPU memory): not comparable with the other runs"
    ]
    reason = classify_ending(
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), {"batch": 16, "imgsz": 640}, os.getppid()
    )[1]
    assert "at batch=16" in reason and "--batch 8" in reason  # the advice starts from the batch it last tried


def test_pretrained_weights_are_found_once_or_refused_offline_with_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        resolve_weights("yolo11n.pt")
    assert (
        "offline" in caught.value.problem
        and str(weights_dir()) in caught.value.fix
        and "yolo11n.yaml" in caught.value.fix
    )
    with pytest.raises(ConfigError, match="weights file not found"):
        resolve_weights("my/best.pt")
    (tmp_path / "yolo11n.pt").write_bytes(b"found")  # where the user works: Ultralytics looks there first
    assert resolve_weights("yolo11n.pt") == str(tmp_path / "yolo11n.pt")
    assert resolve_weights("yolo11n.yaml") is None  # an architecture: nothing to find


def test_the_amp_check_costs_no_download_per_run_offline(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    assert resources.amp_check_env({}, [GPU0], tmp_path) == {"YOLO_OFFLINE": "1"}
    assert "yolo26n.pt" in capsys.readouterr().out
    assert resources.amp_check_env({"amp": False}, [GPU0], tmp_path) == {}
    assert resources.amp_check_env({}, [Slot("cpu", "")], tmp_path) == {}  # Ultralytics checks AMP on GPUs only
    (tmp_path / "yolo26n.pt").write_bytes(b"x")
    assert resources.amp_check_env({}, [GPU0], tmp_path) == {}


@pytest.mark.integration
def test_a_sweep_of_missing_pretrained_weights_is_refused_and_a_run_never_falls_back_to_scratch(
    tmp_path, home_env, demo_data
):
    from .test_local_backend import yolosweep

    made = yolosweep(["sweep", str(REPO / "sweep_config.yaml"), "--data", str(demo_data)], home_env, tmp_path)
    assert made.returncode == 2 and "Traceback" not in made.stderr, made.stderr
    (line,) = made.stderr.strip().splitlines()
    assert "yolo11n.pt" in line and "offline" in line and "Fix: put yolo11n.pt in" in line
    assert not (tmp_path / "home" / "sweeps.db").exists()
    done = run_train_sweep(
        ["--data", str(demo_data), "--model", "yolo11n.pt", "--epochs", "1", "--imgsz", "32", "--device", "cpu"],
        tmp_path,
        home_env,
    )
    assert done.returncode == 2 and "could not be loaded here" in done.stderr and "Traceback" not in done.stderr
    assert only_offline_run(tmp_path).summary["ended_by"] == "bad configuration"


@pytest.mark.integration
def test_a_stop_while_the_labels_are_read_ends_the_run_at_once(tmp_path, offline_env):
    """Before the first epoch there is no callback for as long as the setup takes (label caching on a slow
    share, AutoBatch, a download): here an image that never finishes reading (a FIFO) holds it forever."""
    from yolosweep.sweep.demo_data import write_demo_dataset

    data = write_demo_dataset(tmp_path / "data", n_train=16, n_val=4).parent
    os.mkfifo(data / "images" / "train" / "zz_stalled.jpg")
    run = subprocess.Popen(
        train_sweep_cmd(
            "--data",
            str(data / "data.yaml"),
            "--epochs",
            "1",
            "--imgsz",
            "32",
            "--device",
            "cpu",
            "--model",
            "yolo11n.yaml",
            "--workers",
            "0",
        ),
        cwd=tmp_path,
        env=offline_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []  # raw chunks: the progress bar's line ends in \r, not \n
    reader = threading.Thread(
        target=lambda: lines.extend(
            c.decode(errors="replace") for c in iter(lambda: os.read(run.stdout.fileno(), 4096), b"")
        ),
        daemon=True,
    )
    reader.start()
    deadline = time.time() + 120
    while "Freezing layer" not in "".join(lines) and time.time() < deadline:  # said just before the data are read
        time.sleep(0.2)
    assert "Freezing layer" in "".join(lines), "".join(lines)[-3000:]
    time.sleep(3)
    stopped_at = time.time()
    run.send_signal(signal.SIGTERM)
    try:
        run.wait(timeout=30)
    except subprocess.TimeoutExpired:
        run.kill()
        pytest.fail(
            "the run did not stop within 30 s of SIGTERM (W&B's agent would SIGKILL it): " + "".join(lines)[-2000:]
        )
    took = time.time() - stopped_at
    reader.join(timeout=10)
    summary = only_offline_run(tmp_path).summary
    assert summary["state"] == RunState.STOPPED and summary["epochs_done"] == 0, "".join(lines)[-3000:]
    assert summary["ended_by"] == EndedBy.SIGNAL and took < 20
