"""After a sweep: did its Hyperband bands rank runs the way their results did, and where to move a band that did
not (or to drop it). The same question sweep/band.py answers before a sweep from what was measured."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from yolosweep.results.analysis import SweepRuns
from yolosweep.sweep.band import hyperband_bands

# A Hyperband band whose metric ranks runs (Spearman with their result) no better than this stops runs on noise
# (docs/benchmarks.md, "Where the code's thresholds come from").
PREDICTIVE_BAND_RHO = 0.4

MIN_RUNS_FOR_BAND_CHECK = 5

# Later than this, a moved band still stops runs that would have won and saves too little to pay for them: on the
# short curves every band past half the run cost the search (docs/benchmarks.md, "Where to put the band").
LATEST_BAND_WORTH_MOVING = 1 / 2  # of the planned epochs


@dataclass
class BandCheck:
    band: int  # the engine's band: it compares the metric at history index `band`, i.e. epoch band + 1
    spearman: float  # between the best metric up to that epoch and the run's result, over `runs` runs
    runs: int
    predictive_from: int | None  # the first band index whose Spearman reaches PREDICTIVE_BAND_RHO, if any

    @property
    def predictive(self) -> bool:
        return self.spearman >= PREDICTIVE_BAND_RHO


def band_checks(sweep: SweepRuns) -> list[BandCheck]:
    """Did each Hyperband band rank runs the way their results did? Over the runs that went to the end.

    Those runs survived the earlier bands, so the check sees a narrowed field and errs towards
    calling a band weak; with fewer than MIN_RUNS_FOR_BAND_CHECK of them it says nothing.
    """
    from scipy.stats import spearmanr

    early_terminate, planned = sweep.config.get("early_terminate") or {}, sweep.planned_epochs
    if early_terminate.get("type") != "hyperband" or not planned:
        return []
    objective = sweep.objective
    curves = []
    for run in sweep.runs:
        values = [row[sweep.metric] for row in run.history if isinstance(row.get(sweep.metric), (int, float))]
        if len(values) >= planned:
            curves.append(values)
    if len(curves) < MIN_RUNS_FOR_BAND_CHECK:
        return []
    results = [objective.best(values, float) for values in curves]

    @functools.cache  # once per history index: each band's search for a later one overlaps the next band's
    def rho(index: int) -> float:
        found = spearmanr([objective.best(values[: index + 1], float) for values in curves], results).statistic
        return float(found) if np.isfinite(found) else 0.0  # constant values (all 0 so far) rank nothing

    checks = []
    for band in (b for b in hyperband_bands(early_terminate) if b < planned - 1):
        later = (i for i in range(band, planned - 1) if rho(i) >= PREDICTIVE_BAND_RHO)
        checks.append(BandCheck(band, rho(band), len(curves), next(later, None)))
    return checks


def band_advice(sweep: SweepRuns) -> list[str]:
    """One line per Hyperband band that ranked runs unlike their results, with where to move it (or to drop it)."""
    lines = []
    for check in band_checks(sweep):
        if check.predictive:
            continue
        later = check.predictive_from
        planned = sweep.planned_epochs or 0  # band_checks judges only sweeps of a fixed length
        if later is not None and later <= planned * LATEST_BAND_WORTH_MOVING:
            fix = (
                f"Fix: early_terminate.min_iter: {later} in the next sweep (the metric at epoch {later + 1} "
                f"reaches {PREDICTIVE_BAND_RHO})"
            )
        elif later is not None:
            fix = (
                f"Fix: drop early_terminate in the next sweep: the metric reaches {PREDICTIVE_BAND_RHO} only at "
                f"epoch {later + 1} of {sweep.planned_epochs}, too late for a band to save more than it loses"
            )
        else:
            fix = "Fix: drop early_terminate or give runs more epochs; no epoch before the last ranks them yet"
        lines.append(
            f"WARNING: Hyperband's band at epoch {check.band + 1} ranked the {check.runs} runs that went "
            f"to the end with Spearman {check.spearman:.2f} against their {sweep.metric}: runs are "
            f"stopped there on noise. {fix}"
        )
    return lines


def band_fits(sweep: SweepRuns) -> bool:
    """Whether the sweep's Hyperband has a band before its runs' last epoch, i.e. could stop a run at all."""
    early = sweep.config.get("early_terminate")
    if not early:
        return False
    planned = sweep.planned_epochs
    return planned is None or any(band + 1 < planned for band in hyperband_bands(early))
