"""Results that show themselves (text and HTML), the one set of display formats, and the files
structurers use: Excel read back equals the tables, every table saved, scenarios compared."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import abs_engine as ae
from abs_engine.io.display import formatted, html, kind, text
from abs_engine.vocabulary import SUMMARY_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
AUTO = ROOT / "tranches/auto_prime_abs.yaml"
BASE = ROOT / "scenarios/auto_base.yaml"
STRESS = ROOT / "scenarios/auto_stress.yaml"


@pytest.fixture(scope="module")
def res():
    return ae.run(AUTO, BASE)


def test_formats_by_column_name_and_metric():
    # percent for rates and yields, four decimals for years and prices, whole periods, money
    assert [kind(c) for c in ("yield", "smm", "coupon", "wal", "price", "modified_duration",
                              "first_principal_period", "ending_balance", "loss")] == \
        ["percent", "percent", "percent", "decimal4", "decimal4", "decimal4", "whole", "money", "money"]
    assert kind("loss", metric=True) == "percent"  # a distribution's loss is a share of face
    frame = pd.DataFrame({"yield": [0.045109, np.nan], "first_principal_period": pd.array([7, None], dtype="Int64"),
                          "total_interest": [1583466.234, 0.0]})
    assert formatted(frame).values.tolist() == [["4.5109%", "7", "1,583,466.23"], ["-", "-", "0.00"]]
    dist = pd.DataFrame({"mean": [0.0012, 3.25]}, index=pd.MultiIndex.from_tuples(
        [("D", "loss"), ("D", "wal")], names=["tranche", "metric"]))
    assert formatted(dist)["mean"].tolist() == ["0.1200%", "3.2500"]
    bands = pd.DataFrame({"actual": [0.01], "percentile": [50.0]}, index=pd.MultiIndex.from_tuples(
        [(3, "smm")], names=["period", "measure"]))
    assert formatted(bands).iloc[0].tolist() == ["1.0000%", "50.000000"]  # a column's own format stays
    assert frame["yield"].dtype == np.float64  # formatting made a copy; the data kept its dtype


def test_a_long_table_shows_its_ends():
    frame = pd.DataFrame({"ending_balance": np.arange(100.0)}, index=pd.Index(range(1, 101), name="period"))
    shown = text(frame, max_rows=10)
    assert "... 90 more rows ..." in shown and "99.00" in shown and "50.00" not in shown
    page = html(frame, max_rows=10)
    assert "90 more rows" in page and page.count("<tr>") == 1 + 10 + 1


def test_a_run_shows_its_header_and_summary(res):
    shown = repr(res)
    lines = shown.splitlines()
    assert lines[0] == "<RunResult>"
    assert "Prime Auto Owner Trust 2026-A" in shown and "auto_base: prepay abs 1.5" in shown
    assert re.search(r"checks\s+ok \(max residual \d\.\de-\d\d\)", shown)
    assert "periods     57, 2026-12-15 to 2031-08-15" in shown
    summary = res.summary()
    # the summary's own numbers, formatted: thousands separators, yields in percent
    assert f"{summary.loc['A-1', 'total_interest']:,.2f}" in shown
    assert f"{summary.loc['A-1', 'yield']:.4%}" in shown
    page = res._repr_html_()
    assert page.startswith("<style>") and "<b>RunResult</b>" in page
    assert f"<td>{summary.loc['A-3', 'yield']:.4%}</td>" in page
    assert f"<td>{summary.loc['A-3', 'total_principal']:,.2f}</td>" in page
    # the tables underneath keep their dtypes
    assert summary["yield"].dtype == np.float64 and str(summary["first_principal_period"].dtype) == "Int64"


def test_the_residual_has_no_principal_periods_and_the_notes_have_theirs(res):
    summary = res.summary()
    assert summary.loc["Certificates", ["first_principal_period", "last_principal_period"]].isna().all()
    notes = summary.drop(index="Certificates")
    assert notes["first_principal_period"].notna().all()
    paid = res.tranches["principal_paid"].unstack("tranche")
    for name in notes.index:  # the first and last period each class is paid principal
        periods = paid.index[paid[name] > 0]
        assert (notes.loc[name, "first_principal_period"], notes.loc[name, "last_principal_period"]) == \
            (periods[0], periods[-1])
    # the summary-only path gives the same missing periods
    grid = ae.run(AUTO, [BASE, STRESS], summary_only=True).summary()
    assert grid.xs("Certificates", level="tranche")["first_principal_period"].isna().all()
    assert str(grid["last_principal_period"].dtype) == "Int64"


def test_every_result_kind_shows_itself(tmp_path):
    grid = ae.run(AUTO, ROOT / "scenarios/auto_grid.yaml", summary_only=True)
    assert repr(grid).startswith("<SummaryResult>") and "24 scenarios" in repr(grid)
    assert "across scenarios" in grid._repr_html_()
    several = ae.run(AUTO, [BASE, STRESS])
    assert "2 scenarios (auto_base .. auto_stress)" in repr(several) and "p95" in repr(several)
    pool_only = ae.run(ROOT / "tranches/agency_30y.yaml", ROOT / "scenarios/base.yaml")
    assert "pool:" in repr(pool_only) and "more rows" in repr(pool_only)
    card = ae.run(ROOT / "tranches/card_trust.yaml", ROOT / "scenarios/card_base.yaml")
    assert repr(card).startswith("<CardResult>") and "checks    ok" in repr(card)


def test_excel_read_back_equals_every_table(res, tmp_path):
    path = res.to_excel(tmp_path / "run.xlsx")
    tables = res.all_tables()
    sheets = pd.read_excel(path, sheet_name=None)
    assert list(sheets) == list(tables) and list(sheets)[0] == "summary"
    for name, frame in tables.items():
        back = sheets[name]
        flat = frame.reset_index()
        assert list(back.columns) == list(flat.columns), name
        for col in flat.columns:
            want, got = flat[col], back[col]
            if want.dtype.kind == "f" or str(want.dtype) == "Int64":
                np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float, na_value=np.nan), rtol=1e-12,
                                           atol=1e-9, err_msg=f"{name}.{col}")
            elif want.dtype.kind == "M":
                assert (pd.to_datetime(got) == want).all(), f"{name}.{col}"
            else:
                assert got.astype(str).tolist() == want.astype(str).tolist(), f"{name}.{col}"
    from openpyxl import load_workbook

    sheet = load_workbook(path)["summary"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("yield") + 1).number_format == "0.0000%"
    assert sheet.cell(2, header.index("total_interest") + 1).number_format == "#,##0.00"
    assert sheet.freeze_panes == "B2"


def test_excel_refuses_a_bad_path_before_writing(res, tmp_path):
    with pytest.raises(ae.SpecError, match="a file ending in .xlsx"):
        res.to_excel(tmp_path / "run.csv")
    with pytest.raises(ae.SpecError, match="does not exist"):
        res.to_excel(tmp_path / "missing" / "run.xlsx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_save_writes_every_table(res, tmp_path, fmt):
    files = res.save(tmp_path / "tables", format=fmt)
    assert list(files) == list(res.all_tables())
    pool = pd.read_csv(files["pool"]) if fmt == "csv" else pd.read_parquet(files["pool"])
    np.testing.assert_allclose(pool["ending_balance"], res.pool["ending_balance"], rtol=1e-12)
    with pytest.raises(ae.SpecError, match="one of"):
        res.save(tmp_path / "x", format="xlsx")


def test_compare_lines_up_scenarios_and_equals_each_run():
    table = ae.compare([BASE, STRESS], deal=AUTO)
    assert list(table.columns) == ["auto_base", "auto_stress"]
    assert table.index.names == ["tranche", "metric"]
    for scen, column in ((BASE, "auto_base"), (STRESS, "auto_stress")):
        s = ae.run(AUTO, scen).summary()
        for name in ("A-1", "D"):
            for m in ("wal", "yield", "total_writedown", "last_principal_period"):
                assert table.loc[(name, m), column] == pytest.approx(float(s.loc[name, m]), rel=1e-12, abs=1e-12)
            assert table.loc[(name, "loss"), column] == pytest.approx(s.loc[name, "total_writedown"] /
                                                                     {"A-1": 110e6, "D": 6e6}[name])
    # results compared as they are: the same numbers, and results of several deals are labelled
    a, b = ae.run(AUTO, BASE), ae.run(ROOT / "tranches/card_trust.yaml", ROOT / "scenarios/card_base.yaml")
    both = ae.compare([a, b])
    assert list(both.columns) == ["Prime Auto Owner Trust 2026-A / auto_base",
                                  "Card master trust series 2026-1 / card_base"]
    assert both.loc[("A-1", "wal")].iloc[0] == pytest.approx(table.loc[("A-1", "wal"), "auto_base"])
    deck = ae.compare(ROOT / "scenarios/auto_grid.yaml", deal=AUTO)  # one deck: a column per scenario
    assert deck.shape[1] == 24
    with pytest.raises(ae.SpecError, match="metrics of a comparison"):
        ae.compare([a], metrics=["wall"])


def test_summary_columns_are_the_vocabulary(res):
    assert tuple(res.summary().columns) == SUMMARY_COLUMNS


def test_period_reports_and_settlements_show_themselves():
    from abs_engine.servicing.reports import PeriodReport

    data = {"deal": "d", "period": 3, "payment_date": "2027-01-25",
            "pool": {"beginning_balance": 100.0, "ending_balance": 90.0, "gross_interest": 1.0,
                     "scheduled_principal": 5.0, "prepayment": 4.0, "recovery": 1.0, "loss": 0.0},
            "check": {"pool_roll_forward": 0.0, "cash": 1e-12, "principal": 0.0},
            "tranches": [{"name": "A", "principal_paid": 10.0, "interest_paid": 0.5}]}
    rep = PeriodReport(data)
    shown = repr(rep)
    assert shown.startswith("<PeriodReport>") and "period       3, paid 2027-01-25" in shown
    assert "100.00 -> 90.00" in shown and rep.hash in shown and "checks       ok" in shown
    assert "<th>A</th>" in rep._repr_html_()


def test_progress_bars_need_no_ipywidgets(monkeypatch):
    """In a notebook without ipywidgets, the text bar (tqdm.auto would warn "IProgress not found"
    and fall back); with ipywidgets, the widget."""
    import importlib.util
    import sys
    import warnings

    from tqdm.std import tqdm as text_bar

    from abs_engine.engine.executors import progress_bar

    monkeypatch.setitem(sys.modules, "ipykernel", sys.modules.get("ipykernel") or object())
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name, *a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bar = progress_bar(range(3), total=3, disable=True)
        assert type(bar) is text_bar and list(bar) == [0, 1, 2]
