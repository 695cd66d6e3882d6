"""The wandb run of a trial, read back from a real offline run."""

from __future__ import annotations

import pytest

from yolosweep.run.epochs import summarize
from yolosweep.run.tracking import OBJECTIVE, TrialRun

from .conftest import only_offline_run


@pytest.mark.integration
def test_summary_keeps_the_best_epoch_not_the_last(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    run, history = TrialRun(config={"lr0": 0.01}), []
    for epoch, value in enumerate([0.1, 0.5, 0.2], start=1):
        history.append({"epoch": epoch, OBJECTIVE: value, "metrics/recall(B)": value / 2})
        run.log_epoch(epoch, history[-1], summarize(history))
    run.finish({**summarize(history), "state": "finished"}, exit_code=0)

    logged = only_offline_run(tmp_path)
    assert [row[OBJECTIVE] for row in logged.history] == [0.1, 0.5, 0.2]
    assert logged.summary[OBJECTIVE] == 0.5 and logged.summary["best_epoch"] == 2
    assert logged.summary["metrics/recall(B)"] == 0.25  # the best epoch's, not its own maximum
    assert logged.summary[f"final/{OBJECTIVE}"] == 0.2
