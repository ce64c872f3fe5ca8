"""What a symbol may look like, checked once for every door a symbol comes in by.

A symbol ends up in slot ids (``SYMBOL:TIMEFRAME:TARGET``), table cells, file names and the
console's one-line rows, so it is short and plain: ASCII letters and digits and the punctuation
that market tickers use (BTC-USD, EUR/USD, ^GSPC, BRK.B, EURUSD=X, SPX_W). ':' is left out
because it separates the parts of a slot id.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SYMBOL_LENGTH = 32
SYMBOL_PUNCTUATION = "._-/^="
_SYMBOL = re.compile(r"[A-Za-z0-9._\-/^=]+")
_SHOWN = 24  # characters of a bad symbol quoted in a message


class SymbolError(ValueError):
    """A symbol that cannot be used; the message names it: ``symbol 'X…': why``."""


def check_symbol(symbol: object) -> str:
    """Return ``symbol`` unchanged when it is usable; raise SymbolError saying why not."""
    if not isinstance(symbol, str):
        raise SymbolError(f"symbol {symbol!r}: must be text, not {type(symbol).__name__}")
    if not symbol:
        raise SymbolError("symbol '': is empty")
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise SymbolError(
            f"symbol {_shown(symbol)}: is {len(symbol)} characters long; at most {MAX_SYMBOL_LENGTH}"
        )
    if not _SYMBOL.fullmatch(symbol):
        bad = next(char for char in symbol if not _SYMBOL.fullmatch(char))
        raise SymbolError(
            f"symbol {_shown(symbol)}: {_describe(bad)} is not allowed; use letters, digits "
            f"and {' '.join(SYMBOL_PUNCTUATION)}"
        )
    return symbol


def _shown(symbol: str) -> str:
    """The symbol quoted with control and invisible characters escaped (a bidi override must
    not turn the message itself around), cut short when long."""
    cut = symbol[:_SHOWN]
    escaped = "".join(
        char if char.isascii() and char.isprintable() else f"\\u{ord(char):04x}" for char in cut
    )
    return f"'{escaped}{'…' if len(symbol) > _SHOWN else ''}'"


def _describe(char: str) -> str:
    if char == ":":
        return "':' (it separates the parts of a slot id)"
    if char.isspace():
        return f"whitespace (U+{ord(char):04X})"
    name = unicodedata.name(char, "")
    if unicodedata.category(char).startswith("C"):
        return f"the control or format character U+{ord(char):04X}{f' {name}' if name else ''}"
    return f"{char!r} (U+{ord(char):04X})" if char.isprintable() else f"U+{ord(char):04X}"
