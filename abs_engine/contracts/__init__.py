"""Vyper sources of the distributors (see abs_engine.onchain.contract_source)."""
