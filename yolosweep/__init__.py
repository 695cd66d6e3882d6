"""yolosweep: W&B Sweeps for Ultralytics YOLO11, on W&B cloud or fully offline."""

__version__ = "0.1.0"
