"""Subcommands of the dnadav CLI, one module each (see dnadav.cli)."""

__all__: list[str] = []
