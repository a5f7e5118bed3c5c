"""One error type for bad input: it names the file, the field path, the value and what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["SpecError", "SpecWarning", "did_you_mean"]


def did_you_mean(value: object, choices: Iterable[object]) -> str:
    """``"; did you mean 'A-1'?"`` for the choice closest to a mistyped name, ``""`` when none
    is close (difflib's ratio below 0.6, and no match ignoring case).

    >>> did_you_mean("wack", ["wac", "wam", "age"])
    "; did you mean 'wac'?"
    """
    if not isinstance(value, str):
        return ""
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    lower = {n.lower(): n for n in names}
    if not close and value.lower() in lower:
        close = [lower[value.lower()]]
    if not close:
        return ""
    return f"; did you mean {close[0]!r}?"


class SpecError(ValueError):
    """Bad input. The message reads ``file: field.path: got VALUE, expected WHAT``.

    Attributes
    ----------
    file : str or None
        The file the input came from (``None`` for a dict given in Python).
    choices : iterable, optional
        The names a mistyped value should have been one of: the closest ones are suggested
        (``...; did you mean 'A-1'?``).
    field : str
        Dotted field path, e.g. ``collateral.rep_lines[0].wac`` or ``row 17.rate``.
    value : object
        The value received.
    expected : str
        What was expected instead.

    Examples
    --------
    >>> e = SpecError("wac", 1.5, "a decimal in [0, 1]", file="tranches/x.yaml")
    >>> str(e)
    'tranches/x.yaml: wac: got 1.5, expected a decimal in [0, 1]'
    """

    def __init__(self, field: str, value: object, expected: str, *, file: str | None = None,
                 choices: Iterable[object] | None = None):
        self.file = file
        self.field = field
        self.value = value
        # ``choices``: the names the value should have been one of; the closest is suggested
        self.expected = expected + (did_you_mean(value, choices) if choices is not None else "")
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.file}: " if self.file else ""
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}got {_show(self.value)}, expected {self.expected}"

    def with_file(self, file: str | None) -> SpecError:
        """The same error, attributed to ``file`` (kept if already set)."""
        return SpecError(self.field, self.value, self.expected, file=self.file or file)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class SpecWarning(UserWarning):
    """An input that is valid but probably not what was meant (e.g. notes larger than their pool
    at closing): the run goes on, and the warning names the file and the numbers."""
