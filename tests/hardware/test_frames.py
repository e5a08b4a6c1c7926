"""Synthetic frames are deterministic and carry correct ground truth."""

import numpy as np
import pytest

from hardware.frames import DEGRADATIONS, compose_frame, make_corpus, render_qr


def test_render_qr_is_level_m_with_quiet_zone():
    img = render_qr("HELLO", scale=3, border=4)
    assert img.dtype == np.uint8 and img.shape == (87, 87)  # version 1: (21 + 2*4) * 3
    assert set(np.unique(img)) == {0, 255}
    assert (img[:12, :] == 255).all()  # 4-module quiet zone


def test_compose_is_deterministic_per_seed():
    a = compose_frame("X", (640, 480), ("tilt", "glare"), seed=7)
    b = compose_frame("X", (640, 480), ("tilt", "glare"), seed=7)
    c = compose_frame("X", (640, 480), ("tilt", "glare"), seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("degradation", DEGRADATIONS)
def test_every_degradation_gives_a_frame(degradation):
    frame = compose_frame("X", (1280, 720), degradation, seed=1)
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8


def test_unknown_degradation():
    with pytest.raises(ValueError, match="fisheye"):
        compose_frame("X", degradation="fisheye")


def test_corpus_ground_truth():
    corpus = make_corpus(["A", "B"], 12, seed=3, empty_fraction=0.25)
    assert len(corpus) == 12
    assert {f.size for f in corpus} == {(640, 480), (1280, 720)}
    assert all(f.image.shape[:2] == f.size[::-1] for f in corpus)
    assert {f.expected for f in corpus} <= {"A", "B", None}
    assert any(f.expected is None for f in corpus)
    assert all("too_blurred" not in f.degradation for f in corpus)
