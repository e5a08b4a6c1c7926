"""Issue 17: holder photos live only in the office database, the signed bundle and the gate's 0600
database. No export, sync answer, CSV or XLSX carries a photo's bytes, its base64 or its digest."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import zipfile
from datetime import date

from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.core.rules import Scan
from kiosk.gate import usb_export
from kiosk.office import photos, pull, reports, usb_import
from kiosk.store import tokens
from tests.conftest import NOW
from tests.office.portraits import portrait
from web import create_app, office_export
from web.office_query import OfficeFilter, find_events


def traces(jpeg: bytes) -> dict[str, bytes]:
    """What of a photo could show up in an output: its bytes, base64 (either alphabet) or digest."""
    encoded = base64.b64encode(jpeg)
    return {"bytes": jpeg[200:264], "base64": encoded[200:264], "urlsafe": base64.urlsafe_b64encode(jpeg)[200:264],
            "sha256": hashlib.sha256(jpeg).hexdigest().encode(), "table": b"holder_photos"}


def unpacked(data: bytes) -> bytes:
    """An XLSX's parts, decompressed (a photo would hide in a compressed part)."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return b"".join(book.read(name) for name in book.namelist())


def test_no_export_sync_answer_or_office_table_carries_a_photo(community, office, gate, republish, tmp_path):
    jpeg = photos.thumbnail(portrait(1))
    photos.save_photos(office.db, {"R001": jpeg}, NOW)
    republish()
    assert gate.db["holder_photos"].count == 1
    assert stat.S_IMODE(gate.config.db_path.stat().st_mode) == 0o600
    gate.check(Scan(direction="in", token=community.tokens["resident"], temperature=36.6, lane="in"), NOW)

    outputs: dict[str, bytes] = {}
    export = tmp_path / "usb.events"
    usb_export.export_events(gate, 0, export, NOW)
    outputs["usb export"] = export.read_bytes()
    token = tokens.create_token(gate.db, "office", "office", NOW)[1]
    client = create_app({"KIOSK_HOME": str(community.gate_home), "CLOCK": gate.clock}).test_client()
    for path in ("/api/v1/events?since=0", "/api/v1/shifts", "/api/v1/health", "/api/v1/digest"):
        outputs[path] = client.get(path, headers={"Authorization": f"Bearer {token}"}).data

    pull.add_gate(office, "jinan-gate", "", "", usb_export.export_public_key(gate))
    usb_import.import_events(office, export)
    rows = find_events(office.db, OfficeFilter(), limit=None)
    assert rows  # the scan reached the office
    outputs["office events.csv"] = office_export.to_csv(rows, "zh")
    outputs["office events.xlsx"] = unpacked(office_export.to_xlsx(rows, "zh"))
    shift_csv = io.StringIO()
    reports.write_report(reports.report_rows(office, date(2026, 11, 29)), shift_csv)
    outputs["office shift csv"] = shift_csv.getvalue().encode()
    office.close()
    for args in (["person", "list", "--json"], ["person", "show", "R001", "--json"], ["photo", "list", "--json"]):
        result = CliRunner().invoke(cli, ["--home", str(community.office_home), "office", *args])
        assert result.exit_code == 0, result.output
        outputs[" ".join(args)] = result.output.encode()

    assert b"R001" in outputs["usb export"] and "R001" in json.loads(outputs["photo list --json"])[0]["id"]
    leaks = [(output, what) for output, data in outputs.items() for what, needle in traces(jpeg).items()
             if needle in data]
    assert leaks == []
