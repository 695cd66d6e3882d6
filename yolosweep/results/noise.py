"""Seed noise: how far one configuration's result moves with the seed alone, and whether a gain beats it.

Every configuration of a sweep is judged on one training. On the value task the defaults' mAP50 over 5
seeds was 0.364 +- 0.047 (13% relative), and a 20-epoch winner at +45% was +0.4% at 60 epochs
(bench/results/long_runs.md): a gain from one run each is not a result until it is set against the
spread. A sweep measures its own: the defaults run (its first prior) repeated with other seeds
(`--noise-runs N`). A gain is then "beyond the noise" only when the best of the K searched runs is
unlikely to be that far above the reference by the seed alone:

    t = (best - reference) / (s * sqrt(1 + 1/n))      s: the seeds' std, n: their count (df n - 1)
    p = 1 - (1 - P(T > t)) ** K                       the best of K draws, not one

(against a --baseline of the user's own model, which has no seeds here, t = (best - baseline) / s).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

BEYOND_P = 0.05  # a success level is claimed only below this
# 2 repeats, 3 trainings of the defaults. Measured on the value task's 5 defaults seeds (std 0.047): the std from
# 2 of them ranged 0.011-0.091 over the 10 pairs, from 3 of them 0.016-0.065, from 4 0.033-0.054; and with 2
# trainings (1 degree of freedom) a gain needs t > 6.3 to reach p 0.05, with 3 t > 2.9. So 3 is the least that can
# ever call a gain real; each repeat costs one run of the budget (2 of a 6-run demo, 2 of a 50-run sweep: 4%).
DEFAULT_NOISE_RUNS = 2


@dataclass(frozen=True)
class SeedSpread:
    """The reference configuration's results, one per seed."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if self.n > 1 else None


def _is_reference(runs: Iterable[Any]) -> list[tuple[Any, bool]]:
    """Each run, in start order, with whether it is the reference: the first prior or one of its noise repeats
    (a later prior is another configuration)."""
    marked, first_prior_seen = [], False
    for run in runs:
        origin = getattr(run, "origin", "search")
        reference = origin == "noise" or (origin == "prior" and not first_prior_seen)
        first_prior_seen = first_prior_seen or origin == "prior"
        marked.append((run, reference))
    return marked


def seed_spread(runs: Iterable[Any], metric: str) -> SeedSpread | None:
    """From a sweep's runs (store runs or analysis records: origin, state, summary), in start order: the first
    prior and its noise repeats that ended with a value. None when the sweep has no first prior."""
    values = [
        value
        for run, reference in _is_reference(runs)
        if reference and str(run.state) != "running" and (value := metric_value(run.summary, metric)) is not None
    ]
    return SeedSpread(tuple(values)) if values else None


@dataclass(frozen=True)
class Verdict:
    reference: float  # what the gain is over
    gain_pct: float  # negative: a loss, the best is worse than the reference
    spread: SeedSpread | None
    searched: int  # K: runs the best was picked from
    p: float | None  # the seed alone putting the best of K this far up (a gain) or down (a loss); None: not judged
    best_is_reference: bool = (
        False  # the sweep's best run was one of the defaults' own: the best searched one is judged
    )

    @property
    def loss(self) -> bool:
        return self.gain_pct < 0

    @property
    def beyond(self) -> bool:
        """A gain beyond the noise: the only verdict a success level may be claimed on."""
        return self.p is not None and self.p < BEYOND_P and not self.loss

    @property
    def spread_pct(self) -> float | None:
        if self.spread is None or self.spread.std is None or not self.spread.mean:
            return None
        return self.spread.std / abs(self.spread.mean) * 100

    def _spread_words(self) -> str:
        assert self.spread is not None and self.spread.std is not None
        if self.spread_pct is None:  # a mean of 0: no relative spread exists
            return f"seed spread +-{self.spread.std:.4f}, {self.spread.n} trainings, whose mean is 0"
        return f"seed spread +-{self.spread_pct:.1f}%, {self.spread.n} trainings"

    def describe(self, over: str) -> str:
        """`+21.0% over OVER (0.3634) (seed spread +-13.0%, 3 trainings): within the noise (p 0.41, the best of 3 runs)`
        or for a loss
        `65.4% below OVER (0.3909) (...): a loss beyond the noise (p 0.01, the best of 3 runs)`."""
        if math.isinf(self.gain_pct):
            gain = f"{'below' if self.loss else 'above'} {over} ({self.reference:.4f})"
        elif self.loss:
            gain = f"{-self.gain_pct:.1f}% below {over} ({self.reference:.4f})"
        else:
            gain = f"{self.gain_pct:+.1f}% over {over} ({self.reference:.4f})"
        if self.best_is_reference:  # seen on real photos: the defaults' seed 0 led, "+31% over the defaults"
            gain = f"the best run is one of the defaults' own seeds, no gain; the best searched run: {gain}"
        if self.spread is not None and self.spread.std == 0:
            return (
                f"{gain}: not judged, the {self.spread.n} trainings of the defaults all scored "
                f"{self.spread.mean:.4f}, so the seed noise is unknown (runs too short to learn?)"
            )
        if self.p is None:
            return (
                f"{gain}: seed noise not measured, so not judged until the defaults' seed repeats have run "
                "(--noise-runs)"
            )
        runs = f"the best of {self.searched} runs" if self.searched > 1 else "one run"
        if self.loss:
            where = "a loss beyond the noise" if self.p < BEYOND_P else "a loss, within the noise"
        else:
            where = "beyond the noise" if self.beyond else "within the noise"
        return f"{gain} ({self._spread_words()}): {where} (p {self.p:.2g}, {runs})"


def metric_value(summary: dict[str, Any], metric: str) -> float | None:
    """A summary's or history row's number for `metric`; None when absent or not a number."""
    value = summary.get(metric)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def judge_best(
    runs: list[Any], metric: str, best: float, maximize: bool, baseline: float | None = None
) -> tuple[Verdict, str] | None:
    """The sweep's best against its reference, and the reference's name: `baseline` (the user's model)
    when given, else the mean of the first prior's seeds, else the first prior's one run. None without one."""
    spread = seed_spread(runs, metric)
    if baseline is not None:
        reference, named = baseline, "--baseline"
    elif spread is not None and spread.n > 1:
        reference, named = spread.mean, f"the defaults (mean of {spread.n} seeds)"
    else:
        first = next(
            (
                r
                for r in runs
                if getattr(r, "origin", "search") == "prior"
                and str(r.state) != "running"
                and metric_value(r.summary, metric) is not None
            ),
            None,
        )
        if first is None:
            return None
        reference, named = metric_value(first.summary, metric) or 0.0, f"defaults run {first.id}"
    if not reference:
        return None
    searched = sum(
        getattr(r, "origin", "search") == "search" and metric_value(r.summary, metric) is not None for r in runs
    )
    lead = False
    if baseline is None:  # the defaults are the reference: their own lucky seed is no gain over them
        others = [
            v
            for r, reference in _is_reference(runs)
            if not reference and (v := metric_value(r.summary, metric)) is not None
        ]
        if not others:
            return None
        top = (max if maximize else min)(others)
        lead, best = top != best, top
    verdict = judge(best, reference, spread, searched, maximize, baseline_is_reference_mean=baseline is None)
    return (dataclasses.replace(verdict, best_is_reference=True) if lead else verdict), named


def judge(
    best: float,
    baseline: float,
    spread: SeedSpread | None,
    searched: int,
    maximize: bool = True,
    baseline_is_reference_mean: bool = False,
) -> Verdict:
    """How far `best` is from `baseline` in %, and the chance the seed alone puts the best of `searched` runs there."""
    sign, searched = (1 if maximize else -1), max(searched, 1)  # the best may be a reference run: one draw then
    gain_pct = sign * (best - baseline) / abs(baseline) * 100 if baseline else math.inf
    if spread is None or spread.std is None:
        return Verdict(baseline, gain_pct, spread, searched, None)
    from scipy.stats import t as student_t

    if spread.std == 0:  # every seed scored the same: no noise measured, nothing to judge against
        return Verdict(baseline, gain_pct, spread, searched, None)
    scale = spread.std * (math.sqrt(1 + 1 / spread.n) if baseline_is_reference_mean else 1.0)
    t = sign * (best - baseline) / scale
    if t >= 0:  # a gain: the chance that at least one of K seed-only draws lands this far up
        p = 1 - (1 - float(student_t.sf(t, df=spread.n - 1))) ** searched
    else:  # a loss: the chance that all K draws land this far down, were every configuration as good as the reference
        p = float(student_t.cdf(t, df=spread.n - 1)) ** searched
    return Verdict(baseline, gain_pct, spread, searched, p)


def verdict_lines(
    verdict: Verdict,
    over: str,
    sweep_id: str,
    run_seconds: float | None,
    epochs: Any = None,
    levels: tuple[float, float, float] = (5.0, 9.0, 12.0),
) -> list[str]:
    """The gain as the launcher's end and the analysis print it: the verdict, then the success level it reaches
    (only beyond the noise), or what would settle it and what that costs at this sweep's median run."""
    from yolosweep.invocation import command
    from yolosweep.results.analysis import level_label

    lines = [f"gain: {verdict.describe(over)}"]
    if verdict.beyond:
        lines.append(f"  -> {level_label(verdict.gain_pct, levels)}")
        return lines
    top, seeds = 3, 2
    same_length = f" --epochs {epochs}" if isinstance(epochs, int) else ""
    cost = (
        f", ~{(top + 1) * seeds * run_seconds / 3600:.2g} h of training at this sweep's median run"
        if run_seconds and same_length
        else ""
    )
    if verdict.loss:
        lines.append(
            f"  -> no success level claimed: the best searched run is below {over}. Next: keep the defaults, or run "
            "more of the sweep (longer runs rank configurations better)"
        )
        return lines
    why = "the seed noise is not measured" if verdict.p is None else "a gain within the noise may be the seed's"
    lines.append(
        f"  -> no success level claimed: {why}. Next: retrain the top {top} and the defaults with {seeds} "
        f"fresh seeds each ({command('retrain')} --sweep {sweep_id} --top {top} --seeds {seeds}"
        f"{same_length}{cost}), or run more of the sweep"
    )
    return lines
