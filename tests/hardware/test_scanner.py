"""Keyboard-wedge scanners as a code source."""

import io
import os
import sys

import pytest

from hardware.scanner import EvdevScanner, ScannerUnavailable, StreamScanner, keys_to_text


def test_stream_scanner_from_stringio():
    with StreamScanner(io.StringIO("PASS-1\r\n\n  \nPASS-2\n")) as scanner:
        assert scanner.read(timeout=5) == "PASS-1"
        assert scanner.read(timeout=5) == "PASS-2"
        assert scanner.read(timeout=0.05) is None
        assert scanner.health == "ended"
    scanner.close()
    assert scanner.read(timeout=0) is None


def test_stream_scanner_over_pipe():
    r, w = os.pipe()
    with os.fdopen(r, "r", encoding="utf-8") as reader, os.fdopen(w, "w", encoding="utf-8") as writer:
        scanner = StreamScanner(reader)
        assert scanner.read(timeout=0.01) is None  # nothing scanned yet
        writer.write("Gäste-Pass 7\n")
        writer.flush()
        assert scanner.read(timeout=5) == "Gäste-Pass 7"
        writer.close()
        scanner._thread.join(5)
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
