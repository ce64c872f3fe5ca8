"""Which torch device a model trains on: `auto` picks CUDA, then Apple MPS, then the CPU.

A device asked for by name that this machine lacks is an error, never a silent fallback: a
job that asked for a GPU and quietly ran on the CPU would take hours and say nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")


def check_device_name(requested: str) -> str:
    """`requested` if it is auto, cpu, mps, cuda or cuda:N; ValueError otherwise. No torch import."""
    match = _DEVICE.match(requested) if isinstance(requested, str) else None
    if not match or (match.group(2) is not None and match.group(1) != "cuda"):
        raise ValueError(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps")
    return requested


def resolve_device(requested: str = "auto"):
    """The torch.device for `requested`; ValueError when it names one this machine lacks."""
    import torch

    check_device_name(requested)
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            log.info("device auto: no CUDA GPU, using Apple MPS")
            return torch.device("mps")
        log.info("device auto: no CUDA GPU and no Apple MPS, training on the CPU")
        return torch.device("cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            why = "built without CUDA" if torch.version.cuda is None else "no GPU found"
            raise ValueError(
                f"device {requested!r} was requested but CUDA is not available on this machine "
                f"(torch {torch.__version__}, {why})"
            )
        device = torch.device(requested)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {requested!r} was requested but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
        return device
    if requested == "mps" and not _mps_available():
        raise ValueError(
            f"device 'mps' was requested but Apple MPS is not available on this machine "
            f"(torch {torch.__version__})"
        )
    return torch.device(requested)


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@dataclass(frozen=True)
class AmpChoice:
    """Whether a fit runs in mixed precision, and, when it was asked for and refused, why."""

    enabled: bool
    note: str | None = None


def amp_choice(requested: bool, device_type: str) -> AmpChoice:
    """Automatic mixed precision (float16 autocast and a GradScaler) on CUDA only. On the CPU and
    Apple MPS it is turned off with a note saying so: float16 autocast is CUDA's (CPU autocast is
    bfloat16, slower than float32 on most CPUs, and torch's GradScaler is for CUDA), and a job
    that asked for AMP should say it did not get it rather than look as if it had. No torch import."""
    if not requested:
        return AmpChoice(False)
    if device_type == "cuda":
        return AmpChoice(True)
    return AmpChoice(False, f"amp is turned off on {device_type}: mixed precision runs on CUDA only")
