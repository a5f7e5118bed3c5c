"""How tables are shown to people: one set of number formats, by column name, for the terminal
(``text``), notebooks (``html``) and the CLI.

Formatting is for display only. The tables a run returns keep their dtypes and their units
(rates and yields are decimals in data); only what is printed or rendered is formatted:

* rates, yields and shares (``yield``, ``coupon``, ``smm``, ``cdr``, ``loss``...) in percent,
  four decimals (``5.2500%``);
* years and prices (``wal``, durations, ``price``) with four decimals;
* periods as whole numbers, a missing one (a class that is paid no principal) as ``-``;
* factors with six decimals;
* amounts of money with thousands separators and two decimals (``1,583,466.23``).

A table indexed by ``metric`` (a distribution across scenarios) is formatted row by row, by the
metric's name.

>>> import pandas as pd
>>> frame = pd.DataFrame({"wal": [4.25], "yield": [0.0525], "total_principal": [1583466.234]})
>>> formatted(frame).iloc[0].tolist()
['4.2500', '5.2500%', '1,583,466.23']
"""

from __future__ import annotations

import html as _html
from collections.abc import Callable, Iterable

__all__ = ["PERCENT", "DECIMALS4", "PERIODS", "kind", "EXCEL_FORMATS", "formatter", "formatted", "text", "html",
           "header_html", "result_html", "result_text", "Shown", "MAX_ROWS", "as_table"]

PERCENT = frozenset({
    "yield", "mortgage_yield", "coupon", "smm", "mdr", "cpr", "cdr", "severity", "discount_margin",
    "index_rate", "rate", "delinquency_60_ratio", "sixty_plus", "servicing_fee_rate", "net_coupon", "wac",
    "breakeven_cdr", "yield_breakeven_cdr", "cumulative_loss_ratio", "loss_share", "yield_floor",
    "portfolio_yield", "payment_rate", "charge_off_rate", "delinquency_60",
})
"""Columns (or metrics) that are rates, yields or shares: shown in percent."""
PERCENT_METRICS = frozenset({"loss"})
"""Metrics of a distribution that are shares (``loss``: writedowns / original face), though a
column of the same name is an amount (the pool's ``loss``)."""
DECIMALS4 = frozenset({"wal", "price", "macaulay_duration", "modified_duration", "convexity", "psa", "abs", "sda",
                       "breakeven_sda", "yield_breakeven_sda", "breakeven_scale", "yield_breakeven_scale"})
"""Columns shown with four decimals (years, prices, speeds in percent of a standard curve)."""
PERIODS = frozenset({"period", "first_principal_period", "last_principal_period", "first_period", "periods",
                     "months", "loans", "recipients", "seq", "version"})
"""Whole-number columns."""
FACTORS = frozenset({"factor", "pool_factor", "percentile"})
MAX_ROWS = 30
ROW_LEVELS = ("metric", "measure")
"""Index levels that name what each row measures (a distribution's ``metric``, the anomaly
bands' ``measure``): such a table is formatted row by row."""
"""Rows a table shows before it is cut to its first and last rows (notebook and ``repr``)."""


def _missing(x) -> bool:
    """None, NaN, pandas' NA or NaT."""
    return x is None or (isinstance(x, float) and x != x) or type(x).__name__ in ("NAType", "NaTType")


def kind(name: str, metric: bool = False) -> str:
    """How a column (or, with ``metric``, a distribution's metric) called ``name`` is shown:
    ``percent``, ``decimal4``, ``whole``, ``factor`` or ``money``."""
    if metric and name in PERCENT_METRICS:
        return "percent"
    if name in PERCENT or name.endswith(("_rate", "_yield", "_pct", "_ratio", "_3m")):
        return "percent"
    if name in DECIMALS4 or name.endswith("_duration"):
        return "decimal4"
    if name in PERIODS or name.endswith("_period"):
        return "whole"
    if name in FACTORS or name.endswith("_factor"):
        return "factor"
    return "money"


EXCEL_FORMATS = {"percent": "0.0000%", "decimal4": "0.0000", "whole": "0", "factor": "0.000000",
                 "money": "#,##0.00"}
"""The same formats as spreadsheet number formats (the cells keep their values)."""


def formatter(name: str, metric: bool = False) -> Callable[[object], str]:
    """The display format of a number in a column (or a distribution's metric) called ``name``."""
    fmt = {"percent": "{:.4%}".format, "decimal4": "{:.4f}".format, "whole": lambda x: f"{int(x):d}",
           "factor": "{:.6f}".format, "money": "{:,.2f}".format}[kind(name, metric)]

    def show(x) -> str:
        if _missing(x):
            return "-"
        try:
            return fmt(x)
        except (TypeError, ValueError):
            return str(x)
    return show


def _cell(x, fmt) -> str:
    if _missing(x):
        return "-"
    if hasattr(x, "strftime"):
        return x.strftime("%Y-%m-%d")
    if isinstance(x, bool) or type(x).__name__ == "bool_":
        return str(bool(x))
    if isinstance(x, str):
        return x
    return fmt(x)


def formatted(frame):
    """A copy of ``frame`` whose cells are display strings (the frame itself is not changed).
    Columns are formatted by their names (a column named by a tuple, as after ``unstack``, by its
    first part); a frame with a ``metric`` or ``measure`` index level, row by row by its value
    (but for columns whose own name has a format, as ``percentile``)."""
    import pandas as pd  # deferred: only tables are displayed

    by = next((level for level in ROW_LEVELS if level in (frame.index.names or ())), None)
    if by is not None:
        metrics = frame.index.get_level_values(by)
        own = [formatter(str(c)) if kind(str(c)) != "money" else None for c in frame.columns]  # e.g. percentile
        rows = []
        for i, m in enumerate(metrics):
            fmt = formatter(str(m), metric=True)
            rows.append([_cell(x, own[j] or fmt) for j, x in enumerate(frame.iloc[i].tolist())])
        return pd.DataFrame(rows, index=frame.index, columns=frame.columns, dtype=object)
    columns = {}
    for j, col in enumerate(frame.columns):
        fmt = formatter(str(col[0] if isinstance(col, tuple) else col))
        columns[j] = [_cell(x, fmt) for x in frame.iloc[:, j].tolist()]
    out = pd.DataFrame(columns, index=frame.index, dtype=object)
    out.columns = frame.columns
    return out


def _cut(frame, max_rows: int | None):
    """First and last rows of a long frame, and how many were left out."""
    if max_rows is None or len(frame) <= max_rows:
        return frame, None, 0
    half = max_rows // 2
    return frame.iloc[:half], frame.iloc[len(frame) - half:], len(frame) - 2 * half


def text(frame, max_rows: int | None = None) -> str:
    """``frame`` formatted for a terminal (every row unless ``max_rows``)."""
    import pandas as pd  # deferred: only tables are displayed

    head, tail, left = _cut(frame, max_rows)
    shown = formatted(head if tail is None else pd.concat([head, tail]))
    if shown.empty:
        return shown.to_string()
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250):
        lines = shown.to_string().splitlines()
    if tail is not None:
        header = len(lines) - len(shown)
        lines.insert(header + len(head), f"... {left:,} more rows ...")
    return "\n".join(lines)


def html(frame, max_rows: int | None = MAX_ROWS, caption: str | None = None) -> str:
    """``frame`` as an HTML table with formatted, right-aligned numbers (index levels as header
    cells); a long frame shows its first and last rows and how many are between."""
    head, tail, left = _cut(frame, max_rows)
    names = [n if n is not None else "" for n in frame.index.names]
    esc = _html.escape
    rows = [f"<tr>{''.join(f'<th>{esc(str(n))}</th>' for n in names)}"
            f"{''.join(f'<th>{esc(str(c))}</th>' for c in frame.columns)}</tr>"]

    def body(part):
        shown = formatted(part)
        for key, values in zip(part.index, shown.itertuples(index=False), strict=True):
            key = key if isinstance(key, tuple) else (key,)
            cells = "".join(f"<th>{esc(_cell(k, str))}</th>" for k in key)
            rows.append(f"<tr>{cells}{''.join(f'<td>{esc(str(v))}</td>' for v in values)}</tr>")

    body(head)
    if tail is not None:
        rows.append(f'<tr><td colspan="{len(names) + len(frame.columns)}" class="ae-more">'
                    f"… {left:,} more rows …</td></tr>")
        body(tail)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<table class="ae-table">{cap}<thead>{rows[0]}</thead><tbody>{"".join(rows[1:])}</tbody></table>')


_STYLE = ("<style>.ae-result{font-family:system-ui,sans-serif;font-size:13px}"
          ".ae-result .ae-head{margin:0 0 6px 0}.ae-result .ae-head td{padding:1px 10px 1px 0}"
          ".ae-table{border-collapse:collapse;margin:4px 0 8px 0}"
          ".ae-table th,.ae-table td{padding:2px 8px;border-bottom:1px solid #ddd}"
          ".ae-table td{text-align:right;font-variant-numeric:tabular-nums}"
          ".ae-table th{text-align:left}.ae-table caption{text-align:left;font-weight:600}"
          ".ae-more{text-align:center!important;color:#777}.ae-ok{color:#1a7f37}.ae-bad{color:#cf222e}</style>")


def header_html(title: str, items: Iterable[tuple[str, str]]) -> str:
    """A result's compact header: its kind, then ``name: value`` rows (values already text)."""
    esc = _html.escape
    rows = "".join(f"<tr><td><b>{esc(k)}</b></td><td>{esc(v)}</td></tr>" for k, v in items)
    return f'<div class="ae-head"><b>{esc(title)}</b><table>{rows}</table></div>'


def result_html(title: str, items: Iterable[tuple[str, str]], tables: Iterable[tuple[str, object]]) -> str:
    """A whole result for a notebook: the header and each ``(caption, frame)`` table."""
    parts = [header_html(title, items)] + [html(frame, caption=caption) for caption, frame in tables]
    return f'{_STYLE}<div class="ae-result">{"".join(parts)}</div>'


def checks_text(residual: float, scale: float) -> tuple[str, bool]:
    """``"ok (max residual 1.2e-09)"`` when the largest conservation residual is within 1e-6 of
    ``scale`` (e.g. the original balance), else ``"FAILED (...)"``; and whether it passed."""
    ok = residual <= 1e-6 * max(scale, 1.0)
    return f"{'ok' if ok else 'FAILED'} (max residual {residual:.1e})", ok


def result_text(title: str, items: Iterable[tuple[str, str]], tables: Iterable[tuple[str, object]]) -> str:
    """A whole result as plain text: the header lines, then each table (cut to its first and
    last rows)."""
    items = list(items)
    width = max((len(k) for k, _ in items), default=0)
    lines = [f"<{title}>"] + [f"  {k:<{width}}  {v}" for k, v in items]
    for caption, frame in tables:
        lines += ["", f"{caption}:", text(frame, max_rows=MAX_ROWS)]
    return "\n".join(lines)


class Shown:
    """A result that shows itself, in a terminal (``repr``) and in a notebook (``_repr_html_``),
    from its ``_display()``: ``(title, [(name, value text)], [(caption, frame)])``."""

    def _display(self) -> tuple[str, list[tuple[str, str]], list[tuple[str, object]]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return result_text(*self._display())

    def _repr_html_(self) -> str:
        return result_html(*self._display())


_TABLE_CLASS = None


def _table_class():
    """:class:`Table`, made on first use (so importing the library does not import pandas)."""
    global _TABLE_CLASS
    if _TABLE_CLASS is None:
        import pandas as pd  # deferred: a projection without tables never imports pandas

        class Table(pd.DataFrame):
            """A result table: a pandas DataFrame in every way (dtypes, values, methods), shown in
            a terminal and a notebook with the display formats (thousands separators, percent for
            rates and yields); operations on it give tables too. ``pd.DataFrame(table)`` is the
            plain frame."""

            _metadata: list[str] = []

            @property
            def _constructor(self):
                return Table

            def __repr__(self) -> str:
                return text(self, max_rows=2 * MAX_ROWS)

            def _repr_html_(self) -> str:
                return f'{_STYLE}<div class="ae-result">{html(self, max_rows=2 * MAX_ROWS)}</div>'

        Table.__module__, Table.__qualname__ = __name__, "Table"  # pickled by name, as a module attribute
        _TABLE_CLASS = Table
    return _TABLE_CLASS


def __getattr__(name: str):
    if name == "Table":
        return _table_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def as_table(frame):
    """``frame`` as a :class:`Table` (no copy): the same data, shown formatted."""
    return _table_class()(frame, copy=False)
