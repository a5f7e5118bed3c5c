"""Reusable constrained field types; each failure message says what was expected.

Specs are strict (:class:`~abs_engine.spec.base.Spec`); these types say what each kind of value
accepts, and bound what a spec can make the engine allocate (:data:`MAX_MONTHS`,
:data:`MAX_AMOUNT`).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from typing import Annotated, TypeVar

from pydantic import BeforeValidator, PlainSerializer, Strict, WithJsonSchema

__all__ = ["Coupon", "Amount", "Fraction", "Months", "PositiveMonths", "FractionOrVector", "NonNegOrVector", "Seq",
           "IsoDate", "IntKey", "StrictInt", "Number", "MAX_MONTHS", "MAX_AMOUNT"]

MAX_MONTHS = 1200
"""The longest term, age, horizon, ramp or monthly vector a spec may give: 100 years."""
MAX_AMOUNT = 1e15
"""The largest amount in the deal's currency: float64 keeps an eighth of a cent up to 10^15."""

T = TypeVar("T")
Seq = Annotated[tuple[T, ...], Strict(False)]
"""A sequence, written as a list (YAML/JSON) or a tuple; its items stay strict."""


def _integer(v: object) -> int:
    """An integer (Python or numpy), never a bool, a float or a string."""
    if type(v) is int:
        return v
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise ValueError("an integer")
    return int(v)


StrictInt = Annotated[int, BeforeValidator(_integer)]
"""An integer: Python ``int`` or a numpy integer (strict mode alone refuses numpy's)."""


def _iso_date(v: object) -> dt.date:
    if isinstance(v, dt.datetime) or not isinstance(v, dt.date | str):
        raise ValueError("a date (YYYY-MM-DD)")
    if isinstance(v, str):
        try:
            if len(v) != 10:
                raise ValueError(v)
            return dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError("a date (YYYY-MM-DD)") from None
    return v


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date), Strict(False)]
"""A date: a YAML date, or an ISO string ``YYYY-MM-DD`` (JSON has no date type)."""


def _int_key(v: object) -> int:
    """A mapping key that is an integer: JSON keys are strings, so ``"8453"`` is accepted there."""
    if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 30:
        return int(v)
    return _integer(v)


IntKey = Annotated[int, BeforeValidator(_int_key), WithJsonSchema({"type": "integer"}), PlainSerializer(int)]
"""An integer key of a mapping (a chain id, a period), written as a number or a digit string."""


def _number(v: object) -> float:
    if type(v) is float and v - v == 0.0:   # the common case, finite (inf - inf and nan - nan are nan)
        return v
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("a number")
    try:
        x = float(v)
    except OverflowError:
        raise ValueError("a finite number (this integer is too large for a float)") from None
    if not math.isfinite(x):
        raise ValueError("a finite number")
    return x


def _amount(v: object) -> float:
    if isinstance(v, float) and not v - v == 0.0:
        raise ValueError("a finite amount >= 0")
    x = _number(v)
    if not 0 <= x <= MAX_AMOUNT:
        raise ValueError(f"a finite amount >= 0 (and at most {MAX_AMOUNT:.0e})")
    return x


def _fraction(v: object) -> float:
    x = _number(v)
    if not (0.0 <= x <= 1.0):  # also rejects NaN
        raise ValueError("a decimal in [0, 1]")
    return x


def _whole_months(v: object, least: int) -> int:
    ok = type(v) is int or not isinstance(v, bool) and isinstance(v, numbers.Integral)
    if not ok or not least <= v <= MAX_MONTHS:
        raise ValueError(f"a whole number of months >= {least} (an integer, at most {MAX_MONTHS})")
    return int(v)


def _months(v: object) -> int:
    return _whole_months(v, 0)


def _positive_months(v: object) -> int:
    return _whole_months(v, 1)


def _ramp(v: dict) -> list[float]:
    """``{from: a, to: b, months: n}``: a straight line from a (month 1) to b (month n), then b."""
    if set(v) != {"from", "to", "months"}:
        raise ValueError("a number, a monthly vector, or a ramp {from, to, months}")
    months = _positive_months(v["months"])
    a, b = _number(v["from"]), _number(v["to"])
    if months == 1:
        return [b]
    return [a + (b - a) * k / (months - 1) for k in range(months)]


def _vector(check):
    def validate(v: object) -> float | tuple[float, ...]:
        if isinstance(v, dict):
            v = _ramp(v)
        if isinstance(v, list | tuple):
            if not v or len(v) > MAX_MONTHS:
                raise ValueError(f"a non-empty monthly vector (at most {MAX_MONTHS} values)")
            out = []
            for k, x in enumerate(v):
                try:
                    out.append(check(x))
                except ValueError as exc:
                    raise ValueError(f"every element {exc} (element {k} is {x!r})") from None
            return tuple(out)
        return check(v)

    return validate


def _coupon(v: object) -> float:
    if isinstance(v, dict):
        raise ValueError("a number")  # a mapping is the floating-coupon member's to validate
    x = _number(v)
    if not (0.0 <= x <= 1.0):
        raise ValueError("a fixed coupon in [0, 1] (decimal), or {index, spread}")
    return x


# JSON Schemas of these types, for editors and validators (the validators above are the rule;
# these say the same ranges, so an editor flags ``wac: 1.5`` as the engine would)
_NUMBER = {"type": "number"}
_FRACTION = {"type": "number", "minimum": 0, "maximum": 1}
_AMOUNT = {"type": "number", "minimum": 0, "maximum": MAX_AMOUNT}


def _or_vector(one: dict) -> dict:
    """One value, a monthly vector of them, or a ramp ``{from, to, months}``."""
    ramp = {"type": "object", "required": ["from", "to", "months"], "additionalProperties": False,
            "properties": {"from": _NUMBER, "to": _NUMBER,
                           "months": {"type": "integer", "minimum": 1, "maximum": MAX_MONTHS}}}
    return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_MONTHS}, ramp]}


Coupon = Annotated[float, BeforeValidator(_coupon), WithJsonSchema(
    {**_FRACTION, "description": "a fixed coupon, decimal (0.045 is 4.5%)"})]
Amount = Annotated[float, BeforeValidator(_amount), WithJsonSchema(_AMOUNT)]
Fraction = Annotated[float, BeforeValidator(_fraction), WithJsonSchema(_FRACTION)]
Months = Annotated[int, BeforeValidator(_months), WithJsonSchema({"type": "integer", "minimum": 0,
                                                                  "maximum": MAX_MONTHS})]
PositiveMonths = Annotated[int, BeforeValidator(_positive_months), WithJsonSchema(
    {"type": "integer", "minimum": 1, "maximum": MAX_MONTHS})]
Number = Annotated[float, BeforeValidator(_number), WithJsonSchema(_NUMBER)]
"""A finite number (int or float; never a bool or a string)."""
FractionOrVector = Annotated[float | tuple[float, ...], BeforeValidator(_vector(_fraction)),
                             WithJsonSchema(_or_vector(_FRACTION))]
"""A decimal in [0, 1], a monthly vector of them (month 1 first; the last value carries forward),
or a ramp ``{from, to, months}``."""
NonNegOrVector = Annotated[float | tuple[float, ...], BeforeValidator(_vector(_amount)),
                           WithJsonSchema(_or_vector(_AMOUNT))]
"""A finite number >= 0, a monthly vector of them, or a ramp."""
