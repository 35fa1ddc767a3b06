"""One save/load module: a bad checkpoint is one InputError line naming the folder and the problem."""

import json
import shutil

import pytest
import torch

from dnadav.checkpoint_format import load_state, read_checkpoint, save_checkpoint
from dnadav.cli import main
from dnadav.dna import ConvDenoiser, ConvDenoiserConfig, load_denoiser, save_denoiser
from dnadav.dna.backbone import fourier_time_features, pointwise
from dnadav.errors import InputError
from dnadav.loaders import load_oracle


class Payload:
    """Not a tensor: weights_only loading must refuse to rebuild it."""


@pytest.fixture
def tiny(tmp_path):
    model = ConvDenoiser(ConvDenoiserConfig(channels=8, num_blocks=1, time_embedding_dim=8))
    return save_denoiser(tmp_path / "tiny", model, {"schedule": "loglinear", "length": 20})


def test_round_trip_and_config_from_dict(tiny):
    model, config = load_denoiser(tiny)
    assert config["length"] == 20 and model.config == ConvDenoiserConfig.from_dict(config["backbone"])
    with pytest.raises(ValueError, match="unknown backbone option"):
        ConvDenoiserConfig.from_dict({"channels": 8, "colour": "red"})


def test_non_tensor_pickle_is_refused(tiny):
    torch.save({"weights": Payload()}, tiny / "model.pt")
    with pytest.raises(InputError, match="not a plain-tensor checkpoint"):
        load_denoiser(tiny)


def test_truncated_file_is_refused(tiny):
    data = (tiny / "model.pt").read_bytes()
    (tiny / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_denoiser(tiny)


def test_weights_of_another_architecture_are_refused(tiny):
    config = json.loads((tiny / "config.json").read_text())
    config["backbone"]["channels"] = 16
    (tiny / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="does not fit the architecture"):
        load_denoiser(tiny)


def test_missing_or_broken_config_is_refused(tiny):
    (tiny / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_denoiser(tiny)
    (tiny / "config.json").unlink()
    with pytest.raises(InputError, match="no config.json"):
        load_denoiser(tiny)


def test_oracle_checkpoints_get_the_same_checks(tmp_path):
    from dnadav.oracles.registry import oracle_folder

    folder = tmp_path / "oracle"
    shutil.copytree(oracle_folder("hepg2", "eval"), folder)
    assert load_oracle(str(folder)).target == "HepG2"
    assert load_oracle(f"{folder}:K562").target == "K562"
    torch.save({"w": Payload()}, folder / "model.pt")
    with pytest.raises(InputError, match="not a plain-tensor checkpoint|truncated or corrupt"):
        load_oracle(str(folder))


def test_load_state_names_the_first_mismatch(tmp_path):
    module = torch.nn.Linear(3, 2)
    with pytest.raises(InputError, match=r"weight has shape \(2, 4\)"):
        load_state(module, {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)}, tmp_path)
    save_checkpoint(tmp_path / "lin", module, {"kind": "linear"})
    state, config = read_checkpoint(tmp_path / "lin")
    assert config == {"kind": "linear"} and set(state) == {"weight", "bias"}


def test_cli_bad_model_folder_exits_2_with_one_line(tiny, tmp_path, capsys):
    (tiny / "model.pt").write_bytes(b"garbage, not a checkpoint")
    assert main(["design", "--model", str(tiny), "--n", "2", "--out", str(tmp_path / "x.fa"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(tiny) in err and err.startswith("dnadav design: error:")


def test_the_shape_check_fills_no_weights_and_restores_torch_init(tiny):
    """The meta shell is built with torch.nn.init's fillers as no-ops (filling meta tensors imports
    torch._dynamo, ~1.5 s of start-up) and the fillers are back afterwards, also after a refusal."""
    import subprocess
    import sys

    before = torch.nn.init.normal_
    model, _ = load_denoiser(tiny)
    assert torch.nn.init.normal_ is before and model.embed.weight.device.type == "cpu"
    config = json.loads((tiny / "config.json").read_text())
    config["backbone"]["channels"] = 16
    (tiny / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="does not fit the architecture"):
        load_denoiser(tiny)
    assert torch.nn.init.normal_ is before
    torch.manual_seed(0)
    fresh = ConvDenoiser(ConvDenoiserConfig(channels=8, num_blocks=1, time_embedding_dim=8)).embed.weight
    assert fresh.std() > 0.5  # a model built after a check is initialised as always
    code = "import sys, dnadav.dna as d; d.load_denoiser('dhs_prior'); print('torch._dynamo' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_pointwise_layers_compute_the_kernel_1_convolution():
    """The denoiser computes its kernel-1 convolutions as matrix products (speed); the map must be the
    Conv1d's own, with the checkpoint's parameter names and shapes unchanged."""
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(6, 5, 1)
    h = torch.randn(3, 6, 11)
    assert torch.allclose(pointwise(conv, h), conv(h), atol=1e-6)
    net = ConvDenoiser(ConvDenoiserConfig(channels=8, num_blocks=2, time_embedding_dim=8, dropout=0.0)).eval()
    x_t, t = torch.randint(0, 5, (4, 12)), torch.rand(4)
    with torch.no_grad():
        h = net.embed(x_t).transpose(1, 2)
        embedding = net.time_mlp(fourier_time_features(t, 8))
        for block in net.blocks:
            update = torch.nn.functional.gelu(block.conv1(block.norm(h))) + block.time_shift(embedding)[..., None]
            h = h + block.conv2(torch.nn.functional.gelu(update))
        expected = net.out(torch.nn.functional.gelu(net.out_norm(h))).transpose(1, 2)
        assert torch.allclose(net(x_t, t), expected, atol=1e-5)
    assert net.blocks[0].conv2.weight.shape == (8, 8, 1) and net.out.weight.shape == (4, 8, 1)
