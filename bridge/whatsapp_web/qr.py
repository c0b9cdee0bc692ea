"""The login QR code, drawn as terminal text and written as a PNG."""

from __future__ import annotations

import io
import os
from pathlib import Path

import qrcode

# Two rows of modules per line of text. Light modules are drawn (the terminal's
# foreground), dark ones left as background: right way round on a dark terminal.
# Keys are (top is dark, bottom is dark).
_CELLS = {(False, False): "█", (True, False): "▄", (False, True): "▀", (True, True): " "}


def _matrix(payload: str) -> list[list[bool]]:
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_L)
    code.add_data(payload)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


def terminal_text(payload: str) -> str:
    """The code as lines of block characters, ready to print."""
    rows = _matrix(payload)
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    lines = []
    for top, bottom in zip(rows[::2], rows[1::2], strict=True):
        lines.append("".join(_CELLS[(t, b)] for t, b in zip(top, bottom, strict=True)))
    return "\n".join(lines) + "\n"


def png_bytes_for(payload: str) -> bytes:
    """The PNG `write_png` writes for `payload`."""
    image = qrcode.make(payload, border=2, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(payload: str, path: Path) -> None:
    """Writes the code to `path`, replacing any earlier one in one step."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(png_bytes_for(payload))
    os.replace(temporary, path)
