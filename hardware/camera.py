"""Camera sources: a real OpenCV camera and simulated ones for tests/demo.

All cameras share one small surface (see :class:`Camera`):

* ``read(timeout=...)`` returns the newest frame as a BGR ``numpy`` array, or
  ``None`` if no new frame arrived in time.  It never raises for device
  trouble; that is reported through ``health`` instead, so the lane loop keeps
  running and the status page can show what is wrong.
* ``health`` is a :class:`CameraHealth` (``state`` in ``"starting"``, ``"ok"``,
  ``"reopening"``, ``"failed"``, ``"ended"``, ``"closed"`` plus the last error).
* ``close()`` is idempotent; cameras are context managers.

:class:`OpenCVCamera` runs a grabber thread that keeps only the newest frame,
so the kiosk never decides on a stale frame queued in a driver buffer, and
reopens a vanished device with bounded exponential backoff.
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Camera",
    "CameraHealth",
    "FolderCamera",
    "FrameListCamera",
    "OpenCVCamera",
    "open_camera",
]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class CameraHealth:
    """Snapshot of a camera's condition for the lane loop and status pages."""

    state: str = "starting"
    error: str | None = None
    reopen_attempts: int = 0
    frames: int = 0

    @property
    def ok(self) -> bool:
        """True when frames are flowing."""
        return self.state == "ok"

    def __str__(self) -> str:
        return self.state if not self.error else f"{self.state}: {self.error}"


class Camera(ABC):
    """Common base: health bookkeeping, idempotent close, context manager."""

    def __init__(self) -> None:
        self._health = CameraHealth()
        self._health_lock = threading.Lock()
        self._closed = False

    @property
    def health(self) -> CameraHealth:
        """Current :class:`CameraHealth`."""
        with self._health_lock:
            return self._health

    def _set_health(self, **changes: Any) -> None:
        with self._health_lock:
            self._health = replace(self._health, **changes)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @abstractmethod
    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        """Return the newest unseen frame, or None if none arrived in *timeout*."""

    def close(self) -> None:
        """Release the source; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._release()
        self._set_health(state="closed")

    def _release(self) -> None:
        """Subclass hook: free the underlying resource (called once)."""

    def __enter__(self) -> "Camera":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            self.close()
        except Exception:
            pass


def _is_url(source: object) -> bool:
    return isinstance(source, str) and "://" in source


class GrabberCamera(Camera):
    """A device read on a background thread that keeps only the newest frame.

    Subclasses open the device (:meth:`_open`, raising when it is not there), read it
    until it is lost (:meth:`_grab_until_lost`, calling :meth:`_publish` per frame)
    and release it (:meth:`_close_device`). This class reopens a lost device with
    exponential backoff from ``backoff_initial`` doubling up to ``backoff_max``
    seconds; with ``max_attempts`` set it gives up after that many failed opens and
    health becomes ``"failed"``.
    """

    def __init__(self, name: str, *, backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 max_attempts: int | None = None) -> None:
        super().__init__()
        if backoff_initial <= 0 or backoff_max < backoff_initial:
            raise ValueError("need 0 < backoff_initial <= backoff_max")
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.max_attempts = max_attempts
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._delivered = 0
        self._stop = threading.Event()
        self._gave_up = False
        self._thread = threading.Thread(target=self._run, name=f"camera-{name}", daemon=True)

    def _start(self) -> None:
        """Start the grabber; subclasses call this at the end of their ``__init__``."""
        self._thread.start()

    @abstractmethod
    def _open(self) -> Any:
        """Open and configure the device; raise when it is not there."""

    @abstractmethod
    def _grab_until_lost(self, device: Any) -> str:
        """Publish frames until the device stops or the camera closes; return why it stopped."""

    @abstractmethod
    def _close_device(self, device: Any) -> None:
        """Release what :meth:`_open` returned."""

    def _run(self) -> None:
        attempts = 0
        while not self._stop.is_set():
            try:
                device = self._open()
            except Exception as exc:  # cv2.error, OSError, RuntimeError, driver oddities
                attempts += 1
                if self.max_attempts is not None and attempts >= self.max_attempts:
                    self._set_health(state="failed", error=str(exc), reopen_attempts=attempts)
                    with self._cond:  # a reader waiting for a frame need not wait any longer
                        self._gave_up = True
                        self._cond.notify_all()
                    return
                self._set_health(state="reopening", error=str(exc), reopen_attempts=attempts)
                delay = min(self.backoff_initial * 2 ** (attempts - 1), self.backoff_max)
                self._stop.wait(delay)
                continue
            attempts = 0
            error = self._grab_until_lost(device)
            try:
                self._close_device(device)
            except Exception:  # a device that vanished may fail to close; it is gone either way
                pass
            if not self._stop.is_set():
                self._set_health(state="reopening", error=error)

    def _publish(self, frame: np.ndarray) -> None:
        with self._cond:
            self._frame = frame
            self._seq += 1
            self._cond.notify_all()
        health = self.health
        self._set_health(state="ok", error=None, reopen_attempts=0, frames=health.frames + 1)

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        """Return the newest frame not returned before, waiting up to *timeout*."""
        with self._cond:
            got = self._cond.wait_for(lambda: self._seq > self._delivered or self._closed or self._gave_up,
                                      timeout=timeout)
            if not got or self._closed or self._seq == self._delivered:
                return None
            self._delivered = self._seq
            return self._frame

    def _release(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)


class OpenCVCamera(GrabberCamera):
    """A camera read through ``cv2.VideoCapture`` on a background thread.

    *source* is a device index (``0``), a V4L2 path (``/dev/video0``), an
    RTSP/HTTP URL or a video file.  A video file is paced at its own frame rate
    (or *fps*) and replays when it ends, like a looping feed. A device that stops
    delivering (unplugged, network drop) is reopened as :class:`GrabberCamera` says.
    *capture_factory* (``cv2.VideoCapture`` by default) is the hardware object
    maker, passed in the gpiozero way so other capture back ends can be used.
    """

    def __init__(self, source: int | str, width: int | None = 640,
                 height: int | None = 480, fps: float | None = None,
                 exposure: float | None = None, mjpg: bool = False, *,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 max_attempts: int | None = None, read_failures: int = 3,
                 capture_factory: Callable[..., Any] | None = None) -> None:
        super().__init__(str(source), backoff_initial=backoff_initial, backoff_max=backoff_max,
                         max_attempts=max_attempts)
        if isinstance(source, str) and source.isdigit():
            source = int(source)  # "0" from a config file means device 0
        self.source = source
        self.width, self.height, self.fps = width, height, fps
        self.exposure, self.mjpg = exposure, mjpg
        self.read_failures = read_failures
        self._factory = capture_factory
        self._is_file = isinstance(source, (str, os.PathLike)) and not _is_url(source) \
            and not str(source).startswith("/dev/")
        self._start()

    def _open(self) -> Any:
        """Open and configure the capture; raise OSError if it is not there."""
        import cv2

        # A missing camera is reported through .health; OpenCV's own warnings on every
        # reopen attempt would only flood the journal.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        factory = self._factory or cv2.VideoCapture
        if self._factory is None and isinstance(self.source, int):
            cap = factory(self.source, cv2.CAP_V4L2 if os.name == "posix" else cv2.CAP_ANY)
        else:
            cap = factory(str(self.source) if isinstance(self.source, os.PathLike)
                          else self.source)
        if not cap.isOpened():
            cap.release()
            raise OSError(f"cannot open camera source {self.source!r}")
        self._configure(cap, cv2)
        return cap

    def _configure(self, cap: Any, cv2: Any) -> None:
        """Apply requested properties; drivers may silently ignore some."""
        if self.mjpg:  # set first: many UVC cams only offer high res as MJPG
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if self.width and not self._is_file:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height and not self._is_file:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps and not self._is_file:
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        if self.exposure is not None:
            cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)  # V4L2: 1 = manual
            cap.set(cv2.CAP_PROP_EXPOSURE, self.exposure)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer stale frames in the driver
        self._period = 0.0
        if self._is_file:  # pace files like a camera instead of racing through
            rate = self.fps or cap.get(cv2.CAP_PROP_FPS) or 25.0
            self._period = 1.0 / rate

    def _close_device(self, cap: Any) -> None:
        cap.release()

    def _grab_until_lost(self, cap: Any) -> str:
        failures = 0
        while not self._stop.is_set():
            try:
                ok, frame = cap.read()
            except Exception as exc:
                ok, frame, why = False, None, f"read error: {exc}"
            else:
                why = "end of video" if self._is_file else "no frame from device"
            if not ok or frame is None:
                failures += 1
                if self._is_file or failures >= self.read_failures:
                    return why
                continue
            failures = 0
            self._publish(frame)
            if self._period:
                self._stop.wait(self._period)
        return "closed"


class _SimulatedCamera(Camera):
    """Shared logic of the fakes: pacing, looping and unplug/replug hooks."""

    def __init__(self, fps: float | None, loop: bool,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        if fps is not None and fps <= 0:
            raise ValueError("fps must be positive")
        self.fps, self.loop = fps, loop
        self._clock, self._sleep = clock, sleep
        self._index = 0
        self._next_due: float | None = None
        self._unplugged = False

    def unplug(self) -> None:
        """Test hook: behave like a camera whose cable was pulled."""
        self._unplugged = True
        self._set_health(state="reopening", error="camera unplugged")

    def replug(self) -> None:
        """Test hook: the camera is back; frames resume where they stopped."""
        self._unplugged = False
        self._set_health(state="starting", error=None)

    def _pace(self, timeout: float) -> bool:
        """Wait for the next frame slot when fps is set; False if it is too far."""
        if self.fps is None:
            return True
        now = self._clock()
        due = now if self._next_due is None else self._next_due
        if due - now > timeout:
            self._sleep(timeout)
            return False
        if due > now:
            self._sleep(due - now)
        self._next_due = max(due, now) + 1.0 / self.fps
        return True

    @abstractmethod
    def _count(self) -> int | None:
        """Number of frames available now, None if the source has vanished."""

    @abstractmethod
    def _load(self, index: int) -> np.ndarray | None:
        """Return frame *index* or None if it cannot be decoded."""

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        """Return the next frame (paced at *fps* if set), or None."""
        if self._closed or self._unplugged or not self._pace(timeout):
            return None
        count = self._count()
        if count is None:
            return None
        if self._index >= count:
            if not self.loop or count == 0:
                self._set_health(state="ended", error=None)
                return None
            self._index = 0
        frame = self._load(self._index)
        self._index += 1
        if frame is not None:
            self._set_health(state="ok", error=None, frames=self.health.frames + 1)
        return frame


class FrameListCamera(_SimulatedCamera):
    """Serves in-memory frames (simulation and tests); see :class:`Camera`."""

    def __init__(self, frames: Iterable[np.ndarray], fps: float | None = None,
                 loop: bool = False, **kwargs: Any) -> None:
        super().__init__(fps, loop, **kwargs)
        self._frames: list[np.ndarray] = list(frames)

    def _count(self) -> int | None:
        return len(self._frames)

    def _load(self, index: int) -> np.ndarray | None:
        return self._frames[index]

    def extend(self, frames: Iterable[np.ndarray]) -> None:
        """Test hook: append frames, as if the scene continued."""
        self._frames.extend(frames)


class FolderCamera(_SimulatedCamera):
    """Serves the images of a folder (sorted by name) or a video file.

    If the folder disappears, health becomes ``"reopening"`` and reads return
    None; when it reappears, frames resume at the same position.  An image
    that cannot be decoded is skipped with its error in ``health.error``.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float | None = None,
                 loop: bool = False, **kwargs: Any) -> None:
        super().__init__(fps, loop, **kwargs)
        self.path = Path(path)
        self._video: Any = None
        self._video_frames: list[np.ndarray] | None = None

    def _files(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def _count(self) -> int | None:
        try:
            if self.path.is_file():
                return len(self._load_video())
            return len(self._files())
        except OSError as exc:
            self._set_health(state="reopening", error=f"source vanished: {exc}")
            return None

    def _load_video(self) -> list[np.ndarray]:
        """Decode a (short, simulated) video file once into memory."""
        if self._video_frames is None:
            import cv2

            cap = cv2.VideoCapture(str(self.path))
            frames = []
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                frames.append(frame)
            cap.release()
            if not frames:
                raise OSError(f"no frames in video {self.path}")
            self._video_frames = frames
        return self._video_frames

    def _load(self, index: int) -> np.ndarray | None:
        if self._video_frames is not None and self.path.is_file():
            return self._video_frames[index]
        import cv2

        try:
            target = self._files()[index]
        except (OSError, IndexError) as exc:
            self._set_health(state="reopening", error=f"source vanished: {exc}")
            return None
        frame = cv2.imread(str(target), cv2.IMREAD_COLOR)
        if frame is None:
            self._set_health(error=f"unreadable image {target.name}")
        return frame



def open_camera(spec: Mapping[str, Any]) -> Camera:
    """Build a camera from configuration.

    ``{"kind": "opencv", "source": 0, "width": 1280, "height": 720, "mjpg": true}``,
    ``{"kind": "picamera2", "source": 0, "fps": 15}`` (hardware/picamera.py) or
    ``{"kind": "folder", "source": "demo/frames", "fps": 10, "loop": true}``. (In-memory
    frames, :class:`FrameListCamera`, are built directly by the simulation and tests.)
    """
    options = dict(spec)
    kind = options.pop("kind", "opencv")
    try:
        if kind == "opencv":
            return OpenCVCamera(options.pop("source"), **options)
        if kind == "picamera2":
            from hardware.picamera import Picamera2Camera, picamera2_factory

            factory = picamera2_factory(options.pop("driver", "picamera2"))
            return Picamera2Camera(options.pop("source", 0), factory=factory, **options)
        if kind == "folder":
            return FolderCamera(options.pop("source", None) or options.pop("path"), **options)
    except KeyError as exc:
        raise ValueError(f"camera kind {kind!r} needs a {exc.args[0]!r} setting") from None
    except TypeError as exc:
        raise ValueError(f"bad camera settings for kind {kind!r}: {exc}") from None
    raise ValueError(f"unknown camera kind {kind!r}; choose opencv, picamera2 or folder")


