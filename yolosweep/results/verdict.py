"""Every verdict on a gain: the seed noise (how far one configuration's result moves with the seed alone) and
whether the sweep's best beats it, the success levels, and the winner verified by retraining with several seeds.

Every configuration of a sweep is judged on one training, so a gain from one run each is not a result until it is
set against the seed spread (docs/benchmarks.md: a 20-epoch winner at +45% was +0.4% at 60 epochs). A sweep
measures its own: the defaults run (its first prior) repeated with other seeds
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

from yolosweep.objective import DEFAULT_OBJECTIVE, Objective, number
from yolosweep.states import Origin
from yolosweep.store import Run

BEYOND_P = 0.05  # a success level is claimed only below this
DEFAULT_LEVELS = (5.0, 9.0, 12.0)  # % over the baseline: minimum, good, excellent


def level_label(gain: float, levels: tuple[float, float, float] = DEFAULT_LEVELS) -> str:
    """The success level a gain of `gain` % reaches."""
    minimum, good, excellent = levels
    if gain >= excellent:
        return f"excellent (>= +{excellent:g}%)"
    if gain >= good:
        return f"good (>= +{good:g}%)"
    if gain >= minimum:
        return f"minimum reached (>= +{minimum:g}%)"
    return f"below the +{minimum:g}% minimum"


def success_level(
    best: float,
    baseline: float,
    levels: tuple[float, float, float] = DEFAULT_LEVELS,
    objective: Objective = DEFAULT_OBJECTIVE,
) -> tuple[float, str]:
    """Relative gain over the baseline in %, and the level it reaches; minimizing, a gain is a decrease."""
    gain = objective.gain_pct(best, baseline)
    return gain, level_label(gain, levels)


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


def _is_reference(runs: Iterable[Run]) -> list[tuple[Run, bool]]:
    """Each run, in start order, with whether it is the reference: the first prior or one of its noise repeats
    (a later prior is another configuration)."""
    marked, first_prior_seen = [], False
    for run in runs:
        origin = Origin(run.origin)
        reference = origin is Origin.NOISE or (origin is Origin.PRIOR and not first_prior_seen)
        first_prior_seen = first_prior_seen or origin is Origin.PRIOR
        marked.append((run, reference))
    return marked


def seed_spread(runs: Iterable[Run], metric: str) -> SeedSpread | None:
    """From a sweep's runs (store runs or analysis records: origin, state, summary), in start order: the first
    prior and its noise repeats that ended with a value. None when the sweep has no first prior."""
    values = [
        value
        for run, reference in _is_reference(runs)
        if reference and str(run.state) != "running" and (value := number(run.summary, metric)) is not None
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


def judge_best(
    runs: list[Run], objective: Objective, best: float, baseline: float | None = None
) -> tuple[Verdict, str] | None:
    """The sweep's best against its reference, and the reference's name: `baseline` (the user's model)
    when given, else the mean of the first prior's seeds, else the first prior's one run. None without one."""
    metric = objective.name
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
                if getattr(r, "origin", Origin.SEARCH) == Origin.PRIOR
                and str(r.state) != "running"
                and number(r.summary, metric) is not None
            ),
            None,
        )
        if first is None:
            return None
        reference, named = number(first.summary, metric) or 0.0, f"defaults run {first.id}"
    if not reference:
        return None
    searched = sum(
        getattr(r, "origin", Origin.SEARCH) == Origin.SEARCH and number(r.summary, metric) is not None for r in runs
    )
    lead = False
    if baseline is None:  # the defaults are the reference: their own lucky seed is no gain over them
        others = [
            v for r, reference in _is_reference(runs) if not reference and (v := number(r.summary, metric)) is not None
        ]
        if not others:
            return None
        top = objective.best(others, lambda value: value)
        assert top is not None
        lead, best = top != best, top
    verdict = judge(best, reference, spread, searched, objective, baseline_is_reference_mean=baseline is None)
    return (dataclasses.replace(verdict, best_is_reference=True) if lead else verdict), named


def judge(
    best: float,
    baseline: float,
    spread: SeedSpread | None,
    searched: int,
    objective: Objective = DEFAULT_OBJECTIVE,
    baseline_is_reference_mean: bool = False,
) -> Verdict:
    """How far `best` is from `baseline` in %, and the chance the seed alone puts the best of `searched` runs there."""
    searched = max(searched, 1)  # the best may be a reference run: one draw then
    gain_pct = objective.gain_pct(best, baseline)
    if spread is None or spread.std is None:
        return Verdict(baseline, gain_pct, spread, searched, None)
    from scipy.stats import t as student_t

    if spread.std == 0:  # every seed scored the same: no noise measured, nothing to judge against
        return Verdict(baseline, gain_pct, spread, searched, None)
    scale = spread.std * (math.sqrt(1 + 1 / spread.n) if baseline_is_reference_mean else 1.0)
    t = objective.improvement(best, baseline) / scale
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
    levels: tuple[float, float, float] = DEFAULT_LEVELS,
) -> list[str]:
    """The gain as the launcher's end and the analysis print it: the verdict, then the success level it reaches
    (only beyond the noise), or what would settle it and what that costs at this sweep's median run."""
    from yolosweep.invocation import command

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


@dataclass(frozen=True)
class Verified:
    """The winner retrained with several seeds (`retrain --top K --seeds S`), as the store keeps it for status and
    the dashboard: the best mean, its spread, and its gain over the defaults retrained the same way (Welch's t)."""

    run: str
    metric: str
    mean: float
    std: float | None
    seeds: int
    sweep_best: str  # the sweep's own best run: the ranking held when it is `run`
    defaults: bool = False  # no searched configuration beat the defaults
    epochs: int | None = None
    gain_pct: float | None = None
    defaults_mean: float | None = None
    p: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None or k in ("std", "epochs")}

    @classmethod
    def from_dict(cls, kept: dict[str, Any]) -> Verified:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in kept.items() if k in names})

    def line(self) -> str:
        """The retrained winner as status, the dashboard and the retrain itself say it."""
        spread = f" +- {self.std:.4f}" if self.std is not None else ""
        who = "the defaults (no searched configuration beat them)" if self.defaults else f"run {self.run}"
        line = (
            f"verified by retraining: {who}, {self.metric} {self.mean:.4f}{spread} "
            f"(mean of {self.seeds} seeds" + (f", {self.epochs} epochs" if self.epochs else "") + ")"
        )
        if self.gain_pct is not None:
            line += f", {self.gain_pct:+.1f}% over the defaults retrained the same way ({self.defaults_mean:.4f})"
            if self.p is not None:
                line += f": {'beyond' if self.p < BEYOND_P else 'within'} the noise (p {self.p:.2g})"
        if self.run != self.sweep_best:
            line += f"; the sweep's best run was {self.sweep_best}"
        return line
