"""The `decode` click command on real PNG files."""

import json
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from hardware.cli import decode
from hardware.frames import compose_frame, render_qr


@pytest.fixture
def images(tmp_path):
    good = tmp_path / "pass.png"
    cv2.imwrite(str(good), render_qr("PASS-42", scale=4))
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), compose_frame(None, seed=1))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG garbage")
    return good, empty, broken


@pytest.mark.parametrize("backend", ["zxing", "zbar"])
def test_decode_prints_payload_and_time(images, backend):
    good, empty, _ = images
    result = CliRunner().invoke(decode, [str(good), str(empty), "--decoder", backend])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.fullmatch(rf"{re.escape(str(good))}: PASS-42 \[\d+\.\d ms\]", lines[0])
    assert lines[1].startswith(f"{empty}: (no QR code) [")


def test_missing_and_broken_files_do_not_stop_others(images, tmp_path):
    good, _, broken = images
    missing = tmp_path / "nope.png"
    result = CliRunner().invoke(decode, [str(missing), str(broken), str(good)])
    assert result.exit_code == 1
    assert f"{missing}: error: no such file" in result.stderr
    assert f"{broken}: error: not a readable image" in result.stderr
    assert f"{good}: PASS-42 [" in result.stdout


def test_json_output(images):
    good, empty, _ = images
    result = CliRunner().invoke(decode, ["--json", str(good), str(empty)])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [(d["file"], d["payloads"], d["error"]) for d in data] == [
        (str(good), ["PASS-42"], None), (str(empty), [], None)]
    assert all(isinstance(d["ms"], float) for d in data)


def test_help_has_example_and_bad_decoder():
    runner = CliRunner()
    assert "kiosk decode pass.png" in runner.invoke(decode, ["--help"]).output
    result = runner.invoke(decode, ["x.png", "--decoder", "quirc"])
    assert result.exit_code == 2 and "quirc" in result.output
    assert runner.invoke(decode, []).exit_code == 2


def test_transparent_png_is_read_on_white(tmp_path):
    code = render_qr("PASS-43", scale=4)
    image = np.zeros((*code.shape, 4), np.uint8)  # black everywhere ...
    image[:, :, 3] = np.where(code == 0, 255, 0)  # ... but only the dark modules opaque
    path = tmp_path / "transparent.png"
    cv2.imwrite(str(path), image)
    result = CliRunner().invoke(decode, [str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{path}: PASS-43 [")


def test_payload_with_line_breaks_stays_on_its_line(images, tmp_path):
    good, _, _ = images
    multi = tmp_path / "multi.png"
    cv2.imwrite(str(multi), render_qr("line one\nline two\\\x01", scale=4))
    result = CliRunner().invoke(decode, [str(multi), str(good)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(rf"{re.escape(str(multi))}: line one\\nline two\\\\\\x01 \[\d+\.\d ms\]", lines[0])
    data = json.loads(CliRunner().invoke(decode, ["--json", str(multi)]).stdout)
    assert data[0]["payloads"] == ["line one\nline two\\\x01"]
