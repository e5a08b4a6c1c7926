"""Contactless thermometers, their fakes and robust measurement.

Every thermometer offers ``read() -> float | None`` in degrees Celsius:
``None`` means "no reading available" (e.g. the guard has not typed one yet)
and :class:`ThermometerError` means the device reported or hit an error.
:func:`measure` turns several reads into a :class:`Measurement` with a status
and never raises for device trouble, so the lane loop cannot crash on I2C.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "FakeSMBus",
    "FakeThermometer",
    "MLX90614",
    "ManualThermometer",
    "Measurement",
    "ProximityTrigger",
    "Thermometer",
    "ThermometerError",
    "celsius_to_raw",
    "measure",
    "raw_to_celsius",
]

KELVIN = 273.15
LSB_K = 0.02  # MLX90614 RAM temperature resolution: 0.02 K per bit
ERROR_FLAG = 0x8000  # bit 15 of the object temperature word


class ThermometerError(Exception):
    """A thermometer could not produce a valid reading."""


class Thermometer(Protocol):
    """What :func:`measure` needs from a thermometer."""

    def read(self) -> float | None:
        """Return degrees Celsius, None if nothing to read; raise ThermometerError."""
        ...


def raw_to_celsius(raw: int) -> float:
    """Convert an MLX90614 RAM word to degrees Celsius (0.01 C rounding)."""
    # Rounding hides float noise (0x3AF7 -> 28.75, not 28.750000000000057).
    return round(raw * LSB_K - KELVIN, 2)


def celsius_to_raw(celsius: float) -> int:
    """Encode degrees Celsius as the MLX90614 RAM word (nearest 0.02 K)."""
    raw = round((celsius + KELVIN) / LSB_K)
    if not 0 <= raw < ERROR_FLAG:
        raise ValueError(f"{celsius} C is outside the MLX90614 range")
    return raw


class SMBusLike(Protocol):
    """The subset of ``smbus2.SMBus`` the driver uses."""

    def read_word_data(self, i2c_addr: int, register: int) -> int: ...


class MLX90614:
    """Melexis MLX90614 IR thermometer on I2C (SMBus).

    Reads object temperature (RAM 0x07) and ambient (RAM 0x06).  The returned
    value is ``object + offset + ambient_compensation * (object - ambient)``:
    *offset* is a calibration against a reference thermometer, and the
    ambient term is the usual heat-balance correction from skin to core
    temperature (skin reads lower in a cold gate booth).  *bus* is passed in
    (e.g. ``smbus2.SMBus(1)`` or :class:`FakeSMBus`); use :meth:`open` to let
    the driver own a real bus.
    """

    OBJECT_REG = 0x07
    AMBIENT_REG = 0x06

    def __init__(self, bus: SMBusLike, address: int = 0x5A, offset: float = 0.0,
                 ambient_compensation: float = 0.0) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"invalid I2C address {address:#x}")
        self.bus, self.address = bus, address
        self.offset, self.ambient_compensation = offset, ambient_compensation
        self._owns_bus = False
        self._closed = False

    @classmethod
    def open(cls, bus_number: int = 1, **kwargs: Any) -> "MLX90614":
        """Open ``/dev/i2c-<bus_number>`` with smbus2 and own it."""
        from smbus2 import SMBus

        device = cls(SMBus(bus_number), **kwargs)
        device._owns_bus = True
        return device

    def _read_celsius(self, register: int) -> float:
        if self._closed:
            raise ThermometerError("thermometer is closed")
        try:
            raw = self.bus.read_word_data(self.address, register)
        except OSError as exc:  # NACK, bus stuck, cable pulled
            raise ThermometerError(f"I2C error at {self.address:#x}: {exc}") from exc
        if raw & ERROR_FLAG:
            raise ThermometerError(f"sensor error flag set (raw {raw:#06x})")
        return raw_to_celsius(raw)

    def read_ambient(self) -> float:
        """Ambient (sensor die) temperature in Celsius."""
        return self._read_celsius(self.AMBIENT_REG)

    def read_object(self) -> float:
        """Uncorrected object temperature in Celsius."""
        return self._read_celsius(self.OBJECT_REG)

    def read(self) -> float:
        """Corrected object temperature in Celsius; raises ThermometerError."""
        value = self.read_object()
        if self.ambient_compensation:
            value += self.ambient_compensation * (value - self.read_ambient())
        return value + self.offset

    def close(self) -> None:
        """Close the bus if this driver opened it; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._owns_bus:
            self.bus.close()  # type: ignore[attr-defined]

    def __enter__(self) -> "MLX90614":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeSMBus:
    """An in-memory SMBus holding real MLX90614 register words.

    Starts with a sensor at 0x5A reading object 28.75 C (raw 0x3AF7) and
    ambient 22.05 C (raw 0x39A8).  Test hooks: :meth:`set_celsius`,
    :meth:`set_word`, :meth:`fail_next`.  Reading an address with no device
    raises ``OSError(121, ...)`` like the Linux i2c driver.
    """

    def __init__(self, registers: dict[tuple[int, int], int] | None = None) -> None:
        self.registers = dict(registers) if registers is not None else {
            (0x5A, 0x07): 0x3AF7, (0x5A, 0x06): 0x39A8}
        self._failures: deque[OSError] = deque()
        self.reads = 0
        self.closed = False

    def set_word(self, address: int, register: int, word: int) -> None:
        """Store a raw 16-bit register word."""
        if not 0 <= word <= 0xFFFF:
            raise ValueError("word must be 16-bit")
        self.registers[(address, register)] = word

    def set_celsius(self, address: int, register: int, celsius: float) -> None:
        """Store the real encoding of *celsius* in a temperature register."""
        self.set_word(address, register, celsius_to_raw(celsius))

    def fail_next(self, count: int = 1, error: OSError | None = None) -> None:
        """Make the next *count* reads raise *error* (default: remote I/O error)."""
        for _ in range(count):
            self._failures.append(error or OSError(121, "Remote I/O error"))

    def read_word_data(self, i2c_addr: int, register: int) -> int:
        """Return the stored word, as ``smbus2.SMBus.read_word_data`` does."""
        self.reads += 1
        if self.closed:
            raise OSError(9, "Bad file descriptor")
        if self._failures:
            raise self._failures.popleft()
        try:
            return self.registers[(i2c_addr, register)]
        except KeyError:
            raise OSError(121, "Remote I/O error") from None

    def close(self) -> None:
        """Close the fake bus (idempotent)."""
        self.closed = True


class FakeThermometer:
    """A thermometer driven by tests and the simulator.

    ``set(37.9)`` fixes the reading; ``script([36.5, None, ThermometerError()])``
    queues readings returned (or raised) one per ``read()`` before falling back
    to the fixed value.
    """

    def __init__(self, value: float | None = 36.6) -> None:
        self._value = value
        self._script: deque[float | None | BaseException] = deque()
        self._lock = threading.Lock()
        self.reads = 0
        self.closed = False

    def set(self, value: float | None) -> None:
        """Set the steady reading (None: nobody in front of the sensor)."""
        self._value = value

    def script(self, readings: Iterable[float | None | BaseException]) -> None:
        """Queue readings (floats, None, or exceptions to raise) in order."""
        with self._lock:
            self._script.extend(readings)

    def read(self) -> float | None:
        """Next scripted reading, else the steady value."""
        with self._lock:
            self.reads += 1
            item = self._script.popleft() if self._script else self._value
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Nothing to release; idempotent for symmetry."""
        self.closed = True


class ManualThermometer:
    """The guard types the value from a handheld thermometer.

    ``enter(value)`` stores it; ``read()`` returns it (None until entered) and
    ``clear()`` forgets it once the visitor has been handled.
    """

    #: measure() takes one sample: re-reading a typed number adds nothing.
    single_reading = True

    def __init__(self) -> None:
        self._value: float | None = None

    def enter(self, value: float | str) -> None:
        """Store the typed value; accepts "37,2" as typed on some keypads."""
        try:
            number = float(str(value).replace(",", ".").strip())
        except ValueError:
            raise ValueError(f"not a temperature: {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"not a temperature: {value!r}")
        self._value = number

    def clear(self) -> None:
        """Forget the entered value."""
        self._value = None

    def read(self) -> float | None:
        """The entered value or None."""
        return self._value

    def close(self) -> None:
        """Nothing to release; idempotent."""
        self._value = None


@dataclass(frozen=True)
class Measurement:
    """Result of :func:`measure`.

    ``status``: ``"ok"``, ``"implausible"`` (outside the plausible range: not
    a forehead, sensor pointed at a wall or lamp), ``"error"`` (device errors
    only) or ``"missing"`` (no reading at all).
    """

    value: float | None
    status: str
    readings: tuple[float, ...] = ()
    errors: tuple[str, ...] = ()


def measure(thermometer: Thermometer, samples: int = 5, window_s: float = 0.5,
            plausible: tuple[float, float] = (30.0, 43.0),
            sleep: Callable[[float], None] = time.sleep) -> Measurement:
    """Take *samples* readings spread over *window_s* and summarise them.

    The median resists one-off spikes (a hand passing the sensor).  Errors are
    collected, never raised; a mix of errors and readings still gives a value.
    """
    if samples < 1 or window_s < 0:
        raise ValueError("samples must be >= 1 and window_s >= 0")
    if getattr(thermometer, "single_reading", False):
        samples = 1
    readings: list[float] = []
    errors: list[str] = []
    for i in range(samples):
        if i:
            sleep(window_s / (samples - 1))
        try:
            value = thermometer.read()
        except (ThermometerError, OSError) as exc:
            errors.append(str(exc) or type(exc).__name__)
            continue
        if value is not None and math.isfinite(value):
            readings.append(float(value))
    return _summarise(readings, errors, plausible)


def _summarise(readings: list[float], errors: list[str],
               plausible: tuple[float, float]) -> Measurement:
    if not readings:
        status = "error" if errors else "missing"
        return Measurement(None, status, (), tuple(errors))
    value = round(statistics.median(readings), 2)
    low, high = plausible
    status = "ok" if low <= value <= high else "implausible"
    return Measurement(value, status, tuple(readings), tuple(errors))


class ProximityTrigger:
    """Says when someone stands close enough to measure.

    Wraps a gpiozero ``DistanceSensor`` (HC-SR04) or anything with a
    ``distance`` attribute in metres.  A failing sensor counts as "nobody"
    so the kiosk falls back to its normal flow instead of crashing.
    """

    def __init__(self, distance_sensor: Any, threshold_m: float = 0.3) -> None:
        if threshold_m <= 0:
            raise ValueError("threshold_m must be positive")
        self.sensor, self.threshold_m = distance_sensor, threshold_m
        self.last_error: str | None = None

    def present(self) -> bool:
        """True if something is within ``threshold_m``."""
        try:
            distance = float(self.sensor.distance)
        except Exception as exc:  # driver/pin errors must not reach the loop
            self.last_error = str(exc) or type(exc).__name__
            return False
        self.last_error = None
        return distance <= self.threshold_m

    def close(self) -> None:
        """Close the wrapped sensor if it can be closed; idempotent."""
        close = getattr(self.sensor, "close", None)
        if close is not None:
            close()
