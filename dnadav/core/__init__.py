"""dnadav.core: the alignment core, written once against the reverse-process protocol and knowing no
modality — plain sampling and the protocol (``protocol``), the E-step (``search``: per-sequence
search and SMC), the M-step (``distill``), the EM loop on Lightning (``em``: ``DAVModule``; ``fit``: ``fit_em``; import
them explicitly, they load Lightning) with its generic config (``config``), the trust region
(``trust_region``), the M-step's held-out stopping and iteration selection (``fit_control``), its
move bound (``move_limit``), the back-off of a rejected iteration (``back_off``), state snapshots (``state``), row
batching (``batching``), Gumbel-max draws (``gumbel``) and train/eval modes (``modes``).

It imports torch, numpy, Lightning and dnadav's base helpers (``dnadav.errors``, ``dnadav.io``) only
(an import-linter contract in pyproject.toml holds it to that).
"""

from dnadav.core.config import EMConfig
from dnadav.core.distill import DistillConfig, distill_loss
from dnadav.core.protocol import Guidance, Proposal, ReverseProcess, sample_process
from dnadav.core.search import SearchConfig, SearchResult, search_process
from dnadav.core.trajectory import RewardFn, SearchStats, Trajectory

__all__ = [
    "DistillConfig",
    "EMConfig",
    "Guidance",
    "Proposal",
    "ReverseProcess",
    "RewardFn",
    "SearchConfig",
    "SearchResult",
    "SearchStats",
    "Trajectory",
    "distill_loss",
    "sample_process",
    "search_process",
]
