import numpy as np
import pytest
import torch

from dnadav.dna.tokens import strings_to_tokens
from dnadav.oracles import dinucleotide_shuffle


def dinucleotide_counts(tokens: torch.Tensor) -> torch.Tensor:
    """``tokens [B, L] -> [B, 16]`` counts of each ordered base pair."""
    return torch.stack([torch.bincount(row[:-1] * 4 + row[1:], minlength=16) for row in tokens])


@pytest.fixture
def tokens() -> torch.Tensor:
    return torch.randint(0, 4, (50, 40), generator=torch.Generator().manual_seed(0))


def test_keeps_dinucleotide_counts_and_both_ends(tokens):
    shuffled = dinucleotide_shuffle(tokens, 1)
    assert shuffled.shape == tokens.shape and shuffled.dtype == tokens.dtype
    assert torch.equal(dinucleotide_counts(shuffled), dinucleotide_counts(tokens))
    assert torch.equal(shuffled[:, 0], tokens[:, 0]) and torch.equal(shuffled[:, -1], tokens[:, -1])


def test_changes_the_sequences(tokens):
    shuffled = dinucleotide_shuffle(tokens, 1)
    assert (shuffled != tokens).any(dim=1).float().mean() > 0.9


def test_deterministic_given_a_seed_or_a_generator(tokens):
    assert torch.equal(dinucleotide_shuffle(tokens, 1), dinucleotide_shuffle(tokens, 1))
    assert torch.equal(dinucleotide_shuffle(tokens, np.random.default_rng(3)), dinucleotide_shuffle(tokens, 3))
    assert not torch.equal(dinucleotide_shuffle(tokens, 1), dinucleotide_shuffle(tokens, 2))
    assert torch.equal(tokens, torch.randint(0, 4, (50, 40), generator=torch.Generator().manual_seed(0)))  # input untouched


def test_sequences_with_a_single_arrangement_are_returned_unchanged():
    for fixed in (["AAAA"], ["ACGT"], ["AC"], ["A"]):
        tokens = strings_to_tokens(fixed)
        assert torch.equal(dinucleotide_shuffle(tokens, 0), tokens)


def test_every_arrangement_of_a_small_multigraph_is_reachable():
    # ACACGA: edges A->C, C->A, A->C, C->G, G->A; sequences with these counts, start A, end A:
    # ACACGA and ACGACA.
    tokens = strings_to_tokens(["ACACGA"])
    seen = {tuple(dinucleotide_shuffle(tokens, seed)[0].tolist()) for seed in range(40)}
    assert {tuple(strings_to_tokens([s])[0].tolist()) for s in ("ACACGA", "ACGACA")} == seen


def test_refuses_mask_tokens():
    with pytest.raises(ValueError, match="A/C/G/T tokens only"):
        dinucleotide_shuffle(torch.tensor([[0, 4, 1, 2]]), 0)
