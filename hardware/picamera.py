"""The Raspberry Pi camera module (CSI ribbon cable) through Picamera2 / libcamera.

On Raspberry Pi OS Bookworm the camera module is driven by libcamera, which OpenCV's
``VideoCapture(0)`` does not see. :class:`Picamera2Camera` reads it through Debian's
``python3-picamera2`` (imported only when this camera is configured), on the background
thread of :class:`~hardware.camera.GrabberCamera`: newest frame only, lost camera reopened
with backoff. Frames are the Y (luma) plane of a YUV420 stream: already the grey image the
decoders want, so no colour conversion is paid per frame.

:class:`FakePicamera2` stands in for ``picamera2.Picamera2`` with the methods this backend
calls (as gpiozero's MockFactory stands in for pins); its class-level test hooks say which
module is "connected", make it busy or unplug it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hardware.camera import GrabberCamera

__all__ = ["FakePicamera2", "Picamera2Camera", "camera_model", "picamera2_factory"]

# libcamera's AfMode values (controls.AfModeEnum): 0 manual, 2 continuous.
AF_MODE_MANUAL = 0
AF_MODE_CONTINUOUS = 2


def picamera2_factory(driver: str = "picamera2") -> Callable[..., Any]:
    """The ``Picamera2`` class: the real one (Debian's python3-picamera2) or the fake."""
    if driver == "fake":
        return FakePicamera2
    if driver != "picamera2":
        raise ValueError(f"unknown picamera2 driver {driver!r}; choose picamera2 or fake")
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        raise OSError("python3-picamera2 is not installed (sudo apt install python3-picamera2; "
                      "the venv must be made with --system-site-packages)") from exc
    return Picamera2


def camera_model(factory: Callable[..., Any], number: int) -> str:
    """The sensor model of camera *number* (e.g. ``imx708``); OSError when none is connected."""
    cameras = factory.global_camera_info()
    if number >= len(cameras):
        raise OSError(f"no camera module connected as camera {number} "
                      f"({len(cameras)} found; check the ribbon cable)")
    return str(cameras[number].get("Model", "unknown"))


class Picamera2Camera(GrabberCamera):
    """Camera module *number* at *width* x *height*, *fps* frames a second, grey frames.

    *focus_m* sets the lens of an autofocus module (Camera Module 3) to that distance in
    metres (0.3 suits a phone held 20-40 cm away); None leaves continuous autofocus on.
    Fixed-focus modules (v1, v2, HQ) have no ``AfMode`` control: the setting is skipped.
    *factory* is the ``Picamera2`` class, passed in the gpiozero way (the fake in tests).
    """

    def __init__(self, number: int = 0, width: int = 640, height: int = 480, fps: float = 15.0,
                 focus_m: float | None = 0.3, *, backoff_initial: float = 0.5,
                 backoff_max: float = 30.0, max_attempts: int | None = None,
                 frame_timeout: float = 2.0, factory: Callable[..., Any] | None = None) -> None:
        super().__init__(f"picamera2-{number}", backoff_initial=backoff_initial,
                         backoff_max=backoff_max, max_attempts=max_attempts)
        if width <= 0 or height <= 0 or fps <= 0:
            raise ValueError("width, height and fps must be positive")
        if focus_m is not None and focus_m <= 0:
            raise ValueError("focus_m must be a positive distance in metres")
        self.number, self.width, self.height, self.fps = number, width, height, fps
        self.focus_m, self.frame_timeout = focus_m, frame_timeout
        self.factory = factory or picamera2_factory()
        self.model: str | None = None
        self._start()

    def _open(self) -> Any:
        self.model = camera_model(self.factory, self.number)
        try:
            camera = self.factory(self.number)
        except RuntimeError as exc:  # libcamera: "Failed to acquire camera: Device or resource busy"
            if "busy" not in str(exc).lower():
                raise
            raise OSError(f"camera module {self.model} is busy: another program is using it "
                          "(a second kiosk-gate, rpicam-hello?)") from exc
        try:
            config = camera.create_video_configuration(
                main={"size": (self.width, self.height), "format": "YUV420"},
                controls={"FrameRate": float(self.fps)}, buffer_count=2)
            camera.configure(config)
            camera.set_controls(self._focus_controls(camera))
            camera.start()
        except Exception:
            camera.close()
            raise
        return camera

    def _focus_controls(self, camera: Any) -> dict[str, Any]:
        if "AfMode" not in camera.camera_controls:
            return {}
        if self.focus_m is None:
            return {"AfMode": AF_MODE_CONTINUOUS}
        return {"AfMode": AF_MODE_MANUAL, "LensPosition": 1.0 / self.focus_m}  # dioptres

    def _close_device(self, camera: Any) -> None:
        try:
            camera.stop()
        finally:
            camera.close()

    def _grab_until_lost(self, camera: Any) -> str:
        while not self._stop.is_set():
            try:
                job = camera.capture_array("main", wait=False)
                yuv = camera.wait(job, timeout=self.frame_timeout)
            except TimeoutError:
                return f"no frame from camera module within {self.frame_timeout} s"
            except Exception as exc:  # libcamera errors when the ribbon is pulled
                return f"read error: {exc}"
            self._publish(np.ascontiguousarray(yuv[:self.height, :self.width]))
        return "closed"


class FakePicamera2:
    """A stand-in for ``picamera2.Picamera2``: the calls :class:`Picamera2Camera` makes.

    Test hooks, on the class because the backend builds its own instances:
    ``FakePicamera2.connect("imx708", autofocus=True)``, ``FakePicamera2.disconnect()``,
    ``FakePicamera2.busy = True``, ``FakePicamera2.stall()`` (frames stop: a pulled
    ribbon), ``FakePicamera2.resume()``. ``FakePicamera2.opened`` lists every instance;
    each keeps the configuration and controls it was given. Frames are YUV420 buffers
    whose luma is ``FakePicamera2.luma`` (a grey picture unless a test sets one).
    """

    modules: list[dict[str, Any]] = [{"Model": "imx708", "Num": 0, "autofocus": True}]
    busy = False
    luma: np.ndarray | None = None
    opened: list[FakePicamera2] = []
    _flowing = threading.Event()
    _flowing.set()
    _in_use: set[int] = set()

    @classmethod
    def reset(cls) -> None:
        cls.connect("imx708", autofocus=True)
        cls.busy, cls.luma, cls.opened = False, None, []
        cls._in_use = set()
        cls._flowing.set()

    @classmethod
    def connect(cls, model: str, autofocus: bool = False) -> None:
        cls.modules = [{"Model": model, "Num": 0, "autofocus": autofocus}]

    @classmethod
    def disconnect(cls) -> None:
        cls.modules = []

    @classmethod
    def stall(cls) -> None:
        cls._flowing.clear()

    @classmethod
    def resume(cls) -> None:
        cls._flowing.set()

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return [{key: value for key, value in module.items() if key != "autofocus"}
                for module in FakePicamera2.modules]

    def __init__(self, camera_num: int = 0) -> None:
        if camera_num >= len(self.modules):
            raise IndexError("list index out of range")  # what Picamera2 itself raises
        if self.busy or camera_num in self._in_use:
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        self._in_use.add(camera_num)
        self.number = camera_num
        module = self.modules[camera_num]
        self.camera_properties = {"Model": module["Model"]}
        self.camera_controls: dict[str, Any] = {"FrameRate": (1.0, 120.0, 30.0)}
        if module["autofocus"]:
            self.camera_controls.update(AfMode=(0, 2, 0), LensPosition=(0.0, 15.0, 1.0))
        self.config: dict[str, Any] | None = None
        self.controls: dict[str, Any] = {}
        self.started = self.closed = False
        self.opened.append(self)

    def create_video_configuration(self, main: dict[str, Any], controls: dict[str, Any] | None = None,
                                   buffer_count: int = 6) -> dict[str, Any]:
        return {"use_case": "video", "main": dict(main), "controls": dict(controls or {}),
                "buffer_count": buffer_count}

    def configure(self, config: dict[str, Any]) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        self.config = config

    def set_controls(self, controls: dict[str, Any]) -> None:
        unknown = set(controls) - set(self.camera_controls)
        if unknown:
            raise RuntimeError(f"Control {sorted(unknown)[0]} is not advertised by libcamera")
        self.controls.update(controls)

    def start(self) -> None:
        if self.config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.started, self.closed = False, True
        self._in_use.discard(self.number)

    def capture_array(self, name: str = "main", wait: bool | None = None) -> Any:
        if not self.started:
            raise RuntimeError("Camera is not running")
        return name  # the "job": wait() makes the array

    def wait(self, job: Any, timeout: float | None = None) -> np.ndarray:
        if not self._flowing.wait(timeout):
            raise TimeoutError("timed out waiting for a frame")
        time.sleep(1.0 / self.config["controls"].get("FrameRate", 30.0))  # a sensor's frame period
        width, height = self.config["main"]["size"]
        luma = self.luma if self.luma is not None else np.full((height, width), 128, np.uint8)
        chroma = np.full((height // 2, width), 128, np.uint8)  # U and V planes, quarter size each
        return np.vstack([luma, chroma])
