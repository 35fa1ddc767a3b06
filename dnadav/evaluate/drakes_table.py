"""dnadav evaluation results in the DRAKES / DAV table format, and the published numbers to compare with.

DRAKES (Wang et al., 2024, Table 2, enhancers) reports, for 640 generated sequences: Pred-Activity
(median of the evaluation oracle's predicted HepG2 activity), ATAC-Acc (share called HepG2-accessible
by a separate binary accessibility classifier, ``binary_atac_cell_lines.ckpt``, probability of
column 1 > 0.5), 3-mer Corr (Pearson correlation of 3-mer counts with the top-0.1% HepG2 sequences of
the table) and App-Log-Lik (median log-likelihood under the pretrained model). DAV adds diversity.
"""

from __future__ import annotations

import pandas as pd
import torch

from dnadav.oracles.base import ScoredNetwork, check_onehot

__all__ = [
    "AccessibilityClassifier",
    "DRAKES_COLUMNS",
    "PUBLISHED",
    "atac_accuracy",
    "drakes_table",
    "load_accessibility_classifier",
]

# dnadav summary column -> DRAKES / DAV column name
DRAKES_COLUMNS = {
    "pred_activity_median": "Pred-Activity (median)",
    "atac_acc": "ATAC-Acc (%)",
    "kmer3_correlation": "3-mer Corr",
    "app_log_lik_median": "App-Log-Lik (median)",
    "levenshtein_diversity": "Diversity (Levenshtein)",
}

# Published numbers (not measured here): DRAKES Table 2 and the DAV paper, as quoted in issue 13.
PUBLISHED = pd.DataFrame(
    {
        "Pred-Activity (median)": [0.17, 5.61, 7.7],
        "3-mer Corr": [float("nan"), 0.887, float("nan")],
    },
    index=["Pretrained (DRAKES)", "DRAKES", "DAV (paper, approx.)"],
)


class AccessibilityClassifier(ScoredNetwork):
    """A multi-task binary classifier (DRAKES's gReLU ATAC model): ``probability`` = sigmoid of the
    target column's logit ``[B]``; ``reward`` = that logit."""

    def probability(self, onehot: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.reward(onehot))

    def reward(self, onehot: torch.Tensor) -> torch.Tensor:
        check_onehot(onehot)
        return self.network(onehot.float())[:, self.target_index]


def load_accessibility_classifier(path, column: int = 1) -> AccessibilityClassifier:
    """DRAKES's ``binary_atac_cell_lines.ckpt`` (gReLU Enformer, 7 binary tasks; DRAKES reads column 1
    as HepG2). The network returns logits; gReLU's ``sigmoid`` activation is applied in ``probability``."""
    from dnadav.published.enformer_oracle import load_grelu_oracle

    network, names = load_grelu_oracle(path)
    return AccessibilityClassifier(network, names, names[column]).eval()


@torch.no_grad()
def atac_accuracy(classifier: AccessibilityClassifier, onehot: torch.Tensor, batch_size: int = 256) -> float:
    """Share of ``onehot [N, 4, L]`` the classifier calls accessible (probability > 0.5), in percent."""
    calls = torch.cat([classifier.probability(onehot[i : i + batch_size]) > 0.5 for i in range(0, len(onehot), batch_size)])
    return 100.0 * float(calls.float().mean())


def drakes_table(summary: pd.DataFrame, atac: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per input with DRAKES's column names. ``atac``: input name -> ATAC-Acc (%) from
    ``atac_accuracy`` (left out when None: dnadav's own accessibility_accuracy is a different quantity
    for a regression oracle and is not relabelled)."""
    table = summary.copy()
    if atac is not None:
        table["atac_acc"] = pd.Series(atac)
    columns = [c for c in DRAKES_COLUMNS if c in table.columns]
    return table[columns].rename(columns=DRAKES_COLUMNS)
