"""QR decoding backends behind one small interface.

``Decoder.decode(frame)`` takes a BGR or grayscale ``numpy`` image and returns
the QR payload strings found in it (possibly empty).  Two real backends ship:

* :class:`ZxingDecoder` - zxing-cpp, QR only, also reads light-on-dark codes; payloads
  in plain text (control bytes stay bytes, not ``<SOH>`` escapes). When zxing-cpp finds
  a symbol it cannot decode (a checksum error: crumpled, curved, smudged), the frame
  goes to an optional second backend, by default zbar; frames without any symbol never do.
* :class:`ZbarDecoder` - pyzbar/libzbar, QR only, on grayscale; can optionally
  retry on the inverted image because zbar itself only reads dark-on-light.

Use :func:`make_decoder` with a configuration name; :data:`DEFAULT_DECODER` is
the backend that won the benchmark in ``docs/benchmarks.md``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DEFAULT_DECODER",
    "DECODERS",
    "Decoder",
    "ZbarDecoder",
    "ZxingDecoder",
    "make_decoder",
    "to_gray",
]

#: Backend chosen by measurement (see docs/decoders.md).
DEFAULT_DECODER = "zxing"


@runtime_checkable
class Decoder(Protocol):
    """Anything that turns a camera frame into QR payload strings."""

    name: str

    def decode(self, frame: np.ndarray) -> list[str]:
        """Return the QR payloads visible in *frame* (empty list if none)."""
        ...


def to_gray(frame: np.ndarray) -> np.ndarray:
    """Return a contiguous uint8 grayscale view of a BGR/BGRA/gray *frame*."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame must be a numpy array, not {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        import cv2  # local: keeps `import hardware.decoder` cheap

        code = cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        return cv2.cvtColor(frame, code)
    raise ValueError(f"unsupported frame shape {frame.shape}")


def _unique(payloads: list[str]) -> list[str]:
    """Drop duplicates (same code found twice, e.g. normal + inverted pass)."""
    return list(dict.fromkeys(payloads))


class ZxingDecoder:
    """zxing-cpp backend restricted to QR codes, in plain text mode.

    ``try_invert`` lets zxing also find light-on-dark ("dark mode") codes, which
    phones in dark theme show; ``try_downscale`` helps with large close-ups.
    ``fallback`` decodes the frames where zxing-cpp detected a QR symbol but could not
    read it; zbar reads some of those (codes on fabric and packaging, measured in
    bench/decoders.py on real photographs). It costs nothing on frames without a symbol.
    """

    name = "zxing"

    def __init__(self, try_invert: bool = True, try_downscale: bool = True,
                 try_rotate: bool = True, fallback: Decoder | None = None) -> None:
        import zxingcpp

        self._zx = zxingcpp
        self.fallback = fallback
        self._options = dict(
            formats=zxingcpp.BarcodeFormat.QRCode,
            try_invert=try_invert,
            try_downscale=try_downscale,
            try_rotate=try_rotate,
            text_mode=zxingcpp.TextMode.Plain,
            return_errors=fallback is not None,
        )

    def decode(self, frame: np.ndarray) -> list[str]:
        """Return QR payloads found by zxing-cpp (or its fallback) in *frame*."""
        gray = to_gray(frame)
        results = self._zx.read_barcodes(gray, **self._options)
        payloads = _unique([r.text for r in results if r.valid])
        if not payloads and results and self.fallback is not None:
            return self.fallback.decode(gray)  # only invalid symbols: seen but unreadable
        return payloads

    def __repr__(self) -> str:
        return f"ZxingDecoder(try_invert={self._options['try_invert']}, fallback={self.fallback!r})"


class ZbarDecoder:
    """pyzbar/libzbar backend restricted to QR codes, run on grayscale.

    zbar only reads dark-on-light codes.  With ``try_invert=True`` the inverted
    image is decoded too, but only when the normal pass found nothing, so the
    extra cost is paid on empty and light-on-dark frames only (measured in
    bench/decoders.py).
    """

    name = "zbar"

    def __init__(self, try_invert: bool = False) -> None:
        from pyzbar import pyzbar

        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]
        self.try_invert = try_invert

    def _decode_gray(self, gray: np.ndarray) -> list[str]:
        found = self._pyzbar.decode(gray, symbols=self._symbols)
        # Payloads are UTF-8 by our pass format; replace rather than crash.
        return [d.data.decode("utf-8", errors="replace") for d in found]

    def decode(self, frame: np.ndarray) -> list[str]:
        """Return QR payloads found by zbar in *frame*."""
        gray = to_gray(frame)
        payloads = self._decode_gray(gray)
        if not payloads and self.try_invert:
            payloads = self._decode_gray(255 - gray)
        return _unique(payloads)

    def __repr__(self) -> str:
        return f"ZbarDecoder(try_invert={self.try_invert})"


#: Names accepted by :func:`make_decoder`.
DECODERS = ("zxing", "zbar")


def make_decoder(name: str | None = None, **options: object) -> Decoder:
    """Build a decoder by configuration *name* (``"zxing"`` or ``"zbar"``).

    ``None`` selects :data:`DEFAULT_DECODER`; *options* go to the backend
    constructor (e.g. ``make_decoder("zbar", try_invert=True)``). ``"zxing"`` falls back
    to zbar (with its inverted pass) on detected-but-unreadable symbols unless
    ``fallback=None`` is given.
    """
    name = DEFAULT_DECODER if name is None else name
    if name == "zxing":
        options.setdefault("fallback", ZbarDecoder(try_invert=True))
        return ZxingDecoder(**options)  # type: ignore[arg-type]
    if name == "zbar":
        return ZbarDecoder(**options)  # type: ignore[arg-type]
    raise ValueError(
        f"unknown QR decoder {name!r}; choose one of: {', '.join(DECODERS)}"
    )
