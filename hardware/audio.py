"""Short spoken prompts on the gate's speaker: WAV files made by espeak-ng, played by ALSA's aplay.

``speak_to_wav`` renders a text once (Debian's ``espeak-ng``; Mandarin voice ``cmn``);
``AplayAudio.play(path)`` starts ``aplay`` and returns at once, so a lane never waits for
its speaker (a prompt still playing is cut off by the next one). ``FakeAudio`` records what
would have been played, for tests and desk demos.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

__all__ = ["AplayAudio", "AudioError", "FakeAudio", "check_device", "speak_to_wav"]

log = logging.getLogger(__name__)


class AudioError(Exception):
    """espeak-ng or aplay is missing or failed."""


def speak_to_wav(text: str, path: Path, *, voice: str = "cmn", amplitude: int = 100, speed: int = 170) -> Path:
    """``text`` spoken by espeak-ng into the WAV file ``path`` (written whole, then renamed)."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise AudioError("espeak-ng is not installed (apt-get install espeak-ng)")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    done = subprocess.run([program, "-v", voice, "-a", str(amplitude), "-s", str(speed), "-w", str(partial), text],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or not partial.exists():
        raise AudioError(f"espeak-ng failed ({done.returncode}): {done.stderr.strip()}")
    partial.replace(path)
    return path


def check_device(device: str | None, timeout: float = 15.0) -> None:
    """Play a twentieth of a second of silence on ``device`` (ALSA's default if None) with aplay;
    AudioError with aplay's own words when it cannot (no such card, busy, aplay missing)."""
    import tempfile
    import wave

    program = shutil.which("aplay")
    if program is None:
        raise AudioError("aplay is not installed (apt-get install alsa-utils)")
    with tempfile.TemporaryDirectory() as folder:
        silence = Path(folder) / "silence.wav"
        with wave.open(str(silence), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(22050)
            out.writeframes(b"\0\0" * 1102)
        command = [program, "-q", *(["-D", device] if device else []), str(silence)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AudioError(f"aplay did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise AudioError(lines[-1] if lines else f"aplay failed ({done.returncode})")


class AplayAudio:
    """Plays WAV files on an ALSA device with ``aplay`` (``device`` None: ALSA's default)."""

    def __init__(self, device: str | None = None) -> None:
        program = shutil.which("aplay")
        if program is None:
            raise AudioError("aplay is not installed (apt-get install alsa-utils)")
        self.command = [program, "-q"] + (["-D", device] if device else [])
        self._playing: subprocess.Popen | None = None

    def play(self, path: Path) -> None:
        """Start playing ``path`` (stopping a prompt still playing); never waits for the speaker."""
        self._stop()
        try:
            self._playing = subprocess.Popen([*self.command, str(path)], stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:  # a prompt is a help, never a reason for the lane to stop
            log.warning("aplay could not start: %s", exc)

    def _stop(self) -> None:
        if self._playing is not None and self._playing.poll() is None:
            self._playing.terminate()
            self._playing.wait(timeout=5)
        self._playing = None

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> AplayAudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeAudio:
    """Records the files it was asked to play (``played``), in order."""

    def __init__(self) -> None:
        self.played: list[Path] = []
        self.closed = False

    def play(self, path: Path) -> None:
        self.played.append(Path(path))

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeAudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
