"""Writes the PWA icons assets/icons/icon-192.png and icon-512.png (no Pillow needed):
a traffic light on the theme colour, drawn inside the maskable safe zone (a centred circle of
40 % of the size), so one file serves as both "any" and "maskable".

    .venv/bin/python scripts/make_icons.py
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

BG = (0x0F, 0x16, 0x23)
HOUSING = (0x24, 0x34, 0x4C)
LIGHTS = ((0xE5, 0x48, 0x4D), (0xF0, 0xB4, 0x29), (0x2F, 0xBF, 0x71))  # red, amber, green, top to bottom


def _rounded_rect(x: float, y: float, hw: float, hh: float, r: float) -> float:
    """Signed distance from (x, y) to a rounded rectangle centred at 0 (negative inside)."""
    qx, qy = abs(x) - hw + r, abs(y) - hh + r
    return math.hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0) - r


def _mix(a, b, k: float):
    return tuple(round(a[i] + (b[i] - a[i]) * k) for i in range(3))


def draw(size: int) -> bytes:
    rows = []
    c = size / 2
    for py in range(size):
        row = bytearray([0])  # filter type 0 for each scanline
        for px in range(size):
            x, y = px + 0.5 - c, py + 0.5 - c
            colour = BG
            d = _rounded_rect(x, y, 0.16 * size, 0.32 * size, 0.08 * size)
            colour = _mix(colour, HOUSING, min(max(0.5 - d, 0), 1))
            for i, light in enumerate(LIGHTS):
                dl = math.hypot(x, y - (i - 1) * 0.2 * size) - 0.085 * size
                colour = _mix(colour, light, min(max(0.5 - dl, 0), 1))
            row += bytes(colour)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


if __name__ == "__main__":
    here = Path(__file__).resolve().parent.parent / "assets" / "icons"
    for n in (192, 512):
        (here / f"icon-{n}.png").write_bytes(draw(n))
        print(f"wrote {here / f'icon-{n}.png'}")
