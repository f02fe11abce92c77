"""Errors a user can act on.

A `UserError` is printed as one line (no traceback) and the process exits 2.
The message names the file, the object and the field whenever they are known.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input: malformed files, invalid quantities, impossible policies."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        obj: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.obj = obj
        self.field = field
        super().__init__(self.render())

    def render(self) -> str:
        where = [p for p in (self.file, self.obj, self.field) if p]
        return ": ".join([*where, self.message])

    def located(
        self, *, file: str | None = None, obj: str | None = None, field: str | None = None
    ) -> UserError:
        """The same error with missing location parts filled in."""
        return UserError(
            self.message,
            file=self.file or file,
            obj=self.obj or obj,
            field=self.field or field,
        )
