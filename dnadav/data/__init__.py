"""Sequence data: the shipped DHS set, readers/writers for FASTA, CSV/TSV and HDF5, the Gosai MPRA table."""

from dnadav.data.dhs import CELL_TYPES, load_dhs
from dnadav.data.fasta import format_description, write_fasta
from dnadav.data.gosai import gosai_split, import_gosai, make_synthetic_gosai, read_gosai
from dnadav.data.tables import SequenceTable, read_sequences

__all__ = [
    "CELL_TYPES",
    "SequenceTable",
    "format_description",
    "gosai_split",
    "import_gosai",
    "load_dhs",
    "make_synthetic_gosai",
    "read_gosai",
    "read_sequences",
    "write_fasta",
]
