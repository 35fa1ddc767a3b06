"""User-facing errors: the CLI prints them as one line and exits with status 2."""

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input from the user (a file, a record, an option), with a message that says how to fix it.

    The message names the file and record where there is one, e.g.
    ``designs.fa: record 'seq7' (#8): character 'N' at position 12 is not A/C/G/T``.
    """
