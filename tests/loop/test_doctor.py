"""kiosk doctor: exact lines on a good and a broken configuration; never hangs."""

import os

import cv2
import pytest
from click.testing import CliRunner

from hardware.frames import compose_frame
from kiosk.cli.root import cli
from kiosk.core.transport import shown
from kiosk.sim.demo import create_demo
from kiosk.store import tls
from kiosk.store.config import load_config
from tests.conftest import SESSION_START

ENV_KEYS = ("clock_", "disk")  # depend on the machine: checked by prefix only


def _doctor(home, *args):
    result = CliRunner().invoke(cli, ["--lang", "en", "--home", str(home), "doctor", *args])
    lines = result.output.splitlines()
    fixed = [l for l in lines if not ("clock is" in l or "free on the data disk" in l or "RTC)" in l)]
    return result.exit_code, fixed, lines


@pytest.fixture
def frames_dir(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0001.png"), compose_frame(None, (640, 480), "plain", 1))
    return folder


def test_good_configuration(tmp_path, frames_dir):
    settings = {
        "signals": {"pin_factory": "mock", "green": 5, "red": 6, "buzzer": 13, "relay": 19},
        "lanes": [
            {"id": "in", "direction": "in", "require_temperature": True, "decoder": "zxing",
             "camera": {"kind": "folder", "source": str(frames_dir)},
             "thermometer": {"kind": "fake", "value": 36.5}},
            {"id": "out", "direction": "out", "scanner": {"kind": "stdin"}},
        ]}
    demo = create_demo(tmp_path / "demo", SESSION_START, gate_settings=settings)
    code, fixed, lines = _doctor(demo.gate_home, "--camera-timeout", "60")  # a working camera answers at once
    assert code == 0, lines
    assert fixed == [
        f"[OK] Configuration {demo.gate_home / 'kiosk.toml'} is fine, 2 lanes",
        "[OK] Data folder and file permissions are right",
        f"[OK] TLS certificate fingerprint (SHA-256, for the office): {shown(tls.fingerprint(load_config(demo.gate_home)))}",
        "[OK] Event log: 0 events, every one matches its hash",
        "[OK] 1 office public key(s) trusted",
        "[OK] Registry version 1, issued 0 days ago",
        f"[OK] Lane in: camera {frames_dir} works (640x480)",
        "[OK] Lane in: QR decoder zxing is available",
        "[OK] Lane in: thermometer (fake) reads 36.5 °C",
        "[OK] Lane out: barcode scanner reads from the keyboard input",
        "[OK] Lane out: the guard types temperatures by hand",
        "[OK] GPIO (mock) works: LED, buzzer and relay pins are ready",
    ]
    assert lines[-3].split("] ")[1] in ("The system clock is synchronised",
                                         "The system clock is not synchronised: event times may be "
                                         "wrong (check timedatectl)")
    assert lines[-2] in ("[WARN] No battery clock (DS3231 RTC): after a power cut without network the time is "
                         "wrong until the office's NTP answers",) or lines[-2].startswith("[OK] Battery clock (RTC) found")
    assert lines[-1].endswith("GB free on the data disk")


def test_broken_configuration_says_what_is_wrong(tmp_path):
    settings = {
        "signals": {"pin_factory": "nosuch", "green": 5, "red": 6, "buzzer": 13, "relay": 19},
        "lanes": [
            {"id": "in", "direction": "in",
             "camera": {"kind": "opencv", "source": "/dev/video-missing"},
             "thermometer": {"kind": "mlx90614", "bus": 99}},
            {"id": "out", "direction": "out",
             "scanner": {"kind": "evdev", "device": "/dev/input/no-scanner"}},
            {"id": "side", "direction": "in"},
        ]}
    demo = create_demo(tmp_path / "demo", SESSION_START, gate_settings=settings)
    os.chmod(demo.gate_home, 0o755)
    (demo.gate_home / "keys" / "tls.pem").unlink()
    code, fixed, lines = _doctor(demo.gate_home, "--camera-timeout", "1")
    assert code == 1
    home = demo.gate_home
    assert fixed == [
        f"[OK] Configuration {home / 'kiosk.toml'} is fine, 3 lanes",
        f"[WARN] Data folder {home} has mode 0o755; it should be 0o700 (chmod 700)",
        f"[ERROR] TLS certificate {home / 'keys' / 'tls.pem'} is unusable: {home / 'keys' / 'tls.pem'} does not "
        "exist. Run kiosk tls rotate",
        "[OK] Event log: 0 events, every one matches its hash",
        "[OK] 1 office public key(s) trusted",
        "[OK] Registry version 1, issued 0 days ago",
        "[ERROR] Lane in: camera /dev/video-missing does not work: cannot open camera source "
        "'/dev/video-missing'",
        "[OK] Lane in: QR decoder zxing is available",
        "[ERROR] Lane in: the thermometer cannot be read: [Errno 2] No such file or directory: "
        "'/dev/i2c-99'",
        "[ERROR] Lane out: barcode scanner /dev/input/no-scanner is not there: check the USB cable",
        "[OK] Lane out: the guard types temperatures by hand",
        "[WARN] Lane side has neither camera nor scanner: manual checks on the web page only",
        "[OK] Lane side: the guard types temperatures by hand",
        "[ERROR] GPIO (nosuch) is not available: ConfigError: unknown GPIO pin factory 'nosuch' "
        "(try lgpio, rpigpio, mock)",
    ]


def test_bad_config_file_is_one_clear_line(tmp_path):
    demo = create_demo(tmp_path / "demo", SESSION_START)
    config = demo.gate_home / "kiosk.toml"
    config.write_text(config.read_text() + '\n[[lanes]]\nid = "in"\ndirection = "up"\n', encoding="utf-8")
    code, fixed, _ = _doctor(demo.gate_home)
    assert (code, fixed) == (1, ['[ERROR] Configuration problem: kiosk.toml: [lanes.1] direction must be '
                                 'one of "in", "out", not "up"'])


def test_chinese_is_the_default(community):
    result = CliRunner().invoke(cli, ["--home", str(community.gate_home), "doctor"])
    assert result.output.splitlines()[1] == "[正常] 数据文件夹和文件的权限正确"
    assert "[注意] 通道 in 没有摄像头也没有扫码枪：只能在网页上人工核验" in result.output


def test_a_camera_without_pictures_is_reported_in_the_chosen_language(tmp_path):
    empty = tmp_path / "no-frames"
    empty.mkdir()
    settings = {"lanes": [{"id": "in", "direction": "in", "camera": {"kind": "folder", "source": str(empty)}}]}
    demo = create_demo(tmp_path / "demo", SESSION_START, gate_settings=settings)
    code, fixed, _ = _doctor(demo.gate_home, "--camera-timeout", "0.5")
    assert code == 1
    assert f"[ERROR] Lane in: camera {empty} does not work: no picture within 0.5 s" in fixed
