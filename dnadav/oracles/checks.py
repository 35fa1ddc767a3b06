"""``check_oracle``: the contract every oracle meets, written once and run over every implementation.

An oracle is an ``nn.Module`` with ``forward(onehot [B, 4, L]) -> [B, K]``, ``reward(onehot) -> [B]``
and ``probability(onehot) -> [B]``, differentiable in the (possibly soft) one-hot input.
"""

from __future__ import annotations

import torch
from torch import nn

from dnadav.dna.tokens import strings_to_onehot

__all__ = ["check_oracle"]

_PATTERNS = ("ACGTTGCA", "GGGGCCCC", "ATATATAT", "CAGTTAAC")


def _fail(message: str) -> None:
    raise AssertionError(f"check_oracle: {message}")


def check_oracle(oracle: nn.Module, length: int = 16) -> None:
    """Raise AssertionError naming the broken promise unless ``oracle`` meets the contract on length-``length`` input.

    Checks: output shapes; finite values; probabilities in [0, 1]; deterministic in eval mode;
    batch-invariant (a row's score does not depend on its batch-mates); reward differentiable in
    the one-hot input with a non-zero gradient; ``[B, L, 4]`` input refused with a ValueError that
    points to ``dnadav.dna.tokens.tokens_to_onehot``. The oracle's train/eval mode is restored.
    """
    was_training = oracle.training
    oracle.eval()
    try:
        repeat = -(-length // 8)
        onehot = strings_to_onehot([(p * repeat)[:length] for p in _PATTERNS])
        batch = onehot.shape[0]
        outputs = oracle(onehot)
        if outputs.dim() != 2 or outputs.shape[0] != batch:
            _fail(f"forward must return [B, K]; got {tuple(outputs.shape)} for B = {batch}")
        reward, probability = oracle.reward(onehot), oracle.probability(onehot)
        for name, value in (("reward", reward), ("probability", probability)):
            if value.shape != (batch,):
                _fail(f"{name} must return [B] = ({batch},); got {tuple(value.shape)}")
            if not torch.isfinite(value).all():
                _fail(f"{name} returned non-finite values {value.tolist()}")
        if (probability < 0).any() or (probability > 1).any():
            _fail(f"probability outside [0, 1]: {probability.tolist()}")
        if not torch.equal(oracle.reward(onehot), reward):
            _fail("reward is not deterministic in eval mode (dropout left on, or a random op?)")
        for i in range(batch):
            single = oracle.reward(onehot[i : i + 1])
            if not torch.allclose(single, reward[i : i + 1], rtol=1e-4, atol=1e-5):
                _fail(f"row {i} scores {single.item():.6f} alone but {reward[i].item():.6f} in a batch (batch statistics?)")
        soft = onehot.clone().requires_grad_(True)
        oracle.reward(soft).sum().backward()
        if soft.grad is None or not torch.isfinite(soft.grad).all() or soft.grad.abs().sum() == 0:
            _fail("reward has no finite, non-zero gradient with respect to the one-hot input")
        try:
            oracle.reward(onehot.transpose(1, 2))
        except ValueError as error:
            if "tokens_to_onehot" not in str(error):
                _fail(f"the error for [B, L, 4] input should point to dnadav.dna.tokens.tokens_to_onehot; got {error}")
        else:
            _fail("[B, L, 4] input was accepted; it must raise ValueError")
    finally:
        oracle.train(was_training)
