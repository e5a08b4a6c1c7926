"""Runner: READY/WATCHDOG over a real $NOTIFY_SOCKET; a hung frame read stops the heartbeat."""

import socket
import threading

from hardware.camera import FrameListCamera
from hardware.decoder import make_decoder
from kiosk.gate.lane import Lane
from kiosk.gate.runner import Runner, watchdog_interval
from kiosk.gate.service import Gate
from tests.loop.conftest import empty_frame
from tests.waiting import PATIENCE_S, poll


def test_watchdog_fed_while_frames_flow_and_not_when_a_read_hangs(community, tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(PATIENCE_S)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    release = threading.Event()
    hang = {"on": False}

    def camera_sleep(seconds):  # the camera's pacing sleep; blocks while "hung"
        if hang["on"]:
            release.wait(PATIENCE_S)

    camera = FrameListCamera([empty_frame()], fps=1000, loop=True, sleep=camera_sleep)
    lane = Lane("in", "in", Gate.open(community.gate_home), camera=camera,
                decoder=make_decoder("zxing"))
    runner = Runner([lane], stale_after_s=5.0, interval_s=0.1)  # a busy machine may pause a thread for a second
    runner.start()
    try:
        assert server.recv(4096) == b"READY=1\nSTATUS=1 lanes running"
        assert poll(lambda: lane.frames > 3)
        assert runner.feed_watchdog() is True
        message = b""
        while not message.startswith(b"WATCHDOG=1"):
            message = server.recv(4096)
        assert b"STATUS=in: ok" in message
        hang["on"] = True
        assert poll(lambda: not runner.healthy())
        assert runner.feed_watchdog() is False
        assert server.recv(4096).startswith(b"STATUS=stalled: ")
        hang["on"] = False
        release.set()
        assert poll(runner.healthy)
    finally:
        runner.stop()
        server.close()


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_interval() == 15.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval() == 5.0


def test_stop_interrupts_a_lane_waiting_between_temperature_readings(community, decoder):
    """SIGTERM sets the stop event; a lane in the middle of (re-)measuring must not hold it up."""
    from hardware.thermometer import FakeThermometer
    from kiosk.sim.demo import GUARD
    from tests.loop.conftest import code_frame

    gate = Gate.open(community.gate_home)
    gate.sign_on(GUARD[0], GUARD[2], "in", gate.now())
    thermometer = FakeThermometer(25.0)  # implausible: measured again after a long pause
    camera = FrameListCamera([code_frame(community.tokens["resident"], decoder)])
    lane = Lane("in", "in", gate, camera=camera, decoder=decoder, thermometer=thermometer,
                require_temperature=True, remeasure_pause_s=600.0)
    runner = Runner([lane], notifier=type("Quiet", (), {"notify": lambda self, text: None})(),
                    interval_s=0.05)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        assert poll(lambda: thermometer.reads >= 5)  # first measurement done: now it pauses
    finally:
        runner.stop_event.set()
        thread.join(timeout=PATIENCE_S)
    assert not thread.is_alive()
    assert [r.codes for r in lane.results] == [("temperature_implausible",)]
