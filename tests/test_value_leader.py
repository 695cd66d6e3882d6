"""bench/value.py's recheck_leader candidate (#39): a full run that beats the hand-over from a single training is
trained once more before it can take over, and takes over only when the mean of its two trainings is higher."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import value  # noqa: E402

A, B, C = {"lr0": 0.01}, {"lr0": 0.02}, {"lr0": 0.03}


def test_a_lucky_single_training_is_rechecked_and_does_not_take_over_when_its_mean_is_lower():
    leader = value.Leader()
    assert leader.ended(A, 0.50, quality=0.48) == 0.48 and leader.challenger is None  # the first run leads
    assert leader.ended(B, 0.60, quality=0.40) == 0.48 and leader.challenger == B  # lucky: beats 0.50 once
    assert leader.ended(B, 0.30, quality=0.40) == 0.48 and leader.challenger is None  # mean 0.45 < 0.50
    assert leader.ended(C, 0.49, quality=0.70) == 0.48 and leader.challenger is None  # below the leader: no recheck


def test_a_challenger_whose_mean_of_two_is_higher_takes_over():
    leader = value.Leader()
    leader.ended(A, 0.50, quality=0.48)
    leader.ended(C, 0.55, quality=0.70)
    assert leader.challenger == C
    assert leader.ended(C, 0.53, quality=0.70) == 0.70 and leader.challenger is None  # mean 0.54 > 0.50
    assert leader.ended(A, 0.52, quality=0.48) == 0.70  # the old leader again, mean 0.51: C holds
