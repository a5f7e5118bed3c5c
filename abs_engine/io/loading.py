"""``load_deal`` and ``load_scenario``: a path (YAML or JSON) or a dict in, a validated spec out."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..dates import check_calendar
from ..errors import SpecError, SpecWarning
from ..spec import Deal, Scenario
from ..spec.base import validate_spec
from ..spec.deck import DECK_KEYS, Deck
from .decks import expand_deck
from .files import load_spec, read_structured_file
from .loans import deal_loans

__all__ = ["load_deal", "load_scenario", "load_deck", "is_deck", "read_source", "load_spec", "read_structured_file",
           "DealSource", "ScenarioSource"]

DealSource = Deal | str | os.PathLike[str] | Mapping[str, Any]
ScenarioSource = Scenario | str | os.PathLike[str] | Mapping[str, Any]


def load_deal(source: DealSource, *, read_tape: bool = True) -> Deal:
    """Load and validate a deal; a loan tape is read and validated too (unless ``read_tape`` is
    false: a run in tape chunks reads it chunk by chunk on the workers).

    A tape path is relative to the deal file's folder (to the working directory for a dict).

    Examples
    --------
    >>> deal = load_deal({"name": "pool", "collateral": {"rep_lines": [
    ...     {"balance": 1e6, "wac": 0.06, "net_coupon": 0.055, "wam": 360}]}})
    >>> deal.collateral.rep_lines[0].wam
    360
    """
    deal, file = load_spec(Deal, source)
    if file is not None and deal._base_dir is None:
        deal._base_dir = file.parent
        deal._file = str(file)
    if deal.business_days is not None:  # a calendar the holidays library knows (the spec does not import it)
        try:
            check_calendar(deal.business_days.calendar)
        except SpecError as exc:
            raise exc.with_file(str(file) if file else None) from None
    if read_tape and (deal.collateral.loan_tape is not None or deal.collateral.groups is not None) \
            and deal._tape is None:
        try:
            deal_loans(deal)
        except SpecError as exc:
            if exc.file is None:
                raise exc.with_file(str(file) if file else None) from None
            raise
    if not isinstance(source, Deal) and (read_tape or deal.collateral.loan_tape is None):
        _warn_if_under_collateralized(deal)
    return deal


def _warn_if_under_collateralized(deal: Deal) -> None:
    """A :class:`SpecWarning` when the notes' balance at closing exceeds the pool's: a deal may
    start under-collateralized (a pre-funded account makes up the difference), but it is far
    more often a typo in a balance."""
    if deal.series is not None or not deal.notes:
        return
    notes = sum(t.balance for t in deal.notes)
    pool = float(deal_loans(deal).balance.sum())
    if notes > pool * (1 + 1e-9) + 1e-6:
        where = f"{deal._file}: " if deal._file else ""
        warnings.warn(f"{where}the notes' balance at closing ({notes:,.2f}) exceeds the pool's ({pool:,.2f}) by "
                      f"{notes - pool:,.2f} ({(notes - pool) / pool if pool else float('inf'):.4%} of the pool): "
                      "the deal starts under-collateralized", SpecWarning, stacklevel=3)


def load_scenario(source: ScenarioSource, data: Any = None) -> Scenario:
    """Load and validate one scenario (``data``: a path's content, when already read).

    >>> load_scenario({"prepay": {"psa": 150}, "default": {"sda": 100}}).prepay.kind
    'psa'
    """
    scenario, file = load_spec(Scenario, source, data)
    if scenario.name is None and file is not None:
        scenario = scenario.model_copy(update={"name": Path(file).stem})
    return scenario


def load_deck(source: ScenarioSource, data: Any = None) -> Sequence[Scenario]:
    """Load a scenario file: a single scenario (a tuple of one), or a deck (``scenarios``,
    ``grid`` or ``monte_carlo``) expanded into its named scenarios, as columns
    (:class:`~abs_engine.io.scenario_set.ScenarioSet`: a sequence of scenarios that builds each
    one only when asked).

    >>> [s.name for s in load_deck({"grid": {"prepay": [{"cpr": 0.05}, {"cpr": 0.1}], "severity": [0.3]}})]
    ['cpr=0.05 severity=0.3', 'cpr=0.1 severity=0.3']

    ``data``: a path's content, when the caller has already read it (:func:`read_source`).
    """

    if isinstance(source, Scenario):
        return (source,)
    file: Path | None = None
    if isinstance(source, str | os.PathLike):
        file = Path(source)
        data = read_structured_file(file) if data is None else data
    else:
        data = source
    if isinstance(data, Mapping) and any(k in data for k in DECK_KEYS):
        deck = validate_spec(Deck, data, str(file) if file else None)
        scenarios = expand_deck(deck, str(file) if file else None)
        return scenarios
    return (load_scenario(source, data if file is not None else None),)


def read_source(source: Any) -> Any:
    """A path's content (read once, for :func:`is_deck` and :func:`load_deck` to share), or
    ``source`` itself."""
    return read_structured_file(source) if isinstance(source, str | os.PathLike) else source


def is_deck(source: Any) -> bool:
    """Whether ``source`` (a path or a mapping) holds a deck rather than one scenario."""
    data = read_source(source)
    return isinstance(data, Mapping) and any(k in data for k in DECK_KEYS)
