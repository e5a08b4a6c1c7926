"""The camera module backend on FakePicamera2: grey frames, focus, reopen, busy, missing."""

import numpy as np
import pytest
from click.testing import CliRunner

from hardware.camera import open_camera
from hardware.picamera import FakePicamera2, Picamera2Camera, picamera2_factory
from kiosk.cli.root import cli
from kiosk.sim.demo import create_demo
from tests.conftest import SESSION_START
from tests.waiting import PATIENCE_S, wait_for


@pytest.fixture(autouse=True)
def fake_module():
    FakePicamera2.reset()
    yield FakePicamera2
    FakePicamera2.reset()


def _camera(**options) -> Picamera2Camera:
    return Picamera2Camera(factory=FakePicamera2, backoff_initial=0.01, backoff_max=0.05, **options)


def test_frames_are_the_luma_plane_at_the_configured_size_and_rate():
    luma = np.arange(48 * 64, dtype=np.uint32).reshape(48, 64).astype(np.uint8)
    FakePicamera2.luma = luma
    with _camera(width=64, height=48, fps=20) as camera:
        frame = camera.read(timeout=PATIENCE_S)
        assert frame is not None and frame.shape == (48, 64) and frame.dtype == np.uint8
        assert np.array_equal(frame, luma)  # the Y plane as is: no colour conversion
        assert camera.model == "imx708"
        (opened,) = FakePicamera2.opened
        assert opened.config["main"] == {"size": (64, 48), "format": "YUV420"}
        assert opened.config["controls"] == {"FrameRate": 20.0}
        assert opened.started
    assert opened.closed and not opened.started


def test_autofocus_module_is_focused_for_a_phone_at_arm_length():
    with _camera(focus_m=0.3) as camera:
        assert camera.read(timeout=PATIENCE_S) is not None
    assert FakePicamera2.opened[0].controls == {"AfMode": 0, "LensPosition": pytest.approx(1 / 0.3)}


def test_continuous_autofocus_when_no_distance_is_set():
    with _camera(focus_m=None) as camera:
        assert camera.read(timeout=PATIENCE_S) is not None
    assert FakePicamera2.opened[0].controls == {"AfMode": 2}


def test_fixed_focus_module_gets_no_focus_controls():
    FakePicamera2.connect("imx219", autofocus=False)  # Camera Module 2: no AfMode control
    with _camera() as camera:
        assert camera.read(timeout=PATIENCE_S) is not None
        assert camera.model == "imx219"
    assert FakePicamera2.opened[0].controls == {}


def test_latest_frame_only_a_slow_reader_never_gets_a_stale_frame():
    FakePicamera2.luma = np.full((480, 640), 1, np.uint8)
    with _camera(fps=100) as camera:
        assert camera.read(timeout=PATIENCE_S)[0, 0] == 1
        FakePicamera2.luma = np.full((480, 640), 2, np.uint8)
        wait_for(lambda: (frame := camera.read(timeout=0.5)) is not None and frame[0, 0] == 2)


def test_a_stalled_module_is_reopened_and_frames_resume():
    with _camera(frame_timeout=0.05) as camera:
        assert camera.read(timeout=PATIENCE_S) is not None
        FakePicamera2.stall()
        wait_for(lambda: camera.health.state == "reopening")
        assert "no frame from camera module" in camera.health.error
        FakePicamera2.resume()
        wait_for(lambda: camera.read(timeout=0.5) is not None and camera.health.ok)
        assert len(FakePicamera2.opened) >= 2  # closed and opened anew
        assert all(old.closed for old in FakePicamera2.opened[:-1])


def test_missing_module_and_busy_module_are_said_in_plain_words():
    FakePicamera2.disconnect()
    with _camera(max_attempts=1) as camera:
        wait_for(lambda: camera.health.state == "failed")
        assert camera.health.error == "no camera module connected as camera 0 (0 found; check the ribbon cable)"
    FakePicamera2.reset()
    FakePicamera2.busy = True
    with _camera(max_attempts=1) as camera:
        wait_for(lambda: camera.health.state == "failed")
        assert camera.health.error.startswith("camera module imx708 is busy: another program is using it")


def test_configuration_picks_the_backend_and_refuses_an_unknown_driver():
    camera = open_camera({"kind": "picamera2", "driver": "fake", "width": 320, "height": 240})
    try:
        assert isinstance(camera, Picamera2Camera)
        assert camera.read(timeout=PATIENCE_S).shape == (240, 320)
    finally:
        camera.close()
    camera.close()  # twice is harmless
    with pytest.raises(ValueError, match="unknown picamera2 driver 'usb'"):
        picamera2_factory("usb")


def test_the_real_driver_says_what_to_install_when_picamera2_is_absent():
    try:
        import picamera2  # noqa: F401  (on a Pi: nothing to check here)
    except ImportError:
        with pytest.raises(OSError, match="python3-picamera2 is not installed"):
            picamera2_factory("picamera2")
    else:  # pragma: no cover - only on a Raspberry Pi
        pytest.skip("picamera2 is installed here")


def _doctor_lines(home):
    result = CliRunner().invoke(cli, ["--lang", "en", "--home", str(home), "doctor", "--camera-timeout", "60"])
    return [line for line in result.output.splitlines() if "camera" in line]


@pytest.fixture
def module_gate(tmp_path):
    settings = {"lanes": [{"id": "in", "direction": "in",
                           "camera": {"kind": "picamera2", "driver": "fake", "width": 320, "height": 240}}]}
    return create_demo(tmp_path / "demo", SESSION_START, gate_settings=settings).gate_home


def test_doctor_names_the_module_and_says_missing_or_busy(module_gate):
    assert _doctor_lines(module_gate) == ["[OK] Lane in: camera module imx708 works (320x240)"]
    FakePicamera2.disconnect()
    assert _doctor_lines(module_gate) == [
        "[ERROR] Lane in: camera 0 does not work: no camera module connected as camera 0 (0 found; "
        "check the ribbon cable)"]
    FakePicamera2.reset()
    FakePicamera2.busy = True
    (line,) = _doctor_lines(module_gate)
    assert line.startswith("[ERROR] Lane in: camera 0 does not work: camera module imx708 is busy")


def _doctor_voice_lines(home):
    result = CliRunner().invoke(cli, ["--lang", "en", "--home", str(home), "doctor", "--camera-timeout", "1"])
    return [line for line in result.output.splitlines() if "Voice prompts" in line]


def test_doctor_checks_the_configured_audio_device(tmp_path):
    """[voice] device: ALSA's null device plays (alsa-utils is a test package); a card that is not
    there is named with aplay's own words. Voice off: no line at all."""
    def gate(name, voice):
        return create_demo(tmp_path / name, SESSION_START, gate_settings={"voice": voice}).gate_home

    assert _doctor_voice_lines(gate("null", {"enabled": True, "device": "null"})) == [
        "[OK] Voice prompts: espeak-ng is ready and ALSA device null plays"]
    (line,) = _doctor_voice_lines(gate("missing", {"enabled": True, "device": "plughw:CARD=NoSuchCard,DEV=0"}))
    assert line.startswith("[ERROR] Voice prompts cannot play on ALSA device plughw:CARD=NoSuchCard,DEV=0: aplay: ")
    assert _doctor_voice_lines(gate("off", {"enabled": False})) == []
