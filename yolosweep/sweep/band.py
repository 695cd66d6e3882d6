"""Hyperband's bands in epochs: where W&B's engine judges runs, and where a band falls inside a warm-up."""

from __future__ import annotations

from typing import Any

from yolosweep.sweep.errors import ConfigError
from yolosweep.sweep.train_args import candidate_values, fixed_values, ultralytics_defaults


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
    if "min_iter" in early_terminate:
        return [int(early_terminate["min_iter"] * eta**i) for i in range(3)]  # the first three of the engine's 100
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

    Measured in bench/search_efficiency.py: during the warm-up mAP50 says little about the end
    (epoch-2 values of 0.01 and 0.25 ended at 0.91 and 0.25), so a band there stops by chance.
    """
    return int(longest_warmup(config)) + 1
