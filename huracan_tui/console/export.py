"""Tables out of the console: CSV or JSON files of the rows shown (the filter applied, in the order
shown) under the table's own headers, every column of the view (those a narrow terminal leaves off
the screen too), written to the export folder:
`console.export_dir`, by default the user's data folder ($XDG_DATA_HOME/huracan/exports, else
~/.local/share/huracan/exports), where screenshots go too.

A table whose columns have typed values (`Typed`, given per column key beside the column's cells,
e.g. slot_table.MODEL_VALUES) is written from the records behind its rows, not from the text it
shows: numbers as numbers (fractions, not percents; no signs, glyphs or units), times as ISO-8601
in UTC, null in JSON and an empty cell in CSV where the table shows '-'. A column whose value is a
list (a sparkline's numbers) is written to JSON only and left out of CSV: a CSV cell holds one
value. A table without typed values is written as shown, as text."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from huracan_tui.console.state_file import user_dir

FORMATS = ("csv", "json")


@dataclass(frozen=True)
class Typed:
    """What a column is in a file: `of` gives its value for the record behind a row (a number, a
    string, a datetime, None; a list where `scalar` is False, in JSON only)."""

    of: Callable[[Any], object]
    scalar: bool = True


@dataclass(frozen=True)
class TypedColumns:
    """A table's typed values: `values` by column key, `record` the record behind a row by its key."""

    values: Mapping[str, Typed]
    record: Callable[[str], Any]
    # Every column of the view as (key, header), in its order: a file holds them all, also those
    # a narrow terminal leaves off the screen. Empty: the columns the table shows.
    columns: tuple[tuple[str, str], ...] = ()


class ExportError(Exception):
    """Why nothing was written, as one line for a toast: what, and where."""


def export_folder(configured: str | None) -> Path:
    """Where exports and screenshots go: console.export_dir (made absolute when the config was read),
    else the user's data folder."""
    folder = Path(configured).expanduser() if configured else user_dir("data") / "exports"
    return folder.absolute()


def writable_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"cannot create the folder {folder} ({error.strerror or error})") from None
    return folder


def table_rows(table: DataTable, typed: TypedColumns | None = None, *,
               scalars_only: bool = False) -> tuple[list[str], list[list[object]]]:
    """The headers and the rows shown, in the order shown: typed values where `typed` gives them,
    else each cell's text. `scalars_only`: without the columns whose values are lists."""
    if typed is None:
        columns = table.ordered_columns
        return [str(column.label) for column in columns], [
            [str(table.get_cell(row.key, column.key)) for column in columns] for row in table.ordered_rows]
    shown = typed.columns or tuple((column.key.value, str(column.label)) for column in table.ordered_columns)
    columns = [(key, header) for key, header in shown if not scalars_only or typed.values[key].scalar]
    rows = []
    for row in table.ordered_rows:
        record = typed.record(row.key.value)
        rows.append([typed.values[key].of(record) for key, _ in columns])
    return [header for _, header in columns], rows


def json_value(value: object) -> object:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; not measured reads as null
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return value


def csv_value(value: object) -> object:
    value = json_value(value)
    return "" if value is None else value


def utc_iso(value: datetime) -> str:
    # The brain's times are UTC; one read back without a zone (SQLite) is UTC too.
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat()


def export_table(table: DataTable, folder: Path, name: str, fmt: str, now: datetime,
                 typed: TypedColumns | None = None) -> Path:
    """Write the table to a new file in `folder`; its path. Raises ExportError where the folder or
    the file cannot be written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    headers, rows = table_rows(table, typed, scalars_only=fmt == "csv")
    path = writable_folder(folder) / f"huracan-{name}-{now:%Y%m%dT%H%M%S}.{fmt}"
    try:
        if fmt == "csv":
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(headers)
                writer.writerows([csv_value(value) for value in row] for row in rows)
        else:
            records = [{header: json_value(value) for header, value in zip(headers, row, strict=True)}
                       for row in rows]
            path.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        raise ExportError(f"cannot write {path} ({error.strerror or error})") from None
    return path
