"""Debouncer: one event per presentation, with explicit time."""

import pytest

from hardware.debounce import Debouncer


def test_held_code_reported_once():
    d = Debouncer(gone_s=1.0, repeat_s=5.0)
    reported = [d.update(["P"], now=t / 10) for t in range(30)]
    assert reported[0] == ["P"]
    assert sum(len(r) for r in reported) == 1


def test_reported_again_after_absent_for_gone_s():
    d = Debouncer(gone_s=1.0, repeat_s=5.0)
    assert d.update(["P"], 0.0) == ["P"]
    assert d.update([], 0.5) == []
    assert d.update(["P"], 0.75) == []     # away 0.75 s: same presentation
    assert d.update([], 1.25) == []
    assert d.update(["P"], 1.5) == []      # away 0.75 s again
    assert d.update([], 2.0) == []
    assert d.update(["P"], 2.5) == ["P"]   # away 1.0 s: a new presentation


def test_reported_again_after_repeat_s_while_held():
    d = Debouncer(gone_s=1.0, repeat_s=5.0)
    times = [i * 0.25 for i in range(41)]  # 0 .. 10 s, held continuously
    hits = [t for t in times if d.update(["P"], t)]
    assert hits == [0.0, 5.0, 10.0]


def test_payloads_independent_and_deduplicated_within_frame():
    d = Debouncer()
    assert d.update(["A", "A", "B"], 0.0) == ["A", "B"]
    assert d.update(["A", "C"], 0.1) == ["C"]


def test_reset_and_validation():
    d = Debouncer()
    d.update(["A"], 0.0)
    d.reset()
    assert d.update(["A"], 0.1) == ["A"]
    with pytest.raises(ValueError):
        Debouncer(gone_s=-1)
