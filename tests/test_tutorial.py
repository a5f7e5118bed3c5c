"""The tutorial notebook (docs/tutorial.ipynb), run headless in a real Jupyter kernel (nbclient),
asserting on what it displays: the HTML of each result, formatted as the engine formats it, and
no error or progress-bar warning anywhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import abs_engine as ae

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    where = {"metadata": {"path": str(ROOT / "docs")}}  # the notebook's folder: it reads ../tranches
    NotebookClient(nb, timeout=600, kernel_name="python3", resources=where).execute()
    return nb


def _outputs(nb, source_start: str) -> list:
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    assert len(cells) == 1, source_start
    return cells[0].outputs


def _html(nb, source_start: str) -> str:
    return "".join(o["data"]["text/html"] for o in _outputs(nb, source_start) if "text/html" in o.get("data", {}))


def test_the_notebook_runs_without_errors_or_warnings(executed):
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert "Warning" not in text and "IProgress" not in text, text


def test_a_run_displays_its_header_and_formatted_summary(executed):
    page = _html(executed, 'res = ae.run(deal, ROOT / "scenarios/auto_base.yaml")')
    summary = ae.run(ROOT / "tranches/auto_prime_abs.yaml", ROOT / "scenarios/auto_base.yaml").summary()
    assert "<b>RunResult</b>" in page and "Prime Auto Owner Trust 2026-A" in page and "ok (max residual" in page
    for name in ("A-1", "D"):
        assert f"<td>{summary.loc[name, 'yield']:.4%}</td>" in page
        assert f"<td>{summary.loc[name, 'total_interest']:,.2f}</td>" in page
    # the residual's principal periods are shown as missing, not 0
    row = page[page.index("<th>Certificates</th>"):].split("</tr>")[0]
    assert row.count("<td>-</td>") >= 2


def test_the_other_displays(executed):
    assert "<b>SummaryResult</b>" in _html(executed, "grid = ae.run(")
    compared = _html(executed, "ae.compare(")
    assert "auto_base" in compared and "auto_stress" in compared and "%" in compared
    breakevens = _html(executed, "ae.breakevens(")
    assert "breakeven_cdr_beyond_range" in breakevens
    dtypes = _outputs(executed, "summary = res.summary()")[0]["data"]["text/plain"]
    assert "float64" in dtypes and "Int64" in dtypes
    diagram = _outputs(executed, "deal.diagram()")[0]["data"]
    assert diagram["text/markdown"].startswith("```mermaid")
    if shutil.which("dot"):
        assert "<svg" in diagram["image/svg+xml"]
    tree = "".join(o.get("text", "") for o in _outputs(executed, "print(deal.describe())"))
    assert tree.startswith("Prime Auto Owner Trust 2026-A\n├─ collateral")
    files = _outputs(executed, "out = pathlib.Path")[0]["data"]["text/plain"]
    assert "'summary'" in files and "'pool'" in files
