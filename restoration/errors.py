"""Errors that are the user's to fix: the CLI prints them as one line and exits 2."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input or usage. ``str(err)`` is the one line shown to the user, naming the file."""

    def __init__(self, message: str, *, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)
