"""The XLSX sink: workbooks with real date and number cells, as Excel and LibreOffice save them.

A date is a serial-number cell with a date number format (never text); a number is a numeric
cell; a messy text (a number word, " 42 ") stays a text cell, as a user typing into a sheet
would leave it. openpyxl writes cell by cell (XLSX is XML per cell), so this sink is for
workbooks of spreadsheet size (a leads list, a price sheet), not for bulk data: the CSV and
SQL sinks carry those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from headwater import duck

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


@dataclass(frozen=True)
class Sheet:
    name: str
    relation: str
    """A DuckDB relation; its column names are the header row."""
    order_by: Sequence[str] = ()
    title_rows: Sequence[str] = ()
    """Lines above the header (a report title, an export note), as people put them there."""


def write_xlsx(con: Any, path: str | Path, sheets: Sequence[Sheet]) -> dict[str, int]:
    """Write one workbook with a sheet per :class:`Sheet`; return the data rows per sheet."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    counts = {}
    for spec in sheets:
        sheet = book.create_sheet(spec.name)
        order = ", ".join(duck.quote(c) for c in spec.order_by)
        result = con.execute(f"SELECT * FROM {spec.relation}" + (f" ORDER BY {order}" if order else ""))
        header = [d[0] for d in result.description]
        for title in spec.title_rows:
            sheet.append([title])
        sheet.append(header)
        rows = result.fetchall()
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=_cell_value(value))
                if isinstance(value, datetime):
                    cell.number_format = DATETIME_FORMAT
                elif isinstance(value, date):
                    cell.number_format = DATE_FORMAT
                cells.append(cell)
            sheet.append(cells)
        counts[spec.name] = len(rows)
    book.save(path)
    return counts


def _cell_value(value: Any) -> Any:
    from decimal import Decimal

    # Excel has one number type; a Decimal is written as its float, as Excel would store it.
    return float(value) if isinstance(value, Decimal) else value
