"""Sequence data: the shipped DHS set and readers for FASTA, CSV/TSV, HDF5 and the Gosai MPRA table."""

from dnadav.data.dhs import CELL_TYPES, load_dhs

__all__ = ["CELL_TYPES", "load_dhs"]
