"""The loss curve of a job's current fit: loss and val_loss over epochs, plotted (plotext, through
textual-plotext) with labelled axes (epoch; loss) and a legend, under a line with the epoch count
and the last values. An agent's fit (dqn, ppo_sizing) reports each batch of environment steps as
an "epoch" with its episode reward, drawn on the right-hand axis (its scale is not the loss's).
Fed from the brain's job_events; the same plot is redrawn with the new epochs, so a live job
redraws without rebuilding anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static


@dataclass(frozen=True)
class LossCurve:
    """The epochs of one fit (one model kind, one fold, one slot) of a job."""

    title: str
    epochs: list[int]
    loss: list[float]
    val_loss: list[float]  # empty when the fit had no validation rows
    max_epochs: int | None
    # An agent's: (epoch, mean reward of the episodes finished by then); empty for other kinds.
    episode_reward: list[tuple[int, float]] = field(default_factory=list)
    loss_epochs: list[int] | None = None  # the epochs `loss` belongs to, where not every one has a loss

    def summary(self) -> str:
        done = f"epoch {self.epochs[-1]}/{self.max_epochs}" if self.max_epochs else f"epoch {self.epochs[-1]}"
        parts = [f"loss {self.loss[-1]:.4f}" if self.loss else "loss -"]
        if self.val_loss:
            best = min(self.val_loss)
            parts[0] += f" · val_loss {self.val_loss[-1]:.4f} (best {best:.4f})"
        if self.episode_reward:
            parts.append(f"episode reward {self.episode_reward[-1][1]:.3f}")
        return " · ".join([self.title, done, *parts])


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
              and (event.values.get("loss") is not None or event.values.get("episode_reward") is not None)]
    if not epochs:
        return None
    current = _fit_of(epochs[-1])
    fit = [values for values in epochs if _fit_of(values) == current]
    # An agent has no loss before it first learns (DQN's learning_starts), nor a reward before
    # its first episode ends: each series keeps the epochs it has a value for.
    with_loss = [values for values in fit if values.get("loss") is not None]
    return LossCurve(
        title=_title(fit[-1]),
        epochs=[int(values["epoch"]) for values in fit],
        loss=[float(values["loss"]) for values in with_loss],
        val_loss=[float(values["val_loss"]) for values in fit if values.get("val_loss") is not None],
        max_epochs=fit[-1].get("max_epochs"),
        episode_reward=[(int(values["epoch"]), float(values["episode_reward"])) for values in fit
                        if values.get("episode_reward") is not None],
        loss_epochs=[int(values["epoch"]) for values in with_loss],
    )


LOSS = ("loss", "green")
VAL_LOSS = ("val_loss", "orange")
REWARD = ("episode reward", "cyan")
Y_TICKS = 4


class LossChart(Vertical):
    """Hidden until a curve is shown; `show(None)` hides it again. `curve`: the one drawn."""

    curve: LossCurve | None = None

    DEFAULT_CSS = """
    LossChart {
        height: auto;
        border-top: solid $primary;
        padding: 0 1;
    }
    LossChart #loss-summary {
        height: 1;
    }
    LossChart #loss-plot {
        height: 9;
        width: 1fr;
    }
    """

    def compose(self) -> ComposeResult:
        # Imported with the view that shows it: plotext is not part of the console's start.
        from textual_plotext import PlotextPlot

        yield Static("", id="loss-summary")
        yield PlotextPlot(id="loss-plot")

    def on_mount(self) -> None:
        self.display = False

    def show(self, curve: LossCurve | None) -> None:
        self.display = curve is not None
        self.curve = curve
        if curve is None:
            return
        self.query_one("#loss-summary", Static).update(curve.summary())
        plot = self.query_one("#loss-plot")
        plt = plot.plt
        plt.clear_figure()
        plt.xlabel("epoch")
        plt.ylabel("loss")
        loss_epochs = curve.loss_epochs if curve.loss_epochs is not None else curve.epochs
        shown = [(loss_epochs, curve.loss, LOSS)] if curve.loss else []
        if curve.val_loss:
            shown.append((curve.epochs[:len(curve.val_loss)], curve.val_loss, VAL_LOSS))
        for xs, values, (label, colour) in shown:
            plt.plot(xs[:len(values)], values, label=label, color=colour, marker="braille")
        if curve.episode_reward:
            xs, rewards = zip(*curve.episode_reward, strict=True)
            plt.plot(list(xs), list(rewards), label=REWARD[0], color=REWARD[1], marker="braille",
                     yside="right")
            plt.ylabel("episode reward", yside="right")
        if len(set(curve.epochs)) <= 10:  # whole epochs as ticks; beyond ten, plotext's own
            plt.xticks(sorted(set(curve.epochs)))
        if shown:
            low = min(min(values) for _, values, _ in shown)
            high = max(max(values) for _, values, _ in shown)
            if high - low > 1e-12:
                spots = [low + (high - low) * i / (Y_TICKS - 1) for i in range(Y_TICKS)]
                plt.yticks(spots, [f"{spot:.3g}" for spot in spots])
        plot.refresh()
