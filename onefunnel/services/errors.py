"""Errors raised by services for interfaces to translate (404, one line on stderr, …)."""

from __future__ import annotations


class NotFoundError(LookupError):
    """The thing a command names does not exist; the message says which."""


class InputError(ValueError):
    """Input that cannot be applied; the message names the field (or row) at fault."""
