"""GPU figures for the Jobs view: utilisation and memory of each NVIDIA GPU, read through NVML
(nvidia-ml-py, imported lazily). Never raises: no driver, no GPU or no library gives None, because
a figure missing from a progress report must not fail the job that reports it."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("huracan.gpu")

_MIB = 1024 * 1024


def gpu_stats() -> list[dict[str, Any]] | None:
    """[{index, name, utilization_pct, memory_used_mib, memory_total_mib}] per GPU, or None."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:  # no driver (libnvidia-ml.so missing) or no device
        log.debug("no GPU figures: %s", error)
        return None
    try:
        stats = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            stats.append({
                "index": index,
                "name": name.decode() if isinstance(name, bytes) else str(name),
                "utilization_pct": float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                "memory_used_mib": round(memory.used / _MIB, 1),
                "memory_total_mib": round(memory.total / _MIB, 1),
            })
        return stats or None
    except pynvml.NVMLError as error:  # a GPU lost or a query refused mid-read
        log.debug("no GPU figures: %s", error)
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass


def describe_gpus(stats: list[dict[str, Any]] | None) -> str:
    """One short line for a job's message: 'GPU0 87% 10.2/80.0 GiB' (GPUs joined by ', ')."""
    if not stats:
        return ""
    return ", ".join(
        f"GPU{gpu['index']} {gpu['utilization_pct']:.0f}% "
        f"{gpu['memory_used_mib'] / 1024:.1f}/{gpu['memory_total_mib'] / 1024:.1f} GiB"
        for gpu in stats
    )


def gpu_progress_values(device: str) -> dict[str, Any]:
    """What a worker adds to a progress report (job_events values) when its job runs on CUDA:
    {"gpus": [...]} with the figures, or {} on a CPU job or where no figure can be read."""
    if not device.startswith("cuda"):
        return {}
    stats = gpu_stats()
    return {"gpus": stats} if stats else {}


class GpuSampler:
    """gpu_progress_values at most once every `every_seconds`, so a worker can call it at every
    progress report (epochs can be milliseconds apart) without re-opening NVML each time."""

    def __init__(self, every_seconds: float = 5.0, clock=None):
        import time

        self.every_seconds = every_seconds
        self._clock = clock or time.monotonic
        self._last: float | None = None

    def sample(self, device: str) -> dict[str, Any]:
        """{"gpus": [...]} when the device is CUDA and the interval has passed, else {}."""
        if not device.startswith("cuda"):
            return {}
        now = self._clock()
        if self._last is not None and now - self._last < self.every_seconds:
            return {}
        self._last = now
        return gpu_progress_values(device)
