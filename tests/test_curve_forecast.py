"""bench/curve_forecast.py, the learning-curve forecast candidate of #39: the forecast recovers where a curve of its
prior's families ends, and the stop rule (LC-PFN's: stop a run unlikely to beat the best so far) waits for five
complete runs, allows for what the forecast missed on them, and hands the saved epochs to the next run."""

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import band_replay  # noqa: E402
import curve_forecast  # noqa: E402


def test_the_forecast_finds_where_a_pow3_curve_ends_from_its_first_third():
    t = np.arange(1, 101, dtype=float)
    curve = 0.8 - 0.6 * t**-0.7
    assert abs(curve_forecast.forecast(curve[:30], 100) - curve[-1]) < 0.01
    # the raw value at epoch 30 is 0.04 short: the forecast is what the rule compares
    assert curve[-1] - curve[29] > 0.03


def test_the_forecast_never_falls_below_what_the_run_reached():
    falling = [0.5, 0.4, 0.3, 0.2, 0.1]
    assert curve_forecast.forecast(falling, 20) >= 0.5


def test_a_run_stops_only_when_even_an_optimistic_forecast_cannot_reach_the_best_complete_result():
    results = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.0])
    table = np.tile((results - 0.1)[:, None], (1, 10))  # the forecast missed each complete run by 0.1
    table[5] = 0.75
    assert curve_forecast.stops(table, results, 5, epoch=4, complete=[0, 1, 2, 3, 4])  # 0.85 < 0.9
    table[5] = 0.85
    assert not curve_forecast.stops(table, results, 5, epoch=4, complete=[0, 1, 2, 3, 4])  # 0.95 may beat 0.9
    table[5] = 0.0
    assert not curve_forecast.stops(table, results, 5, epoch=4, complete=[0, 1, 2, 3])  # four runs: too few
    assert not curve_forecast.stops(table, results, 5, epoch=2, complete=[0, 1, 2, 3, 4])  # before any fit


def test_the_replay_stops_a_hopeless_run_and_gives_its_epochs_to_the_next():
    good = [[0.1 * k] * 6 for k in range(5, 10)]  # five complete runs, the best ending at 0.9
    hopeless, late_best = [0.01] * 6, [0.5, 0.7, 0.9, 0.92, 0.93, 0.95]
    curves = [*good, hopeless, late_best]
    handed, started, stopped = band_replay.replay(curves, list(range(7)), budget=5 * 6 + 3 + 6, band="forecast")
    assert (handed, started, stopped) == (0.95, 7, 1)
    # without the rule the hopeless run takes its six epochs and the budget ends before late_best passes 0.9
    assert band_replay.replay(curves, list(range(7)), budget=5 * 6 + 3 + 6, band=None) == (0.9, 7, 0)
    # the table a benchmark computes once for the forecast row leaves every other row alone
    table = curve_forecast.forecast_table(curves)
    assert band_replay.replay(curves, list(range(7)), 5 * 6 + 3 + 6, None, table) == (0.9, 7, 0)
