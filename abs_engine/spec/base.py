"""The strict, frozen base model and validation that reports one :class:`SpecError`.

Spec modules import pydantic and the standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import SpecError, did_you_mean

__all__ = ["Spec", "validate_spec", "field_path"]

M = TypeVar("M", bound=BaseModel)


class Spec(BaseModel):
    """Base of every spec: immutable, unknown keys are errors, and nothing is coerced (strict
    mode: a bool is a bool, an integer an integer, a string a string; ``"12"`` is not a
    priority and ``"yes"`` is not ``true``); NaN and infinity are refused in every number.
    Sequences are written as lists (:data:`~abs_engine.spec.fields.Seq`), dates as dates or ISO
    strings (:data:`~abs_engine.spec.fields.IsoDate`)."""

    # defer_build: a model builds its validator when first used, so importing the package does not
    # build the ones a run never meets (settlement, servicer reports, decks)
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, strict=True, allow_inf_nan=False,
                              defer_build=True)


def field_path(loc: tuple[Any, ...]) -> str:
    """``('tranches', 2, 'coupon')`` -> ``'tranches[2].coupon'``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _expected(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "a valid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    kind = err.get("type")
    if kind == "extra_forbidden":
        return "no such key (unknown keys are not allowed)"
    if kind == "missing":
        return "this required field"
    if kind in _PLAIN:
        return _PLAIN[kind]
    if msg.startswith("Input should be "):
        msg = msg[len("Input should be "):]
    return msg[:1].lower() + msg[1:]


_PLAIN = {  # strict mode's type errors, said plainly: nothing is coerced
    "string_type": "a string", "int_type": "an integer (not a float, a bool or a string)",
    "bool_type": "true or false (not a string or a number)", "float_type": "a number (not a string or a bool)",
    "finite_number": "a finite number", "dict_type": "a mapping", "tuple_type": "a list", "list_type": "a list",
    "date_type": "a date (YYYY-MM-DD)", "model_type": "a mapping", "int_from_float": "an integer",
}


def _spec_error(exc: ValidationError, data: Any, file: str | None) -> SpecError:
    errors = exc.errors(include_url=False)
    # Each member of a union reports; keep the member that fits the input's shape (a mapping for
    # a model, a scalar for a number), then the most specific error: the longest path.
    err = max(errors, key=lambda e: (_fits_shape(e), len(e.get("loc", ()))))
    if err.get("type") == "missing":  # a mistyped key is both missing and unknown: name the typo
        parent = tuple(err.get("loc", ()))[:-1]
        err = next((e for e in errors if e.get("type") == "extra_forbidden"
                    and tuple(e.get("loc", ()))[:-1] == parent), err)
    loc = _input_path(err.get("loc", ()), data, err.get("type") == "missing")
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, SpecError):  # raised by a model validator, naming its own field
        path = ".".join(x for x in (field_path(loc), inner.field) if x)
        return SpecError(path, inner.value, inner.expected, file=file)
    value = err.get("input", "<missing>") if err.get("type") != "missing" else "<missing>"
    expected = _expected(err)
    if err.get("type") == "extra_forbidden" and loc:
        expected += did_you_mean(loc[-1], _keys_beside(loc, data))
    return SpecError(field_path(loc), value, expected, file=file)


def _all_specs(cls: type = Spec) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_specs(sub)]
    return out


def _keys_beside(loc: tuple[Any, ...], data: Any) -> set[str]:
    """The keys an unknown key at ``loc`` may have meant: the fields of every spec model that has
    all the other keys of its mapping (every spec field when none has)."""
    node = data
    for part in loc[:-1]:
        node = node[part]
    siblings = {k for k in node if k != loc[-1]} if isinstance(node, Mapping) else set()
    models = [m for m in _all_specs() if siblings <= set(m.model_fields)] or _all_specs()
    return {name for m in models for name in m.model_fields}


_MODEL_SHAPE_ERRORS = {"model_type", "dict_type", "model_attributes_type"}
_SCALAR_SHAPE_ERRORS = {"float_type", "float_parsing", "int_type", "int_parsing", "string_type", "bool_type",
                        "bool_parsing", "tuple_type", "list_type"}


def _fits_shape(err: dict[str, Any]) -> bool:
    """False for a union member's complaint that the input has the other member's shape."""
    kind = err.get("type")
    given = err.get("input")
    if kind in _MODEL_SHAPE_ERRORS:
        return isinstance(given, Mapping)
    if kind in _SCALAR_SHAPE_ERRORS:
        return not isinstance(given, Mapping)
    if kind == "value_error" and isinstance(given, Mapping):  # a model's own check, or a scalar's refusal
        return isinstance((err.get("ctx") or {}).get("error"), SpecError)
    return True


def _input_path(loc: tuple[Any, ...], data: Any, missing: bool) -> tuple[Any, ...]:
    """The parts of pydantic's location that exist in the input. pydantic also names union
    members there ("float", "tuple[float, ...]", "FloatingCoupon", a tagged union's tag such as
    ``fees``); those are not in the input and are dropped. A tag can also be a key of the input
    (``{pay: fees, fees: [...]}``), so the path kept is the one that matches the most parts of the
    location. A missing key (``missing``) is kept as the last part."""

    def best(k: int, node: Any) -> list[Any]:
        if k == len(loc):
            return []
        part = loc[k]
        skip = best(k + 1, node)
        if isinstance(node, Mapping) and part in node:
            child = node[part]
        elif isinstance(part, int) and isinstance(node, list | tuple) and 0 <= part < len(node):
            child = node[part]
        elif missing and k == len(loc) - 1:
            return [part]
        else:
            return skip
        down = [part, *best(k + 1, child)]
        return down if len(down) > len(skip) else skip

    return tuple(best(0, data))


def validate_spec(model: type[M], data: Any, file: str | None = None) -> M:
    """Validate ``data`` as ``model``; errors are :class:`SpecError` naming ``file``, the field
    path, the value and what was expected."""
    if not isinstance(data, Mapping):
        raise SpecError("", type(data).__name__, f"a mapping of {model.__name__} fields", file=file)
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise _spec_error(exc, data, file) from None
    except SpecError as exc:
        raise exc.with_file(file) from None
