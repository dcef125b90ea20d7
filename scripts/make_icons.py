"""Draws the mobile view's icons with the standard library: a traffic light on the app's dark
background, inside the maskable safe zone (the middle 80 %).

    python scripts/make_icons.py

writes assets/icons/icon-192.png, icon-512.png (the PWA manifest's) and assets/favicon.ico
(32 px, the light zoomed in: Dash links assets/favicon.ico from every page instead of its own
15 KiB icon). Edges are anti-aliased by 4×4 supersampling."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "assets" / "icons"
BG, HOUSING = (15, 22, 35), (36, 52, 76)
LIGHTS = ((229, 72, 77), (240, 180, 41), (47, 191, 113))  # red, amber, green as on the cards
SAMPLES = 4


def _inside(x: float, y: float, zoom: float) -> tuple[int, int, int]:
    """The colour at (x, y) in a 1×1 square."""
    cx, cy = x - 0.5, y - 0.5
    for i, colour in enumerate(LIGHTS):
        if cx * cx + (cy - (i - 1) * 0.208 * zoom) ** 2 <= (0.083 * zoom) ** 2:
            return colour
    hw, hh, r = 0.167 * zoom, 0.323 * zoom, 0.094 * zoom  # the housing: a rounded rectangle
    dx, dy = max(abs(cx) - (hw - r), 0.0), max(abs(cy) - (hh - r), 0.0)
    return HOUSING if abs(cx) <= hw and abs(cy) <= hh and dx * dx + dy * dy <= r * r else BG


def draw(size: int, zoom: float = 1.0) -> bytes:
    rows = []
    for py in range(size):
        row = bytearray([0])  # PNG filter: none
        for px in range(size):
            acc = [0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    c = _inside((px + (sx + 0.5) / SAMPLES) / size, (py + (sy + 0.5) / SAMPLES) / size, zoom)
                    for k in range(3):
                        acc[k] += c[k]
            row += bytes(round(a / SAMPLES ** 2) for a in acc)
        rows.append(bytes(row))
    return _png(size, b"".join(rows))


def _png(size: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def ico(png: bytes, size: int) -> bytes:
    """An ICO holding one PNG image (every current browser reads these)."""
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), 22) + png


def main() -> None:
    for size in (192, 512):
        (HERE / f"icon-{size}.png").write_bytes(draw(size))
    (HERE.parent / "favicon.ico").write_bytes(ico(draw(32, zoom=1.45), 32))


if __name__ == "__main__":
    main()
