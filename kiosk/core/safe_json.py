"""JSON from outside (the LAN, a USB stick, a file) read within limits, checked before parsing.

Python's parser recurses once per nesting level, so ``[[[[…`` a few thousand deep ends in a
RecursionError (a 500, or a traceback that stops a command). Every place where JSON arrives
goes through :func:`loads`, which refuses input that is too large or nested too deeply
with a ValueError (:class:`JSONLimitError`) before the parser sees it.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32  # the deepest real document (a bundle's tables) nests 4 levels
MAX_BYTES = 64 * 1024 * 1024

_ESCAPED = re.compile(rb"\\.", re.DOTALL)  # \" inside a string must not end it
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class JSONLimitError(ValueError):
    """The input was refused before parsing: too large or nested too deeply."""


def depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects (brackets inside strings do not count)."""
    outside_strings = b"".join(_ESCAPED.sub(b"", data).split(b'"')[::2])
    brackets = outside_strings.translate(None, delete=_NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads(data: bytes | str, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """``json.loads`` after checking size and depth; every refusal is a ValueError."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise JSONLimitError(f"JSON of {len(raw)} bytes: at most {max_bytes} accepted")
    if depth(raw) > max_depth:
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(raw)
