"""XLSX exports of the duty lists (openpyxl). Every export is audited as
``duty.<thing>.exported`` with the filters used and the number of rows."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse
from django.utils import timezone

from yuqing.audit.services import audit_record

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: Any) -> Any:
    # openpyxl writes str, numbers and dates; everything else (lazy strings, Decimals) as text.
    if value is None:
        return ""
    if isinstance(value, int | float | str) or hasattr(value, "isoformat"):
        return value
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    return str(value)


Sheet = tuple[Any, Sequence[Any], Iterable[Sequence[Any]]]


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """One worksheet per (title, headers, rows): bold first row, frozen, columns sized."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for title, headers, rows in sheets:
        ws = wb.create_sheet(str(title)[:31])
        ws.append([str(h) for h in headers])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="E8EFF9")
        widths = [len(str(h)) * 2 + 2 for h in headers]
        for row in rows:
            values = [_cell(v) for v in row]
            ws.append(values)
            widths += [8] * (len(values) - len(widths))
            for i, v in enumerate(values):
                widths[i] = min(60, max(widths[i], len(str(v)) + 2))
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsx_response(
    *,
    thing: str,
    title: str,
    headers: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    filters: dict[str, Any],
    more: Sequence[Sheet] = (),
) -> HttpResponse:
    data = workbook_bytes([(title, headers, rows), *more])
    audit_record(
        f"duty.{thing}.exported",
        changes={"filters": filters, "rows": len(rows)},
        object_repr=str(title),
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="duty-{thing}-{stamp}.xlsx"'
    return response
