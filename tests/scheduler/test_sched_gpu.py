"""GPU figures: on a machine without an NVIDIA driver (this one) there are none and nothing
breaks; where NVML answers, each GPU's utilisation and memory are read and worded for a job."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from scheduler.daemon.gpu import describe_gpus, gpu_progress_values, gpu_stats


def nvidia_driver_present() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        return True
    except Exception:
        return False


@pytest.mark.skipif(nvidia_driver_present(), reason="this machine has an NVIDIA driver")
def test_without_a_driver_there_are_no_figures_and_nothing_raises():
    assert gpu_stats() is None
    assert gpu_progress_values("cuda") == {}
    assert gpu_progress_values("cpu") == {}
    assert describe_gpus(gpu_stats()) == ""


@pytest.mark.skipif(not nvidia_driver_present(), reason="no NVIDIA driver here")
def test_with_a_driver_every_gpu_has_its_figures():
    stats = gpu_stats()
    assert stats and all(0 <= gpu["utilization_pct"] <= 100 for gpu in stats)
    assert all(0 <= gpu["memory_used_mib"] <= gpu["memory_total_mib"] for gpu in stats)
    reported = gpu_progress_values("cuda")["gpus"]
    assert [gpu["name"] for gpu in reported] == [gpu["name"] for gpu in stats]
    assert describe_gpus(stats).startswith("GPU0 ")


def test_gpu_figures_are_read_lazily():
    code = "import scheduler.daemon.gpu, sys; print('pynvml' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


class _NVMLError(Exception):
    pass


def stand_in_nvml(gpus: list[tuple[str, int, int, int]], *, fail_on: str | None = None):
    """A stand-in for pynvml with the same calls, for the two GPUs this machine lacks."""
    module = types.SimpleNamespace(NVMLError=_NVMLError, shut=[])

    def call(name, value):
        def function(*args):
            if name == fail_on:
                raise _NVMLError(f"{name} refused")
            return value(*args)
        return function

    module.nvmlInit = call("init", lambda: None)
    module.nvmlShutdown = lambda: module.shut.append(True)
    module.nvmlDeviceGetCount = call("count", lambda: len(gpus))
    module.nvmlDeviceGetHandleByIndex = call("handle", lambda index: index)
    module.nvmlDeviceGetName = call("name", lambda index: gpus[index][0])
    module.nvmlDeviceGetUtilizationRates = call(
        "utilization", lambda index: types.SimpleNamespace(gpu=gpus[index][1]))
    module.nvmlDeviceGetMemoryInfo = call(
        "memory", lambda index: types.SimpleNamespace(used=gpus[index][2], total=gpus[index][3]))
    return module


GIB = 1024 ** 3


def test_figures_per_gpu_are_read_and_worded(monkeypatch):
    nvml = stand_in_nvml([(b"NVIDIA H100 80GB HBM3", 87, 10 * GIB, 80 * GIB), ("NVIDIA L4", 3, 0, 24 * GIB)])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    stats = gpu_stats()
    assert stats == [
        {"index": 0, "name": "NVIDIA H100 80GB HBM3", "utilization_pct": 87.0,
         "memory_used_mib": 10240.0, "memory_total_mib": 81920.0},
        {"index": 1, "name": "NVIDIA L4", "utilization_pct": 3.0,
         "memory_used_mib": 0.0, "memory_total_mib": 24576.0},
    ]
    assert nvml.shut  # NVML is shut down after each read
    assert describe_gpus(stats) == "GPU0 87% 10.0/80.0 GiB, GPU1 3% 0.0/24.0 GiB"
    assert gpu_progress_values("cuda") == {"gpus": stats}
    assert gpu_progress_values("cuda:1") == {"gpus": stats}
    assert gpu_progress_values("cpu") == {}  # a CPU job never asks NVML


@pytest.mark.parametrize("fail_on", ["init", "count", "memory"])
def test_an_nvml_error_at_any_step_gives_none(monkeypatch, fail_on):
    monkeypatch.setitem(sys.modules, "pynvml", stand_in_nvml([("GPU", 1, 1, 2)], fail_on=fail_on))
    assert gpu_stats() is None
    assert gpu_progress_values("cuda") == {}


def test_no_gpus_at_all_gives_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", stand_in_nvml([]))
    assert gpu_stats() is None


def test_the_sampler_reads_at_most_once_per_interval(monkeypatch):
    from scheduler.daemon.gpu import GpuSampler

    monkeypatch.setitem(sys.modules, "pynvml", stand_in_nvml([("NVIDIA L4", 50, GIB, 24 * GIB)]))
    now = [100.0]
    sampler = GpuSampler(every_seconds=5.0, clock=lambda: now[0])
    assert sampler.sample("cpu") == {}
    assert sampler.sample("cuda")["gpus"][0]["utilization_pct"] == 50.0
    now[0] += 4.9
    assert sampler.sample("cuda") == {}  # too soon: no NVML call
    now[0] += 0.2
    assert sampler.sample("cuda:0")["gpus"][0]["name"] == "NVIDIA L4"
