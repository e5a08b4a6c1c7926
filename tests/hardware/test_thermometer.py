"""MLX90614 against real register words, measure(), fakes, proximity."""

import pytest
from gpiozero import DistanceSensor, PWMSoftwareFallback
from gpiozero.pins.mock import MockFactory

from hardware.thermometer import (
    MLX90614,
    FakeSMBus,
    FakeThermometer,
    ManualThermometer,
    Measurement,
    ProximityTrigger,
    ThermometerError,
    celsius_to_raw,
    measure,
    raw_to_celsius,
)


def test_register_encoding():
    # Datasheet: T[K] = raw * 0.02.  0x3AF7 = 15095 -> 301.90 K -> 28.75 C.
    assert raw_to_celsius(0x3AF7) == 28.75
    assert celsius_to_raw(28.75) == 0x3AF7
    assert celsius_to_raw(37.01) == 0x3C94  # 310.16 K / 0.02 = 15508
    assert raw_to_celsius(0x3C94) == 37.01
    with pytest.raises(ValueError):
        celsius_to_raw(500.0)


def test_mlx_reads_object_and_ambient():
    bus = FakeSMBus()
    with MLX90614(bus) as sensor:
        assert sensor.read() == 28.75
        assert sensor.read_ambient() == 22.05
        bus.set_celsius(0x5A, 0x07, 36.6)
        assert sensor.read() == 36.61  # nearest 0.02 K step


def test_mlx_offset_and_ambient_compensation():
    bus = FakeSMBus()
    bus.set_word(0x5A, 0x07, 0x3C5C)  # 15452 * 0.02 - 273.15 = 35.89 C
    assert MLX90614(bus, offset=0.8).read() == pytest.approx(36.69)
    # 35.89 + 0.1 * (35.89 - 22.05) = 37.274
    assert MLX90614(bus, ambient_compensation=0.1).read() == pytest.approx(37.274)


def test_mlx_error_flag():
    bus = FakeSMBus()
    bus.set_word(0x5A, 0x07, 0x8000 | 0x3AF7)
    with pytest.raises(ThermometerError, match="error flag set"):
        MLX90614(bus).read()


def test_mlx_bus_oserror_and_absent_device():
    bus = FakeSMBus()
    bus.fail_next(1)
    sensor = MLX90614(bus)
    with pytest.raises(ThermometerError, match="Remote I/O error"):
        sensor.read()
    assert sensor.read() == 28.75  # transient error gone
    with pytest.raises(ThermometerError, match="0x5b"):
        MLX90614(bus, address=0x5B).read()


def test_mlx_close_is_idempotent_and_leaves_borrowed_bus_open():
    bus = FakeSMBus()
    sensor = MLX90614(bus)
    sensor.close()
    sensor.close()
    assert bus.closed is False
    with pytest.raises(ThermometerError):
        sensor.read()
    with pytest.raises(ValueError):
        MLX90614(bus, address=0x100)


def test_measure_median_of_mlx_readings():
    bus = FakeSMBus()
    bus.set_celsius(0x5A, 0x07, 36.8)
    sleeps = []
    m = measure(MLX90614(bus), samples=5, window_s=0.5, sleep=sleeps.append)
    assert m == Measurement(36.81, "ok", (36.81,) * 5, ())
    assert sleeps == [0.125] * 4
    assert bus.reads == 5


def test_measure_median_resists_spike_and_keeps_errors():
    t = FakeThermometer()
    t.script([36.4, 41.9, ThermometerError("flag"), 36.6, 36.5])
    m = measure(t, samples=5, sleep=lambda s: None)
    assert (m.value, m.status) == (36.55, "ok")
    assert m.readings == (36.4, 41.9, 36.6, 36.5)
    assert m.errors == ("flag",)


@pytest.mark.parametrize("value", [25.0, 45.0])
def test_measure_implausible(value):
    t = FakeThermometer()
    t.set(value)
    m = measure(t, sleep=lambda s: None)
    assert (m.value, m.status) == (value, "implausible")


def test_measure_fever_is_ok_status():
    t = FakeThermometer()
    t.set(37.9)
    assert measure(t, sleep=lambda s: None).value == 37.9


def test_measure_missing_and_error():
    t = FakeThermometer(None)
    assert measure(t, sleep=lambda s: None) == Measurement(None, "missing")
    bus = FakeSMBus()
    bus.fail_next(3)
    m = measure(MLX90614(bus), samples=3, sleep=lambda s: None)
    assert (m.value, m.status, len(m.errors)) == (None, "error", 3)


def test_manual_thermometer():
    t = ManualThermometer()
    assert measure(t, sleep=lambda s: None).status == "missing"
    t.enter("37,2")
    assert measure(t, sleep=lambda s: pytest.fail("no sleep for manual")) == \
        Measurement(37.2, "ok", (37.2,))
    t.clear()
    assert t.read() is None
    for bad in ("abc", "nan", float("inf")):
        with pytest.raises(ValueError):
            t.enter(bad)


def test_proximity_with_fake_and_with_mock_distance_sensor():
    class Ranger:
        distance = 0.5

    ranger = Ranger()
    trig = ProximityTrigger(ranger, threshold_m=0.3)
    assert trig.present() is False
    ranger.distance = 0.2
    assert trig.present() is True

    factory = MockFactory()
    with pytest.warns(PWMSoftwareFallback):  # gpiozero's advice to use pigpio
        sensor = DistanceSensor(echo=17, trigger=18, pin_factory=factory, max_distance=1)
    trig = ProximityTrigger(sensor, threshold_m=0.3)
    sensor.close()  # a closed/broken sensor means "nobody", never a crash
    assert trig.present() is False
    assert trig.last_error
    trig.close()
