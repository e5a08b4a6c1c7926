"""A ledger import's report for people (lines, Chinese by default) and for machines (JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from kiosk.core.i18n import t
from kiosk.office.ledger import ImportReport
from kiosk.office.listing import person_json, person_line

# Fields that differ in the changed-person lines; the hash shows as the identity number.
_SHOWN_AS = {"id_hash": "id_masked"}


@dataclass(frozen=True)
class Line:
    text: str
    to_stderr: bool = False


def lines(report: ImportReport, source: str, zone: ZoneInfo) -> list[Line]:
    """Header, ignored columns, refused and repeated rows, then the changes and a summary."""
    out = [Line(t("ledger.header_at", line=report.header_line))] if report.header_line else []
    out += [Line(t("ledger.ignored_column", column=column, header=header)) for column, header in report.ignored]
    out += [Line(f"{source}:{r.line}: {r.text()}", True) for r in report.refusals]
    out += [Line(f"{source}:{line}: {t('ledger.duplicate_row', other=other)}", True)
            for line, other in report.duplicates]
    out += [Line("+ " + person_line(p, zone)) for p in report.new]
    out += [Line("~ " + person_line(p, zone) + "  (" + "、".join(_changed_fields(fields)) + ")")
            for p, fields in report.changed]
    out += [Line("- " + person_line(p, zone)) for p in report.gone]
    out += [Line("+ " + t("ledger.vehicle", plate=plate)) for plate in report.new_plates]
    out += [Line("- " + t("ledger.vehicle", plate=plate)) for plate in report.gone_plates]
    out.append(Line(t("ledger.summary", new=len(report.new), changed=len(report.changed),
                      unchanged=report.unchanged, gone=len(report.gone), refused=report.refused_rows,
                      repeated=len(report.duplicates))))
    out.append(Line(_outcome(report)))
    return out


def _changed_fields(fields: list[str]) -> list[str]:
    shown = dict.fromkeys(_SHOWN_AS.get(name, name) for name in fields)
    return [t(f"ledger.field.{name}") for name in shown]


def _outcome(report: ImportReport) -> str:
    if not report.applied:
        return t("ledger.dry_run" if report.dry_run else "ledger.nothing_written_refused")
    if report.gone or report.gone_plates:
        if report.removed:
            return t("ledger.removed", persons=len(report.gone), plates=len(report.gone_plates))
        return t("ledger.gone_kept_refused" if report.refusals else "ledger.gone_hint")
    return t("ledger.done", imported=report.imported)


def as_json(report: ImportReport, zone: ZoneInfo) -> dict:
    return {
        "header_line": report.header_line,
        "ignored_columns": [{"column": c, "header": h} for c, h in report.ignored],
        "refused": [{"line": r.line, "code": r.key, "reason": r.text()} for r in report.refusals],
        "repeated_rows": [{"line": line, "same_as": other} for line, other in report.duplicates],
        "new": [person_json(p, zone) for p in report.new],
        "changed": [{**person_json(p, zone), "fields": fields} for p, fields in report.changed],
        "unchanged": report.unchanged,
        "gone": [person_json(p, zone) for p in report.gone],
        "new_plates": report.new_plates, "gone_plates": report.gone_plates,
        "applied": report.applied, "removed_gone": report.removed,
    }
