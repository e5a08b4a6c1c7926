"""Spoken prompts at the lane: which prompt a decision gets, and its WAV made once and cached.

The texts are catalogue entries ``voice.<prompt>`` in the gate's language, spoken by
espeak-ng (Mandarin voice ``cmn`` for Chinese). Each file is cached in ``<home>/voice/``
under a name that includes a hash of its text, voice and volume, so a changed text or
volume makes a new file and an unchanged one is never made twice. ``Voice.prepare()``
makes them all (at lane start, so the first decision is not delayed); the lane process
plays them (``Voice.say``) through an audio device from ``hardware.audio``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from hardware.audio import AudioError, speak_to_wav
from kiosk.core.i18n import t

log = logging.getLogger(__name__)

PROMPTS = ("allow", "deny", "refer", "fever", "remeasure", "isolated", "scan_again")
ESPEAK_VOICES = {"zh": "cmn", "en": "en"}
ISOLATION_CODES = ("home_isolation", "central_quarantine")
REMEASURE_CODES = ("temperature_missing", "temperature_implausible")


def prompt_for(outcome: str, codes: tuple[str, ...] | list[str]) -> str:
    """The prompt a decision gets: the most specific reason first, else its outcome."""
    if outcome == "allow":
        return "allow"
    if "fever" in codes:
        return "fever"
    if any(code in ISOLATION_CODES for code in codes):
        return "isolated"
    if any(code in REMEASURE_CODES for code in codes):
        return "remeasure"
    if "unreadable" in codes:
        return "scan_again"
    return "refer" if outcome == "refer" else "deny"


class Voice:
    """The lane's prompts on ``audio`` (anything with ``play(path)``), made in ``folder``."""

    def __init__(self, audio: Any, folder: Path, language: str = "zh", volume: int = 100) -> None:
        self.audio, self.folder, self.language, self.volume = audio, Path(folder), language, volume
        self.voice = ESPEAK_VOICES.get(language, language)
        self.files: dict[str, Path] = {}

    def path(self, prompt: str) -> Path:
        text = t(f"voice.{prompt}", self.language)
        digest = hashlib.sha256(f"{self.voice}|{self.volume}|{text}".encode()).hexdigest()[:12]
        return self.folder / f"{prompt}-{digest}.wav"

    def file(self, prompt: str) -> Path:
        """The prompt's WAV, made now unless cached."""
        if prompt not in self.files:
            path = self.path(prompt)
            if not path.exists():
                speak_to_wav(t(f"voice.{prompt}", self.language), path, voice=self.voice, amplitude=self.volume)
            self.files[prompt] = path
        return self.files[prompt]

    def prepare(self) -> list[Path]:
        """Every prompt's file (made when missing); AudioError when espeak-ng cannot make them."""
        return [self.file(prompt) for prompt in PROMPTS]

    def say(self, prompt: str) -> None:
        """Play a prompt; a missing espeak-ng or speaker is logged, never stops the lane."""
        try:
            self.audio.play(self.file(prompt))
        except (AudioError, OSError) as exc:
            log.warning("voice prompt %s not played: %s", prompt, exc)

    def close(self) -> None:
        self.audio.close()
