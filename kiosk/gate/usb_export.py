"""USB fallback for total outages: a signed, chain-verifiable export of a gate's events.

The gate never holds the office signing key, so it signs exports with its own Ed25519
key (``keys/gate-export.key``, created 0600 at the first export). The office knows
that key from ``kiosk office gate add --export-key`` or records it at the first import
(trust on first use) and enforces it afterwards. The hash chain makes the events
verifiable on their own too: an import must continue what the office already holds.

File format (UTF-8 NDJSON, constant memory to write and read):
line 1 header ``{"format", "gate_id", "site_id", "since", "created_utc", "public_key"}``,
one line per event, a trailer ``{"count", "last_seq", "last_hash"}``, and a last line
``{"sha256", "signature"}``: Ed25519 over ``kiosk-events/1:`` + SHA-256 of every byte before it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.core.clock import utc_text
from kiosk.core.signing import generate_signing_key, load_signing_key, parse_public_key_text, public_key_text, verify
from kiosk.office.pull import ChainBreak, EventSink, SyncError, chosen_gates, event_feed, get_gate
from kiosk.office.service import Office
from kiosk.store.db import transaction

FORMAT = "kiosk-events/1"
EXPORT_KEY = "gate-export.key"


def export_key(gate) -> Ed25519PrivateKey:
    """The gate's export signing key, created on first use."""
    path = gate.config.keys_dir / EXPORT_KEY
    return load_signing_key(path) if path.exists() else generate_signing_key(path)


def export_public_key(gate) -> str:
    return public_key_text(export_key(gate).public_key())


def signed_message(digest: bytes) -> bytes:
    return FORMAT.encode() + b":" + digest


def export_events(gate, since: int, out: Path, now: datetime) -> dict:
    """Write every event after ``since`` to ``out`` (atomically: a temp file renamed)."""
    key = export_key(gate)
    header = {"format": FORMAT, "gate_id": gate.gate_id, "site_id": gate.site_id, "since": since,
              "created_utc": utc_text(now), "public_key": public_key_text(key.public_key())}
    feed = event_feed(gate.config.db_path, since, limit=-1)  # raises Pruned; -1: no limit in SQLite
    digest, temp = hashlib.sha256(), out.with_name(out.name + ".partial")
    trailer = {"count": 0, "last_seq": since, "last_hash": None}
    with temp.open("wb") as handle:
        def write(data: bytes) -> None:
            digest.update(data)
            handle.write(data)

        write((json.dumps(header, ensure_ascii=False) + "\n").encode())
        for chunk in feed:
            for line in chunk.splitlines():
                row = json.loads(line)
                if "seq" in row:
                    write(line + b"\n")
                    trailer.update(count=trailer["count"] + 1, last_seq=row["seq"], last_hash=row["hash"])
        write((json.dumps(trailer) + "\n").encode())
        signature = key.sign(signed_message(digest.digest()))
        handle.write((json.dumps({"sha256": digest.hexdigest(),
                                  "signature": base64.b64encode(signature).decode()}) + "\n").encode())
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(out)
    return {**trailer, "since": since, "path": str(out)}


# --- office side -----------------------------------------------------------------------

@dataclass
class ImportResult:
    gate: str
    new_events: int
    already_held: int
    last_seq: int
    trusted_now: bool  # the gate's export key was recorded by this import (trust on first use)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def check_signature(path: Path) -> tuple[dict, dict]:
    """(header, trailer) of an export file whose signature matches its embedded key."""
    digest, header, previous, last = hashlib.sha256(), None, None, None
    for line in _lines(path):
        if last is not None:
            digest.update(last)
            previous = last
        last = line
        if header is None:
            header = _json_line(line, "header")
    if header is None or previous is None or header.get("format") != FORMAT:
        raise SyncError("malformed", f"{path} is not a {FORMAT} export file")
    seal = _json_line(last, "signature")
    try:
        _, key = parse_public_key_text(header["public_key"])
        signature = base64.b64decode(seal["signature"], validate=True)
    except (KeyError, ValueError, TypeError) as exc:
        raise SyncError("malformed", f"{path}: bad key or signature field: {exc}") from exc
    if not verify(key, signature, signed_message(digest.digest())):
        raise SyncError("bad_signature", f"{path}: signature does not match the content (altered or damaged)")
    return header, _json_line(previous, "trailer")


def _json_line(line: bytes, what: str) -> dict:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise SyncError("malformed", f"unreadable {what} line: {exc}") from exc
    if not isinstance(value, dict):
        raise SyncError("malformed", f"the {what} line is not an object")
    return value


def _gate_for(office: Office, header: dict, name: str | None) -> dict:
    if name:
        return get_gate(office, name)
    for gate in chosen_gates(office, []):
        if header.get("gate_id") in (gate["gate_id"], gate["name"]):
            return gate
    raise SyncError("unknown_gate",
                    f"no gate for {header.get('gate_id')!r}: add it with `kiosk office gate add` or name --gate")


def import_events(office: Office, path: Path, gate_name: str | None = None) -> ImportResult:
    """Take an export file exactly once: verify signature and chain, then store all or nothing."""
    header, trailer = check_signature(path)
    gate = _gate_for(office, header, gate_name)
    if gate["gate_id"] and header["gate_id"] != gate["gate_id"]:
        raise SyncError("wrong_gate", f"{path} comes from gate {header['gate_id']!r}, not {gate['gate_id']!r}")
    if gate["export_key"] and gate["export_key"] != header["public_key"]:
        raise SyncError("unknown_key", f"{path} is signed by another key than gate {gate['name']!r} uses")
    if gate["chain_broken"]:
        raise SyncError("chain_broken", f"gate {gate['name']!r} has a broken chain: {gate['chain_broken']}")
    with transaction(office.db) as conn:
        sink = EventSink(conn, {**gate, "clock_offset_s": None, "gate_id": header["gate_id"]})
        held, count = 0, 0
        for line in _event_lines(path):
            row = json.loads(line)
            count += 1
            if row["seq"] <= gate["last_seq"]:
                held += _check_held(conn, gate["name"], row)
            else:
                sink.add(row)
        if count != trailer.get("count"):
            raise SyncError("malformed", f"{path}: {count} events, the trailer says {trailer.get('count')}")
        sink.save_cursor()
        conn.execute("UPDATE gates SET gate_id = ?, export_key = ? WHERE name = ?",
                     [header["gate_id"], header["public_key"], gate["name"]])
    return ImportResult(gate["name"], sink.stored, held, sink.seq, trusted_now=not gate["export_key"])


def _event_lines(path: Path) -> Iterator[bytes]:
    """The event lines: everything between the header and the trailer and signature."""
    window: list[bytes] = []
    for number, line in enumerate(_lines(path)):
        if number == 0:
            continue
        window.append(line)
        if len(window) > 2:
            yield window.pop(0)


def _check_held(conn, gate: str, row: dict) -> int:
    held = conn.execute("SELECT hash FROM gate_events WHERE gate = ? AND seq = ?", [gate, row["seq"]]).fetchone()
    if held and held[0] != row["hash"]:
        raise ChainBreak(f"seq {row['seq']}: the file's event differs from the one the office holds")
    return 1
