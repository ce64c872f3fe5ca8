"""Promotion, asked for where the decision is made (the registry, the A/B view): the challenger's
A/B verdict against the champion is read off the UI thread, then the dialog shows it, asks for a
reason and offers force only where the verdict does not pass. The brain has the last word: a
refused promotion keeps the dialog open, the reason kept, saying why and how to force it."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Checkbox, Static

from brain import BrainError
from brain.records import VersionRecord
from huracan_tui.console.screens.confirm import ConfirmScreen


def verdict_line(slot_key: str, number: int, champion: int | None, verdict: dict | None) -> tuple[str, bool]:
    """What the promote dialog says about the A/B evidence, and whether it passes."""
    if champion is None:
        return f"{slot_key} has no champion yet: v{number} becomes the first (no A/B verdict needed).", True
    if verdict is None:
        return (f"No A/B comparison of v{number} against champion v{champion} (C compares them). "
                "The brain refuses this promotion unless you force it."), False
    tests = ", ".join(f"{test} {word}" for test, word in sorted(verdict["tests"].items()))
    if verdict["passes"]:
        return f"A/B verdict against champion v{champion}: {verdict['verdict']} (passes) · {tests}", True
    return (f"A/B verdict against champion v{champion}: {verdict['verdict']}: it does NOT pass · {tests}. "
            "The brain refuses this promotion unless you force it."), False



def force_label(forced: bool) -> str:
    if forced:
        return "Force: YES, without a passing verdict (recorded)"
    return "Force: no (Ctrl+F to force it)"


class PromoteScreen(ConfirmScreen):
    """The promotion dialog: the A/B verdict, a reason, and force offered only when it is needed.

    With `submit` (reason, force, on_done) the dialog asks for the promotion itself and stays
    open until the outcome is known: a refused promotion keeps the reason typed and says why and
    how to force it; a done (or handed-on) one closes the dialog."""

    AUTO_FOCUS = "#confirm-reason"
    BINDINGS = [Binding("ctrl+f", "toggle_force", "Force", id="promote-force-toggle")]

    def __init__(self, question: str, verdict: str, passes: bool, *, submit=None) -> None:
        super().__init__(question)
        self.verdict = verdict
        self.passes = passes
        self.submit = submit
        self.asking = False  # a promotion asked for and not answered yet

    def compose_extra(self) -> ComposeResult:
        yield Static(self.verdict, id="promote-verdict",
                     classes="verdict-pass" if self.passes else "verdict-fail")
        if not self.passes:
            yield Checkbox(force_label(False), id="promote-force")

    def action_toggle_force(self) -> None:
        """Ctrl+F ticks or clears "force" wherever the focus is (typing the reason, say)."""
        for checkbox in self.query("#promote-force").results(Checkbox):
            checkbox.toggle()

    @on(Checkbox.Changed, "#promote-force")
    def _force_changed(self, event: Checkbox.Changed) -> None:
        # Said in words, not only by the box's colour: readable over SSH and with NO_COLOR.
        event.checkbox.label = force_label(event.value)

    def result(self, reason: str):
        forced = not self.passes and self.query_one("#promote-force", Checkbox).value
        if self.submit is None:
            return reason, forced
        if not self.asking:
            self.asking = True
            self.query_one("#confirm-hint", Static).update("Asking for the promotion… · Esc closes")
            self.submit(reason, forced, lambda request: self._answered(request, reason, forced))
        return None  # open until the answer comes

    def _answered(self, request, reason: str, forced: bool) -> None:
        self.asking = False
        if request.state not in ("refused", "failed"):
            self.dismiss((reason, forced))
            return
        how = ("Ctrl+F forces it (recorded as forced), then Enter" if self.query("#promote-force")
               else "fix the cause and press Enter again")
        self.query_one("#confirm-hint", Static).update(
            f"Not promoted: {request.outcome} · {how} · Esc cancels")


def ask_promotion(screen: Screen, slot_key: str, version: VersionRecord, *,
                  on_done: Callable[[object], None]) -> None:
    """Read the slot's champion and `version`'s verdict against it in a worker thread, then open
    the promote dialog over `screen`; `on_done(request)` runs once the brain answered."""
    app = screen.app

    def read() -> None:
        try:
            current = app.brain.champion(slot_key)
            verdict = app.brain.promotion_verdict(slot_key, version.number)
        except BrainError as error:
            app.call_from_thread(app.notify, str(error), title="Brain unreachable", severity="error")
            return
        app.call_from_thread(show, None if current is None else current.number, verdict)

    def show(champion: int | None, verdict: dict | None) -> None:
        text, passes = verdict_line(slot_key, version.number, champion, verdict)

        def submit(reason: str, force: bool, answered) -> None:
            def done(request) -> None:
                on_done(request)
                answered(request)

            app.submit_request("promote", {
                "slot": slot_key, "version": version.number, "reason": reason, "force": force,
                "target": f"{slot_key} v{version.number}"}, on_done=done)

        question = f"Promote {slot_key} v{version.number} ({version.model_kind}) to champion?"
        app.push_screen(PromoteScreen(question, text, passes, submit=submit))

    screen.run_worker(read, thread=True, exclusive=True, group="verdict")
