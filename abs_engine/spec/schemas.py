"""The JSON Schemas of the files users write, one per kind (:data:`SCHEMAS`), as shipped in
``abs_engine/schemas/<kind>.schema.json`` for editors: an example file's first line
``# yaml-language-server: $schema=../abs_engine/schemas/deal.schema.json`` makes VS Code (with the
YAML extension) and other editors complete keys and flag bad values as the engine would.

The models are the rule; the schemas say the same keys and value ranges (decimals in [0, 1],
amounts in [0, 1e15], months in [0, 1200]...). What a schema cannot say (cross-references
between fields, "exactly one of" inside a union) the engine checks on load.
"""

from __future__ import annotations

import json

from .collection_report import CollectionReport
from .deal import Deal
from .deck import Deck
from .scenario import Scenario
from .settlement import SettlementSpec

__all__ = ["SCHEMAS", "json_schema", "schema_text", "SCHEMA_DIALECT"]

SCHEMAS = {"deal": Deal, "scenario": Scenario, "deck": Deck, "collections": CollectionReport,
           "settlement": SettlementSpec}
"""Each kind of file and the spec model that validates it."""
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_TITLES = {"deal": "abs_engine deal (tranches/*.yaml)", "scenario": "abs_engine scenario (scenarios/*.yaml)",
           "deck": "abs_engine deck of scenarios: scenarios, grid or monte_carlo (scenarios/*.yaml)",
           "collections": "abs_engine servicer collections report (one period)",
           "settlement": "abs_engine settlement inputs: payment token, sources, holder snapshots"}


def json_schema(kind: str) -> dict:
    """The JSON Schema (draft 2020-12) of a kind of file: ``deal``, ``scenario``, ``deck``,
    ``collections`` or ``settlement``.

    >>> json_schema("scenario")["properties"]["severity"]["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 1}
    True
    """
    schema = SCHEMAS[kind].model_json_schema()
    return {"$schema": SCHEMA_DIALECT, "$id": f"{kind}.schema.json", **schema, "title": _TITLES[kind]}


def schema_text(kind: str) -> str:
    """:func:`json_schema` as the shipped file's text (indented, keys in model order, a final newline)."""
    return json.dumps(json_schema(kind), indent=2) + "\n"
