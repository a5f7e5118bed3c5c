"""The deal: its name, dates and collateral (tranches and waterfall build on this)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Self

from pydantic import PrivateAttr, model_validator

from ..errors import SpecError
from .base import Spec
from .collateral import Collateral

__all__ = ["Deal"]


class Deal(Spec):
    """A deal file: ``name``, optional ``closing_date`` and ``first_payment_date``, ``collateral``."""

    name: str
    closing_date: dt.date | None = None
    first_payment_date: dt.date | None = None
    collateral: Collateral

    _base_dir: Path | None = PrivateAttr(default=None)
    _tape: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.closing_date and self.first_payment_date and self.first_payment_date <= self.closing_date:
            raise SpecError("first_payment_date", self.first_payment_date.isoformat(),
                            f"a date after closing_date ({self.closing_date.isoformat()})")
        return self

    def tape_path(self) -> Path | None:
        """The loan tape's path, resolved against the deal file's folder."""
        if self.collateral.loan_tape is None:
            return None
        p = Path(self.collateral.loan_tape)
        return p if p.is_absolute() or self._base_dir is None else self._base_dir / p
