"""Sequence data: the shipped DHS set, readers/writers for FASTA, CSV/TSV and HDF5, the Gosai MPRA table,
a user's labelled file (``read_labelled``) and the held-out split rule for it (``held_out_split``)."""

from dnadav.data.dhs import CELL_TYPES, load_dhs
from dnadav.data.fasta import format_description, write_fasta
from dnadav.data.gosai import gosai_split, import_gosai, make_synthetic_gosai, read_gosai
from dnadav.data.labels import LabelledData, read_labelled
from dnadav.data.splits import HeldOutSplit, held_out_split, reward_eval_halves
from dnadav.data.tables import SequenceTable, read_sequences

__all__ = [
    "CELL_TYPES",
    "HeldOutSplit",
    "LabelledData",
    "SequenceTable",
    "format_description",
    "gosai_split",
    "held_out_split",
    "import_gosai",
    "load_dhs",
    "make_synthetic_gosai",
    "read_gosai",
    "read_labelled",
    "read_sequences",
    "reward_eval_halves",
    "write_fasta",
]
