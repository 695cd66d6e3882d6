"""Where agents run: one slot per GPU (or the CPU), several agents per GPU when asked, --count shared out.

A slot's GPU is given to its agent as CUDA_VISIBLE_DEVICES, so each agent (and its run) sees exactly
one GPU, as cuda:0. Ids are nvidia-smi's: agents get CUDA_DEVICE_ORDER=PCI_BUS_ID (CUDA's default
order, fastest first, can differ from nvidia-smi's), and a mask this process inherited (SLURM without
cgroups, a shared box: CUDA_VISIBLE_DEVICES=2,3) is honoured: `--gpus all` means its GPUs, not 0 and 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from yolosweep.sweep.errors import ConfigError

GPU_ORDER = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}  # what every agent's environment gets besides its mask


@dataclass
class Slot:
    name: str
    visible_devices: str  # CUDA_VISIBLE_DEVICES for the agent; "" hides every GPU

    @property
    def gpu(self) -> bool:
        return self.visible_devices != ""


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def inherited_mask() -> list[str] | None:
    """The GPUs this process was given (CUDA_VISIBLE_DEVICES), as ids or UUIDs; None when it was given no mask."""
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    return None if mask is None else [part.strip() for part in mask.split(",") if part.strip()]


def gpu_ids(gpus: str, found: int, inherited: list[str] | None) -> list[str]:
    """The GPU ids (nvidia-smi's, or the inherited mask's own entries) that `--gpus` asks for.

    `found`: how many GPUs CUDA shows this process (under the inherited mask, if any). With a mask,
    position i of what CUDA shows is the mask's i-th entry, so slots are mapped through it.
    """
    usable = (inherited or [str(i) for i in range(found)])[:found]
    if gpus == "all":
        return usable
    ids = [part.strip() for part in gpus.split(",") if part.strip()]
    for gpu in ids:
        if gpu not in usable:
            where = (
                f"this process may only use CUDA_VISIBLE_DEVICES={','.join(inherited)}"
                if inherited is not None
                else f"this machine shows {found}"
            )
            raise ConfigError("--gpus", gpu, f"no such GPU ({where})", "use ids from nvidia-smi, 'all' or 'cpu'")
    return ids


def plan_slots(gpus: str, agents_per_gpu: int, found: int | None = None) -> list[Slot]:
    if gpus == "cpu":
        devices = [("cpu", "")]
    else:
        ids = gpu_ids(gpus, visible_gpus() if found is None else found, inherited_mask())
        devices = [(f"gpu{gpu}", gpu) for gpu in ids] or [("cpu", "")]
    return [
        Slot(f"{name}-{k}" if agents_per_gpu > 1 else name, visible)
        for name, visible in devices
        for k in range(agents_per_gpu)
    ]


def split_count(count: int | None, agents: int) -> list[int | None]:
    if count is None:
        return [None] * agents
    share = [count // agents + (1 if i < count % agents else 0) for i in range(agents)]
    return [n for n in share if n > 0]
