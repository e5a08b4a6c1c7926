"""Keyboard-wedge scanners as a code source."""

import io
import os
import sys

import pytest

from hardware.scanner import EvdevScanner, ScannerUnavailable, StreamScanner, keys_to_text
from tests.waiting import PATIENCE_S, poll


def test_stream_scanner_from_stringio():
    with StreamScanner(io.StringIO("PASS-1\r\n\n  \nPASS-2\n")) as scanner:
        assert scanner.read(timeout=PATIENCE_S) == "PASS-1"
        assert scanner.read(timeout=PATIENCE_S) == "PASS-2"
        assert scanner.read(timeout=0.05) is None
        assert poll(lambda: scanner.health == "ended")  # the reader thread sees the end in its own time
    scanner.close()
    assert scanner.read(timeout=0) is None


def test_stream_scanner_over_pipe():
    r, w = os.pipe()
    with os.fdopen(r, "r", encoding="utf-8") as reader, os.fdopen(w, "w", encoding="utf-8") as writer:
        scanner = StreamScanner(reader)
        assert scanner.read(timeout=0.01) is None  # nothing scanned yet
        writer.write("Gäste-Pass 7\n")
        writer.flush()
        assert scanner.read(timeout=PATIENCE_S) == "Gäste-Pass 7"
        writer.close()
        scanner._thread.join(PATIENCE_S)
        assert scanner.health == "ended"
        scanner.close()


def test_evdev_missing_gives_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "evdev", None)  # import evdev -> ImportError
    with pytest.raises(ScannerUnavailable, match="pip install evdev"):
        EvdevScanner("/dev/input/event0")


def test_keys_to_text_us_layout():
    keys = [("KEY_P", True), ("KEY_A", False), ("KEY_MINUS", False), ("KEY_1", True),
            ("KEY_F1", False), ("KEY_DOT", False)]
    assert keys_to_text(keys) == "Pa-!."


class _FakeInputDevice:
    """Stands in for python-evdev's InputDevice (the optional package is absent here)."""

    def __init__(self, path):
        self.fd, self._signal = os.pipe()
        self.pending = []

    def type_keys(self, text):
        """The scanner types *text* (lower-case letters, digits, newline = Enter) in one burst."""
        names = {"\n": 28, **{c: code for c, code in zip("1234567890", range(2, 12))},
                 **{c: code for c, code in zip("abc", (30, 48, 46))}}
        for char in text:
            self.pending += [(1, names[char], 1), (1, names[char], 0)]
        os.write(self._signal, b"x")

    def read(self):
        os.read(self.fd, 4096)
        batch, self.pending = self.pending, []
        return [type("Event", (), {"type": t, "code": c, "value": v}) for t, c, v in batch]

    def grab(self):
        pass

    def ungrab(self):
        pass

    def close(self):
        os.close(self.fd)
        os.close(self._signal)


def test_evdev_scanner_keeps_every_code_of_one_burst(monkeypatch):
    keys = {28: "KEY_ENTER", 30: "KEY_A", 48: "KEY_B", 46: "KEY_C",
            **{code: f"KEY_{c}" for c, code in zip("1234567890", range(2, 12))}}
    ecodes = type("ecodes", (), {"EV_KEY": 1, "KEY": keys})
    monkeypatch.setitem(sys.modules, "evdev", type(sys)("evdev"))
    monkeypatch.setattr(sys.modules["evdev"], "ecodes", ecodes, raising=False)
    monkeypatch.setattr(sys.modules["evdev"], "InputDevice", _FakeInputDevice, raising=False)
    with EvdevScanner("/dev/input/event-fake") as scanner:
        scanner._device.type_keys("a1\nb2\nc3\n")  # two people scanned within one read
        assert [scanner.read(timeout=PATIENCE_S) for _ in range(3)] == ["a1", "b2", "c3"]
        assert scanner.read(timeout=0) is None
