"""Offline image rewards and the shipped digits world."""

from __future__ import annotations

import pytest

pytest.importorskip("diffusers")

import torch  # noqa: E402

from dnadav.errors import InputError  # noqa: E402
from dnadav.image.rewards import (  # noqa: E402
    AestheticReward,
    jpeg_compressibility,
    jpeg_incompressibility,
    jpeg_kilobytes,
    make_reward,
)


def test_jpeg_rewards_prefer_flat_images_and_are_opposite():
    flat = torch.full((1, 3, 32, 32), 0.5)
    noise = torch.rand((1, 3, 32, 32), generator=torch.Generator().manual_seed(0))
    images = torch.cat([flat, noise])
    kb = jpeg_kilobytes(images)
    assert kb[0] < kb[1] and kb.shape == (2,)
    torch.testing.assert_close(jpeg_compressibility(images), -jpeg_incompressibility(images))
    assert jpeg_kilobytes(torch.rand(2, 1, 16, 16)).shape == (2,)  # grey images too


def test_reward_names_and_errors():
    assert make_reward("jpeg_compressibility") is jpeg_compressibility
    with pytest.raises(InputError, match="unknown reward 'digit=12'"):
        make_reward("digit=12")
    with pytest.raises(InputError, match="needs --reward-weights"):
        make_reward("aesthetic")


def test_digit_reward_reads_real_digits_and_eval_classifier_agrees():
    from dnadav.image.digits import digit_halves, load_digit_images
    from dnadav.image.rewards import load_digit_classifier

    images, labels = load_digit_images()
    _, eval_half = digit_halves()
    threes = images[eval_half][labels[eval_half] == 3][:20]  # unseen by the reward classifier
    reward = make_reward("digit=3")
    assert float(reward(threes).exp().mean()) > 0.8
    assert float(make_reward("digit=7")(threes).exp().mean()) < 0.1
    with torch.no_grad():
        assert float((load_digit_classifier("eval")(threes).argmax(-1) == 3).float().mean()) > 0.8
    with pytest.raises(InputError, match="16×16 grey"):
        reward(torch.rand(2, 1, 8, 8))


def test_aesthetic_reward_from_local_weights(tmp_path):
    from safetensors.torch import save_file
    from transformers import CLIPConfig, CLIPModel

    with pytest.raises(InputError, match="missing clip/config.json, head.safetensors"):
        AestheticReward(tmp_path)
    config = CLIPConfig(
        text_config=dict(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                         max_position_embeddings=8),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=16,
                           patch_size=8),
        projection_dim=8,
    )  # fmt: skip
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(tmp_path / "clip")
    save_file({"weight": torch.ones(1, 8), "bias": torch.zeros(1)}, str(tmp_path / "head.safetensors"))
    reward = make_reward("aesthetic", tmp_path)
    images = torch.rand(3, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        scores = reward(images)
        pixels = torch.nn.functional.interpolate(images, size=(16, 16), mode="bicubic", align_corners=False)
        pixels = (pixels.clamp(0, 1) - reward.mean) / reward.std
        embedding = reward.clip.visual_projection(reward.clip.vision_model(pixel_values=pixels).pooler_output)
        expected = (embedding / embedding.norm(dim=-1, keepdim=True)).sum(-1)
    torch.testing.assert_close(scores, expected)
