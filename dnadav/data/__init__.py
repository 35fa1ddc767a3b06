"""Sequence data: the shipped DHS set and readers/writers for FASTA, CSV/TSV and HDF5."""

from dnadav.data.dhs import CELL_TYPES, load_dhs
from dnadav.data.tables import SequenceTable, read_sequences, write_fasta

__all__ = ["CELL_TYPES", "SequenceTable", "load_dhs", "read_sequences", "write_fasta"]
