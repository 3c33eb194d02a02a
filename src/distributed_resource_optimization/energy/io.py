"""Reading the district's CSV data files with validation.

Every malformed file gets a :class:`DataFileError` that names the file, the row (1-based data row,
as a spreadsheet shows it after the header) and the column, so users pointing the loader at their
own folder can fix it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pandas as pd

#: Folder of the embedded default test case (the seed study's Singapore district).
DEFAULT_DATA_DIR: Path = Path(str(resources.files(__package__) / "data" / "singapore_district"))


class DataFileError(ValueError):
    """A data file is missing or malformed; the message names file, row and column."""

    def __init__(self, path: Path | str, message: str, row: int | None = None,
                 column: str | None = None) -> None:
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.row = row
        self.column = column


def read_table(
    folder: Path | str,
    relative_path: str,
    columns: Mapping[str, type],
    *,
    optional: Mapping[str, type] | None = None,
    allow_empty: bool = False,
) -> pd.DataFrame:
    """Read ``folder/relative_path`` and check the named columns.

    ``columns`` maps each required column to ``float``, ``int`` or ``str``; numeric columns must be
    finite numbers in every row. ``optional`` columns are checked only if present (empty cells
    allowed there, read as NaN). Other columns are kept as read. Returns a DataFrame whose checked
    columns have the requested types.
    """
    path = Path(folder) / relative_path
    if not path.is_file():
        raise DataFileError(path, "file not found")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFileError(path, f"cannot parse CSV ({exc})") from exc
    if table.empty and not allow_empty:
        raise DataFileError(path, "file has no data rows")
    for name, kind in columns.items():
        if name not in table.columns:
            raise DataFileError(path, "required column is missing", column=name)
        table[name] = _convert(path, table, name, kind, required=True)
    for name, kind in (optional or {}).items():
        if name in table.columns:
            table[name] = _convert(path, table, name, kind, required=False)
    return table


def parse_number(path: Path, text: str, row: int, column: str) -> float:
    """``text`` as a finite float, or a :class:`DataFileError` naming file, row and column."""
    try:
        number = float(text)
    except ValueError:
        raise DataFileError(path, f"'{text}' is not a number", row=row, column=column) from None
    if not math.isfinite(number):
        raise DataFileError(path, f"'{text}' is not a finite number", row=row, column=column)
    return number


def _convert(path: Path, table: pd.DataFrame, name: str, kind: type, *, required: bool) -> pd.Series:
    values = []
    for i, raw in enumerate(table[name].tolist(), start=1):
        text = raw.strip()
        if kind is str:
            if required and text == "":
                raise DataFileError(path, "empty value", row=i, column=name)
            values.append(text)
            continue
        if text == "":
            if required:
                raise DataFileError(path, "empty value where a number is required", row=i,
                                    column=name)
            values.append(math.nan)
            continue
        number = parse_number(path, raw, i, name)
        if kind is int:
            if number != int(number):
                raise DataFileError(path, f"'{raw}' is not a whole number", row=i, column=name)
            number = int(number)
        values.append(number)
    return pd.Series(values, index=table.index, name=name)
