"""bench/short_schedule.py (#39): short complete runs first, then the best of them by the short result trained to
the full length, within the same budget as full-length runs alone."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import short_schedule  # noqa: E402

SHORT = [0.1, 0.9, 0.2, 0.8, 0.3]
LONG = [0.5, 0.7, 0.6, 0.95, 0.4]  # configuration 3 is best at full length, second by the short result


def test_the_short_runs_pick_which_configurations_train_long():
    order = [0, 1, 2, 3, 4]
    # budget 3, top 2, a short run costing 0.2: 5 short runs (1.0), then 2 long: configurations 1 and 3
    assert short_schedule.short_then_top(SHORT, LONG, order, budget=3, top=2, cost=0.2) == 0.95
    assert short_schedule.long_only(LONG, order, runs=3) == 0.7  # the first three trained long


def test_a_budget_that_fits_only_the_long_runs_trains_the_order_as_long_only_does():
    order = [4, 0, 2, 3, 1]
    # 1 short run would cost 0.6: with 2 long runs reserved out of 2, none fits and the order trains long
    assert short_schedule.short_then_top(SHORT, LONG, order, budget=2, top=2, cost=0.6) == 0.5
    # 2 short runs (1.2) leave room for 1 long run only: the better short of configurations 4 and 0, then nothing
    assert short_schedule.short_then_top(SHORT, LONG, order, budget=2.2, top=1, cost=0.6) == 0.4
