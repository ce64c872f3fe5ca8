"""The status bar's one line, fitted to the terminal's width: where a full line does not fit, its
least important parts give way first (each part says when), and the brain's path gives up its left
end, so what is left is never cut at the edge. Plain Python, tested without a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SEPARATOR = "  ·  "
NARROW_SEPARATOR = " · "  # a line too wide with the roomy one first gives up this room
ELLIPSIS = "…"
MIN_PATH = 16  # what a shortened path keeps at the least before less important parts go: its tail
MIN_TAIL = 8  # and before the part itself goes


@dataclass(frozen=True)
class StatusPart:
    text: str
    drop: int = 0  # 0: always shown; else it gives way to a shorter line, the highest first
    short: str = ""  # what it gives way to ("" removes it)
    shrink: int = 0  # with a path: the rank at which the path is shortened from its left
    keep: int = 0  # the leading characters a shortening keeps ("brain sqlite:")


def shorten_left(text: str, width: int) -> str:
    """`text` in `width` characters at most: its end, after an ellipsis."""
    if len(text) <= width:
        return text
    return ELLIPSIS + text[len(text) - width + 1:] if width > 0 else ""


def home_short(path: Path) -> str:
    """An absolute path with the home directory written `~`."""
    path = path.expanduser().absolute()
    try:
        return f"~/{path.relative_to(Path.home())}"
    except ValueError:
        return str(path)


def fit_status(parts: Sequence[StatusPart], width: int) -> str:
    """The parts joined (closer together where the line is too wide); while it is wider than
    `width`, the next step by rank (highest first) shortens its part's path to MIN_PATH or drops
    the part to its short form (a part with a path keeps what of it fits, MIN_TAIL at least,
    before it goes). A shortened path then takes what room the drops left it. A line that still
    does not fit once all is dropped is left to the edge."""
    texts = [part.text for part in parts]
    shortened: dict[int, int] = {}  # part -> the least its path keeps
    separator = SEPARATOR

    def line() -> str:
        return separator.join(text for text in texts if text)

    def path_room(index: int) -> int:
        return width - (len(line()) - len(texts[index])) - parts[index].keep

    def fit_path(index: int, least: int) -> None:
        part = parts[index]
        shortened[index] = least
        path = shorten_left(part.text[part.keep:], max(path_room(index), least))
        texts[index] = part.text[:part.keep] + path

    if len(line()) > width:
        separator = NARROW_SEPARATOR
    steps = sorted([(part.drop, 0, index) for index, part in enumerate(parts) if part.drop] +
                   [(part.shrink, 1, index) for index, part in enumerate(parts) if part.shrink],
                   reverse=True)
    for _, shrinking, index in steps:
        if len(line()) <= width:
            break
        if shrinking:
            fit_path(index, MIN_PATH)
        elif parts[index].shrink and path_room(index) >= MIN_TAIL:
            fit_path(index, MIN_TAIL)
        else:
            shortened.pop(index, None)
            texts[index] = parts[index].short
    for index, least in shortened.items():
        fit_path(index, least)
    return line()
