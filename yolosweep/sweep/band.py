"""Hyperband's bands in epochs: where W&B's engine judges runs, and where a band falls inside a warm-up."""

from __future__ import annotations

from typing import Any

from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.train_args import candidate_values, fixed_values, trains_yolo, ultralytics_defaults


def hyperband_bands(early_terminate: dict[str, Any]) -> list[int]:
    """The epochs at which Hyperband compares runs, computed as the `sweeps` engine does (hyperband_stopping.py)."""
    eta = early_terminate.get("eta", 3)
    if "max_iter" in early_terminate:
        band, bands = float(early_terminate["max_iter"]), []
        for _ in range(int(early_terminate.get("s", 0))):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        return sorted(bands)
    if "min_iter" in early_terminate:  # the engine's 100 bands, min_iter x eta^i: callers keep those inside a run
        return sorted({int(early_terminate["min_iter"] * eta**i) for i in range(100)})
    return []


def check_hyperband(config: dict[str, Any], source: str) -> None:
    hyperband = config.get("early_terminate")
    if hyperband and not hyperband_bands(hyperband):
        raise ConfigError(
            source,
            "early_terminate",
            f"max_iter {hyperband.get('max_iter')} with s {hyperband.get('s')} and "
            f"eta {hyperband.get('eta', 3)} leaves Hyperband no band to judge runs at (the agent would crash)",
            "raise max_iter or s, or give min_iter instead",
        )


def longest_warmup(config: dict[str, Any]) -> float:
    """The most epochs any run of the sweep spends warming up its learning rate.

    Ultralytics ends the warm-up before the last epoch (warm-up is capped at epochs - 1).
    """
    default = ultralytics_defaults()["warmup_epochs"]
    entry = config["parameters"].get("warmup_epochs", {"value": default})
    longest = float(max(candidate_values("warmup_epochs", entry), default=default))
    epochs = fixed_values(config).get("epochs")
    return min(longest, epochs - 1) if isinstance(epochs, int) else longest


def first_band_after_warmup(config: dict[str, Any]) -> int:
    """The earliest epoch at which Hyperband may compare runs: the first one after every warm-up.

    During the warm-up mAP50 says little about the end, so a band there stops by chance (docs/benchmarks.md).
    """
    return int(longest_warmup(config)) + 1


# sweep_config.yaml's band, as a share of the run (min_iter 60 of 100): where the band cost the search neither on
# the recorded curves nor with bayes on their surrogate (docs/benchmarks.md, "Where to put the band").
SHIPPED_FIRST_BAND = 0.6


def band_after_last_epoch(config: dict[str, Any], min_iter: int, first: int) -> str | None:
    """Why Hyperband can stop no run (its first band at or after the run's last epoch), with the fix; None if it can.
    `first`: the first epoch after the longest warm-up, where a band may start judging."""
    swept = config["parameters"].get("epochs", {})
    epochs = fixed_values(config).get("epochs", None if swept else ultralytics_defaults()["epochs"])
    if not isinstance(epochs, int) or min_iter < epochs:
        return None
    shipped = max(first, round(SHIPPED_FIRST_BAND * epochs))
    fix = (
        f"min_iter {shipped} (the shipped {SHIPPED_FIRST_BAND * 100:.0f} of 100, scaled), or no early_terminate"
        if shipped < epochs
        else f"no early_terminate: the warm-up lasts to epoch {first - 1}, so no band fits in {epochs} epochs"
    )
    return (
        f"early_terminate.min_iter {min_iter} is not before the last of the {epochs} epochs a run trains: "
        f"Hyperband will stop no run early. Fix: {fix}"
    )


# Up to this many epochs a run, a stop saves few epochs, and on the fine-tuning curves measured every band placement
# cost the search (docs/benchmarks.md, "Where the code's thresholds come from").
SHORT_RUN_EPOCHS = 20


def band_in_short_run(config: dict[str, Any]) -> str | None:
    """Why Hyperband's band costs a sweep of short runs (SHORT_RUN_EPOCHS); None where it may not."""
    hyperband = config.get("early_terminate") or {}
    epochs = fixed_values(config).get("epochs")
    if (
        "min_iter" not in hyperband
        or not isinstance(epochs, int)
        or not hyperband["min_iter"] < epochs <= SHORT_RUN_EPOCHS
    ):
        return None
    return (
        f"Hyperband's first band, at epoch {hyperband['min_iter'] + 1} of {epochs}, would save few epochs: on runs "
        f"of {SHORT_RUN_EPOCHS} epochs or fewer every band placement cost the search on the fine-tuning curves "
        "measured (docs/benchmarks.md)"
    )


def step_aside(config: dict[str, Any], keep_band: bool) -> dict[str, Any]:
    """The sweep without its Hyperband band where the band was measured to cost the search (short runs), saying so;
    kept, with the warning, when the user asks (--keep-band). Longer runs keep their band: unmeasured, not judged."""
    why = band_in_short_run(config) if trains_yolo(config) else None
    if why is None:
        return config
    if keep_band:
        print(
            f"yolosweep: WARNING: early_terminate: {why}. Fix: drop --keep-band, and let `analyze` judge "
            "the band on your runs",
            flush=True,
        )
        return config
    print(
        f"yolosweep: early_terminate left out of this sweep: {why}. Every run trains to its last epoch "
        "(--keep-band keeps it)",
        flush=True,
    )
    return {k: v for k, v in config.items() if k != "early_terminate"}
