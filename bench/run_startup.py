"""Where a sweep run's time goes before its first training step, and after its last.

Between two runs an agent's GPU idles while the next train_sweep.py starts: Python imports,
wandb start-up, the dataset and model checks, model building, Ultralytics' trainer set-up (dataset
scan or label cache, dataloaders, optimizer); and at the end, the final validation of best.pt and
wandb's finish. This runs train_sweep.py as the local agent does (store sink, offline wandb)
under cProfile and reads each phase's cumulative time. The agent's own share (a suggestion and a
Hyperband check) is bench/controller_scaling.py's.
Run: python bench/run_startup.py [--repeats 3 --epochs 2]  ->  bench/results/run_startup.{json,md}
"""

from __future__ import annotations

import argparse
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import AgentStandIn, machine, offline_env, write_results  # noqa: E402  (bench/ is on the path when run as a script)

from yolosweep.sweep.demo_data import write_demo_dataset  # noqa: E402

# phase -> (file suffix, function name) of the call whose cumulative time is that phase
PHASES = {
    "python imports": ("<frozen importlib._bootstrap>", "_find_and_load"),
    "wandb start (wandb.init)": ("wandb_init.py", "init"),
    "dataset checks (yolosweep)": ("yolosweep/sweep/preflight.py", "check_dataset"),
    "model build (YOLO(...))": ("ultralytics/engine/model.py", "__init__"),
    "trainer set-up (data scan, loaders, optimizer)": ("ultralytics/engine/trainer.py", "_setup_train"),
    "final validation of best.pt": ("ultralytics/engine/trainer.py", "final_eval"),
    "wandb finish": ("wandb_run.py", "finish"),
    "Ultralytics' training loop (set-up, epochs, final validation)": ("ultralytics/engine/trainer.py", "_do_train"),
    "whole script": ("~", "<built-in method builtins.exec>"),
}


def phase_times(profile: Path) -> dict[str, float]:
    stats = pstats.Stats(str(profile)).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)
    times = {}
    for phase, (suffix, name) in PHASES.items():
        matches = [ct for (file, _, func), (_, _, _, ct, _) in stats.items() if func == name and file.endswith(suffix)]
        times[phase] = max(matches, default=0.0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    options = parser.parse_args()
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = write_demo_dataset(tmp / "data")
        env = offline_env(tmp)
        agent = AgentStandIn(tmp)
        for repeat in range(options.repeats):
            run_id = f"start{repeat:03d}"
            profile = tmp / f"{run_id}.prof"
            command = [
                sys.executable,
                "-m",
                "cProfile",
                "-o",
                str(profile),
                str(REPO / "train_sweep.py"),
                "--data",
                str(data),
                "--epochs",
                str(options.epochs),
                "--imgsz",
                "64",
                "--batch",
                "16",
                "--device",
                "cpu",
                "--model",
                "yolo11n.yaml",
                "--workers=0",
                "--optimizer=AdamW",
                "--lr0=0.005",
                f"--project={tmp / 'runs'}",
                f"--name={run_id}",
                "--no-log-model",
            ]
            run_env = agent.run_env(env, run_id)
            start = time.perf_counter()
            subprocess.run(
                command, env=run_env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
            )
            times = {**phase_times(profile), "process wall time": time.perf_counter() - start}
            samples.append(times)
            print(f"repeat {repeat}: " + ", ".join(f"{k} {v:.2f}s" for k, v in times.items()), flush=True)

    median = {phase: statistics.median(s[phase] for s in samples) for phase in samples[0]}
    loop = median["Ultralytics' training loop (set-up, epochs, final validation)"]
    setup, final = median["trainer set-up (data scan, loaders, optimizer)"], median["final validation of best.pt"]
    epochs = loop - setup - final
    # The script's time outside training epochs, split at the first training step: before it, all
    # but the loop's epochs and what follows the loop (final validation, wandb finish).
    before = median["whole script"] - loop + setup - median["wandb finish"]
    after = final + median["wandb finish"] + median["process wall time"] - median["whole script"]
    payload = {
        "options": vars(options),
        "median_s": median,
        "before_first_step_s": before,
        "training_epochs_s": epochs,
        "after_last_epoch_s": after,
        "samples": samples,
    }
    lines = [
        f"# A sweep run's time outside training ({time.strftime('%Y-%m-%d')}, {machine()})",
        "",
        f"train_sweep.py as the local agent starts it (store sink, offline wandb), YOLO11n from scratch, "
        f"imgsz 64, {options.epochs} epochs, under cProfile; medians of {options.repeats} runs. "
        "Phases overlap where one calls another (imports happen inside the others too), and cProfile inflates "
        "Python-heavy phases such as imports: read the split, not the absolute seconds.",
        "",
        "| phase | seconds |",
        "|---|---|",
        *(f"| {phase} | {median[phase]:.2f} |" for phase in median),
        f"| **before the first training step** (script start to the loop's first batch) | **{before:.2f}** |",
        f"| training epochs, each with its validation | {epochs:.2f} |",
        f"| **after the last epoch** (final validation, wandb finish, exit with wandb's teardown) | **{after:.2f}** |",
    ]
    write_results("run_startup", payload, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
