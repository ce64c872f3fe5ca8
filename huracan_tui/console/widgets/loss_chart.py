"""The loss curve of a job's current fit: loss and val_loss over epochs as two sparklines, with
the epoch count and the last values as text. Fed from the brain's job_events; updated in place
(new data for the same sparklines), so a live job redraws without rebuilding anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static


@dataclass(frozen=True)
class LossCurve:
    """The epochs of one fit (one model kind, one fold, one slot) of a job."""

    title: str
    epochs: list[int]
    loss: list[float]
    val_loss: list[float]  # empty when the fit had no validation rows
    max_epochs: int | None

    def summary(self) -> str:
        done = f"epoch {self.epochs[-1]}/{self.max_epochs}" if self.max_epochs else f"epoch {self.epochs[-1]}"
        last = f"loss {self.loss[-1]:.4f}"
        if self.val_loss:
            best = min(self.val_loss)
            last += f" · val_loss {self.val_loss[-1]:.4f} (best {best:.4f})"
        return f"{self.title} · {done} · {last}"


def _fit_of(values: dict) -> tuple:
    return (values.get("slot"), values.get("model_kind"), str(values.get("fold")))


def _title(values: dict) -> str:
    fold = values.get("fold")
    where = "final fit" if fold == "final" else f"fold {int(fold) + 1}" if isinstance(fold, int) else "fit"
    slot = values.get("slot")
    return " · ".join(str(part) for part in (values.get("model_kind"), where, slot) if part)


def latest_curve(events: Sequence) -> LossCurve | None:
    """The curve of the fit the job reported last (events: brain JobEventRecords in step order);
    None when the job reported no epochs (non-neural jobs)."""
    epochs = [event.values for event in events if isinstance(event.values, dict) and "epoch" in event.values
              and event.values.get("loss") is not None]
    if not epochs:
        return None
    current = _fit_of(epochs[-1])
    fit = [values for values in epochs if _fit_of(values) == current]
    return LossCurve(
        title=_title(fit[-1]),
        epochs=[int(values["epoch"]) for values in fit],
        loss=[float(values["loss"]) for values in fit],
        val_loss=[float(values["val_loss"]) for values in fit if values.get("val_loss") is not None],
        max_epochs=fit[-1].get("max_epochs"),
    )


class LossChart(Vertical):
    """Hidden until a curve is shown; `show(None)` hides it again."""

    DEFAULT_CSS = """
    LossChart {
        height: auto;
        border-top: solid $primary;
        padding: 0 1;
    }
    LossChart #loss-summary {
        height: 1;
    }
    LossChart Horizontal {
        height: 3;
    }
    LossChart .loss-label {
        width: 10;
    }
    LossChart Sparkline {
        width: 1fr;
        height: 3;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="loss-summary")
        with Horizontal():
            yield Static("loss", classes="loss-label")
            yield Sparkline([], id="loss-line")
        with Horizontal(id="val-loss-row"):
            yield Static("val_loss", classes="loss-label")
            yield Sparkline([], id="val-loss-line")

    def on_mount(self) -> None:
        self.display = False

    def show(self, curve: LossCurve | None) -> None:
        self.display = curve is not None
        if curve is None:
            return
        self.query_one("#loss-summary", Static).update(curve.summary())
        self.query_one("#loss-line", Sparkline).data = curve.loss
        self.query_one("#val-loss-row").display = bool(curve.val_loss)
        self.query_one("#val-loss-line", Sparkline).data = curve.val_loss
