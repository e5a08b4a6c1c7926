"""Synthetic kiosk camera frames with real, segno-rendered QR codes.

Used by tests, the simulator and ``bench/decoders.py``.  A frame shows a phone
(dark body, bright or dark screen) carrying the pass code, pasted with a
perspective warp into a cluttered, noisy scene, then degraded the way a cheap
gate camera degrades it.  Everything is deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import segno

__all__ = [
    "CORPUS_DEGRADATIONS",
    "DEGRADATIONS",
    "CorpusFrame",
    "compose_frame",
    "make_corpus",
    "render_qr",
]

#: Every degradation :func:`compose_frame` understands.
DEGRADATIONS = (
    "plain", "tilt", "blur", "motion", "glare", "low_contrast", "dark_mode",
    "too_blurred",
)
#: Degradations a decoder is expected to cope with (corpus default).
CORPUS_DEGRADATIONS = DEGRADATIONS[:-1]


def render_qr(payload: str, scale: int = 4, border: int = 4,
              dark: int = 0, light: int = 255) -> np.ndarray:
    """Render *payload* as a QR code (error correction M) to a uint8 image.

    *scale* is pixels per module, *border* the quiet zone in modules.  Error
    boosting is off so the symbol really is level M, as the pass printer makes it.
    """
    if scale < 1 or border < 0:
        raise ValueError("scale must be >= 1 and border >= 0")
    qr = segno.make_qr(payload, error="m", boost_error=False)
    modules = np.array(list(qr.matrix_iter(scale=scale, border=border)), dtype=bool)
    return np.where(modules, dark, light).astype(np.uint8)


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A gate-booth-like clutter: gradient, shapes, lines and text."""
    base = rng.uniform(40, 200, size=3)
    ramp = np.linspace(-40, 40, w)[None, :, None] * rng.uniform(-1, 1)
    img = np.clip(base + ramp + np.zeros((h, w, 3)), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(12, 30))):
        color = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x1, x2 = sorted(rng.integers(0, w, size=2))
        y1, y2 = sorted(rng.integers(0, h, size=2))
        kind = rng.integers(0, 3)
        if kind == 0:
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), color, -1)
        elif kind == 1:
            cv2.line(img, (int(x1), int(y2)), (int(x2), int(y1)), color,
                     int(rng.integers(1, 6)))
        else:
            cv2.putText(img, "GATE 2 EXIT", (int(x1), int(y2)),
                        cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.5, 2)), color, 2)
    return img


def _phone(code: np.ndarray | None, dark_mode: bool, contrast: tuple[int, int],
           rng: np.random.Generator) -> np.ndarray:
    """A phone image (gray) with the *code* centred on its screen."""
    side = code.shape[0] if code is not None else int(rng.integers(120, 240))
    screen_w, screen_h = int(side * 1.15), int(side * 1.9)
    bezel = max(4, side // 12)
    phone = np.full((screen_h + 2 * bezel, screen_w + 2 * bezel), 25, np.uint8)
    screen_value = contrast[0] if dark_mode else contrast[1]
    phone[bezel:-bezel, bezel:-bezel] = screen_value
    if code is not None:
        top = bezel + (screen_h - side) // 3
        left = bezel + (screen_w - side) // 2
        phone[top:top + side, left:left + side] = code
    return phone


def _code_image(payload: str, side_px: int, dark_mode: bool,
                contrast: tuple[int, int]) -> np.ndarray:
    dark, light = contrast
    if dark_mode:  # phone dark theme: light modules on a dark screen
        dark, light = light, dark
    code = render_qr(payload, scale=1, border=4, dark=dark, light=light)
    return cv2.resize(code, (side_px, side_px), interpolation=cv2.INTER_NEAREST)


def _place(phone: np.ndarray, w: int, h: int, tilt: bool,
           rng: np.random.Generator) -> np.ndarray:
    """Destination quad of the phone in the frame (corners, clockwise)."""
    ph, pw = phone.shape
    scale = min(1.0, 0.9 * h / ph, 0.9 * w / pw)
    qw, qh = pw * scale, ph * scale
    cx = rng.uniform(qw / 2 + 5, w - qw / 2 - 5)
    cy = rng.uniform(qh / 2 + 5, h - qh / 2 - 5)
    quad = np.array([[-qw, -qh], [qw, -qh], [qw, qh], [-qw, qh]]) / 2
    angle = np.deg2rad(rng.uniform(-25, 25) if tilt else rng.uniform(-4, 4))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = quad @ rot.T
    if tilt:  # perspective: phone held at an angle to the lens
        quad += rng.uniform(-0.12, 0.12, size=(4, 2)) * [qw, qh]
    return (quad + [cx, cy]).astype(np.float32)


def _paste(frame: np.ndarray, phone: np.ndarray, quad: np.ndarray) -> None:
    ph, pw = phone.shape
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, quad)
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpPerspective(phone, m, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full_like(phone, 255), m, size) > 127
    frame[mask] = warped[mask][:, None]


def _motion_kernel(length: int, angle_deg: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle_deg, 1.0)
    k = cv2.warpAffine(k, rot, (length, length))
    return k / k.sum()


def _glare(frame: np.ndarray, quad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add a specular highlight from the booth lamp somewhere on the phone."""
    h, w = frame.shape[:2]
    centre = quad.mean(axis=0) + rng.uniform(-0.3, 0.3, 2) * np.ptp(quad, axis=0)
    radius = float(np.ptp(quad[:, 0])) * rng.uniform(0.08, 0.18)
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius ** 2))
    boost = blob * rng.uniform(140, 230)
    return np.clip(frame.astype(np.float32) + boost[..., None], 0, 255).astype(np.uint8)


def _sensor(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise plus MJPG compression, as a USB webcam delivers frames."""
    noise = rng.normal(0, rng.uniform(2, 6), frame.shape)
    noisy = np.clip(frame + noise, 0, 255).astype(np.uint8)
    quality = int(rng.integers(60, 90))
    ok, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # encoding an in-memory uint8 image cannot fail; be safe anyway
        return noisy
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _normalise(degradation: str | Iterable[str]) -> frozenset[str]:
    names = frozenset([degradation] if isinstance(degradation, str) else degradation)
    unknown = names - set(DEGRADATIONS)
    if unknown:
        raise ValueError(f"unknown degradation(s) {sorted(unknown)}; known: {DEGRADATIONS}")
    return names


def compose_frame(payload: str | None, size: tuple[int, int] = (640, 480),
                  degradation: str | Iterable[str] = "plain",
                  seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """Return a BGR uint8 frame of *size* (width, height).

    *payload* ``None`` gives an empty scene (sometimes with a blank phone).
    *degradation* is one name or several from :data:`DEGRADATIONS`.
    """
    names = _normalise(degradation)
    rng = _rng(seed)
    w, h = size
    frame = _background(rng, w, h)
    contrast = (int(rng.integers(95, 115)), int(rng.integers(150, 170))) \
        if "low_contrast" in names else (int(rng.integers(0, 30)), int(rng.integers(220, 256)))
    dark_mode = "dark_mode" in names
    side = int(min(w, h) * rng.uniform(0.28, 0.42))
    code = _code_image(payload, side, dark_mode, contrast) if payload is not None else None
    quad = None
    if payload is not None or rng.random() < 0.5:
        phone = _phone(code, dark_mode, contrast, rng)
        quad = _place(phone, w, h, "tilt" in names, rng)
        _paste(frame, phone, quad)
    return _degrade(frame, names, quad, side, rng)


def _degrade(frame: np.ndarray, names: frozenset[str], quad: np.ndarray | None,
             side: int, rng: np.random.Generator) -> np.ndarray:
    if "glare" in names and quad is not None:
        frame = _glare(frame, quad, rng)
    if "blur" in names:
        frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(1.0, 1.8))
    if "motion" in names:
        frame = cv2.filter2D(frame, -1, _motion_kernel(int(rng.integers(5, 9)),
                                                       rng.uniform(0, 180)))
    if "too_blurred" in names:
        # Blur radius of several modules: no decoder can recover this.
        frame = cv2.GaussianBlur(frame, (0, 0), side / 12)
    return _sensor(frame, rng)


@dataclass(frozen=True)
class CorpusFrame:
    """One benchmark/test frame with its ground truth."""

    image: np.ndarray
    expected: str | None
    degradation: tuple[str, ...]
    size: tuple[int, int]


def make_corpus(payloads: Sequence[str], n: int,
                sizes: Sequence[tuple[int, int]] = ((640, 480), (1280, 720)),
                seed: int = 0, empty_fraction: float = 0.2,
                degradations: Sequence[str] = CORPUS_DEGRADATIONS) -> list[CorpusFrame]:
    """Build *n* frames cycling through *sizes* and *payloads*.

    About *empty_fraction* of frames have no code (expected ``None``); the rest
    get one degradation from *degradations*, sometimes combined with a second
    one, as real frames rarely suffer from only one problem.
    """
    if not payloads or n < 0 or not sizes:
        raise ValueError("need at least one payload and size, and n >= 0")
    rng = np.random.default_rng(seed)
    corpus = []
    for i in range(n):
        size = tuple(sizes[i % len(sizes)])
        if rng.random() < empty_fraction:
            payload, names = None, ("plain",)
        else:
            payload = payloads[i % len(payloads)]
            names = tuple(sorted(set(rng.choice(degradations, size=int(rng.integers(1, 3))))))
        image = compose_frame(payload, size, names, rng)
        corpus.append(CorpusFrame(image, payload, names, size))  # type: ignore[arg-type]
    return corpus
