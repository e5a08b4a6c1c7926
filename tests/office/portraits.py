"""Photo files as offices receive them: phone portraits (JPEG, PNG), damaged ones, and bombs."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageDraw


def portrait(seed: int, size: tuple[int, int] = (600, 800), fmt: str = "JPEG", **save) -> bytes:
    """A portrait-like picture: a plain background, a face, shoulders, some sensor noise."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, tuple(rng.randrange(150, 255) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.3, height * 0.12, width * 0.7, height * 0.55),
                 fill=(rng.randrange(180, 240), rng.randrange(140, 200), rng.randrange(120, 180)))
    draw.rectangle((width * 0.15, height * 0.6, width * 0.85, height),
                   fill=tuple(rng.randrange(0, 255) for _ in range(3)))
    for _ in range(12):  # hair, eyes, a collar: edges a JPEG has to spend bytes on
        x, y = rng.uniform(0.3, 0.7) * width, rng.uniform(0.1, 0.7) * height
        draw.ellipse((x, y, x + width * 0.06, y + height * 0.03), fill=tuple(rng.randrange(0, 120) for _ in range(3)))
    noise = Image.effect_noise(size, 40).convert("RGB")
    image = Image.blend(image, noise, 0.2)
    if fmt == "PNG" and save.pop("transparent", False):
        image = image.convert("RGBA")
        image.putalpha(Image.new("L", size, 200))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def declared_png(width: int, height: int) -> bytes:
    """A small PNG file whose header declares ``width`` x ``height`` pixels: decoding it would
    allocate gigabytes (a decompression bomb). Only its header is real."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
            + chunk(b"IEND", b""))


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (60, 80), 3).save(out, "GIF")
    return out.getvalue()
