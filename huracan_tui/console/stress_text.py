"""A slot's newest stress result (scheduler.services.stress) as the slot detail shows it: the
spread of the champion's Sharpe, max drawdown and hit rate over the synthetic paths, and the
stylised facts' verdict, red when the paths failed them. Fits 80 columns."""

from __future__ import annotations

import math

from rich.text import Text

from huracan_tui.console import formatting as fmt
from scheduler.services.stress import StoredStress

ROWS = (("sharpe", "Sharpe", "{:+.2f}"), ("max_drawdown", "Max DD", "{:+.1%}"),
        ("hit_rate", "Hit rate", "{:.1%}"))
LABEL_WIDTH = 17
CELL_WIDTH = 9


def _cell(template: str, value: float) -> str:
    return ("-" if value is None or not math.isfinite(value) else template.format(value)).rjust(CELL_WIDTH)


def stress_text(stored: StoredStress) -> Text:
    report = stored.report
    text = Text()
    text.append(f"stress v{report.version} {report.kind}", style="bold")
    text.append(f" · {report.paths} GAN paths × {report.bars} bars · {fmt.timestamp(stored.created_at)}\n")
    text.append(" " * LABEL_WIDTH + "".join(name.rjust(CELL_WIDTH) for name in ("p5", "p50", "p95")) + "\n")
    for key, label, template in ROWS:
        spread = getattr(report, key)
        cells = "".join(_cell(template, getattr(spread, p)) for p in ("p5", "p50", "p95"))
        text.append(f"{label:<{LABEL_WIDTH}}{cells}\n")
    text.append(f"{'stylised facts':<{LABEL_WIDTH}}")
    text.append(report.verdict, style="green" if report.verdict == "passes" else "bold red")
    return text
