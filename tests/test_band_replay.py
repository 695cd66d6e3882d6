"""bench/band_replay.py, the replay behind the shipped band's placement (#39): W&B's own Hyperband over recorded
curves must stop what the engine stops, give the saved epochs to the next configurations, and score what it hands
over by where that configuration would have ended."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import band_replay  # noqa: E402

GOOD = [0.5, 0.6, 0.8, 0.9]
BAD = [0.1, 0.1, 0.1, 0.1]
FAIR = [0.3, 0.7, 0.7, 0.7]
LATE = [0.05, 0.05, 0.5, 0.99]  # the best result, but last at the band


def test_the_band_stops_a_run_below_the_top_third_and_the_budget_goes_on_to_the_next():
    curves = [GOOD, BAD, FAIR, [0.2, 0.2, 0.95, 0.95]]
    # min_iter 1: the engine compares history index 1 (epoch 2); BAD is below GOOD's value there and stops,
    # FAIR passes (0.7 against the third-best 0.6); the 2 saved epochs start a fourth run, cut by the budget
    assert band_replay.replay(curves, [0, 1, 2, 3], budget=12, band=1) == (0.9, 4, 1)
    assert band_replay.replay(curves, [0, 1, 2, 3], budget=12, band=None) == (0.9, 3, 0)


def test_a_band_before_the_metric_ranks_runs_stops_the_winner():
    # LATE would end best (0.99) but trails at the band: stopped there, the search hands over GOOD (0.9)
    assert band_replay.replay([GOOD, LATE], [0, 1], budget=8, band=1) == (0.9, 2, 1)
    assert band_replay.replay([GOOD, LATE], [0, 1], budget=8, band=None) == (0.99, 2, 0)


def test_the_sweep_placed_band_waits_for_five_complete_runs_and_the_first_ranking_epoch():
    epochs = 10
    ranked = [[0.1 * k] * epochs for k in range(1, 6)]  # every epoch ranks the five runs as their results do
    assert band_replay.placed_band(ranked[:4], epochs) is None
    assert band_replay.placed_band(ranked, epochs) == 1
    shuffled = [[0.5 - 0.1 * k] * 4 + [0.1 * k] * 6 for k in range(1, 6)]  # the ranking turns over at epoch 5
    assert band_replay.placed_band(shuffled, epochs) == 4
    late = [[0.5 - 0.1 * k] * 6 + [0.1 * k] * 4 for k in range(1, 6)]  # only past half the run: no band
    assert band_replay.placed_band(late, epochs) is None


def test_eta_sets_the_share_a_band_keeps():
    mid = [0.4, 0.5, 0.85, 0.95]  # the best result, third of four at the band (0.5 against 0.7, 0.6, 0.1)
    curves = [GOOD, FAIR, BAD, mid]
    # eta 3 keeps the top third: mid is stopped with BAD; eta 2 keeps the top half: mid goes on and wins
    assert band_replay.replay(curves, [0, 1, 2, 3], budget=16, band=1, eta=3) == (0.9, 4, 2)
    assert band_replay.replay(curves, [0, 1, 2, 3], budget=16, band=1, eta=2) == (0.95, 4, 1)


def test_luck_against_signal_is_the_spread_of_the_best_so_far_across_seeds_and_across_configurations():
    metric = band_replay.value_data.METRIC

    def rows(values):
        return [{metric: v} for v in values]

    recorded = {
        ("defaults", 0): rows([0.1, 0.5, 0.2]),  # best so far 0.1, 0.5, 0.5
        ("defaults", 1): rows([0.3, 0.3, 0.7]),  # 0.3, 0.3, 0.7
        ("c000", 0): rows([0.2, 0.2, 0.2]),
        ("c001", 0): rows([0.2, 0.6, 0.6]),
        ("c002", 0): rows([0.5]),  # cut short: left out
    }
    spread = band_replay.spread_by_epoch(recorded, 3)
    assert spread[1] == {"seeds": pytest.approx(0.1414, abs=1e-4), "configs": pytest.approx(0.0)}
    assert spread[2]["seeds"] == pytest.approx(0.1414, abs=1e-4)
    assert spread[2]["configs"] == pytest.approx(0.2828, abs=1e-4)
