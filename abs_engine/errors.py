"""One error type for bad input: it names the file, the field path, the value and what was expected."""

from __future__ import annotations

__all__ = ["SpecError"]


class SpecError(ValueError):
    """Bad input. The message reads ``file: field.path: got VALUE, expected WHAT``.

    Attributes
    ----------
    file : str or None
        The file the input came from (``None`` for a dict given in Python).
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

    def __init__(self, field: str, value: object, expected: str, *, file: str | None = None):
        self.file = file
        self.field = field
        self.value = value
        self.expected = expected
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
