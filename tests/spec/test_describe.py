"""A deal you can see: the tree names every class, fee, account, trigger and step in order; the
diagram's sources are well formed and Graphviz renders them."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import abs_engine as ae
from abs_engine.spec.describe import step_text

ROOT = Path(__file__).resolve().parents[2]
DEALS = sorted((ROOT / "tranches").glob("*.yaml"))


@pytest.mark.parametrize("path", DEALS, ids=lambda p: p.stem)
def test_every_example_deal_describes_every_part_in_order(path):
    deal = ae.load_deal(path)
    tree = deal.describe()
    assert tree.splitlines()[0] == deal.name
    for t in deal.tranches:
        assert t.name in tree
    for part in (*deal.fees, *deal.accounts, *deal.triggers, *deal.hedges, *deal.facilities):
        assert part.name in tree
    steps = [s for _, s in deal.steps_with_paths()][: deal.n_normal_steps]
    at = 0
    for s in steps:  # each step's words, in the priority's order
        at = tree.index(step_text(s), at) + 1
    if deal.tranches:
        notes = [t for t in deal.tranches if not t.residual]
        lines = [line for line in tree.splitlines() if "priority " in line and "├─" in line or "└─" in line]
        order = [t.name for t in sorted(notes, key=lambda t: t.priority)]
        shown = [n for line in lines for n in order if line.split("─ ", 1)[-1].startswith(n + " ")]
        assert shown == order, (shown, order)


def test_the_tree_by_hand():
    deal = ae.load_deal(ROOT / "tranches/auto_prime_abs.yaml")
    tree = deal.describe()
    assert "│  ├─ A-1           110,000,000.00 (22.0000%)  priority 1  fixed 4.5500%, ACT/360" in tree
    assert "A-2b           75,000,000.00 (15.0000%)  priority 2  SOFR + 0.4500%, ACT/360" in tree
    assert "   ├─ 1. fees: indenture-trustee, owner-trustee  (shortfalls covered by reserve)" in tree
    assert "6. principal (down to the OC target, sequential): A-1, A-2a, A-2b, A-3, A-4, B, C, D" in tree
    assert "overcollateralization target 2.7500% of the pool balance, floor 6,250,000.00" in tree
    assert "clean-up call: pool below 10.0000% of original" in tree


@pytest.mark.parametrize("path", DEALS, ids=lambda p: p.stem)
def test_the_diagram_sources_name_every_class_and_step(path):
    deal = ae.load_deal(path)
    d = deal.diagram()
    assert d.dot.startswith("digraph") and d.dot.rstrip().endswith("}")
    assert d.mermaid.startswith("flowchart TB")
    for t in deal.tranches:
        assert t.name in d.dot and t.name in d.mermaid
    n_steps = deal.n_normal_steps
    assert sum(kind == "step" for _, _, kind in d.nodes) == n_steps
    classes = sum(kind in ("class", "residual") for _, _, kind in d.nodes)
    assert d.dot.count("->") == len(d.edges) + max(classes - 1, 0)  # (the class column is chained invisibly)
    assert d._repr_mimebundle_()["text/markdown"].startswith("```mermaid")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is installed by .ci/run (apt-get install graphviz)")
def test_graphviz_renders_the_diagram():
    d = ae.load_deal(ROOT / "tranches/agency_cmo.yaml").diagram()
    svg = ET.fromstring(d.svg())
    texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    for name in ("PAC-A", "SUP", "Z", "IO-A", "interest funds", "principal funds"):
        assert name in texts
    assert d.png().startswith(b"\x89PNG")
    assert "image/svg+xml" in d._repr_mimebundle_()


def test_a_deal_shows_as_its_tree_in_a_notebook():
    deal = ae.load_deal(ROOT / "tranches/auto_prime_abs.yaml")
    page = deal._repr_html_()
    assert page.startswith("<pre>Prime Auto Owner Trust 2026-A\n") and "A-2b" in page
