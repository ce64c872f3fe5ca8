"""Tables out of the console: CSV or JSON files of exactly the rows and columns shown."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

from textual.widgets import DataTable


def table_rows(table: DataTable) -> tuple[list[str], list[list[str]]]:
    headers = [str(column.label) for column in table.ordered_columns]
    rows = [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]
    return headers, rows


def export_table(table: DataTable, folder: Path, name: str, fmt: str, now: datetime) -> Path:
    headers, rows = table_rows(table)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"huracan-{name}-{now:%Y%m%dT%H%M%S}.{fmt}"
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            writer.writerows(rows)
    elif fmt == "json":
        path.write_text(json.dumps([dict(zip(headers, row, strict=True)) for row in rows], indent=2),
                        encoding="utf-8")
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return path
