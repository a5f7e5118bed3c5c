"""Strict inputs, as an adversarial user tries them: every file kind (deal, scenario, deck,
collections, settlement; tapes and holder lists in CSV and Parquet) mutated at random by
hypothesis — a key given twice, a value of the wrong type (coercion), NaN or infinity, an integer
too large for anything, a string where a number belongs — is refused with one :class:`SpecError`
naming the file, the field path and the value; through the CLI, exit 2 and nothing written."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.cli import main
from abs_engine.io.collection_reports import load_collections
from abs_engine.settlement.allocation import load_settlement_spec

ROOT = Path(__file__).resolve().parents[2]
SERVICING = ROOT / "tranches/data/servicing/nonagency_rmbs"
SETTLEMENT = ROOT / "tranches/data/settlement"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _settlement_doc() -> dict:
    doc = _yaml(SETTLEMENT / "nonagency_rmbs.yaml")
    for t in doc["tranches"]:
        for s in t["snapshots"]:
            s["holders"] = str(SETTLEMENT / s["holders"])
    doc["allow_list"] = str(SETTLEMENT / doc["allow_list"])
    return doc


def _collections_doc() -> dict:
    doc = _yaml(SERVICING / "period_1.yaml")
    doc["loans"] = str(SERVICING / doc["loans"])
    return doc


# file kind -> (the valid document, the loader that must refuse a mutated copy)
KINDS = {
    "deal": (lambda: _yaml(ROOT / "tranches/auto_prime_abs.yaml"), ae.load_deal),
    "deal (pool)": (lambda: _yaml(ROOT / "tranches/agency_30y.yaml"), ae.load_deal),
    "scenario": (lambda: _yaml(ROOT / "scenarios/stress.yaml"), ae.load_deck),
    "deck (grid)": (lambda: _yaml(ROOT / "scenarios/auto_grid.yaml"), ae.load_deck),
    "deck (monte carlo)": (lambda: _yaml(ROOT / "scenarios/monte_carlo.yaml"), ae.load_deck),
    "collections": (_collections_doc, load_collections),
    "settlement": (_settlement_doc, load_settlement_spec),
}
DOCS = {k: f() for k, (f, _) in KINDS.items()}

# strings a settlement spec documents as integers in base units (beyond 2**53)
STRING_INTEGERS = {"total_supply"}


def _leaves(x: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    if isinstance(x, dict):
        return [leaf for k, v in x.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(x, list):
        return [leaf for k, v in enumerate(x) for leaf in _leaves(v, (*path, k))]
    return [(path, x)]


def _mappings(x: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(x, dict):
        return [path] * bool(x) + [m for k, v in x.items() for m in _mappings(v, (*path, k))]
    if isinstance(x, list):
        return [m for k, v in enumerate(x) for m in _mappings(v, (*path, k))]
    return []


def _set(doc: Any, path: tuple, value: Any) -> None:
    for p in path[:-1]:
        doc = doc[p]
    doc[path[-1]] = value


def _field(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out


def _mutations(value: Any, key: Any) -> list[tuple[str, Any]]:
    """Values that must be refused in place of ``value`` (a leaf named ``key``)."""
    if isinstance(value, bool):
        return [("a string for a bool", "yes"), ("a number for a bool", 1)]
    if isinstance(value, int | float):
        out = [("NaN", math.nan), ("infinity", math.inf), ("-infinity", -math.inf), ("a bool for a number", True),
               ("an integer too large for a float", 10**400)]
        if key not in STRING_INTEGERS:
            out.append(("a string for a number", str(value)))
        return out
    if isinstance(value, dt.date):
        return [("a number for a date", 20261125), ("an impossible date", "2026-13-45")]
    if isinstance(value, str):
        return [("a number for a string", 7), ("a list for a string", [value])]
    return []


def _cases(kind: str) -> list[tuple[tuple, str, Any]]:
    out = []
    for path, value in _leaves(DOCS[kind]):
        if kind.startswith("deck") and path[:1] == ("base",) and path[1:2] == ("name",):
            continue
        if path and path[0] == "name" or path[-1:] == ("name",) and kind.startswith("deck"):
            continue  # a name is free text
        for what, bad in _mutations(value, path[-1] if path else None):
            out.append((path, what, bad))
    return out


def _json_text(x: Any, dup: tuple | None, here: tuple = ()) -> str:
    """JSON (also YAML flow style) of ``x``, the mapping at ``dup`` giving its first key twice."""
    if isinstance(x, dict):
        items = [f"{json.dumps(str(k))}: {_json_text(v, dup, (*here, k))}" for k, v in x.items()]
        if here == dup:
            k, v = next(iter(x.items()))
            items.append(f"\n{json.dumps(str(k))}: {_json_text(v, None)}")
        return "{" + ", ".join(items) + "}"
    if isinstance(x, list):
        return "[" + ", ".join(_json_text(v, dup, (*here, k)) for k, v in enumerate(x)) + "]"
    if isinstance(x, dt.date):
        return json.dumps(x.isoformat())
    return json.dumps(x)


def _write(tmp: Path, kind: str, doc: Any, suffix: str) -> Path:
    path = tmp / f"{kind.split()[0]}{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(doc, default=lambda d: d.isoformat()))
    else:
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _refused(loader, path: Path, field: str | None = None) -> ae.SpecError:
    with pytest.raises(ae.SpecError) as info:
        loader(path)
    err = info.value
    msg = str(err)
    assert "\n" not in msg and msg.startswith(f"{path}: "), msg
    if field is not None:
        assert err.field == field or err.field.startswith(field), (field, msg)
    return err


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("kind", list(KINDS))
@SETTINGS
@given(data=st.data())
def test_a_wrong_value_anywhere_is_one_error_naming_file_field_and_value(kind, data, tmp_path_factory):
    path, what, bad = data.draw(st.sampled_from(_cases(kind)), label="mutation")
    doc = json.loads(json.dumps(DOCS[kind], default=lambda d: d.isoformat()))
    doc = _yaml_roundtrip(DOCS[kind])
    _set(doc, path, bad)
    tmp = tmp_path_factory.mktemp("strict")
    if isinstance(bad, float) and not math.isfinite(bad) or bad == 10**400:
        text = _yaml_scalar_doc(doc, path, bad)
        file = tmp / f"{kind.split()[0]}.yaml"
        file.write_text(text)
    else:
        file = _write(tmp, kind, doc, data.draw(st.sampled_from([".yaml", ".json"]), label="format"))
    err = _refused(KINDS[kind][1], file)
    # the error names the mutated field (or a field on its path: a union names where it stopped)
    named, got = _norm(_field(path)), _norm(err.field)
    assert got and (named.startswith(got) or got.startswith(named)), (what, named, str(err))


def _norm(field: str) -> str:
    """``a[1].b`` and ``a.1.b`` alike (a list index and an integer key of a mapping)."""
    return field.replace("[", ".").replace("]", "").lstrip(".")


def _yaml_roundtrip(doc: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(doc))


def _yaml_scalar_doc(doc: Any, path: tuple, bad: Any) -> str:
    """YAML text with ``bad`` (NaN, infinity, a 400-digit integer) written at ``path`` as YAML would
    read it (``.nan``, ``.inf``, digits)."""
    marker = "__ABS_ENGINE_BAD__"
    _set(doc, path, marker)
    literal = {math.inf: ".inf", -math.inf: "-.inf"}.get(bad, ".nan" if bad != bad else str(bad))
    return yaml.safe_dump(doc, sort_keys=False).replace(marker, literal)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@SETTINGS
@given(data=st.data())
def test_a_key_given_twice_anywhere_is_refused_with_both_lines(kind, suffix, data, tmp_path_factory):
    where = data.draw(st.sampled_from(_mappings(DOCS[kind])), label="mapping")
    text = _json_text(DOCS[kind], where)
    file = tmp_path_factory.mktemp("dup") / f"{kind.split()[0]}{suffix}"
    file.write_text(text)
    err = _refused(KINDS[kind][1], file)
    node = DOCS[kind]
    for p in where:
        node = node[p]
    key = next(iter(node))
    assert _norm(err.field) == _norm(_field((*where, key))), str(err)
    assert "given twice (lines" in err.expected, str(err)


def test_the_settle_example_duplicate_decimals_emits_nothing(tmp_path, capsys):
    """The incident: ``decimals: 6`` then ``decimals: 18`` in a settlement spec made settle exit 0
    with payouts 10**12 too large. Now: exit 2, both lines named, no file, nothing recorded."""
    from abs_engine.servicing.ledger import Ledger

    ledger = tmp_path / "ledger.sqlite"
    assert main(["distribute", str(ROOT / "tranches/nonagency_rmbs.yaml"), "--ledger", str(ledger),
                 "--collections", str(SERVICING / "period_1.yaml")]) == 0
    text = (SETTLEMENT / "nonagency_rmbs.yaml").read_text()
    assert "  decimals: 6\n" in text
    bad = tmp_path / "settlement.yaml"
    bad.write_text(text.replace("  decimals: 6\n", "  decimals: 6\n  decimals: 18\n", 1))
    for name in ("allow_list.csv", *[p.name for p in SETTLEMENT.glob("holders_*.csv")]):
        shutil.copy(SETTLEMENT / name, tmp_path / name)
    capsys.readouterr()
    out = tmp_path / "payouts"
    assert main(["settle", "--ledger", str(ledger), "--period", "1", "--holders", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: payment_token.decimals: got 'decimals', expected each key once in a mapping: it is given twice " \
           "(lines 6 and 7)" in err
    assert not out.exists() and Ledger.open(ledger).instructions() == []


# ---------------------------------------------------------------- tapes and holder lists


def _tape(kind: str) -> pd.DataFrame:
    if kind == "loans":
        return pd.read_csv(ROOT / "tranches/data/nonagency_seasoned.csv", dtype={"loan_id": str}).head(40)
    return pd.read_csv(SERVICING / "period_1.csv", dtype={"loan_id": str})


NUMERIC = {"loans": ["balance", "rate", "remaining_term", "age"],
           "collections": ["scheduled_principal", "prepayment", "interest_collected", "default", "recovery",
                           "ending_balance"]}


def _load_tape(kind: str, frame: pd.DataFrame, tmp: Path, fmt: str) -> Path:
    tape = tmp / f"tape.{fmt}"
    if fmt == "csv":
        frame.to_csv(tape, index=False)
    else:   # through pyarrow, which (unlike pandas) writes a file whose columns repeat a name
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = [pa.array(frame.iloc[:, k].tolist()) for k in range(frame.shape[1])]
        pq.write_table(pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns]), tape)
    if kind == "loans":
        deal = _yaml(ROOT / "tranches/nonagency_seasoned.yaml")
        deal["collateral"]["loan_tape"] = str(tape)
        path = tmp / "deal.yaml"
        path.write_text(yaml.safe_dump(deal))
        return path
    doc = _collections_doc()
    doc["loans"] = str(tape)
    path = tmp / "report.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("kind", ["loans", "collections"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_bad_tape_cell_or_column_is_one_error_naming_row_and_column(kind, fmt, data, tmp_path_factory):
    frame = _tape(kind)
    what = data.draw(st.sampled_from(["nan", "inf", "negative", "text", "huge", "duplicate column"]), label="what")
    col = data.draw(st.sampled_from(NUMERIC[kind]), label="column")
    row = data.draw(st.integers(0, len(frame) - 1), label="row")
    tmp = tmp_path_factory.mktemp("tape")
    if what == "duplicate column":
        frame = pd.concat([frame, frame[[col]]], axis=1)
    else:
        if what == "text":   # a text column (Parquet keeps one type per column)
            frame[col] = frame[col].astype(str)
            frame.loc[row, col] = "12,5"
        else:
            frame[col] = frame[col].astype(float)
            frame.loc[row, col] = {"nan": math.nan, "inf": math.inf, "negative": -1.0, "huge": 1e308}[what]
    path = _load_tape(kind, frame, tmp, fmt)
    loader = ae.load_deal if kind == "loans" else load_collections
    with pytest.raises(ae.SpecError) as info:
        loader(path)
    err = info.value
    assert "\n" not in str(err) and str(err).startswith(str(tmp / f"tape.{fmt}")), str(err)
    if what == "duplicate column":
        assert err.field == "columns" and "each column once" in err.expected
    else:
        assert err.field == f"row {row + 1} (loan_id {frame['loan_id'].iloc[row]}), {col}", str(err)


def test_a_huge_remaining_term_is_refused_not_cast(tmp_path):
    frame = _tape("loans")
    frame["remaining_term"] = frame["remaining_term"].astype(float)
    frame.loc[3, "remaining_term"] = 1e308
    path = _load_tape("loans", frame, tmp_path, "csv")
    with pytest.raises(ae.SpecError, match=r"row 4 \(loan_id .*\), remaining_term: got 1e\+308"):
        ae.load_deal(path)


def test_a_holders_file_that_is_not_csv_and_a_blank_verified_cell(tmp_path):
    doc = _settlement_doc()
    binary = tmp_path / "holders.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" * 50)
    doc["tranches"][0]["snapshots"][0]["holders"] = str(binary)
    with pytest.raises(ae.SpecError, match="holders list"):
        load_settlement_spec(doc)
    doc = _settlement_doc()
    allow = pd.read_csv(doc["allow_list"], dtype=str)
    allow["verified"] = "true"
    allow.loc[0, "verified"] = ""
    path = tmp_path / "allow.csv"
    allow.to_csv(path, index=False)
    doc["allow_list"] = str(path)
    with pytest.raises(ae.SpecError, match=r"row 1.verified: got nan, expected one of"):
        load_settlement_spec(doc)
    allow.loc[0, "verified"] = "false"
    allow.to_csv(path, index=False)
    _, _, allowed = load_settlement_spec(doc)
    assert allow.loc[0, "address"] not in allowed and allow.loc[1, "address"] in allowed


def test_the_zero_address_is_refused_as_token_source_or_holder():
    zero = "0x" + "00" * 20
    for edit in (lambda d: d["payment_token"]["addresses"].__setitem__(1, zero),
                 lambda d: d["source"].__setitem__(1, zero),
                 lambda d: d["tranches"][0]["snapshots"][0].__setitem__("token", zero)):
        doc = _settlement_doc()
        edit(doc)
        with pytest.raises(ae.SpecError, match="other than the zero address"):
            load_settlement_spec(doc)


@pytest.mark.parametrize(("deck", "needle"), [
    ({"grid": {"prepay": [{"cpr": x / 1001} for x in range(1001)],
               "default": [{"cdr": x / 1000} for x in range(1000)]}}, "a grid of at most 1,000,000 scenarios"),
    ({"monte_carlo": {"paths": 10**12, "seed": 1}}, "less than or equal to 1000000"),
    ({"monte_carlo": {"paths": 1_000_000, "seed": 1, "rates": {"SOFR": {
        "model": "vasicek", "r0": 0.04, "kappa": 0.2, "theta": 0.04, "sigma": 0.01, "months": 360}}}},
     "simulated index values"),
    ({"base": {"prepay": {"cpr": {"from": 0.0, "to": 0.1, "months": 10**9}}}, "scenarios": [{}]}, "at most 1200"),
])
def test_work_is_bounded_before_it_is_allocated(deck, needle):
    import time

    t = time.perf_counter()
    with pytest.raises(ae.SpecError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        ae.load_deck(deck)
    assert time.perf_counter() - t < 5.0


def test_a_full_run_past_its_table_budget_says_how_to_go_beyond(monkeypatch):
    from abs_engine.engine import run as run_module

    monkeypatch.setattr(run_module, "MAX_TABLE_SCENARIO_PERIODS", 1_000)
    deck = {"base": {"rates": {"SOFR": 0.043}},
            "grid": {"prepay": [{"abs": x / 10} for x in range(1, 21)], "default": [{"cdr": 0.0}, {"cdr": 0.01}]}}
    with pytest.raises(ae.SpecError, match="summary_only=True"):
        ae.run(ROOT / "tranches/auto_prime_abs.yaml", deck)
    assert ae.run(ROOT / "tranches/auto_prime_abs.yaml", deck, summary_only=True, progress=False).summary().shape[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_bad_holders_row_is_one_error_naming_the_file_and_row(data, tmp_path_factory):
    """Holder lists (CSV): a malformed address, the zero address, a repeated holder, a balance that
    is negative, fractional, text or beyond 2**256, a repeated column: one error naming the
    holders file and the row; the settlement spec is not loaded."""
    doc = _settlement_doc()
    snap = doc["tranches"][0]["snapshots"][0]
    frame = pd.read_csv(snap["holders"], dtype=str)
    row = data.draw(st.integers(0, len(frame) - 1), label="row")
    what = data.draw(st.sampled_from(["lowercase address", "zero address", "repeated holder", "negative",
                                      "fraction", "text", "2**256", "repeated column"]), label="what")
    if what == "lowercase address":
        frame.loc[row, "address"] = frame.loc[row, "address"].lower()
    elif what == "zero address":
        frame.loc[row, "address"] = "0x" + "00" * 20
    elif what == "repeated holder":
        other = (row + 1) % len(frame)
        frame.loc[max(row, other), "address"] = frame.loc[min(row, other), "address"]
        row = max(row, other)
    elif what == "repeated column":
        frame = pd.concat([frame, frame[["balance"]]], axis=1)
    else:
        frame.loc[row, "balance"] = {"negative": "-5", "fraction": "1.5", "text": "ten", "2**256": str(2**256)}[what]
    tmp = tmp_path_factory.mktemp("holders")
    path = tmp / "holders.csv"
    frame.to_csv(path, index=False)
    snap["holders"] = str(path)
    with pytest.raises(ae.SpecError) as info:
        load_settlement_spec(doc)
    err = info.value
    assert "\n" not in str(err) and str(err).startswith(f"{path}: "), str(err)
    assert err.field == "columns" if what == "repeated column" else err.field.startswith(f"row {row + 1}."), str(err)
