"""Textual themes and the stylesheet shared by every screen of the console.

Four themes: dark (default) and light for true-colour terminals, high contrast for projectors
and tired eyes, and ANSI, which uses only the terminal's own 16 colours (old terminals, some SSH
clients, tmux without RGB). NO_COLOR is honoured by Textual itself (monochrome output).
Textual's built-in themes are offered beside them (THEME_NAMES lists all).
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import BUILTIN_THEMES, Theme

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

HURACAN_HIGH_CONTRAST = Theme(
    name="huracan-high-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FF00FF",
    warning="#FFFF00",
    error="#FF3030",
    success="#00FF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#303030",
    dark=True,
)

# Only the terminal's 16 ANSI colours, so it reads right whatever palette the terminal has.
HURACAN_ANSI = Theme(
    name="huracan-ansi",
    primary="ansi_bright_blue",
    secondary="ansi_cyan",
    accent="ansi_yellow",
    warning="ansi_yellow",
    error="ansi_red",
    success="ansi_green",
    foreground="ansi_default",
    background="ansi_default",
    surface="ansi_default",
    panel="ansi_default",
    boost="ansi_default",
    dark=True,
    ansi=True,
    # Textual's own widgets need these under an ANSI theme (as its built-in ansi-dark sets them).
    variables={
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_white",
        "border-blurred": "ansi_black",
        "block-cursor-foreground": "ansi_black",
        "block-cursor-background": "ansi_white",
        "input-cursor-background": "ansi_black",
        "input-cursor-foreground": "ansi_bright_white",
        "input-cursor-text-style": "none",
        "input-selection-background": "ansi_bright_blue",
        "input-selection-foreground": "ansi_black",
        "screen-selection-background": "ansi_bright_blue",
        "screen-selection-foreground": "ansi_black",
    },
)

THEMES = (HURACAN_DARK, HURACAN_LIGHT, HURACAN_HIGH_CONTRAST, HURACAN_ANSI)
# The one list of themes (the palette's theme picker, `:theme`, the config check, the help): ours,
# then those Textual registers on every app itself, which its palette offers anyway.
THEME_NAMES = (*(theme.name for theme in THEMES),
               *(name for name in BUILTIN_THEMES if name not in {theme.name for theme in THEMES}))
DEFAULT_THEME = HURACAN_DARK.name
