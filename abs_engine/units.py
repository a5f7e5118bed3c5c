"""Money as integers: amounts in a currency or token, as Python ``int`` in base units.

Conversion from a float goes through the float's exact decimal value, so it never picks up
binary rounding: ``to_base_units(0.1, 6)`` is 100000.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

__all__ = ["to_base_units", "from_base_units"]


def to_base_units(amount: float | int | str | Decimal, decimals: int) -> int:
    """``floor(amount x 10**decimals)`` of the amount's shortest decimal form, as an ``int``.

    >>> to_base_units(4.499999999999999, 6), to_base_units(0.1, 18), to_base_units("12.345678", 2)
    (4499999, 100000000000000000, 1234)
    """
    if decimals < 0:
        raise ValueError(f"decimals: got {decimals}, expected an integer >= 0")
    d = amount if isinstance(amount, Decimal) else Decimal(repr(amount) if isinstance(amount, float) else str(amount))
    if not d.is_finite():
        raise ValueError(f"amount: got {amount!r}, expected a finite number")
    return int((d.scaleb(decimals)).to_integral_value(rounding=ROUND_FLOOR))


def from_base_units(units: int, decimals: int) -> Decimal:
    """``units / 10**decimals`` exactly.

    >>> from_base_units(1234, 2)
    Decimal('12.34')
    """
    return Decimal(int(units)).scaleb(-decimals)
