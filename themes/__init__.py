"""Textual themes and the stylesheet shared by every screen of the console."""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

STYLESHEET = Path(__file__).with_name("huracan.tcss")

HURACAN_DARK = Theme(
    name="huracan-dark",
    primary="#4EA1FF",
    secondary="#7C8CFF",
    accent="#FFB454",
    warning="#FFB454",
    error="#FF5F5F",
    success="#5FD787",
    foreground="#D8DEE9",
    background="#10141A",
    surface="#161B22",
    panel="#1F2630",
    dark=True,
)

HURACAN_LIGHT = Theme(
    name="huracan-light",
    primary="#0B5CAD",
    secondary="#4B4FC4",
    accent="#B35C00",
    warning="#B35C00",
    error="#B00020",
    success="#1E7F3C",
    foreground="#1B1F24",
    background="#F7F8FA",
    surface="#FFFFFF",
    panel="#E8EBF0",
    dark=False,
)

THEMES = (HURACAN_DARK, HURACAN_LIGHT)
DEFAULT_THEME = HURACAN_DARK.name
