"""Cameras: real cv2 on real files, vanish-and-return without recreating."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.camera import (
    CameraHealth,
    FolderCamera,
    FrameListCamera,
    OpenCVCamera,
    open_camera,
)
from tests.waiting import PATIENCE_S, poll


def _frame(value: int, size=(64, 48)) -> np.ndarray:
    return np.full((size[1], size[0], 3), value, np.uint8)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "gate.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 50, (64, 48))
    for i in range(10):
        writer.write(_frame(i * 20))
    writer.release()
    return path


def test_frame_list_camera_serves_in_order_then_ends():
    with FrameListCamera([_frame(1), _frame(2)]) as cam:
        assert [int(cam.read()[0, 0, 0]) for _ in range(2)] == [1, 2]
        assert cam.health.state == "ok" and cam.health.frames == 2
        assert cam.read() is None
        assert cam.health.state == "ended"
    assert cam.health.state == "closed"
    cam.close()  # second close is harmless
    assert cam.read() is None


def test_frame_list_loop_and_unplug_replug():
    cam = FrameListCamera([_frame(1), _frame(2)], loop=True)
    assert int(cam.read()[0, 0, 0]) == 1
    cam.unplug()
    assert cam.read() is None
    assert cam.health == CameraHealth("reopening", "camera unplugged", 0, 1)
    cam.replug()
    assert [int(cam.read()[0, 0, 0]) for _ in range(3)] == [2, 1, 2]
    assert cam.health.ok
    cam.close()


def test_frame_list_pacing_uses_injected_clock():
    now = [100.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    cam = FrameListCamera([_frame(i) for i in range(3)], fps=10, clock=lambda: now[0],
                          sleep=sleep)
    assert [int(cam.read()[0, 0, 0]) for _ in range(3)] == [0, 1, 2]
    assert slept == pytest.approx([0.1, 0.1])
    cam.close()


def test_folder_camera_sorted_pngs_and_vanishing_folder(tmp_path: Path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for name, value in [("b.png", 20), ("a.png", 10), ("c.png", 30)]:
        assert cv2.imwrite(str(folder / name), _frame(value))
    (folder / "notes.txt").write_text("ignored")
    cam = FolderCamera(folder)
    assert int(cam.read()[0, 0, 0]) == 10
    hidden = folder.rename(tmp_path / "gone")
    assert cam.read() is None
    assert cam.health.state == "reopening" and "vanished" in cam.health.error
    hidden.rename(folder)
    assert [int(cam.read()[0, 0, 0]) for _ in range(2)] == [20, 30]
    assert cam.health.ok
    assert cam.read() is None and cam.health.state == "ended"
    cam.close()
    cam.close()


def test_folder_camera_skips_unreadable_image(tmp_path: Path):
    cv2.imwrite(str(tmp_path / "1.png"), _frame(5))
    (tmp_path / "2.png").write_bytes(b"not a png")
    cv2.imwrite(str(tmp_path / "3.png"), _frame(7))
    with FolderCamera(tmp_path) as cam:
        assert int(cam.read()[0, 0, 0]) == 5
        assert cam.read() is None
        assert cam.health.error == "unreadable image 2.png"
        assert int(cam.read()[0, 0, 0]) == 7


def test_folder_camera_video_file(video: Path):
    with FolderCamera(video, loop=True) as cam:
        frames = [cam.read() for _ in range(12)]
    assert all(f is not None and f.shape == (48, 64, 3) for f in frames)
    assert [int(round(f[0, 0, 0] / 20)) for f in frames] == [*range(10), 0, 1]


def test_opencv_camera_reads_newest_frames(video: Path):
    with OpenCVCamera(video, backoff_initial=0.01, backoff_max=0.05) as cam:
        first = cam.read(timeout=PATIENCE_S)
        assert first is not None and first.shape == (48, 64, 3)
        assert cam.health.ok
        # The grabber keeps running; the next read is a newer frame, never the same one.
        assert cam.read(timeout=PATIENCE_S) is not first
    assert cam.health.state == "closed"
    assert cam.read(timeout=0.01) is None
    cam.close()


def test_opencv_camera_vanishes_and_returns(video: Path, tmp_path: Path):
    cam = OpenCVCamera(video, backoff_initial=0.01, backoff_max=0.05)
    assert cam.read(timeout=PATIENCE_S) is not None
    away = video.rename(tmp_path / "unplugged.avi")
    # The short video ends, reopening fails: the lane sees it in health.
    assert poll(lambda: cam.health.state == "reopening"
                     and cam.health.reopen_attempts >= 2)
    assert "cannot open camera source" in cam.health.error
    away.rename(video)
    assert poll(lambda: cam.health.ok)
    assert cam.read(timeout=PATIENCE_S) is not None  # same object, frames resume
    assert cam.health.reopen_attempts == 0
    cam.close()
    cam.close()


def test_opencv_camera_gives_up_after_max_attempts(tmp_path: Path):
    cam = OpenCVCamera(tmp_path / "missing.avi", backoff_initial=0.01, max_attempts=3)
    assert poll(lambda: cam.health.state == "failed")
    assert cam.health.reopen_attempts == 3
    assert cam.read(timeout=0.01) is None
    cam.close()


def test_open_camera_from_config(tmp_path: Path, video: Path):
    cv2.imwrite(str(tmp_path / "a.png"), _frame(3))
    with open_camera({"kind": "folder", "source": str(tmp_path), "loop": True}) as cam:
        assert isinstance(cam, FolderCamera) and cam.loop
    with pytest.raises(ValueError, match="unknown camera kind 'frames'; choose opencv, picamera2 or folder"):
        open_camera({"kind": "frames", "frames": [_frame(1)]})  # in-memory frames are not configurable
    with open_camera({"kind": "opencv", "source": str(video), "width": 320}) as cam:
        assert isinstance(cam, OpenCVCamera) and cam.width == 320
    with pytest.raises(ValueError, match="unknown camera kind 'ip'"):
        open_camera({"kind": "ip"})
    with pytest.raises(ValueError, match="needs a 'source'"):
        open_camera({"kind": "opencv"})
    with pytest.raises(ValueError, match="bad camera settings"):
        open_camera({"kind": "folder", "source": "x", "colour": True})
