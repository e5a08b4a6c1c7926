"""Spoken prompts: each espeak-ng WAV is real speech-length, non-silent audio; aplay plays it."""

from __future__ import annotations

import array
import math
import shutil
import wave

import pytest

from hardware.audio import AplayAudio, FakeAudio
from kiosk.gate.voice import PROMPTS, Voice

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed "
                                  "(Makefile TEST_SYSTEM_PACKAGES)")


def _rms_and_seconds(path) -> tuple[float, float]:
    with wave.open(str(path)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth()) == (1, 2)  # 16-bit mono, as aplay takes it
        samples = array.array("h", audio.readframes(audio.getnframes()))
        return math.sqrt(sum(s * s for s in samples) / len(samples)), audio.getnframes() / audio.getframerate()


@needs_espeak
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_prompt_is_speech_of_plausible_length(tmp_path, language):
    voice = Voice(FakeAudio(), tmp_path, language)
    files = voice.prepare()
    assert [path.name.split("-")[0] for path in files] == list(PROMPTS)
    for path in files:
        rms, seconds = _rms_and_seconds(path)
        assert 0.4 <= seconds <= 5.0, (path.name, seconds)  # a short prompt, not a click nor a speech
        assert rms > 500, (path.name, rms)  # full-scale is 32767: silence or a whisper fails


@needs_espeak
def test_a_prompt_is_made_once_and_again_only_when_the_volume_changes(tmp_path):
    first = Voice(FakeAudio(), tmp_path).file("allow")
    stamp = first.stat().st_mtime_ns
    assert Voice(FakeAudio(), tmp_path).file("allow") == first and first.stat().st_mtime_ns == stamp
    quieter = Voice(FakeAudio(), tmp_path, volume=40).file("allow")
    assert quieter != first
    assert _rms_and_seconds(quieter)[0] < _rms_and_seconds(first)[0]


@needs_espeak
@pytest.mark.skipif(shutil.which("aplay") is None, reason="aplay not installed (alsa-utils)")
def test_aplay_plays_a_prompt_on_an_alsa_device(tmp_path):
    path = Voice(FakeAudio(), tmp_path).file("deny")
    with AplayAudio("null") as audio:  # ALSA's null device: plays, at speed, into nothing
        audio.play(path)
        assert audio._playing.wait(timeout=30) == 0


def test_the_fake_records_what_was_played(tmp_path):
    fake = FakeAudio()
    fake.play(tmp_path / "allow.wav")
    fake.close()
    assert fake.played == [tmp_path / "allow.wav"] and fake.closed
