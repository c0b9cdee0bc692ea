"""Making text that someone else wrote safe to place in ours."""

from __future__ import annotations

import re
import unicodedata

_ZERO_WIDTH_JOINER = "\u200d"  # part of many emoji, harmless on its own
# Control, invisible format (bidi overrides, zero-width spaces), private use and
# lone surrogates.
_DROPPED = frozenset({"Cc", "Cf", "Co", "Cs"})


def clean(text: str, cap: int, *, lines: bool = False) -> str:
    """`text` without control or invisible characters, whitespace collapsed (newlines
    kept when `lines`), cut to at most `cap` characters."""
    kept = "".join(_character(ch, lines) for ch in text)
    if lines:
        kept = "\n".join(" ".join(line.split()) for line in kept.splitlines())
        kept = re.sub(r"\n{3,}", "\n\n", kept).strip()
    else:
        kept = " ".join(kept.split())
    return kept[:cap].rstrip()


def _character(ch: str, lines: bool) -> str:
    if ch == "\n" and lines:
        return ch
    if ch.isspace():
        return " "  # tabs, newlines, line separators still break words
    if ch == _ZERO_WIDTH_JOINER or unicodedata.category(ch) not in _DROPPED:
        return ch
    return ""
