"""Reading spec files: YAML or JSON in, one validated (frozen) spec out. Imports no kernel."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from .errors import SpecError
from .spec.base import validate_spec

__all__ = ["read_structured_file", "load_spec"]

M = TypeVar("M", bound=BaseModel)


def read_structured_file(path: str | os.PathLike[str]) -> Any:
    """Read a YAML or JSON file. A missing or unparsable file is a :class:`SpecError`."""
    p = Path(path)
    if not p.is_file():
        raise SpecError("", str(p), "an existing file", file=str(p))
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
        raise SpecError("", type(exc).__name__, f"valid YAML/JSON ({exc})", file=str(p)) from None


def load_spec(model: type[M], source: str | os.PathLike[str] | Mapping[str, Any] | M) -> tuple[M, Path | None]:
    """Validate ``source`` (a path, a dict or a model) as ``model``.

    Returns the model and the file it came from (``None`` for a dict). Errors are
    :class:`SpecError` naming the file, field path, value and expectation.
    """
    if isinstance(source, model):
        return source, None
    file: Path | None = None
    if isinstance(source, str | os.PathLike):
        file = Path(source)
        data = read_structured_file(file)
    else:
        data = source
    return validate_spec(model, data, str(file) if file else None), file
