"""Subcommands of the dnadav CLI, one module each (see dnadav.cli)."""
