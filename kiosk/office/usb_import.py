"""The office's half of the USB fallback: a gate's signed export file taken exactly once.

The file's signature is checked against the key the office pinned for that gate (given
at ``kiosk office gate add --export-key`` or read from the gate's ``/health`` over its
token); a file for a gate without a pinned key is refused, never trusted on first use.
Its events must continue the chain the office holds. The gate's half and the file format: kiosk.gate.usb_export.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from kiosk.core import safe_json
from kiosk.core.i18n import t
from kiosk.core.protocol import USB_FORMAT, SyncError, signed_export_message
from kiosk.core.signing import parse_public_key_text, verify
from kiosk.office.pull import ChainBreak, VerifiedBatch, chosen_gates, event_row, get_gate, store_batch, writing
from kiosk.office.service import Office


@dataclass
class ImportResult:
    gate: str
    new_events: int
    already_held: int
    last_seq: int


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
    if header is None or previous is None or header.get("format") != USB_FORMAT:
        raise SyncError("malformed", f"{path} is not a {USB_FORMAT} export file")
    seal = _json_line(last, "signature")
    try:
        _, key = parse_public_key_text(header["public_key"])
        signature = base64.b64decode(seal["signature"], validate=True)
    except (KeyError, ValueError, TypeError) as exc:
        raise SyncError("malformed", f"{path}: bad key or signature field: {exc}") from exc
    if not verify(key, signature, signed_export_message(digest.digest())):
        raise SyncError("bad_signature", f"{path}: signature does not match the content (altered or damaged)")
    return header, _json_line(previous, "trailer")


def _json_line(line: bytes, what: str) -> dict:
    try:
        value = safe_json.loads(line)
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


ROWS_HELD = 5000  # verified events held in memory before they are written (the file can hold millions)


def import_events(office: Office, path: Path, gate_name: str | None = None) -> ImportResult:
    """Take an export file exactly once: verify signature and chain, then store all or nothing."""
    header, trailer = check_signature(path)
    gate = _gate_for(office, header, gate_name)
    if gate["gate_id"] and header["gate_id"] != gate["gate_id"]:
        raise SyncError("wrong_gate", f"{path} comes from gate {header['gate_id']!r}, not {gate['gate_id']!r}")
    if not gate["export_key"]:
        raise SyncError("export_key_not_pinned", t("security.export_key_not_pinned", gate=gate["name"]))
    if gate["export_key"] != header["public_key"]:
        raise SyncError("unknown_key", f"{path} is signed by another key than gate {gate['name']!r} uses")
    if gate["chain_broken"]:
        raise SyncError("chain_broken", f"gate {gate['name']!r} has a broken chain: {gate['chain_broken']}")
    with writing(office) as conn:
        batch = VerifiedBatch({**gate, "clock_offset_s": None, "gate_id": header["gate_id"]}, office.store)
        held, count = 0, 0
        for line in _event_lines(path):
            row = event_row(_json_line(line, "event"))
            count += 1
            if row["seq"] <= gate["last_seq"]:
                held += _check_held(conn, gate["name"], row)
            else:
                batch.add(row)
                if len(batch.rows) >= ROWS_HELD:
                    store_batch(office, batch, conn)  # inside the file's transaction: still all or nothing
        if count != trailer.get("count"):
            raise SyncError("malformed", f"{path}: {count} events, the trailer says {trailer.get('count')}")
        store_batch(office, batch, conn)
        conn.execute("UPDATE gates SET gate_id = ? WHERE name = ?", [header["gate_id"], gate["name"]])
    return ImportResult(gate["name"], batch.stored, held, batch.seq)


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
