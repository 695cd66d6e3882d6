"""A plain W&B sweep program (tests/programs/plain_wandb.py: wandb.log only, no yolosweep import) under the local
agent: its offline log feeds the store, so it is ranked, learned from and stopped as train_sweep.py is (#28)."""

from __future__ import annotations

import pytest
import yaml

from yolosweep.agent.engine import engine_runs

from .conftest import REPO
from .test_local_backend import agent, create, store_runs

PLAIN = REPO / "tests" / "programs" / "plain_wandb.py"


@pytest.mark.integration
def test_a_program_logging_only_with_wandb_is_ranked_learned_from_and_stopped(tmp_path, home_env):
    config = {
        "program": str(PLAIN),
        "method": "grid",
        "metric": {"name": "val/score", "goal": "maximize"},
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3},
        "parameters": {"quality": {"values": [0.8, 0.1, 0.9]}, "steps": {"value": 10}, "step_s": {"value": 0.4}},
    }
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(config))
    sweep_id = create(path, home_env, tmp_path)
    out, _ = agent(sweep_id, home_env, tmp_path).communicate(timeout=300)
    runs = {r.params["quality"]: r for r in store_runs(home_env, sweep_id)}
    first, weak, best = runs[0.8], runs[0.1], runs[0.9]
    assert best.state == "finished" and len(best.history) == 10, out[-3000:]
    assert best.summary["val/score"] == pytest.approx(0.9) and best.summary["train/loss"] == pytest.approx(0.1)
    assert [round(row["val/score"], 3) for row in best.history[:3]] == [0.09, 0.18, 0.27]
    # At the band (3 rows) the weak run is below the first run's value there: Hyperband stops it, as for train_sweep.py;
    # the program dies of the SIGTERM (it has no handler), which is a stop, not a crash.
    assert weak.state == "stopped" and weak.ended_by == "hyperband" and 3 <= len(weak.history) < 10, out[-3000:]
    assert first.state == "finished" and first.summary["val/score"] == pytest.approx(0.8)
    # What bayes is given: each run's metric in its summary and history.
    fed = {r.name: r for r in engine_runs(store_runs(home_env, sweep_id))}
    assert fed[best.id].summary_metrics["val/score"] == pytest.approx(0.9) and len(fed[best.id].history) == 10


@pytest.mark.integration
def test_a_program_logging_once_still_gets_its_row_and_summary(tmp_path, home_env):
    """Ownership waits for two logged rows while the program runs; once it has exited, one is enough."""
    config = {
        "program": str(PLAIN),
        "method": "grid",
        "metric": {"name": "val/score", "goal": "maximize"},
        "parameters": {"quality": {"values": [0.5]}, "steps": {"value": 1}, "step_s": {"value": 0.0}},
    }
    path = tmp_path / "once.yaml"
    path.write_text(yaml.safe_dump(config))
    sweep_id = create(path, home_env, tmp_path)
    out, _ = agent(sweep_id, home_env, tmp_path).communicate(timeout=120)
    (run,) = store_runs(home_env, sweep_id)
    assert run.state == "finished" and run.history == [{"val/score": 0.5, "train/loss": 0.5}], out[-2000:]
    assert run.summary["val/score"] == 0.5
