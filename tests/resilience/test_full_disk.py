"""Full disk: the gate's data folder on a small tmpfs that fills up, then gets space back."""

from __future__ import annotations

import errno
import subprocess

import pytest

from hardware.thermometer import FakeThermometer
from kiosk.core.clock import FixedClock
from kiosk.core.i18n import t
from kiosk.gate.lane import Lane
from kiosk.gate.service import Gate
from kiosk.sim.demo import GUARD, create_demo
from kiosk.store.config import Config, load_config
from kiosk.store.events import verify_log
from tests.conftest import NOW
from tests.loop.conftest import PINS, highs, rig_signals
from tests.resilience.conftest import needs_root

ALLOWED = ("resident", "household_member", "monitored", "second_resident")  # all allowed at the "in" lane


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs, unmounted whatever happens."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount_point)],
                   check=True)
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(path) -> int:
    """Write a filler file until the filesystem says ENOSPC; its size."""
    written = 0
    with path.open("wb", buffering=0) as filler:
        for size in (1 << 16, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    written += filler.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written


class Scans:
    """Allowed passes presented one after the other, 20 s apart (no duplicate scans)."""

    def __init__(self, community, clock: FixedClock) -> None:
        self.community, self.clock, self.count = community, clock, 0

    def present(self, lane: Lane):
        self.clock.advance(seconds=20)
        role = ALLOWED[self.count % len(ALLOWED)]
        self.count += 1
        return lane.handle(self.community.tokens[role], "scanner")


def open_lane(home, clock, signals, **gate_settings) -> Lane:
    config = load_config(home)
    config = Config.from_data(config.home, {**config.data, "gate": {**config["gate"], **gate_settings}})
    return Lane("in", "in", Gate(config, clock=clock), thermometer=FakeThermometer(36.5),
                signals=signals, require_temperature=True, sleep=lambda s: None)


def relay_highs(factory) -> int:
    return highs(factory, PINS["relay"])


@pytest.mark.slow
@needs_root
def test_full_disk_shows_decisions_keeps_the_gate_closed_and_recovers(small_disk):
    community = create_demo(small_disk / "demo", NOW)
    clock = FixedClock(NOW)
    with Gate.open(community.gate_home, clock=clock) as gate:
        gate.sign_on(GUARD[0], GUARD[2], "in", NOW)
    signals, factory = rig_signals()
    lane = open_lane(community.gate_home, clock, signals)
    scans = Scans(community, clock)
    for _ in range(20):
        assert scans.present(lane).recorded
    signals.wait(5)
    assert relay_highs(factory) == 20

    filler = small_disk / "filler"
    fill(filler)
    results = [scans.present(lane) for _ in range(400)]  # the WAL still has some room at first
    first_lost = next(i for i, result in enumerate(results) if not result.recorded)
    recorded_before = 20 + first_lost
    unrecorded = results[first_lost:]
    signals.wait(5)
    assert all(not r.recorded and r.signal == "not_recorded" and r.event is None for r in unrecorded)
    assert all(r.outcome == "allow" and r.relay is False for r in unrecorded)  # decided, shown, not opened
    assert relay_highs(factory) == recorded_before  # the relay never opened for a lost event
    assert unrecorded[-1].error.startswith("event not recorded: database or disk is full")
    alert = t("loop.alert.not_recorded", None, reason=unrecorded[-1].error)
    assert lane.status.detail() == alert and alert.startswith("未记录！")
    assert lane.update_status(force=True) is False  # lane_status cannot be written: memory says it

    # configured to open anyway: the relay opens, still with the alarm
    open_signals, open_factory = rig_signals()
    opening = open_lane(community.gate_home, clock, open_signals, open_unrecorded=True)
    result = scans.present(opening)
    open_signals.wait(5)
    assert (result.recorded, result.signal, result.relay) == (False, "not_recorded", True)
    assert relay_highs(open_factory) == 1
    opening.close()
    open_signals.close()

    report = verify_log(lane.gate.db)  # nothing already recorded was lost
    assert report.ok, report.problems
    assert report.checked == recorded_before + 1  # + the guard's sign-on

    filler.unlink()  # space is back: the same lane records again, no restart
    result = scans.present(lane)
    signals.wait(5)
    assert (result.recorded, result.signal, result.relay) == (True, "allow", True)
    assert relay_highs(factory) == recorded_before + 1
    assert "not_recorded" not in lane.status.alerts
    assert lane.update_status(force=True) is True
    assert lane.gate.db.conn.execute("SELECT detail FROM lane_status WHERE lane = 'in'").fetchone()[0] \
        == result.decision.message_zh
    report = verify_log(lane.gate.db)
    assert report.ok and report.checked == recorded_before + 2
    lane.close()
    signals.close()
