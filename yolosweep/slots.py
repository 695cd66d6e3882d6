"""Where agents run: one slot per GPU (or the CPU), several agents per GPU when asked, --count shared out."""

from __future__ import annotations

from dataclasses import dataclass

from . import spec


@dataclass
class Slot:
    name: str
    visible_devices: str  # CUDA_VISIBLE_DEVICES for the agent; "" hides every GPU


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def plan_slots(gpus: str, agents_per_gpu: int) -> list[Slot]:
    if gpus == "cpu":
        devices = [("cpu", "")]
    else:
        found = visible_gpus()
        if gpus == "all":
            devices = [(f"gpu{i}", str(i)) for i in range(found)] or [("cpu", "")]
        else:
            ids = [part.strip() for part in gpus.split(",") if part.strip()]
            for gpu in ids:
                if not gpu.isdigit() or int(gpu) >= found:
                    raise spec.ConfigError("--gpus", gpu, f"no such GPU (this machine shows {found})",
                                           "use ids from nvidia-smi, 'all' or 'cpu'")
            devices = [(f"gpu{gpu}", gpu) for gpu in ids]
    return [Slot(f"{name}-{k}" if agents_per_gpu > 1 else name, visible) for name, visible in devices
            for k in range(agents_per_gpu)]


def split_count(count: int | None, agents: int) -> list[int | None]:
    if count is None:
        return [None] * agents
    share = [count // agents + (1 if i < count % agents else 0) for i in range(agents)]
    return [n for n in share if n > 0]
