"""User-facing errors: the CLI prints them as one line and exits with status 2."""

from __future__ import annotations

import reprlib

__all__ = ["InputError", "one_line", "shown"]


class InputError(ValueError):
    """Bad input from the user (a file, a record, an option), with a message that says how to fix it.

    The message names the file and record where there is one, e.g.
    ``designs.fa: record 'seq7' (#8): character 'N' at position 12 is not A/C/G/T``.
    """


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxtuple, _SHORT.maxset = 2, 4, 4, 4, 4
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 60, 60, 40


def shown(value: object) -> str:
    """A short ``repr`` of a user's value for an error message: at most two levels and four items
    per container and 60 characters per string are looked at, so a YAML alias bomb (a structure of
    10⁹ shared leaves) or a megabyte string costs nothing to describe."""
    text = _SHORT.repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def one_line(text: object, limit: int = 240) -> str:
    """``str(text)`` with every run of white space (newlines included) made one space, cut to ``limit``
    characters: an exception's or a file's own words, fit for a one-line error message."""
    words = " ".join(str(text).split())
    return words if len(words) <= limit else words[: limit - 3] + "..."
