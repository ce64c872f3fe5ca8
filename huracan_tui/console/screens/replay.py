"""The Replay view (`H`, `:replay [HOURS]`): what the console showed over the last hours, from the
frames the headless leader records every minute (scheduler.daemon.recorder). A table like the Models
view (champion, out-of-sample and live numbers, drift, queue) and the open queue items, both as
they were at one frame; ← / [ and → / ] step one frame, Home / End jump to the oldest / newest,
and a timeline of drifted features and open queue items marks where in the window you are."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Label, Sparkline, Static

from brain import BrainError
from brain.history import HistoryFrame
from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.base import HuracanScreen
from huracan_tui.console.widgets.filtered_table import sync_rows
from huracan_tui.console.widgets.heatmap import dataset_cell
from huracan_tui.console.widgets.slot_table import MODEL_COLUMNS
from huracan_tui.console.widgets.status_bar import StatusBar

DEFAULT_HOURS = 24.0
KINDS = ("metrics", "queues", "drift")
# The Models view's figures under the Models view's names (one name per figure across views).
SLOT_COLUMNS = tuple((key, dict(MODEL_COLUMNS)[key]) for key in (
    "slot", "champion", "version", "model", "sharpe", "hit", "live_sharpe", "live_hit", "live_n", "drift",
    "queue"))
QUEUE_COLUMNS = (
    ("id", "#"),
    ("queue", "Queue"),
    ("slot", "Slot"),
    ("version", "Ver"),
    ("state", "State"),
    ("rule", "Rule"),
    ("reason", "Reason"),
)
LABEL_WIDTH = 18


def empty_hint(hours: float) -> str:
    return (f"No recorded frames in the last {hours:g}h: the headless leader records what the console "
            "shows every minute (huracan-tui --headless).")


@dataclass(frozen=True)
class ReplayStep:
    """The state at one time: each kind's newest frame at or before it (None before its first)."""

    ts: datetime
    metrics: dict | None
    queues: dict | None
    drift: dict | None

    def slot_keys(self) -> list[str]:
        keys = set((self.metrics or {}).get("slots", {})) | set((self.drift or {}).get("slots", {}))
        keys |= {item["slot"] for item in self.queue_items()}
        return sorted(keys)

    def queue_items(self) -> list[dict]:
        return (self.queues or {}).get("items", [])

    def drifted_features(self) -> int:
        return sum(drift_counts(check)[0] for check in (self.drift or {}).get("slots", {}).values())


def replay_steps(frames: dict[str, list[HistoryFrame]]) -> list[ReplayStep]:
    """One step per distinct frame time, oldest first, each carrying every kind's state then."""
    times = sorted({frame.ts for kind_frames in frames.values() for frame in kind_frames})
    state: dict[str, dict | None] = {kind: None for kind in KINDS}
    pending = {kind: sorted(frames.get(kind, []), key=lambda f: (f.ts, f.id)) for kind in KINDS}
    steps = []
    for ts in times:
        for kind in KINDS:
            while pending[kind] and pending[kind][0].ts <= ts:
                state[kind] = pending[kind].pop(0).payload
        steps.append(ReplayStep(ts, state["metrics"], state["queues"], state["drift"]))
    return steps


def drift_counts(check: dict | None) -> tuple[int, int, bool]:
    """(features drifted by any method, features, dataset drift by any method) of one check."""
    if not check:
        return 0, 0, False
    methods = check.get("methods", {}).values()
    drifted = {feature for method in methods for feature in method.get("drifted", [])}
    return len(drifted), check.get("features", 0), any(method.get("dataset_drift") for method in methods)


def queue_label(items: list[dict]) -> Text:
    text = ", ".join(f"{item['queue']}" + (f" v{item['version']}" if item.get("version") else "")
                     for item in items)
    return Text(text or "-", style="yellow" if items else "dim")


def slot_cells(step: ReplayStep, slot: str) -> dict[str, object]:
    metrics = (step.metrics or {}).get("slots", {}).get(slot, {})
    oos, live = metrics.get("oos", {}), metrics.get("live", {})
    check = (step.drift or {}).get("slots", {}).get(slot)
    live_n = live.get("n")
    return {
        "slot": slot,
        "champion": fmt.right(f"v{metrics['champion']}" if metrics.get("champion") else "-"),
        "version": fmt.right(f"v{metrics['latest']}" if metrics.get("latest") else "-"),
        "model": metrics.get("model") or "-",
        "sharpe": fmt.signed(oos.get("sharpe")),
        "hit": fmt.percent(oos.get("hit_rate")),
        "live_sharpe": fmt.signed(live.get("sharpe")),
        "live_hit": fmt.percent(live.get("win_rate")),
        "live_n": fmt.right("-" if live_n is None else f"{live_n:.0f}"),
        "drift": dataset_cell(*drift_counts(check)) if check else Text("-", style="dim"),
        "queue": queue_label([item for item in step.queue_items() if item["slot"] == slot]),
    }


def queue_cells(item: dict) -> dict[str, object]:
    return {
        "id": fmt.right(str(item["id"])),
        "queue": item["queue"],
        "slot": item["slot"],
        "version": fmt.right(f"v{item['version']}" if item.get("version") else "-"),
        "state": item["state"],
        "rule": item["rule"],
        "reason": item.get("reason") or "",
    }


def cursor_columns(index: int, count: int, width: int) -> list[int]:
    """The columns of a `width`-wide Sparkline of `count` values that show value `index`, bucketed
    as textual's Sparkline does (a value spans several columns when there are fewer values)."""
    if count <= 0 or width <= 0:
        return []
    if count <= width:
        return [column for column in range(width) if int(Fraction(column * count, width)) == index]
    step = Fraction(count, width)
    return [column for column in range(width) if int(step * column) <= index < int(step * (column + 1))]


class TimelineCursor(Widget):
    """A ▲ under the timeline's Sparklines at the frame in view."""

    DEFAULT_CSS = "TimelineCursor { height: 1; width: 1fr; color: $accent; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.index = 0
        self.count = 0

    def point(self, index: int, count: int) -> None:
        self.index, self.count = index, count
        self.refresh()

    def render(self) -> str:
        columns = set(cursor_columns(self.index, self.count, self.size.width))
        return "".join("▲" if column in columns else " " for column in range(self.size.width))


class FramesLoaded(Message):
    def __init__(self, frames: dict[str, list[HistoryFrame]], error: str | None = None) -> None:
        super().__init__()
        self.frames = frames
        self.error = error


class ReplayScreen(HuracanScreen):
    # Priority: the arrows and Home / End step through frames even while the table has focus.
    BINDINGS = [replace(binding, priority=True) for binding in bindings("replay")]
    AUTO_FOCUS = "#replay-slots"
    DEFAULT_CSS = f"""
    ReplayScreen .timeline {{ height: 1; padding: 0 1; }}
    ReplayScreen .timeline Label {{ width: {LABEL_WIDTH}; color: $text-muted; }}
    ReplayScreen .timeline Sparkline {{ width: 1fr; }}
    ReplayScreen #replay-slots {{ height: auto; max-height: 60%; }}
    ReplayScreen #replay-queue {{ height: 1fr; min-height: 3; }}
    """

    def __init__(self, hours: float = DEFAULT_HOURS) -> None:
        super().__init__()
        self.hours = hours
        self.steps: list[ReplayStep] | None = None
        self.index = 0

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("Replay", classes="section-title", id="replay-title")
        with Horizontal(classes="timeline"):
            yield Label("drifted features")
            yield Sparkline([], id="timeline-drift")
        with Horizontal(classes="timeline"):
            yield Label("open queue items")
            yield Sparkline([], id="timeline-queue")
        with Horizontal(classes="timeline"):
            yield Label("", id="timeline-ends")
            yield TimelineCursor(id="timeline-cursor")
        slots = DataTable(id="replay-slots", cursor_type="row", zebra_stripes=True)
        for key, label in SLOT_COLUMNS:
            slots.add_column(label, key=key)
        yield slots
        yield Static("Open queue items", classes="section-title", id="replay-queue-title")
        queue = DataTable(id="replay-queue", cursor_type="none", show_cursor=False)
        for key, label in QUEUE_COLUMNS:
            queue.add_column(label, key=key)
        yield queue
        yield Static(empty_hint(self.hours), id="empty-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#empty-hint").display = False
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.load_frames()

    def reload(self, hours: float) -> None:
        self.hours = hours
        self.load_frames()

    @work(thread=True, exclusive=True)
    def load_frames(self) -> None:
        since = self.app.clock() - timedelta(hours=self.hours)
        brain = self.app.brain
        try:
            frames = {}
            for kind in KINDS:
                window = brain.frames(kind, since=since)
                before = brain.frame_at(kind, since)  # the state when the window opens
                if before is not None and all(frame.id != before.id for frame in window):
                    window.insert(0, before)
                frames[kind] = window
        except BrainError as error:
            self.post_message(FramesLoaded({}, str(error)))
            return
        self.post_message(FramesLoaded(frames))

    @on(FramesLoaded)
    def _frames_loaded(self, message: FramesLoaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="Brain unreachable", severity="error")
            return
        self.steps = replay_steps(message.frames)
        self.index = len(self.steps) - 1
        empty = not self.steps
        hint = self.query_one("#empty-hint", Static)
        hint.update(empty_hint(self.hours))
        hint.display = empty
        for widget in self.query(".timeline, #replay-slots, #replay-queue-title, #replay-queue"):
            widget.display = not empty
        if empty:
            self.query_one("#replay-title", Static).update(f"Replay: last {self.hours:g}h")
            return
        self.query_one("#timeline-drift", Sparkline).data = [step.drifted_features() for step in self.steps]
        self.query_one("#timeline-queue", Sparkline).data = [len(step.queue_items()) for step in self.steps]
        self.show_step()

    @property
    def step(self) -> ReplayStep | None:
        return self.steps[self.index] if self.steps else None

    def show_step(self) -> None:
        step = self.step
        if step is None:
            return
        count = len(self.steps)
        self.query_one("#replay-title", Static).update(
            f"Replay: {step.ts:%Y-%m-%d %H:%M:%S} UTC  ·  frame {self.index + 1} of {count}  ·  "
            f"last {self.hours:g}h")
        self.query_one("#timeline-ends", Label).update(
            f"{self.steps[0].ts:%H:%M}→{self.steps[-1].ts:%H:%M}"[:LABEL_WIDTH])
        self.query_one(TimelineCursor).point(self.index, count)
        sync_rows(self.query_one("#replay-slots", DataTable),
                  {slot: slot_cells(step, slot) for slot in step.slot_keys()}, sort_by="slot")
        items = step.queue_items()
        sync_rows(self.query_one("#replay-queue", DataTable),
                  {str(item["id"]): queue_cells(item) for item in items}, sort_by="id",
                  sort_key=lambda cell: int(str(cell)))
        self.query_one("#replay-queue-title", Static).update(
            f"Open queue items ({len(items)})" if items else "Open queue items: none")

    def action_step(self, delta: int) -> None:
        if not self.steps:
            return
        index = min(len(self.steps) - 1, max(0, self.index + delta))
        if index == self.index:
            self.notify("That is the oldest frame." if delta < 0 else "That is the newest frame.")
            return
        self.index = index
        self.show_step()

    def action_jump(self, end: str) -> None:
        if self.steps:
            self.index = 0 if end == "oldest" else len(self.steps) - 1
            self.show_step()

    def action_back(self) -> None:
        self.app.pop_screen()


def open_replay(app, hours: str = "") -> None:
    """`H` opens the last day; `:replay 6` the last six hours (or reloads the open view)."""
    span = float(hours) if hours else DEFAULT_HOURS
    if not math.isfinite(span) or span <= 0:
        app.notify(f"replay needs a positive number of hours, not {hours!r}", severity="warning")
        return
    if isinstance(app.screen, ReplayScreen):
        app.screen.reload(span)
    else:
        app.push_screen(ReplayScreen(span))
