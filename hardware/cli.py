"""``kiosk decode``: decode QR codes in image files (registered by kiosk/cli.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from hardware.decoder import DECODERS, DEFAULT_DECODER, make_decoder

__all__ = ["decode"]


def _decode_file(decoder, path: str) -> dict:
    """Decode one file; problems become an ``error`` entry, never an exception."""
    import cv2

    result: dict = {"file": path, "payloads": [], "ms": None, "error": None}
    if not Path(path).is_file():
        result["error"] = "no such file"
        return result
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        result["error"] = "not a readable image"
        return result
    start = time.perf_counter()
    result["payloads"] = decoder.decode(image)
    result["ms"] = round((time.perf_counter() - start) * 1000, 1)
    return result


def _line(result: dict) -> str:
    found = ", ".join(result["payloads"]) if result["payloads"] else "(no QR code)"
    return f"{result['file']}: {found} [{result['ms']} ms]"


@click.command("decode")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--decoder", "decoder_name", type=click.Choice(DECODERS),
              default=DEFAULT_DECODER, show_default=True, help="QR decoding backend.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of lines.")
def decode(images: tuple[str, ...], decoder_name: str, as_json: bool) -> None:
    """Decode the QR codes in IMAGE files and show how long each took.

    Prints one line per file with its payloads and the decode time in ms.
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
