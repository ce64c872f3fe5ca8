"""A version's scorecard (scheduler.services.scorecard) as the slot detail shows it: one line per
strategy over the same out-of-sample bars, the positions it held, and an agent's newest choice.
Fits 80 columns."""

from __future__ import annotations

import math

from rich.text import Text

from huracan_tui.console import formatting as fmt
from scheduler.services.scorecard import Scorecard

HEADERS = (("sharpe", "Sharpe"), ("sortino", "Sortino"), ("calmar", "Calmar"), ("max_drawdown", "Max DD"),
           ("profit_factor", "PF"), ("win_rate", "Win"), ("turnover", "Turn."),
           ("cumulative_return", "Return"))
LABEL_WIDTH = 17
CELL_WIDTH = 7
WIDTHS = {"sortino": 8, "cumulative_return": 9}  # "Sortino", "+102.0%": and a gap
PERCENTS = {"max_drawdown", "win_rate", "cumulative_return"}
UNCOLOURED = {"win_rate", "turnover", "profit_factor"}  # no sign to read at a glance


def _cell(name: str, value: float) -> Text:
    width = WIDTHS.get(name, CELL_WIDTH)
    if value is None or not math.isfinite(value):
        return Text("-".rjust(width))
    if name in PERCENTS:
        shown = f"{100 * value:+.1f}%" if name != "win_rate" else f"{100 * value:.1f}%"
    elif name in ("profit_factor", "turnover"):
        shown = f"{value:.2f}"
    else:
        shown = f"{value:+.2f}"
    style = "" if name in UNCOLOURED else "green" if value > 0 else "red" if value < 0 else ""
    return Text(shown.rjust(width), style=style)


def choice_text(choice: dict) -> str:
    """'buy · Q sell -0.012 · hold +0.003 · buy +0.021' (dqn) or 'size +0.63' (ppo_sizing)."""
    if "q_values" in choice:
        values = " · ".join(f"{name} {value:+.3f}" for name, value in choice["q_values"].items())
        return f"{choice.get('action', '?')} · Q {values}"
    if "size" in choice:
        return f"size {choice['size']:+.2f}"
    return ", ".join(f"{key} {value}" for key, value in choice.items())


def scorecard_text(card: Scorecard) -> Text:
    title = f"v{card.version} {card.kind} · walk-forward out of sample"
    if not card.bars:
        text = Text.from_markup(f"[b]{title}[/b]: no out-of-sample rows stored")
    else:
        text = Text.from_markup(f"[b]{title}[/b] · {card.bars} bars · after {card.cost_bps:g} bps costs\n")
        text.append(" " * LABEL_WIDTH + "".join(label.rjust(WIDTHS.get(name, CELL_WIDTH))
                                                for name, label in HEADERS))
        for line in card.lines:
            text.append("\n" + line.label[:LABEL_WIDTH - 1].ljust(LABEL_WIDTH))
            for name, _ in HEADERS:
                text.append_text(_cell(name, line.metrics.get(name)))
        if card.champion_bars is not None and card.champion_bars != card.bars:
            text.append(f"\n(the champion on the {card.champion_bars} bars both predicted)")
        if card.positions is not None:
            held = card.positions
            text.append(f"\nheld: short {100 * held.short:.0f}% · flat {100 * held.flat:.0f}% · "
                        f"long {100 * held.long:.0f}%")
            if abs(held.mean_abs_size - (1 - held.flat)) > 1e-9:  # sizes, not whole units
                text.append(f" · mean |size| {held.mean_abs_size:.2f}")
    if card.latest_choice is not None:
        when = fmt.timestamp(card.latest_choice_ts)
        text.append(f"\nlatest live bar {when}: {choice_text(card.latest_choice)}")
    return text
