"""The monthly investor report (issue 18, item 5): its content from the ledger, a self-contained
HTML page opened in a real headless browser (Debian's Chromium, driven by Selenium) whose tables
and charts render, the attestation binding the page's keccak-256, and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eth_account import Account
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

import abs_engine as ae
from abs_engine.servicing.attestation import recover_signer, sign
from abs_engine.servicing.investor_report import render_html, report_attestation
from abs_engine.servicing.ledger import keccak_hex

ROOT = Path(__file__).resolve().parents[2]
DEAL = ROOT / "tranches/nonagency_rmbs.yaml"
KEY = "0x" + "42" * 32


@pytest.fixture(scope="module")
def servicer(tmp_path_factory):
    s = ae.Servicer(DEAL, tmp_path_factory.mktemp("report") / "l.sqlite", base_scenario=ROOT / "scenarios/base.yaml")
    for p in (1, 2, 3):
        s.distribute(ROOT / f"tranches/data/servicing/nonagency_rmbs/period_{p}.yaml")
    return s


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"  # Debian's, installed by the README's test command
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1200,2400"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    yield driver
    driver.quit()


def test_the_content_is_the_ledgers(servicer):
    c = servicer.investor_report()
    rep = servicer.report(3)
    assert c["period"] == 3 and c["report_hash"] == rep.hash and c["ledger_head"] == servicer.ledger.head()["hash"]
    assert [h["period"] for h in c["history"]] == [1, 2, 3]
    assert c["history"][-1]["cumulative_loss"] == rep.data["pool"]["cumulative_loss"]
    a1 = next(t for t in c["tranches"] if t["name"] == "A-1")
    assert a1["factor"] == pytest.approx(a1["ending_balance"] / 812957368, rel=1e-15)
    assert {t["name"] for t in c["triggers"]} == {"cumulative-loss", "delinquency"}
    assert [s["window"] for s in c["speeds"]] == ["1m", "3m", "6m", "12m", "life"]
    assert any(v["item"] == "pool" and v["column"] == "prepayment" for v in c["variance"])
    json.dumps(c, allow_nan=False)  # strict JSON: no NaN
    assert servicer.investor_report(1)["history"][-1]["period"] == 1
    with pytest.raises(ae.SpecError, match="a recorded period"):
        servicer.investor_report(9)


def test_the_page_is_self_contained_and_the_same_bytes_each_time(servicer):
    c = servicer.investor_report()
    page = render_html(c)
    assert page == render_html(c)
    assert "<script" not in page and "<link" not in page and "src=" not in page and "url(" not in page
    # the only URI is SVG's namespace name, which is never fetched
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}


def test_the_page_renders_its_tables_and_charts_in_a_browser(servicer, browser, tmp_path):
    c = servicer.investor_report()
    path = tmp_path / "report.html"
    path.write_text(render_html(c), encoding="utf-8")
    browser.get(path.as_uri())
    assert browser.title == "Non-agency RMBS 2026-1: investor report, period 3"
    rows = browser.find_elements("css selector", "#tranches tbody tr")
    assert [r.find_elements("css selector", "td")[0].text for r in rows] == [t["name"] for t in c["tranches"]]
    a1 = rows[0].find_elements("css selector", "td")
    assert a1[-2].text == f"{c['tranches'][0]['factor']:.8f}"
    breached = browser.find_elements("css selector", "#triggers td.breached")
    assert [e.text for e in breached] == ["yes"]  # the delinquency trigger
    assert len(browser.find_elements("css selector", "#history tbody tr")) == 3
    for chart in ("chart-pool", "chart-classes", "chart-speeds"):
        svg = browser.find_element("id", chart)
        assert svg.is_displayed() and svg.size["width"] > 400 and svg.size["height"] > 200
        # each series is drawn: its polyline's rendered box has an extent
        widths = browser.execute_script(
            "return Array.from(document.querySelectorAll('#' + arguments[0] + ' polyline'))"
            ".map(p => p.getBBox().width)", chart)
        assert widths and all(w > 100 for w in widths)
    png = browser.get_screenshot_as_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert browser.find_element("id", "report-hash").text == c["report_hash"]


def test_the_attestation_signs_the_pages_hash(servicer):
    c = servicer.investor_report()
    page = render_html(c)
    typed = report_attestation(c, page, chain_id=8453)
    assert typed["message"]["documentHash"] == keccak_hex(page.encode("utf-8"))
    assert typed["message"]["reportHash"] == c["report_hash"] and typed["message"]["period"] == "3"
    sig = sign(typed, KEY)
    assert recover_signer(typed, sig) == Account.from_key(KEY).address
    other = report_attestation(c, page.replace("Period 3", "Period 4"), chain_id=8453)
    assert other["message"]["documentHash"] != typed["message"]["documentHash"]


def test_the_cli_writes_the_page_and_its_attestation(servicer, tmp_path, capsys):
    from abs_engine.cli import main

    key = tmp_path / "key.txt"
    key.write_text(KEY)
    out = tmp_path / "report.html"
    assert main(["report", str(DEAL), "--ledger", str(servicer.ledger.path), "--base-scenario",
                 str(ROOT / "scenarios/base.yaml"), "--out", str(out), "--key-file", str(key)]) == 0
    att = json.loads((tmp_path / "report.attestation.json").read_text())
    assert att["typed_data"]["message"]["documentHash"] == keccak_hex(out.read_bytes())
    assert recover_signer(att["typed_data"], att["signature"]) == Account.from_key(KEY).address
    assert main(["report", str(DEAL), "--ledger", str(servicer.ledger.path), "--period", "2", "--out",
                 str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["period"] == 2
