"""GPU throughput of a sweep's runs: YOLO11n/s at imgsz 640 with AMP, one vs two agents per GPU.

For each model it trains a few epochs with sweep_config.yaml's fixed values (batch, workers, optimizer,
deterministic) and measures, epochs after the first (warm-up) only:
  - epoch time and training images/s, with one agent on the GPU, then with two at once (the total);
  - the GPU's utilisation and memory (NVML, sampled every 0.25 s while the timed epochs run);
  - whether the dataloader bounds it: the same training loader alone (two passes before training,
    no model) in images/s, against the training's images/s.
Results: bench/results/gpu.{json,md}, naming the card. Never part of CI.

--launcher: the product itself on the GPU, as a user runs it. `./launch_sweep.sh --gpus 0
--agents-per-gpu 1`, then `2` (a sweep of N runs of yolo11n for a few epochs, with validation, offline:
YOLO_OFFLINE=1, wandb offline, the AMP check skipped as the launcher decides offline), against plain
Ultralytics training the same model, data and fixed values with validation: epoch wall time with
validation (Ultralytics' results.csv), images/s in all, GPU utilisation, the loader alone, and our
per-epoch overhead over plain Ultralytics. Results: bench/results/gpu_launcher.{json,md}.
  PYTHONUNBUFFERED=1 YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ucfg python3 bench/gpu.py --launcher --out $OUT
(about 3.5 minutes on the H100 with the defaults, 512 images and 4 epochs: each launch is ~46 s.)

Nothing downloads: models are built from their YAML (random weights: speed does not depend on them)
and the images are generated (640x640 JPEGs with noise, so decoding costs as a photo's would;
photos larger than imgsz cost the loader more). Ultralytics' AMP check would download yolo26n.pt,
so the workers skip it and keep AMP on, as a passed check does.

On a lent H100/H200 (Python 3.12 with torch, numpy, pandas, scipy, scikit-learn, nvidia-ml-py; not
Ultralytics, wandb, sweeps or SQLAlchemy): their wheels and dependencies are 82 MB, over the 64 MiB a
call carries, so install them here for 3.12 and carry them xz-compressed (52 MB; polars' runtime is 31):
  pip install --no-deps --target /tmp/site312 --python-version 3.12 --implementation cp --only-binary=:all: \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      ultralytics==8.4.190 ultralytics-thop==2.2.3 ultralytics-platform==0.1.99 polars==2.1.0 \
      polars-runtime-32==2.1.0 wandb==0.31.0 sweeps==0.2.0 sqlalchemy==2.0.58 (and what they require that
      the image lacks: pydantic, jsonschema, jsonref, opentelemetry-*, cwevals, ...)
  tar -cf - -C /tmp/site312 . | xz -9 -T2 > .devsite/site312.tar.xz      # .devsite/ in .git/info/exclude
and, in the call (carry .devsite):
  tar -xJf .devsite/site312.tar.xz -C /tmp/site
  echo /tmp/site > $(python3 -c 'import site; print(site.getsitepackages()[0])')/zz_bench_site.pth
  PYTHONUNBUFFERED=1 YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ucfg python3 bench/gpu.py --out $OUT
(a .pth line, not PYTHONPATH: the launcher's runs get PYTHONPATH set to the repository.)
Smoke run on a CPU (checks the harness, measures nothing worth keeping):
  python bench/gpu.py --device cpu --imgsz 64 --images 32 --epochs 2 --models yolo11n.yaml --out /tmp/gpu
  python bench/gpu.py --launcher --device cpu --imgsz 64 --images 32 --epochs 2 --out /tmp/gpu
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from harness import REPO, write_results  # noqa: E402

from yolosweep.sweep.demo_data import write_demo_dataset  # noqa: E402

SWEEP_FIXED = ("batch", "workers", "optimizer", "deterministic", "seed")


DRAWN_SCENES = 64  # the rest are noisy copies: a loader's cost is decoding and augmenting, not variety


def make_dataset(root: Path, images: int, size: int) -> Path:
    """The demo's shapes at `size` as noisy JPEGs, each with its own noise: a loader decodes them as it would photos.

    DRAWN_SCENES scenes are drawn, and the JPEGs encoded on every core: drawing and encoding all 1088 images
    one at a time took 155 s of a 15-minute GPU lease on the H100 machine (2026-11-27).
    """
    drawn = write_demo_dataset(root / "drawn", n_train=min(images, DRAWN_SCENES), n_val=16, size=size)
    jobs = []
    for split, count in (("train", images), ("val", max(16, images // 16))):
        scenes = sorted((root / "drawn" / "images" / split).glob("*.png"))
        for folder in ("images", "labels"):
            (root / folder / split).mkdir(parents=True)
        for i in range(count):
            scene = scenes[i % len(scenes)]
            shutil.copy(
                root / "drawn" / "labels" / split / f"{scene.stem}.txt", root / "labels" / split / f"{i:05d}.txt"
            )
            jobs.append((scene, root / "images" / split / f"{i:05d}.jpg", len(jobs)))
    with ProcessPoolExecutor() as pool:
        list(pool.map(_noisy_jpeg, jobs, chunksize=16))
    spec = yaml.safe_load(drawn.read_text())
    spec["path"] = str(root.resolve())
    (root / "data.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    shutil.rmtree(root / "drawn")
    return root / "data.yaml"


def _noisy_jpeg(job: tuple[Path, Path, int]) -> None:
    scene, jpeg, seed = job
    pixels = np.asarray(Image.open(scene).convert("RGB"), dtype=np.int16)
    noisy = np.clip(pixels + np.random.default_rng(seed).normal(0, 12, pixels.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(jpeg, quality=90)


def train_worker(options: dict[str, Any], result_file: Path) -> None:
    """One agent's run: train, and write per-epoch times (time.monotonic: comparable across processes)."""
    import torch
    import ultralytics.engine.trainer as trainer_module
    from ultralytics import YOLO

    cuda = options["device"] != "cpu"
    if cuda:  # its check downloads yolo26n.pt; AMP stays on, as when the check passes (on a CPU it is off)
        trainer_module.check_amp = lambda model: True
    times: dict[str, Any] = {"epoch_start": [], "epoch_end": []}

    def loader_alone(trainer: Any) -> None:
        # Two passes, timed from the first batch: with 512 images one pass is 8 batches, and timing it whole
        # measured the 8 workers' start (272 images/s against the training's 776 on the H100, 2026-11-27).
        first, images = None, 0
        for _ in range(2):
            for batch in trainer.train_loader:
                if first is None:
                    first = time.monotonic()
                else:
                    images += len(batch["img"])
        times["loader"] = {"images": images, "s": time.monotonic() - first}

    def epoch_end(trainer: Any) -> None:
        if cuda:
            torch.cuda.synchronize()
        times["epoch_end"].append(time.monotonic())
        if cuda:
            times["gpu_mem_gib"] = torch.cuda.max_memory_reserved() / 2**30

    def start_together(trainer: Any) -> None:  # agents start seconds apart; time the epochs they share
        barrier = Path(options["barrier"])
        (barrier / options["name"]).touch()
        deadline = time.monotonic() + 600
        while len(list(barrier.iterdir())) < options["agents"] and time.monotonic() < deadline:
            time.sleep(0.05)

    validate = options.get("val", False)  # with validation, an epoch ends when its validation has (on_fit_epoch_end)
    model = YOLO(options["model"])
    model.add_callback("on_pretrain_routine_end", loader_alone)
    model.add_callback("on_train_start", start_together)
    model.add_callback("on_train_epoch_start", lambda trainer: times["epoch_start"].append(time.monotonic()))
    model.add_callback("on_fit_epoch_end" if validate else "on_train_epoch_end", epoch_end)
    # close_mosaic=0: with a few epochs Ultralytics would turn mosaic off from the first one; a
    # 100-epoch sweep run trains 90 of them with mosaic, so that is what is timed.
    model.train(
        data=options["data"],
        model=options["model"],
        imgsz=options["imgsz"],
        epochs=options["epochs"],
        device=options["device"],
        amp=True,
        val=validate,
        plots=False,
        close_mosaic=0,
        verbose=False,
        project=options["project"],
        name=options["name"],
        exist_ok=True,
        **{k: options[k] for k in SWEEP_FIXED},
    )
    result_file.write_text(json.dumps(times))


class GpuSampler:
    """NVML utilisation and memory every 0.25 s in a thread; nothing on a machine without NVIDIA's driver."""

    def __init__(self, device: str):
        self.samples: list[tuple[float, int, float]] = []
        self.card, self._stop = "CPU", threading.Event()
        if device == "cpu":
            return
        import pynvml  # nvidia-ml-py, which Ultralytics requires

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(int(device.split(",")[0]))
        self.card = pynvml.nvmlDeviceGetName(self.handle)
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            util = self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu
            used = self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used / 2**30
            self.samples.append((time.monotonic(), util, used))

    def between(self, start: float, end: float) -> dict[str, float | None]:
        inside = [(u, m) for t, u, m in self.samples if start <= t <= end]
        if not inside:
            return {"gpu_util_median": None, "gpu_util_q1": None, "gpu_util_q3": None, "gpu_mem_used_gib": None}
        utils = sorted(u for u, _ in inside)
        return {
            "gpu_util_median": statistics.median(utils),
            "gpu_util_q1": utils[len(utils) // 4],
            "gpu_util_q3": utils[(3 * len(utils)) // 4],
            "gpu_mem_used_gib": round(max(m for _, m in inside), 2),
        }

    def close(self) -> None:
        self._stop.set()


def run_agents(count: int, options: dict[str, Any], folder: Path, sampler: GpuSampler) -> dict[str, Any]:
    """`count` trainings of the same model at once on the device, as `count` agents per GPU run them."""
    procs, files = [], []
    barrier = folder / f"barrier-{options['name']}-{count}"
    barrier.mkdir()
    for i in range(count):
        result_file = folder / f"{options['name']}-{count}x{i}.json"
        worker_options = {**options, "name": f"{options['name']}-{count}x{i}", "agents": count, "barrier": str(barrier)}
        with open(result_file.with_suffix(".log"), "w") as log:  # Ultralytics' progress bars stay out of the table
            procs.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--worker", json.dumps(worker_options), str(result_file)],
                    cwd=folder,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        files.append(result_file)
    for proc, result_file in zip(procs, files):
        if proc.wait() != 0:
            tail = result_file.with_suffix(".log").read_text(errors="replace").splitlines()[-30:]
            raise SystemExit(
                "\n".join(tail) + f"\ngpu bench: a training of {options['model']} failed "
                f"(exit {proc.returncode}); the end of its output is above"
            )
    agents = [json.loads(f.read_text()) for f in files]
    per_agent = []
    for times in agents:  # the first epoch warms up (cuDNN autotune, worker start, allocator): not timed
        epoch_s = [end - start for start, end in zip(times["epoch_start"][1:], times["epoch_end"][1:])]
        per_agent.append(
            {
                "epoch_s_median": statistics.median(epoch_s),
                "epoch_s_min": min(epoch_s),
                "epoch_s_max": max(epoch_s),
                "images_per_s": times["loader"]["images"] / statistics.median(epoch_s),
                "loader_alone_images_per_s": times["loader"]["images"] / times["loader"]["s"],
                "gpu_mem_reserved_gib": round(times.get("gpu_mem_gib", 0.0), 2),
            }
        )
    timed_from = max(t["epoch_start"][1] for t in agents)
    timed_to = min(t["epoch_end"][-1] for t in agents)
    spans = [t["epoch_end"][-1] - t["epoch_start"][1] for t in agents]
    return {
        "agents": count,
        "per_agent": per_agent,
        "images_per_s_total": sum(a["images_per_s"] for a in per_agent),
        # the share of each agent's timed epochs during which all agents were training
        "overlap": round(max(0.0, timed_to - timed_from) / max(spans), 2),
        **sampler.between(timed_from, timed_to),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="yolo11n.yaml,yolo11s.yaml")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument(
        "--images",
        type=int,
        default=None,
        help="training images (val: 1/16 of them; default 1024, 512 with --launcher)",
    )
    parser.add_argument("--epochs", type=int, default=4, help="the first is warm-up and not timed")
    parser.add_argument("--device", default="0")
    parser.add_argument("--agents", default="1,2", help="agents per GPU to compare")
    parser.add_argument("--out", type=Path, help="write gpu.json/.md here instead of bench/results")
    parser.add_argument(
        "--launcher",
        action="store_true",
        help="time the real launcher against plain Ultralytics (defaults there: yolo11n.yaml, 512 images, 4 epochs)",
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        train_worker(json.loads(args.worker[0]), Path(args.worker[1]))
        return 0
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first is warm-up")
    if args.launcher:
        return launcher_bench(args)
    args.images = args.images or 1024

    import torch

    fixed = _sweep_fixed()
    sampler = GpuSampler(args.device)
    card = sampler.card
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.time()
        data_yaml = make_dataset(folder / "data", args.images, args.imgsz)
        print(
            f"gpu bench: {args.images} generated {args.imgsz}px images in {time.time() - started:.0f} s; "
            f"card {card}; sweep_config.yaml's {fixed}",
            flush=True,
        )
        for model in args.models.split(","):
            options = {
                "model": model,
                "data": str(data_yaml),
                "imgsz": args.imgsz,
                "epochs": args.epochs,
                "device": args.device,
                "project": str(folder / "runs"),
                "name": Path(model).stem,
                **fixed,
            }
            results[model] = {}
            for count in (int(c) for c in args.agents.split(",")):
                measured = run_agents(count, options, folder, sampler)
                results[model][str(count)] = measured
                util = measured["gpu_util_median"]
                print(
                    f"gpu bench: {model}, {count} agent(s): {measured['images_per_s_total']:.0f} images/s in all"
                    + (f", GPU util {util}%" if util is not None else ""),
                    flush=True,
                )
    sampler.close()
    payload = {
        "card": card,
        "machine": f"{card}, torch {torch.__version__}, CUDA {torch.version.cuda}",
        "settings": {
            "imgsz": args.imgsz,
            "images": args.images,
            "epochs": args.epochs,
            "amp": True,
            "mosaic": "on (close_mosaic=0)",
            **fixed,
        },
        "models": results,
    }
    lines = report(payload)
    if args.out is None:
        write_results("gpu", payload, lines)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu.json").write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), **payload}, indent=2))
        (args.out / "gpu.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    return 0


def _sweep_fixed() -> dict[str, Any]:
    return {
        k: v["value"]
        for k, v in yaml.safe_load((REPO / "sweep_config.yaml").read_text())["parameters"].items()
        if k in SWEEP_FIXED
    }


def run_launcher(
    count: int, model: str, data_yaml: Path, args: argparse.Namespace, folder: Path, sampler: GpuSampler
) -> dict[str, Any]:
    """`./launch_sweep.sh --gpus DEVICE --agents-per-gpu COUNT`: a grid sweep of COUNT runs, one per agent, at once."""
    from harness import offline_env

    work = folder / f"launcher-{count}"
    work.mkdir()
    config = yaml.safe_load((REPO / "sweep_config.yaml").read_text())
    config.pop("early_terminate")  # every run trains all its epochs: they are what is timed
    config["method"] = "grid"
    config["parameters"] = {k: v for k, v in config["parameters"].items() if "value" in v}
    config["parameters"]["lr0"] = {"values": [round(0.01 + 0.001 * i, 4) for i in range(count)]}
    (work / "sweep.yaml").write_text(yaml.safe_dump(config))
    cpu = args.device == "cpu"
    command = [
        sys.executable,
        "-m",
        "yolosweep",
        "launch",
        "--backend",
        "local",
        "--config",
        str(work / "sweep.yaml"),
        "--gpus",
        "cpu" if cpu else args.device,
        "--agents-per-gpu",
        str(count),
        "--count",
        str(count),
        "--no-prior",
        "--data",
        str(data_yaml),
        "--epochs",
        str(args.epochs),
        "--imgsz",
        str(args.imgsz),
        "--model",
        model,
        *(["--device", "cpu"] if cpu else []),
    ]
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=work, env=offline_env(work, YOLOSWEEP_HOME=str(work / "home")), capture_output=True, text=True
    )
    ended = time.monotonic()
    curves = sorted(work.glob("runs/sweep/*/*/results.csv"))
    if done.returncode != 0 or len(curves) != count:
        raise SystemExit(
            done.stdout[-3000:] + done.stderr[-3000:] + f"\ngpu bench: the launcher with {count} agent(s) "
            f"failed (exit {done.returncode}, {len(curves)} of {count} runs wrote results)"
        )
    per_run, windows = [], []
    wall_to_monotonic = time.monotonic() - time.time()
    for curve in curves:  # Ultralytics' `time`: seconds since its training started, at each epoch's end (val included)
        with open(curve) as f:
            elapsed = [float(row["time"]) for row in csv.DictReader(f)]
        epoch_s = [b - a for a, b in itertools.pairwise(elapsed)]  # from the second epoch: the first warms up
        per_run.append(
            {
                "epoch_s_median": statistics.median(epoch_s),
                "epoch_s_min": min(epoch_s),
                "epoch_s_max": max(epoch_s),
                "images_per_s": args.images / statistics.median(epoch_s),
            }
        )
        # results.csv is last written at the last epoch's end: that places the timed epochs on the clock
        last_end = curve.stat().st_mtime + wall_to_monotonic
        windows.append((last_end - (elapsed[-1] - elapsed[0]), last_end))
    # GPU utilisation over the timed epochs all runs share; over the whole launch, ~40 s of its 46 are
    # start-up, and it read 0% (H100, 2026-11-27)
    shared = (max(w[0] for w in windows), min(w[1] for w in windows))
    return {
        "agents": count,
        "per_run": per_run,
        "images_per_s_total": sum(r["images_per_s"] for r in per_run),
        "launch_s": round(ended - started, 1),
        **sampler.between(*shared),
    }


def launcher_bench(args: argparse.Namespace) -> int:
    """The real launcher against plain Ultralytics on the same GPU, data and fixed values, validation included."""
    import torch

    args.images = args.images or 512
    fixed, model = _sweep_fixed(), args.models.split(",")[0]
    sampler = GpuSampler(args.device)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data_yaml = make_dataset(folder / "data", args.images, args.imgsz)
        options = {
            "model": model,
            "data": str(data_yaml),
            "imgsz": args.imgsz,
            "epochs": args.epochs,
            "val": True,
            "device": args.device,
            "project": str(folder / "runs"),
            "name": Path(model).stem,
            **fixed,
        }
        results["plain"] = run_agents(1, options, folder, sampler)
        print(
            f"gpu bench: plain Ultralytics {model}, with validation: "
            f"{results['plain']['per_agent'][0]['epoch_s_median']:.2f} s an epoch",
            flush=True,
        )
        for count in (int(c) for c in args.agents.split(",")):
            results[f"launcher_{count}"] = run_launcher(count, model, data_yaml, args, folder, sampler)
            print(
                f"gpu bench: launcher, {count} agent(s) on the GPU: "
                f"{results[f'launcher_{count}']['images_per_s_total']:.0f} images/s in all",
                flush=True,
            )
    sampler.close()
    plain_epoch = results["plain"]["per_agent"][0]["epoch_s_median"]
    one = results.get("launcher_1")
    payload = {
        "card": sampler.card,
        "machine": f"{sampler.card}, torch {torch.__version__}, CUDA {torch.version.cuda}",
        "settings": {
            "model": model,
            "imgsz": args.imgsz,
            "images": args.images,
            "epochs": args.epochs,
            "validation": True,
            "amp": "on (check skipped offline)",
            **fixed,
        },
        "results": results,
        "overhead_per_epoch": round(one["per_run"][0]["epoch_s_median"] / plain_epoch - 1, 3) if one else None,
    }
    lines = launcher_report(payload)
    out = args.out or (REPO / "bench" / "results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_launcher.json").write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), **payload}, indent=2) + "\n")
    (out / "gpu_launcher.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def launcher_report(payload: dict[str, Any]) -> list[str]:
    s, r = payload["settings"], payload["results"]
    plain = r["plain"]["per_agent"][0]
    lines = [
        f"# The launcher on a GPU: {payload['machine']}",
        "",
        f"{s['model']}, imgsz {s['imgsz']}, batch {s['batch']}, workers {s['workers']} per run, {s['images']} "
        f"generated JPEGs, {s['epochs']} epochs with validation (the first untimed), AMP {s['amp']}.",
        "",
        "| what | runs at once | images/s (all runs) | epoch s with validation, median [min-max] per run "
        "| GPU util % median [q1-q3] |",
        "|---|---|---|---|---|",
        f"| plain Ultralytics | 1 | {plain['images_per_s']:.0f} | {plain['epoch_s_median']:.2f} "
        f"[{plain['epoch_s_min']:.2f}-{plain['epoch_s_max']:.2f}] | {_util(r['plain'])} |",
    ]
    for key, m in r.items():
        if key.startswith("launcher_"):
            epochs = "; ".join(
                f"{p['epoch_s_median']:.2f} [{p['epoch_s_min']:.2f}-{p['epoch_s_max']:.2f}]" for p in m["per_run"]
            )
            lines.append(
                f"| launcher, --agents-per-gpu {m['agents']} | {m['agents']} | {m['images_per_s_total']:.0f} "
                f"| {epochs} | {_util(m)} |"
            )
    launches = ", ".join(str(m["launch_s"]) for key, m in r.items() if key.startswith("launcher_"))
    overhead = payload["overhead_per_epoch"]
    lines += [
        "",
        f"Loader alone (plain run, two passes from the first batch): "
        f"{plain['loader_alone_images_per_s']:.0f} images/s. Our per-epoch overhead over plain Ultralytics "
        f"(one agent): {f'{overhead:+.1%}' if overhead is not None else '-'}.",
        "GPU utilisation: over the timed epochs (for the launcher, those all its runs share); the launches "
        f"took {launches} s, start-up included.",
    ]
    return lines


def _util(m: dict[str, Any]) -> str:
    return (
        f"{m['gpu_util_median']} [{m['gpu_util_q1']}-{m['gpu_util_q3']}]" if m["gpu_util_median"] is not None else "-"
    )


def report(payload: dict[str, Any]) -> list[str]:
    """The table: per model and agent count, throughput, speed-up over one agent, utilisation, loader."""
    s = payload["settings"]
    lines = [
        f"# GPU throughput: {payload['machine']}",
        "",
        f"imgsz {s['imgsz']}, AMP, batch {s['batch']}, workers {s['workers']} per agent, {s['images']} "
        f"generated JPEGs, {s['epochs']} epochs (first untimed), deterministic {s['deterministic']}.",
        "",
        "| model | agents | images/s (all agents) | vs one agent | epoch s, median [min-max] per agent "
        "| loader alone, images/s per agent | GPU util % median [q1-q3] | GPU memory used GiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, by_count in payload["models"].items():
        one = by_count.get("1", {}).get("images_per_s_total")
        for count, m in by_count.items():
            epochs = "; ".join(
                f"{a['epoch_s_median']:.2f} [{a['epoch_s_min']:.2f}-{a['epoch_s_max']:.2f}]" for a in m["per_agent"]
            )
            loader = "; ".join(f"{a['loader_alone_images_per_s']:.0f}" for a in m["per_agent"])
            ratio = f"{m['images_per_s_total'] / one:.2f}x" if one else "-"
            util = (
                f"{m['gpu_util_median']} [{m['gpu_util_q1']}-{m['gpu_util_q3']}]"
                if m["gpu_util_median"] is not None
                else "-"
            )
            agents = count if m["overlap"] >= 0.8 else f"{count} (overlapped {m['overlap']:.0%} only)"
            lines.append(
                f"| {model} | {agents} | {m['images_per_s_total']:.0f} | {ratio} | {epochs} | {loader} "
                f"| {util} | {m['gpu_mem_used_gib'] if m['gpu_mem_used_gib'] is not None else '-'} |"
            )
    lines += [
        "",
        "The loader bounds a run when its images/s alone is near the training's (within ~1.2x): "
        "more workers, `cache: ram` or smaller source images help there; a faster GPU does not.",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
