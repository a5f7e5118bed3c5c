"""Writing a result's tables to files structurers use: an Excel workbook (one sheet per table,
the summary first, formatted as the display formats them) and a folder of CSV or Parquet files.
Each file is written whole or not at all (:func:`~abs_engine.io.files.write_atomic`); every
limit is checked before anything is written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SpecError
from .display import EXCEL_FORMATS, ROW_LEVELS, kind
from .files import write_atomic

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["write_excel", "save_tables", "Exported", "EXCEL_MAX_ROWS", "TABLE_FORMATS"]

EXCEL_MAX_ROWS = 1_048_575
"""Rows of data an Excel sheet holds (below its header row)."""
TABLE_FORMATS = ("csv", "parquet")


def _sheet_name(name: str, taken: set[str]) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of ``[]:*?/\\``, unique."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "sheet"
    out, k = clean, 2
    while out.lower() in taken:
        out = f"{clean[:28]}_{k}"
        k += 1
    taken.add(out.lower())
    return out


def write_excel(tables: dict[str, pd.DataFrame], path: str | os.PathLike[str]) -> str:
    """Every table on its own sheet, in the order given (a run's summary first), each with its
    index as leading columns, a bold frozen header, filters, column widths, and the display's
    number formats (percent for rates and yields, four decimals for years and prices, thousands
    separators for money): the cells keep their full-precision values. Returns the path.

    Refused before anything is written: a path not ending in ``.xlsx``, a folder that does not
    exist, a table longer than a sheet (:data:`EXCEL_MAX_ROWS`; save it as CSV or Parquet)."""
    try:
        import openpyxl  # deferred: the optional ``excel`` extra
        from openpyxl.styles import Font  # deferred: as openpyxl
        from openpyxl.utils import get_column_letter  # deferred: as openpyxl
    except ImportError:  # pragma: no cover - exercised where the extra is absent
        raise SpecError("to_excel", str(path), "openpyxl installed (pip install 'abs-engine[excel]')") from None
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise SpecError("path", str(path), "a file ending in .xlsx")
    if not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise SpecError("path", str(path), f"a path in an existing folder ({path.parent} does not exist)")
    for name, frame in tables.items():
        if len(frame) > EXCEL_MAX_ROWS:
            raise SpecError(name, f"{len(frame):,} rows", f"at most {EXCEL_MAX_ROWS:,} rows on a sheet (save this "
                            "run's tables with result.save(folder) as CSV or Parquet)")

    book = openpyxl.Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    for name, frame in tables.items():
        sheet = book.create_sheet(_sheet_name(name, taken))
        flat = frame.reset_index() if any(n is not None for n in frame.index.names) else frame
        columns = [str(c) for c in flat.columns]
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = bold
        by_row = next((level for level in ROW_LEVELS if level in (frame.index.names or ())), None)
        for row in flat.itertuples(index=False):
            sheet.append([_excel_value(v) for v in row])
        for j, col in enumerate(columns, start=1):
            letter = get_column_letter(j)
            width = max([len(col)] + [len(str(v)) for v in flat.iloc[:200, j - 1].tolist()])
            sheet.column_dimensions[letter].width = min(max(width + 2, 10), 40)
            if flat.dtypes.iloc[j - 1].kind == "M":
                for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = "yyyy-mm-dd"
            elif flat.dtypes.iloc[j - 1].kind in "fiu" and by_row is None:
                fmt = EXCEL_FORMATS[kind(col)]
                for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = fmt
        if by_row is not None:  # a distribution (bands): each row formatted as its metric (measure)
            at = columns.index(by_row) + 1
            for row in sheet.iter_rows(min_row=2):
                fmt = EXCEL_FORMATS[kind(str(row[at - 1].value), metric=True)]
                for cell, col in zip(row[frame.index.nlevels:], columns[frame.index.nlevels:], strict=True):
                    cell.number_format = fmt if kind(col) == "money" else EXCEL_FORMATS[kind(col)]
        sheet.freeze_panes = "B2" if frame.index.nlevels == 1 else f"{get_column_letter(frame.index.nlevels + 1)}2"
        sheet.auto_filter.ref = sheet.dimensions
    write_atomic(str(path), lambda tmp: book.save(tmp))
    return str(path)


def _excel_value(v):
    """A cell's value: numbers as floats or ints, missing as empty, timestamps as datetimes."""
    if v is None or (isinstance(v, float) and v != v) or type(v).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime()
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def save_tables(tables: dict[str, pd.DataFrame], folder: str | os.PathLike[str], format: str = "csv") -> dict[str, str]:
    """Every table as ``folder/<table>.csv`` (dates as ``YYYY-MM-DD``) or ``folder/<table>.parquet``
    (the index as columns); the folder is created if its parent exists. Returns ``{table: path}``."""
    if format not in TABLE_FORMATS:
        raise SpecError("format", format, f"one of {list(TABLE_FORMATS)}")
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise SpecError("folder", str(folder), "a folder for the tables (this is a file)")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise SpecError("folder", str(folder), f"a folder whose parent exists ({out.parent} does not)")
    out.mkdir(exist_ok=True)
    written = {}
    for name, frame in tables.items():
        path = str(out / f"{name}.{format}")
        if format == "csv":
            write_atomic(path, lambda tmp, f=frame: f.to_csv(tmp, date_format="%Y-%m-%d"))
        else:
            write_atomic(path, lambda tmp, f=frame: f.reset_index().to_parquet(tmp))
        written[name] = path
    return written


class Exported:
    """A result whose tables (``all_tables()``, by name, the summary first) go to the files
    structurers use."""

    def all_tables(self) -> dict[str, pd.DataFrame]:
        raise NotImplementedError

    def to_excel(self, path) -> str:
        """Every table in one Excel workbook, a sheet each, the summary first; numbers keep their
        values and are formatted as the display shows them (percent for rates and yields). Needs
        ``openpyxl`` (the ``excel`` extra). Returns the path.

        >>> import tempfile, pathlib, pandas as pd, abs_engine as ae
        >>> res = ae.run({"name": "pool", "collateral": {"rep_lines": [
        ...     {"balance": 100.0, "wac": 0.0, "wam": 4}]}}, {"prepay": {"cpr": 0.0}})
        >>> path = res.to_excel(pathlib.Path(tempfile.mkdtemp()) / "run.xlsx")
        >>> pd.read_excel(path, sheet_name="pool")["scheduled_principal"].tolist()
        [25, 25, 25, 25]
        """
        return write_excel(self.all_tables(), path)

    def save(self, folder, format: str = "csv") -> dict[str, str]:
        """Every table as ``folder/<table>.csv`` or ``.parquet``; returns ``{table: path}``."""
        return save_tables(self.all_tables(), folder, format)
