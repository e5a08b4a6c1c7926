"""Building lanes from kiosk.toml: the same refusals as every other gate entry point, no leaks."""

import shutil
import threading

import pytest

from kiosk.gate.wiring import build_lanes
from kiosk.sim.demo import create_demo
from kiosk.store.config import ConfigError, load_config
from tests.conftest import SESSION_START

MISSING_CAMERA = "/dev/video-none"


def _camera_threads():
    return [t for t in threading.enumerate() if t.name == f"camera-{MISSING_CAMERA}" and t.is_alive()]


def test_kiosk_run_refuses_a_folder_holding_the_signing_key_and_closes_what_it_opened(tmp_path):
    settings = {"signals": {"pin_factory": "mock"},
                "lanes": [{"id": "in", "direction": "in",
                           "camera": {"kind": "opencv", "source": MISSING_CAMERA}}]}
    demo = create_demo(tmp_path / "demo", SESSION_START, gate_settings=settings)
    stolen = demo.gate_home / "keys" / "office.key"
    stolen.parent.mkdir(mode=0o700, exist_ok=True)
    shutil.copy(demo.office_home / "keys" / "signing.key", stolen)
    with pytest.raises(ConfigError, match="must never hold it"):
        build_lanes(load_config(demo.gate_home))
    assert _camera_threads() == []  # the camera opened for the lane was closed again


def test_a_named_pin_factory_is_made_once_and_mock_factories_per_lane():
    from kiosk.gate.wiring import _shared_factory, pin_factory
    from kiosk.store.config import ConfigError

    assert _shared_factory("mock") is _shared_factory("mock")  # what "lgpio" gets on a Pi
    assert pin_factory("mock") is not pin_factory("mock")
    assert pin_factory(None) is None
    with pytest.raises(ConfigError, match="unknown GPIO pin factory 'nope'"):
        pin_factory("nope")
