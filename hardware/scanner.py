"""USB barcode scanners that "type" codes like a keyboard.

They are a second code source next to the camera: ``read(timeout)`` returns
one scanned payload or None.  :class:`StreamScanner` reads lines from a text
stream (stdin of a kiosk console, a pipe in tests).  :class:`EvdevScanner`
grabs a Linux input device with python-evdev (optional; imported lazily) so
keystrokes do not leak into the console.
"""

from __future__ import annotations

import queue
import select
import threading
from collections import deque
from typing import Any, TextIO

__all__ = ["EvdevScanner", "ScannerUnavailable", "StreamScanner"]


class ScannerUnavailable(RuntimeError):
    """The scanner back end cannot be used on this machine."""


class StreamScanner:
    """Reads one payload per line from *stream* on a daemon thread.

    Blank lines are ignored; trailing CR/LF is stripped.  ``health`` is
    ``"ok"``, ``"ended"`` (stream closed) or ``"failed: <error>"``.  The stream
    is borrowed, not closed.  A blocking ``readline`` cannot be interrupted,
    so after ``close()`` the daemon thread may linger until the next line.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lines: queue.Queue[str] = queue.Queue()
        self._closed = threading.Event()
        self.health = "ok"
        self._thread = threading.Thread(target=self._pump, name="scanner", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for line in iter(self._stream.readline, ""):
                if self._closed.is_set():
                    return
                payload = line.rstrip("\r\n")
                if payload.strip():
                    self._lines.put(payload)
        except (OSError, ValueError) as exc:  # ValueError: stream was closed
            self.health = f"failed: {exc}"
            return
        self.health = "ended"

    def read(self, timeout: float | None = 1.0) -> str | None:
        """Return the next scanned payload, or None after *timeout* seconds."""
        if self._closed.is_set():
            return None
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Stop delivering payloads; idempotent."""
        self._closed.set()

    def __enter__(self) -> "StreamScanner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _import_evdev() -> Any:
    try:
        import evdev
    except ImportError as exc:
        raise ScannerUnavailable(
            "EvdevScanner needs python-evdev: pip install evdev "
            "(or configure the scanner as a stream scanner on stdin)") from exc
    return evdev


# US keyboard layout, which HID barcode scanners emulate by default.
_PLAIN = dict(zip(
    [f"KEY_{c}" for c in "1234567890ABCDEFGHIJKLMNOPQRSTUVWXYZ"],
    "1234567890abcdefghijklmnopqrstuvwxyz"))
_PLAIN.update({"KEY_MINUS": "-", "KEY_EQUAL": "=", "KEY_LEFTBRACE": "[",
               "KEY_RIGHTBRACE": "]", "KEY_SEMICOLON": ";", "KEY_APOSTROPHE": "'",
               "KEY_GRAVE": "`", "KEY_BACKSLASH": "\\", "KEY_COMMA": ",",
               "KEY_DOT": ".", "KEY_SLASH": "/", "KEY_SPACE": " "})
_SHIFTED = dict(zip("1234567890-=[];'`\\,./", "!@#$%^&*()_+{}:\"~|<>?"))


def keys_to_text(keys: list[tuple[str, bool]]) -> str:
    """Turn (key name, shift held) pairs into text (US layout)."""
    out = []
    for name, shift in keys:
        char = _PLAIN.get(name)
        if char is None:
            continue  # unmapped keys (F-keys etc.) carry no payload text
        out.append(char.upper() if shift and char.isalpha() else
                   _SHIFTED.get(char, char) if shift else char)
    return "".join(out)


class EvdevScanner:
    """A HID scanner read from ``/dev/input/...`` with python-evdev.

    The device is grabbed exclusively; a payload ends with the Enter key.
    Raises :class:`ScannerUnavailable` if python-evdev is not installed.
    """

    def __init__(self, device_path: str, grab: bool = True) -> None:
        evdev = _import_evdev()
        self._ecodes = evdev.ecodes
        self._device = evdev.InputDevice(device_path)
        if grab:
            try:
                self._device.grab()
            except OSError:  # grabbed by another process: do not leak the open device
                self._device.close()
                raise
        self._keys: list[tuple[str, bool]] = []
        self._payloads: deque[str] = deque()  # one read() batch may hold several scans
        self._shift = False
        self._closed = False
        self.health = "ok"

    def _handle(self, event: Any) -> str | None:
        """Feed one input event; return a payload when Enter completes it."""
        ec = self._ecodes
        if event.type != ec.EV_KEY:
            return None
        name = ec.KEY.get(event.code)
        name = name[0] if isinstance(name, list) else name
        if name in ("KEY_LEFTSHIFT", "KEY_RIGHTSHIFT"):
            self._shift = event.value != 0
        elif event.value == 1 and name in ("KEY_ENTER", "KEY_KPENTER"):
            text, self._keys = keys_to_text(self._keys), []
            return text or None
        elif event.value == 1 and name:
            self._keys.append((name, self._shift))
        return None

    def read(self, timeout: float | None = 1.0) -> str | None:
        """Return the next scanned payload, or None after *timeout*."""
        if self._closed:
            return None
        if not self._payloads:
            self._read_batch(timeout)
        return self._payloads.popleft() if self._payloads else None

    def _read_batch(self, timeout: float | None) -> None:
        """Feed every pending input event: the kernel hands over all of them at once."""
        try:
            ready, _, _ = select.select([self._device.fd], [], [], timeout)
            if ready:
                for event in self._device.read():
                    payload = self._handle(event)
                    if payload:
                        self._payloads.append(payload)
        except OSError as exc:  # scanner unplugged
            self.health = f"failed: {exc}"

    def close(self) -> None:
        """Release the grab and the device; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._device.ungrab()
        except OSError:
            pass  # already gone
        self._device.close()

    def __enter__(self) -> "EvdevScanner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
