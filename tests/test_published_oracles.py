"""DRAKES's gReLU Enformer oracles rebuilt without the human-weights download: parity with gReLU's
code, the published sizes, synthetic checkpoints in gReLU's Lightning layout, and the oracle folders
``load_oracle`` accepts (DRAKES's pair of .ckpt files, dnadav's reward/ + eval/ pair)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from dnadav.errors import InputError
from dnadav.oracles import RegressionOracle, check_oracle, load_oracle, save_oracle
from dnadav.oracles.cnn import ConvClassifierConfig, ConvRegressor
from dnadav.published.enformer_layers import relative_positional_basis
from dnadav.published.enformer_oracle import EnformerConfig, EnformerRegressor, load_grelu_oracle
from tests.test_published_mdlm import save_lightning_checkpoint

DATA = Path(__file__).parent / "data"
SMALL = EnformerConfig(channels=384, n_transformers=2, n_heads=8, key_len=16)  # tests/data/README.md


def seeded_weights(model: EnformerRegressor, seed: int) -> dict[str, torch.Tensor]:
    """The weights tests/data/grelu_enformer_reference.npz was made with."""
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for key, value in sorted(model.state_dict().items()):
        if key.endswith("num_batches_tracked"):
            weights[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            weights[key] = 0.5 + torch.rand(value.shape, generator=generator)
        else:
            scale = 0.3 if value.dim() <= 1 else 1.0 / value[0].numel() ** 0.5
            drawn = torch.randn(value.shape, generator=generator) * scale
            weights[key] = 1.0 + drawn if key.endswith("norm.layer.weight") else drawn
    return weights


def onehot(codes: np.ndarray) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.from_numpy(codes.astype(np.int64)), 4).float().transpose(1, 2)


def test_rebuild_matches_grelu_outputs_at_200bp_and_2kb():
    reference = np.load(DATA / "grelu_enformer_reference.npz")
    model = EnformerRegressor(SMALL).eval()
    model.load_state_dict(seeded_weights(model, 4321))  # same keys as gReLU's model: strict load
    with torch.no_grad():
        for x, y in (("x200", "y200"), ("x2k", "y2k")):  # 200 bp: odd lengths pooled; 2 kb: 16 attended positions
            torch.testing.assert_close(model(onehot(reference[x])), torch.from_numpy(reference[y]), atol=1e-5, rtol=1e-5)


def test_published_size_builds_without_weights_and_has_enformer_shapes():
    # Built on the meta device: shapes without 0.92 GB of weights. (A forward pass on meta is left out:
    # after other tests have traced torch ops, meta-device forwards of the positional basis can pick up
    # a CPU constant; the forward is checked at full fidelity on the small config by the parity tests.)
    with torch.device("meta"):
        model = EnformerRegressor()
    state = model.state_dict()
    assert state["embedding.conv_tower.blocks.0.0.weight"].shape == (768, 4, 15)
    assert state["embedding.conv_tower.blocks.6.0.conv.weight"].shape == (1536, 1280, 5)
    assert state["embedding.transformer_tower.blocks.10.mha.to_rel_k.weight"].shape == (512, 192)
    assert state["head.channel_transform.conv.layer.weight"].shape == (3, 3072, 1)
    assert len([k for k in state if ".transformer_tower.blocks." in k]) == 11 * 16
    assert sum(p.numel() for p in model.parameters()) == 229_854_723  # trunk + 3-task head: 0.92 GB in float32


def test_relative_positions_cover_signed_distances():
    basis = relative_positional_basis(4, 12)
    assert basis.shape == (7, 12)
    torch.testing.assert_close(basis[:3, :6], basis[4:, :6].flip(0))  # symmetric unsigned part
    torch.testing.assert_close(basis[:3, 6:], -basis[4:, 6:].flip(0))  # antisymmetric signed part
    assert basis[3, 6:].abs().sum() == 0 and basis[3, 2:4].tolist() == [1.0, 1.0]  # distance 0: central mask on


def grelu_checkpoint(path: Path, seed: int, config: EnformerConfig = SMALL) -> tuple[Path, EnformerRegressor]:
    torch.manual_seed(seed)
    model = EnformerRegressor(config).eval()
    state = {"model." + k: v for k, v in model.state_dict().items()}
    hyper = {
        "model_params": {
            "model_type": "EnformerPretrainedModel",
            "n_tasks": 3,
            "channels": config.channels,
            "n_transformers": config.n_transformers,
            "n_heads": config.n_heads,
            "key_len": config.key_len,
        },
        "train_params": {"task": "regression", "loss": "MSE", "lr": 1e-4, "batch_size": 512},
        "data_params": {"tasks": {"name": ["hepg2", "k562", "sknsh"]}},
    }
    return save_lightning_checkpoint(path, state, hyper, omegaconf=False), model


def test_drakes_oracle_files_load_by_role_and_score(tmp_path):
    folder = tmp_path / "drakes"
    folder.mkdir()
    _, reward_net = grelu_checkpoint(folder / "reward_oracle_ft.ckpt", seed=1)
    _, eval_net = grelu_checkpoint(folder / "reward_oracle_eval.ckpt", seed=2)
    x = onehot(np.random.default_rng(0).integers(0, 4, (3, 200)))
    reward, held_out = load_oracle(folder, role="reward"), load_oracle(folder, role="eval")
    assert isinstance(reward, RegressionOracle) and reward.class_names == ("hepg2", "k562", "sknsh")
    with torch.no_grad():
        torch.testing.assert_close(reward.reward(x), reward_net(x)[:, 0, 0])
        torch.testing.assert_close(held_out.reward(x), eval_net(x)[:, 0, 0])
        k562 = load_oracle(f"{folder / 'reward_oracle_eval.ckpt'}:k562")
        torch.testing.assert_close(k562.reward(x), eval_net(x)[:, 1, 0])
    check_oracle(reward, length=200)


def test_grelu_checkpoint_with_wrong_keys_fails_in_one_line(tmp_path):
    path, model = grelu_checkpoint(tmp_path / "ok.ckpt", seed=0)
    from dnadav.published.safe_checkpoint import load_checkpoint

    checkpoint = load_checkpoint(path)
    state = checkpoint["state_dict"]
    state.pop("model.embedding.pointwise_conv.conv.bias")
    state["model.head.extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {"model_params": checkpoint["hyper_parameters"]["model_params"]}}, bad)
    with pytest.raises(InputError) as error:
        load_grelu_oracle(bad)
    message = str(error.value)
    assert "\n" not in message and "missing model.embedding.pointwise_conv.conv.bias" in message
    assert "unexpected model.head.extra.weight" in message
    torch.save({"state_dict": state, "hyper_parameters": {"model_params": {"model_type": "BorzoiModel"}}}, bad)
    with pytest.raises(InputError, match="BorzoiModel.*not supported"):
        load_grelu_oracle(bad)


def test_pair_folder_gives_disjoint_reward_and_eval_oracles(tmp_path):
    for role, seed in (("reward", 0), ("eval", 1)):
        torch.manual_seed(seed)
        network = ConvRegressor(ConvClassifierConfig(num_outputs=3, channels=8, kernels=(3,)))
        save_oracle(tmp_path / "pair" / role, network, "regressor", ("hepg2", "k562", "sknsh"), {"default_target": "hepg2"})
    x = onehot(np.random.default_rng(1).integers(0, 4, (2, 50)))
    with torch.no_grad():
        reward = load_oracle(tmp_path / "pair", role="reward").reward(x)
        held_out = load_oracle(tmp_path / "pair", role="eval").reward(x)
        assert not torch.allclose(reward, held_out)
        torch.testing.assert_close(reward, load_oracle(tmp_path / "pair" / "reward").reward(x))
    with pytest.raises(InputError, match="reward/ and eval/"):
        load_oracle(tmp_path / "nowhere")
