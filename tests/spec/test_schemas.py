"""JSON Schemas editors can use: the shipped files are the models' schemas, every shipped example
validates against its own schema and points at it, and value ranges are in the schemas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import abs_engine as ae
from abs_engine.spec.schemas import SCHEMAS, json_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = Path(ae.__file__).parent / "schemas"
EXAMPLES = sorted([*(ROOT / "tranches").rglob("*.yaml"), *(ROOT / "scenarios").glob("*.yaml")])


def _as_json(x):
    """What an editor validates: YAML read as JSON would be (dates as ISO strings, keys as strings)."""
    if isinstance(x, dict):
        return {str(k): _as_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_as_json(v) for v in x]
    return x.isoformat() if isinstance(x, dt.date) else x


def _validator(kind: str):
    return jsonschema.Draft202012Validator(json.loads((SHIPPED / f"{kind}.schema.json").read_text()))


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_the_shipped_schema_is_the_models(kind):
    """Regenerate with: abs-engine schema KIND --out abs_engine/schemas/KIND.schema.json"""
    assert (SHIPPED / f"{kind}.schema.json").read_text() == schema_text(kind)
    jsonschema.Draft202012Validator.check_schema(json_schema(kind))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_points_at_its_schema_and_validates(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema="), path
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target.parent == SHIPPED.resolve() and target.exists(), first
    kind = target.name.removesuffix(".schema.json")
    data = _as_json(yaml.safe_load(path.read_text()))
    errors = sorted(_validator(kind).iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, [(list(e.absolute_path), e.message[:200]) for e in errors]
    # and the engine reads the file as that kind
    loaders = {"deal": ae.load_deal, "scenario": ae.load_scenario, "deck": ae.load_deck,
               "collections": ae.load_collections,
               "settlement": __import__("abs_engine.settlement.allocation", fromlist=["x"]).load_settlement_spec}
    assert loaders[kind](path) is not None


@pytest.mark.parametrize(("kind", "change", "where"), [
    ("deal", lambda d: d["collateral"]["rep_lines"][0].update(wac=1.5), ["collateral"]),
    ("deal", lambda d: d["collateral"]["rep_lines"][0].update(wam=1201), ["collateral"]),
    ("deal", lambda d: d["collateral"]["rep_lines"][0].update(balance=-1.0), ["collateral"]),
    ("deal", lambda d: d["tranches"][0].update(coupon=4.5), ["tranches"]),
    ("deal", lambda d: d.update(colateral={}), []),
    ("scenario", lambda d: d.update(severity=1.2), ["severity"]),
    ("scenario", lambda d: d.update(prepay={"psa": 100, "cpr": 0.1}), ["prepay"]),
    ("scenario", lambda d: d.update(recovery_lag=-1), ["recovery_lag"]),
])
def test_a_value_out_of_range_fails_the_schema_as_it_fails_the_engine(kind, change, where):
    path = ROOT / ("tranches/auto_prime_abs.yaml" if kind == "deal" else "scenarios/base.yaml")
    data = _as_json(yaml.safe_load(path.read_text()))
    assert not list(_validator(kind).iter_errors(data))
    change(data)
    errors = list(_validator(kind).iter_errors(data))
    assert errors and list(errors[0].absolute_path)[:len(where)] == where
    with pytest.raises(ae.SpecError):  # the engine refuses the same value
        (ae.load_deal if kind == "deal" else ae.load_scenario)(data)
