"""Vyper sources of the distributors (see abs_engine.settlement.renderings.contract_source)."""
