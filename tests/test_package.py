"""The package as a user installs it (#28): declared dependencies, the `yolosweep` command, `yolosweep init`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import tomllib
import yaml

from yolosweep.commands.init import init
from yolosweep.sweep.spec import STARTER

from .conftest import REPO


def _requirement_lines() -> list[str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_package_declares_the_tested_ranges_that_requirements_txt_installs():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    assert sorted(declared) == sorted(_requirement_lines())
    assert project["scripts"]["yolosweep"] == "yolosweep.__main__:main"


def test_init_writes_the_shipped_sweep_and_program_and_never_overwrites_without_force(tmp_path):
    written = init(tmp_path / "project")
    assert sorted(p.name for p in written) == ["sweep_config.yaml", "train_sweep.py"]
    assert (tmp_path / "project" / "sweep_config.yaml").read_text() == (REPO / "sweep_config.yaml").read_text()
    assert (tmp_path / "project" / "train_sweep.py").read_text() == (REPO / "train_sweep.py").read_text()
    assert (STARTER / "train_sweep.py").resolve() == (REPO / "train_sweep.py").resolve()  # links in a clone

    (tmp_path / "project" / "sweep_config.yaml").write_text("program: train_sweep.py  # mine\n")
    (tmp_path / "project" / "train_sweep.py").unlink()
    with pytest.raises(FileExistsError, match=r"sweep_config.yaml already exists. Fix: .*--force"):
        init(tmp_path / "project")
    assert not (tmp_path / "project" / "train_sweep.py").exists()  # nothing written when one file is there
    init(tmp_path / "project", force=True)
    assert "# mine" not in (tmp_path / "project" / "sweep_config.yaml").read_text()


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}: {done.stdout[-1500:]}\n{done.stderr[-2500:]}"
    return done


@pytest.mark.integration
def test_a_built_wheel_installs_with_its_dependencies_and_tunes_from_an_empty_folder(tmp_path, offline_env):
    """Build the wheel, install it into a fresh venv with nothing but the tested dependencies beside it (pip
    resolves the declared ones, no index), and from an empty folder: init, a sweep, status and the analysis."""
    source = tmp_path / "yolosweep-source"  # not "src": setuptools' src-layout rule then builds a project named src
    shutil.copytree(REPO / "yolosweep", source / "yolosweep", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", ".gitignore"):
        shutil.copy(REPO / name, source)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        tmp_path,
        offline_env,
    )
    subprocess.run(["git", "init", "--quiet", str(source)], check=True)
    untracked = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert (source / "build").is_dir() and not [line for line in untracked if " build/" in line], untracked

    # A venv of its own whose only other packages are this test environment's (one .pth line): no pip or setuptools
    # of its own to shadow them, so pip must find every declared dependency installed, offline.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "tested-env.pth").write_text(sysconfig.get_path("purelib") + "\n")
    wheel = next((tmp_path / "dist").glob("yolosweep-*.whl"))
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--no-index",
            str(wheel),
        ],
        tmp_path,
        offline_env,
    )

    project = tmp_path / "my-project"
    project.mkdir()
    env = {k: v for k, v in offline_env.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    where = _run(["python", "-c", "import yolosweep; print(yolosweep.__file__)"], project, env)
    assert where.stdout.startswith(str(venv)), where.stdout
    _run(["yolosweep", "init"], project, env)
    _run(["yolosweep", "demo-data", "data", "--train", "8", "--val", "4"], project, env)
    created = _run(
        [
            "yolosweep",
            "sweep",
            "sweep_config.yaml",
            "--data",
            "data/data.yaml",
            "--model",
            "yolo11n.yaml",
            "--epochs",
            "1",
            "--imgsz",
            "32",
            "--batch",
            "4",
            "--device",
            "cpu",
        ],
        project,
        env,
    )
    sweep_id = re.search(r"created local sweep (\w+)", created.stdout).group(1)
    assert f"&& yolosweep agent {sweep_id}" in created.stdout  # the installed command, no PYTHONPATH into a clone
    _run(["yolosweep", "agent", sweep_id, "--count", "2"], project, env)
    status = _run(["yolosweep", "status"], project, env)
    assert status.stdout.count(" finished ") == 2, status.stdout
    analyzed = _run(["yolosweep", "analyze"], project, env)
    text = (project / "sweep_report" / sweep_id / "best_config.yaml").read_text()
    # #42: hints name the installed command, never a clone's script the user does not have
    assert "# retrain: yolosweep retrain --from" in text and ".py" not in analyzed.stdout.replace("train_sweep.py", "")
    assert _run(["yolosweep", "--version"], project, env).stdout.startswith("yolosweep ")
    best = yaml.safe_load(text)
    assert best["data"] == str((project / "data" / "data.yaml").resolve())
    assert not (REPO / "sweep_report" / sweep_id).exists()
