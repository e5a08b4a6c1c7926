"""``kiosk decode``: decode QR codes in image files (registered by kiosk/cli.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from hardware.decoder import DECODERS, DEFAULT_DECODER, make_decoder

__all__ = ["decode"]


def _decode_file(decoder, path: str) -> dict:
    """Decode one file; problems become an ``error`` entry, never an exception."""
    import cv2

    result: dict = {"file": path, "payloads": [], "ms": None, "error": None}
    if not Path(path).is_file():
        result["error"] = "no such file"
        return result
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        result["error"] = "not a readable image"
        return result
    image = _on_white(image)
    start = time.perf_counter()
    result["payloads"] = decoder.decode(image)
    result["ms"] = round((time.perf_counter() - start) * 1000, 1)
    return result


def _on_white(image: np.ndarray) -> np.ndarray:
    """An 8-bit image, its transparent parts composited on white as on paper or a screen
    (read without its alpha channel, a transparent background is black and hides a black code)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:].astype(np.float32) / 255
        image = (image[:, :, :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
    return image


# Control characters and the backslash, escaped so that each file stays on one line.
_ONE_LINE = {code: f"\\x{code:02x}" for code in [*range(32), 127]} | {
    ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def _line(result: dict) -> str:
    payloads = [p.translate(_ONE_LINE) for p in result["payloads"]]
    found = ", ".join(payloads) if payloads else "(no QR code)"
    return f"{result['file']}: {found} [{result['ms']} ms]"


@click.command("decode")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--decoder", "decoder_name", type=click.Choice(DECODERS),
              default=DEFAULT_DECODER, show_default=True, help="QR decoding backend.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of lines.")
def decode(images: tuple[str, ...], decoder_name: str, as_json: bool) -> None:
    """Decode the QR codes in IMAGE files and show how long each took.

    Prints one line per file with its payloads and the decode time in ms
    (line breaks and other control characters in a payload shown as \\n,
    \\xNN; --json gives them unchanged). Transparent images are read as
    if on white.
    A missing or unreadable file is reported on stderr and makes the exit
    status 1, but the other files are still decoded.

    \b
    Example:
        kiosk decode pass.png gate-cam.jpg --decoder zbar
    """
    decoder = make_decoder(decoder_name)
    results = [_decode_file(decoder, path) for path in images]
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    for result in results:
        if result["error"]:
            click.echo(f"{result['file']}: error: {result['error']}", err=True)
        elif not as_json:
            click.echo(_line(result))
    if any(r["error"] for r in results):
        raise SystemExit(1)
