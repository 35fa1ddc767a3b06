import pytest
import torch

from dnadav.dna.tokens import (
    MASK_INDEX,
    gc_content,
    gc_count,
    onehot_to_tokens,
    reverse_complement,
    reverse_complement_onehot,
    strings_to_onehot,
    strings_to_tokens,
    tokens_to_onehot,
    tokens_to_strings,
)
from dnadav.errors import InputError


def test_round_trip_and_layout():
    tokens = strings_to_tokens(["ACGT", "ttgc"])
    assert tokens.tolist() == [[0, 1, 2, 3], [3, 3, 2, 1]]
    onehot = strings_to_onehot(["ACGT"])
    assert onehot.shape == (1, 4, 4) and torch.equal(onehot[0], torch.eye(4))  # [B, 4, L], ACGT rows
    assert tokens_to_strings(tokens) == ["ACGT", "TTGC"]


def test_mask_is_an_all_zero_column_and_comes_back():
    tokens = torch.tensor([[0, MASK_INDEX, 3]])
    onehot = tokens_to_onehot(tokens)
    assert onehot[0, :, 1].sum() == 0
    assert torch.equal(onehot_to_tokens(onehot), tokens)
    assert tokens_to_strings(tokens) == ["ANT"]


def test_bad_input_names_the_sequence_and_position():
    with pytest.raises(InputError, match=r"sequence #1: character 'N' at position 2"):
        strings_to_tokens(["ACGT", "ACNT"])
    with pytest.raises(InputError, match="length 3; expected 4"):
        strings_to_tokens(["ACGT", "ACG"])
    with pytest.raises(ValueError, match="one-hot"):
        onehot_to_tokens(torch.zeros(2, 10, 4))


def test_reverse_complement_and_gc():
    assert tokens_to_strings(reverse_complement(strings_to_tokens(["AACG"]))) == ["CGTT"]
    assert gc_content(strings_to_tokens(["GGAA", "CCCC"])).tolist() == [0.5, 1.0]


def test_gc_counts_and_fraction_treat_mask_as_neither():
    tokens = torch.tensor([[2, 1, MASK_INDEX, 0], [3, 3, 3, 3]])  # G C MASK A; TTTT
    assert gc_count(tokens).tolist() == [2, 0] and gc_count(tokens).dtype == torch.int64
    assert gc_content(tokens).tolist() == [0.5, 0.0]


def test_onehot_reverse_complement_matches_the_token_one_and_keeps_masks():
    tokens = torch.tensor([[0, 0, 1, 2, MASK_INDEX], [3, 2, 1, 0, 0]])
    onehot = tokens_to_onehot(tokens)
    assert torch.equal(reverse_complement_onehot(onehot), tokens_to_onehot(reverse_complement(tokens)))
    assert torch.equal(reverse_complement_onehot(reverse_complement_onehot(onehot)), onehot)  # an involution
    assert reverse_complement_onehot(onehot)[0, :, 0].sum() == 0  # the masked last column is now first
    with pytest.raises(ValueError, match=r"one-hot \[B, 4, L\]"):
        reverse_complement_onehot(torch.zeros(2, 5, 4))


def test_reverse_complement_and_gc_have_one_home():
    """metrics, the oracle CNN and oracle training call dnadav.dna.tokens; nobody keeps a copy."""
    from dnadav.evaluate import metrics
    from dnadav.oracles import cnn, train

    assert cnn.reverse_complement_onehot is reverse_complement_onehot  # kept as a re-export
    assert train.reverse_complement_onehot is reverse_complement_onehot
    assert metrics.gc_content is gc_content
    assert metrics.gc_fraction(["GGAA", "ACGT", "TTTT"]).tolist() == [0.5, 0.5, 0.0]
