"""Console speed on a big brain: cold start to first paint, refresh tick p50 / p95, resident
memory, and the bytes an idle refresh sends to the terminal (what crosses an SSH link).

    .venv/bin/python benchmarks/bench_console.py [--slots 500] [--points 10000] [--brain PATH]

The brain holds `slots` slots, each with one trained version (its out-of-sample metrics) and
`points` live metric points (a time series, as a live slot accumulates). Targets (issue 7):
first paint ≤ 1 s, refresh tick p95 ≤ 30 ms. Cold start is measured as a person sees it: the
real `huracan-tui` in tmux, from spawn until a slot row is on the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brain import open_brain  # noqa: E402

METRIC_NAMES = ("mae", "rmse", "hit_rate", "ic", "sharpe")


def build_brain(path: Path, slots: int, points: int) -> None:
    start = time.perf_counter()
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    with open_brain(f"sqlite:///{path}") as brain:
        for index in range(slots):
            symbol = f"SYM{index:03d}"
            slot = brain.ensure_slot(symbol, "1h", "fwd_ret_1", 1)
            version = brain.add_version(
                slot.key, model_kind="lightgbm", manifest={"folds": []},
                artifact=f"artifact {index}".encode(), artifact_format="lightgbm-text",
                metrics=[{"name": name, "value": 0.01 * (index % 97)} for name in METRIC_NAMES],
                data_start=t0, data_end=t0 + timedelta(days=365),
            )
            live = [{"name": METRIC_NAMES[i % 5], "value": (i % 101) / 100.0,
                     "ts": t0 + timedelta(hours=i // 5), "scope": "live"} for i in range(points)]
            brain.record_metrics(version.id, live)
    print(f"built {slots} slots × {points} metric points in {time.perf_counter() - start:.1f} s "
          f"({path.stat().st_size / 1e6:.0f} MB)")


def tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True).stdout


def cold_start(path: Path, runs: int) -> tuple[list[float], int, float]:
    """Seconds from spawn to a slot row on screen; RSS (kB) and idle bytes/s of the last run."""
    times, rss, idle_rate = [], 0, 0.0
    binary = Path(sys.executable).parent / "huracan-tui"
    for run in range(runs):
        socket = f"bench-{os.getpid()}-{run}"
        state = tempfile.mkdtemp()
        command = f"env XDG_STATE_HOME={state} {binary} --brain sqlite:///{path}"
        start = time.perf_counter()
        tmux(socket, "new-session", "-d", "-s", "m", "-x", "120", "-y", "40", command)
        while "SYM000:1h" not in tmux(socket, "capture-pane", "-p", "-t", "m"):
            if time.perf_counter() - start > 60:
                raise SystemExit("the console never painted a slot row")
            time.sleep(0.01)
        times.append(time.perf_counter() - start)
        if run == runs - 1:
            shell = tmux(socket, "display-message", "-p", "-t", "m", "#{pane_pid}").strip()
            child = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()
            pid = child[0] if child else shell
            time.sleep(3)  # let it settle after a few refreshes
            rss = int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if line.startswith("VmRSS")))
            sink = Path(state) / "pane.bytes"
            tmux(socket, "pipe-pane", "-o", "-t", "m", f"cat >> {sink}")
            time.sleep(10)  # five refreshes at the default 2 s with nothing changing
            tmux(socket, "pipe-pane", "-t", "m")
            idle_rate = sink.stat().st_size / 10 if sink.exists() else 0.0
        tmux(socket, "kill-server")
        # The hung-up console stops its leader on the way out: the next run starts on a quiet
        # machine, not beside the last one's shutdown.
        gone_by = time.perf_counter() + 30
        while subprocess.run(["pgrep", "-f", f"XDG_STATE_HOME={state}|--brain sqlite:///{path}"],
                             capture_output=True).returncode == 0 and time.perf_counter() < gone_by:
            time.sleep(0.1)
        shutil.rmtree(state, ignore_errors=True)
    return times, rss, idle_rate


def ensure_champions(path: Path) -> None:
    """Every slot's version is its champion, so the live columns and trend read real rows."""
    with open_brain(f"sqlite:///{path}") as brain:
        if not brain.champions():
            for slot in brain.list_slots():
                brain.promote_version(slot.key, 1, actor="bench", reason="benchmark brain")


def refresh_ticks(path: Path, ticks: int, *, changing: bool = False,
                  paints: list[float] | None = None) -> list[float]:
    """Milliseconds per refresh: reading the brain in the worker plus updating the tables. With
    `changing`, a new live metric lands before each refresh (outside the timing), so every tick
    reads the changed slot's overview again and updates its cells. `paints` collects the
    milliseconds of each frame Textual composes for the Models view meanwhile (on the UI loop,
    after the tick)."""
    from textual.screen import Screen

    from huracan_tui.console.app import HuracanApp
    from huracan_tui.console.screens.models import ModelsScreen
    from scheduler.config import HuracanConfig

    durations: list[float] = []
    compose_frame = Screen._compositor_refresh

    def timed_frame(screen) -> None:
        started = time.perf_counter()
        compose_frame(screen)
        if paints is not None and isinstance(screen, ModelsScreen) and durations:
            paints.append((time.perf_counter() - started) * 1000)

    Screen._compositor_refresh = timed_frame
    writer = open_brain(f"sqlite:///{path}")
    versions = [version.id for slot in writer.list_slots()[:50] for version in writer.list_versions(slot.key)]

    class TimedApp(HuracanApp):
        def refresh_now(self) -> None:
            if changing and getattr(self, "_polling", False) is False:
                version_id = versions[len(durations) % len(versions)]
                writer.record_metrics(version_id, [{"name": "live_sharpe", "value": len(durations) / 100,
                                                    "scope": "live"}])
            self._tick_started = time.perf_counter()
            super().refresh_now()

        def _show(self, snapshot) -> None:  # called once per poll, after the read
            super()._show(snapshot)
            durations.append((time.perf_counter() - self._tick_started) * 1000)

    config = HuracanConfig.model_validate({"console": {"refresh_seconds": 0.05}})
    url = f"sqlite:///{path}"

    async def run() -> None:
        app = TimedApp(open_brain(url), url, config, identity=("bench", None))
        async with app.run_test(size=(120, 40)) as pilot:
            while len(durations) < ticks + 1:
                await pilot.pause(0.05)

    try:
        asyncio.run(run())
    finally:
        Screen._compositor_refresh = compose_frame
    writer.close()
    return durations[1:]  # the first tick also builds every row


def whole_reads(path: Path, repeats: int = 10) -> list[float]:
    """Milliseconds of a refresh that reads every slot's overview (the first one, and one every
    WHOLE_READ_SECONDS)."""
    from scheduler.services.overview import read_snapshot

    with open_brain(f"sqlite:///{path}") as brain:
        read_snapshot(brain)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            read_snapshot(brain)
            times.append((time.perf_counter() - started) * 1000)
    return times


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=500)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--brain", type=Path, help="reuse (or build once) a brain file here")
    args = parser.parse_args()

    path = args.brain or Path(tempfile.mkdtemp()) / "bench.db"
    if not path.exists():
        build_brain(path, args.slots, args.points)
    ensure_champions(path)
    # An installed package has its bytecode compiled; this checkout may not (an environment with
    # PYTHONDONTWRITEBYTECODE=1 would compile every module again at each start).
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(ROOT / package) for package in
                    ("huracan_tui", "brain", "scheduler", "engine", "themes"))], check=True)
    times, rss, idle_rate = cold_start(path, args.runs)
    ticks = refresh_ticks(path, args.ticks)
    p50, p95 = percentiles(ticks)
    frames: list[float] = []
    changed = refresh_ticks(path, args.ticks, changing=True, paints=frames)
    changed_p50, changed_p95 = percentiles(changed)
    frame_p50, frame_p95 = percentiles(frames)
    whole_p50, _ = percentiles(whole_reads(path))
    print(f"cold start to first paint: median {statistics.median(times):.2f} s, best {min(times):.2f} s "
          f"over {len(times)} runs (target ≤ 1 s: ratio {statistics.median(times) / 1.0:.2f}×)")
    print(f"refresh tick: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(ticks)} ticks "
          f"(target p95 ≤ 30 ms: ratio {p95 / 30:.2f}×)")
    print(f"refresh tick when a live metric changed before it (that slot read again, its row updated): "
          f"p50 {changed_p50:.1f} ms, p95 {changed_p95:.1f} ms (ratio to 30 ms: {changed_p95 / 30:.2f}×)")
    print(f"  frames Textual composed meanwhile: p50 {frame_p50:.1f} ms, p95 {frame_p95:.1f} ms "
          f"over {len(frames)} frames")
    print(f"  a whole overview read (the first poll, then one every 30 s): median {whole_p50:.1f} ms")
    print(f"console resident memory: {rss / 1024:.0f} MiB")
    print(f"idle refresh traffic to the terminal: {idle_rate:.0f} bytes/s")


if __name__ == "__main__":
    main()
