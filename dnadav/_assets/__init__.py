"""Installed location of the shipped oracles/, datasets/ and models/ folders (wheel only)."""
