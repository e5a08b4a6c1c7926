"""Real segno-rendered codes decoded by the real zxing-cpp and zbar backends."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.decoder import (
    DEFAULT_DECODER,
    Decoder,
    ZbarDecoder,
    ZxingDecoder,
    make_decoder,
)
from hardware.frames import compose_frame, render_qr

PAYLOAD = "PASS1.eyJ1IjoiQTEyIn0.MEUCIQDx9sQ3kq2b7Yf0aLwH1xv3fZp8uJk2c7W1aQ"
BACKENDS = ["zxing", "zbar"]


@pytest.fixture(params=BACKENDS)
def decoder(request) -> Decoder:
    return make_decoder(request.param)


def test_plain_rendered_code(decoder):
    assert decoder.decode(render_qr(PAYLOAD, scale=4)) == [PAYLOAD]


def test_bgr_camera_frame(decoder):
    frame = compose_frame(PAYLOAD, (640, 480), "plain", seed=1)
    assert frame.shape == (480, 640, 3)
    assert decoder.decode(frame) == [PAYLOAD]


def test_tilted_code(decoder):
    frame = compose_frame(PAYLOAD, (640, 480), "tilt", seed=2)
    assert decoder.decode(frame) == [PAYLOAD]


@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
def test_empty_frame_gives_nothing(decoder, size):
    assert decoder.decode(compose_frame(None, size, "plain", seed=3)) == []


def test_too_blurred_gives_nothing(decoder):
    frame = compose_frame(PAYLOAD, (640, 480), "too_blurred", seed=4)
    assert decoder.decode(frame) == []


def test_light_on_dark_zxing():
    frame = compose_frame(PAYLOAD, (640, 480), "dark_mode", seed=5)
    assert ZxingDecoder().decode(frame) == [PAYLOAD]
    # Without try_invert zxing behaves like zbar: it needs dark-on-light.
    assert ZxingDecoder(try_invert=False).decode(frame) == []


def test_light_on_dark_zbar_needs_inverted_pass():
    frame = compose_frame(PAYLOAD, (640, 480), "dark_mode", seed=5)
    # libzbar itself does not read light-on-dark codes ...
    assert ZbarDecoder().decode(frame) == []
    # ... our optional second pass on the inverted image does.
    assert ZbarDecoder(try_invert=True).decode(frame) == [PAYLOAD]


def test_grayscale_and_unicode_payload(decoder):
    text = "Gäste-Pass №7 ✓"
    assert decoder.decode(render_qr(text, scale=5)) == [text]


def test_two_codes_in_one_frame(decoder):
    a, b = render_qr("A-1", scale=4), render_qr("B-2", scale=4)
    frame = np.full((a.shape[0], a.shape[1] + b.shape[1] + 40), 255, np.uint8)
    frame[:, : a.shape[1]] = a
    frame[: b.shape[0], a.shape[1] + 40:] = b
    assert sorted(decoder.decode(frame)) == ["A-1", "B-2"]


def test_make_decoder_names_and_default():
    assert isinstance(make_decoder("zxing"), ZxingDecoder)
    assert isinstance(make_decoder("zbar"), ZbarDecoder)
    assert make_decoder().name == DEFAULT_DECODER
    assert make_decoder("zbar", try_invert=True).try_invert is True


def test_unknown_decoder_name():
    with pytest.raises(ValueError, match=r"unknown QR decoder 'quirc'.*zxing, zbar"):
        make_decoder("quirc")


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.float32), np.zeros((4, 4, 2), np.uint8)])
def test_bad_frames_rejected(bad):
    with pytest.raises(ValueError):
        ZxingDecoder().decode(bad)


def test_control_bytes_come_back_as_bytes_not_escapes():
    # zxing-cpp's default text mode would give "GK1<SOH>x<DLE>y" for this payload
    text = "GK1\x01x\x10y"
    assert ZxingDecoder().decode(render_qr(text, scale=4)) == [text]


PHOTOS = Path(__file__).resolve().parents[1] / "data" / "qr-photos"


def photo(name: str) -> tuple[np.ndarray, str]:
    image = cv2.imread(str(PHOTOS / f"{name}.webp"), cv2.IMREAD_COLOR)
    return image, (PHOTOS / f"{name}.txt").read_text(encoding="utf-8")


class CountingDecoder:
    """A real zbar decoder that counts how often it is asked (the fallback's cost)."""

    name = "zbar"

    def __init__(self) -> None:
        self.calls = 0
        self.zbar = ZbarDecoder(try_invert=True)

    def decode(self, frame: np.ndarray) -> list[str]:
        self.calls += 1
        return self.zbar.decode(frame)


def test_fallback_reads_a_crumpled_code_zxing_sees_but_cannot_read():
    image, expected = photo("qrcode-4-08")  # a crumpled paper code, photographed
    assert ZxingDecoder().decode(image) == []
    fallback = CountingDecoder()
    assert ZxingDecoder(fallback=fallback).decode(image) == [expected]
    assert fallback.calls == 1
    assert make_decoder("zxing").decode(image) == [expected]  # the default has the fallback


def test_fallback_not_asked_on_empty_or_readable_frames():
    fallback = CountingDecoder()
    decoder = ZxingDecoder(fallback=fallback)
    for seed in range(6):
        assert decoder.decode(compose_frame(None, (640, 480), "plain", seed=seed)) == []
    image, expected = photo("qrcode-4-01")
    assert decoder.decode(image) == [expected]
    assert decoder.decode(compose_frame(PAYLOAD, (640, 480), "plain", seed=1)) == [PAYLOAD]
    assert fallback.calls == 0
