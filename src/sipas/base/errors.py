"""Errors that speak to an analyst.

A :class:`SipasError` is a user's mistake or a problem with their files: the CLI prints
its message (no traceback) and exits with :attr:`exit_code`. Anything else is a bug.
"""

from __future__ import annotations


class SipasError(Exception):
    """A problem the user can fix: names the file, place, value, what was expected."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: object | None = None,
        key: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.key = key
        self.row = row
        self.column = column
        self.value = value
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"{self.file}")
        if self.key:
            where.append(f"key '{self.key}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        text = (": ".join([", ".join(where), self.message]) if where else self.message)
        if self.value is not None:
            text += f" (value: {self.value!r})"
        if self.hint:
            text += f"\n  -> {self.hint}"
        return text


class ConfigError(SipasError):
    """A file under params/ is missing or malformed."""
