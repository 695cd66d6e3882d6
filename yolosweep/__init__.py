"""yolosweep: W&B Sweeps for Ultralytics YOLO11, on W&B cloud or fully offline."""

__version__ = "0.1.0"

import warnings

# sweeps 0.2.0 declares a pydantic-1 style config; pydantic 2 warns about it on every import.
warnings.filterwarnings("ignore", message="Valid config keys have changed in V2", category=UserWarning)
