"""Heatmap cells and sparklines as text: a glyph carries the level, so a cell reads the same with
NO_COLOR or in 16 colours; colour only repeats what the glyph already says."""

from __future__ import annotations

import math

from rich.text import Text

P_VALUE_METHODS = {"ks"}  # drift when p <= threshold; every other method: statistic >= threshold
LEVEL_GLYPHS = ("·", "░", "▒", "█")  # calm, some, near the threshold, drifted
LEVEL_STYLES = ("green", "yellow", "bold yellow", "bold red")
SPARK = "▁▂▃▄▅▆▇█"


def severity(method: str, statistic: float | None, p_value: float | None, threshold: float,
             drifted: bool) -> int:
    """0..3 against the method's threshold: 3 drifted, 2 past half-way, 1 past a quarter."""
    if drifted:
        return 3
    if method in P_VALUE_METHODS:
        ratio = threshold / p_value if p_value else math.inf
    else:
        ratio = (statistic or 0.0) / threshold if threshold else 0.0
    return 2 if ratio >= 0.5 else 1 if ratio >= 0.25 else 0


def shown_value(method: str, statistic: float | None, p_value: float | None) -> float | None:
    """What a cell shows: the p-value for p-value tests, else the statistic."""
    return p_value if method in P_VALUE_METHODS else statistic


def drift_cell(method: str, statistic: float | None, p_value: float | None, threshold: float,
               drifted: bool) -> Text:
    level = severity(method, statistic, p_value, threshold, drifted)
    value = shown_value(method, statistic, p_value)
    number = "-" if value is None or not math.isfinite(value) else f"{value:.3f}"[:5]
    flag = "!" if drifted else " "
    return Text(f"{LEVEL_GLYPHS[level]}{number:>6}{flag}", style=LEVEL_STYLES[level])


def missing_cell() -> Text:
    return Text(f"{'':>7} ", style="dim")


def dataset_cell(drifted: int, total: int, dataset_drift: bool) -> Text:
    text = f"{'█' if dataset_drift else '·'}{drifted:>3}/{total:<2}{'!' if dataset_drift else ' '}"
    return Text(text, style="bold red" if dataset_drift else "green")


def sparkline(values: list[float | None], *, higher_is_better: bool = True) -> str:
    """One character per value, scaled between the series' min and max; None is a gap."""
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    chars = []
    for value in values:
        if value is None:
            chars.append(" ")
            continue
        share = 1.0 if high == low else (value - low) / (high - low)
        if not higher_is_better:
            share = 1.0 - share if high != low else 1.0
        chars.append(SPARK[round(share * (len(SPARK) - 1))])
    return "".join(chars)
