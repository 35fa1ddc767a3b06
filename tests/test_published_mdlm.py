"""DRAKES's pretrained MDLM rebuilt in dnadav: parity with the reference code, the Lightning
checkpoint layout (pickled OmegaConf config, EMA), refusal of hostile pickles, and agreement of its
sampling with dnadav's masked-diffusion maths."""

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from dnadav.dna.masked import x0_log_probs
from dnadav.dna.sampler import reverse_log_probs, sample
from dnadav.dna.schedule import LogLinearSchedule
from dnadav.errors import InputError
from dnadav.published.dispatch import load_denoiser_any, load_model
from dnadav.published.drakes_mdlm import (
    DrakesConfig,
    DrakesDenoiser,
    block_dilations,
    drakes_state_dict,
    from_drakes_state_dict,
    load_drakes_mdlm,
)
from dnadav.published.safe_checkpoint import load_checkpoint, plain

DATA = Path(__file__).parent / "data"


def seeded_drakes_weights(model: DrakesDenoiser, seed: int) -> dict[str, torch.Tensor]:
    """The weights tests/data/drakes_cnn_reference.npz was made with (see tests/data/README.md)."""
    shapes = drakes_state_dict(model, prefix="")
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for key in sorted(shapes):
        shape = shapes[key].shape
        scale = 0.5 if len(shape) <= 1 else 1.0 / max(1, shapes[key][0].numel()) ** 0.5
        value = torch.randn(shape, generator=generator) * scale
        weights["backbone." + key] = 1.0 + value if key.startswith("norms.") and key.endswith(".weight") else value
    return weights


def test_rebuild_matches_the_reference_code_outputs():
    reference = np.load(DATA / "drakes_cnn_reference.npz")
    model = from_drakes_state_dict(seeded_drakes_weights(DrakesDenoiser(), int(reference["seed"]))).eval()
    tokens = torch.from_numpy(reference["tokens"].astype(np.int64))
    with torch.no_grad():
        raw = model.token_logits(tokens)
        logits = model(tokens, torch.full((3,), 0.7))  # t is ignored: DRAKES feeds sigma = 0 at every step
    torch.testing.assert_close(raw, torch.from_numpy(reference["raw_logits"]), atol=1e-5, rtol=1e-5)
    # the time path is live in the reference (another t changes its output): feeding 0 is a choice that matters
    assert (torch.from_numpy(reference["raw_logits_t07"]) - raw).abs().max() > 0.1
    drakes_subs = torch.from_numpy(reference["subs_log_probs"])
    assert (drakes_subs[..., 4] <= -1e5).all()  # MASK (index 4) is never predicted
    ours = x0_log_probs(logits, tokens)
    torch.testing.assert_close(ours.clamp(min=-1e5), drakes_subs[..., :4].clamp(min=-1e5), atol=1e-5, rtol=1e-5)


def test_layer_order_and_size_are_the_published_ones():
    assert block_dilations(4) == [1] * 8 + [4] * 4 + [16] * 4 + [64] * 4  # repeated consecutively, not cycled
    model = DrakesDenoiser()
    assert sum(p.numel() for p in model.parameters()) == 3_326_661
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 3_326_597  # W is fixed
    assert [c.dilation[0] for c in model.convs] == block_dilations(4) and len(drakes_state_dict(model)) == 129


# --- a synthetic published checkpoint: Lightning wrapper, pickled OmegaConf config, EMA -------------

MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / "dnadav_pickle_code_ran"


def _fake_omegaconf():
    """Classes pickled under omegaconf's names (omegaconf is not installed); ``Node.__setstate__``
    writes a marker file, so any load that ran pickled code would leave it behind."""

    class ContainerMetadata:
        pass

    class AnyValueNode:
        def __init__(self, value):
            self._val, self._metadata = value, ContainerMetadata()

        def __setstate__(self, state):
            MARKER.write_text("ran")
            self.__dict__.update(state)

    class DictConfig:
        def __init__(self, content: dict):
            self._content = {k: DictConfig(v) if isinstance(v, dict) else AnyValueNode(v) for k, v in content.items()}
            self._metadata, self._parent = ContainerMetadata(), None

    modules = {"omegaconf": types.ModuleType("omegaconf")}
    for cls, module in (
        (DictConfig, "omegaconf.dictconfig"),
        (AnyValueNode, "omegaconf.nodes"),
        (ContainerMetadata, "omegaconf.base"),
    ):
        cls.__module__, cls.__qualname__ = module, cls.__name__
        modules.setdefault(module, types.ModuleType(module))
        setattr(modules[module], cls.__name__, cls)
    return DictConfig, modules


def save_lightning_checkpoint(
    path: Path, state_dict: dict, hyper: dict, extra: dict | None = None, omegaconf: bool = True
) -> Path:
    """Write a Lightning-style checkpoint; ``omegaconf``: hyper_parameters = {"config": DictConfig(hyper),
    "eval": False} pickled under omegaconf's names (DRAKES), else ``hyper`` as plain dicts (gReLU)."""
    DictConfig, modules = _fake_omegaconf()
    sys.modules.update(modules)
    try:
        checkpoint = {
            "epoch": 3,
            "global_step": 1315,
            "pytorch-lightning_version": "2.3.3",
            "state_dict": state_dict,
            "loops": {"fit_loop": {"epoch_progress": {"current": {"completed": 3}}}},
            "callbacks": {"ModelCheckpoint{'monitor': 'val/nll'}": {"best_model_score": torch.tensor(1.25)}},
            "optimizer_states": [],
            "lr_schedulers": [],
            "hparams_name": "kwargs",
            "hyper_parameters": {"config": DictConfig(hyper), "eval": False} if omegaconf else hyper,
            **(extra or {}),
        }
        torch.save(checkpoint, path)
    finally:
        for name in modules:
            sys.modules.pop(name, None)
    return path


def drakes_checkpoint(tmp_path: Path, config: DrakesConfig, seed: int = 0, name: str = "last.ckpt"):
    torch.manual_seed(seed)
    raw, ema = DrakesDenoiser(config), DrakesDenoiser(config)
    state = {**drakes_state_dict(raw), "some_metric.buffer": torch.zeros(1)}  # non-backbone keys are ignored
    shadow = [p.detach().clone() for p in ema.parameters() if p.requires_grad]  # backbone.parameters() order
    hyper = {
        "model": {"hidden_dim": config.hidden_dim, "num_cnn_stacks": config.num_cnn_stacks, "clean_data": False},
        "parameterization": "subs",
        "time_conditioning": False,
    }
    path = save_lightning_checkpoint(
        tmp_path / name, state, hyper, {"ema": {"decay": 0.9999, "num_updates": 1315, "shadow_params": shadow}}
    )
    return path, raw, ema


SMALL = DrakesConfig(hidden_dim=12, num_cnn_stacks=1)


def test_published_checkpoint_loads_offline_without_running_pickled_code(tmp_path):
    MARKER.unlink(missing_ok=True)
    path, raw, ema = drakes_checkpoint(tmp_path, SMALL)
    assert "omegaconf" not in sys.modules
    config = plain(load_checkpoint(path)["hyper_parameters"]["config"])
    assert config["model"] == {"hidden_dim": 12, "num_cnn_stacks": 1, "clean_data": False} and not MARKER.exists()
    tokens = torch.randint(0, 5, (2, 30), generator=torch.Generator().manual_seed(1))
    for weights, expected in (("raw", raw), ("ema", ema)):
        loaded = load_drakes_mdlm(path, weights=weights)
        assert loaded.config == SMALL and not loaded.training  # sizes read from the pickled config
        with torch.no_grad():
            torch.testing.assert_close(loaded(tokens), expected.eval()(tokens), atol=0, rtol=0)
    assert not MARKER.exists() and "omegaconf" not in sys.modules
    model, config = load_denoiser_any(path)
    assert config["weights"] == "raw" and config["architecture"] == "DrakesDenoiser"
    drawn = sample(load_model(path), 3, 30, num_steps=8, generator=torch.Generator().manual_seed(0))
    assert drawn.shape == (3, 30) and drawn.max() < 4  # sampled through dnadav's sampler: all unmasked


class _Shell:
    def __init__(self, call, args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


@pytest.mark.parametrize(("call", "named"), [(os.system, "system"), (eval, "builtins.eval"), (exec, "builtins.exec")])
def test_hostile_pickles_are_refused_in_one_line_before_anything_runs(tmp_path, call, named):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"x": _Shell(call, (f"open({str(marker)!r}, 'w')",))}}, path)
    with pytest.raises(InputError) as error:
        load_drakes_mdlm(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: refused") and named in message
    assert not marker.exists()


def test_unknown_classes_become_inert_stand_ins(tmp_path):
    import subprocess  # noqa: F401  (the class below names a harmless-looking custom module)

    class Payload:
        def __setstate__(self, state):
            raise AssertionError("pickled code ran")

    Payload.__module__, Payload.__qualname__ = "evil_module", "Payload"
    sys.modules["evil_module"] = types.ModuleType("evil_module")
    sys.modules["evil_module"].Payload = Payload
    try:
        torch.save({"payload": Payload(), "weights": torch.ones(2)}, tmp_path / "odd.ckpt")
    finally:
        del sys.modules["evil_module"]
    loaded = load_checkpoint(tmp_path / "odd.ckpt")
    assert repr(loaded["payload"]) == "Opaque(evil_module.Payload)" and loaded["weights"].tolist() == [1.0, 1.0]


def test_missing_and_unexpected_keys_fail_with_one_line_naming_them(tmp_path):
    state = drakes_state_dict(DrakesDenoiser(SMALL))
    state.pop("backbone.norms.2.bias")
    state["backbone.cls_head.0.weight"] = torch.zeros(3)
    with pytest.raises(InputError) as error:
        from_drakes_state_dict(state, SMALL, source="x.ckpt")
    message = str(error.value)
    assert (
        "\n" not in message and "missing backbone.norms.2.bias" in message and "unexpected backbone.cls_head.0.weight" in message
    )
    wrong = drakes_state_dict(DrakesDenoiser(SMALL))
    wrong["backbone.linear.weight"] = torch.zeros(12, 4, 9)  # a 4-token input layer: not the published one
    with pytest.raises(InputError, match=r"backbone.linear.weight \(12, 4, 9\) \(expected \(12, 5, 9\)\)"):
        from_drakes_state_dict(wrong, SMALL)
    with pytest.raises(InputError, match="no 'backbone"):
        from_drakes_state_dict({"model.x": torch.zeros(1)}, SMALL)
    path, *_ = drakes_checkpoint(tmp_path, SMALL)
    with pytest.raises(InputError, match="weights must be 'raw' or 'ema'"):
        load_drakes_mdlm(path, weights="best")


def test_reverse_step_is_drakes_ddpm_update():
    """DRAKES's _ddpm_update: q = p_x0 · (move_t − move_s), q[MASK] = move_s, move = (1 − 1e-3) t,
    sampled after normalising — the same distribution as dnadav's reverse_log_probs."""
    torch.manual_seed(0)
    model = DrakesDenoiser(SMALL).eval()
    x_t = torch.randint(0, 5, (4, 25), generator=torch.Generator().manual_seed(2))
    t, s = torch.full((4,), 0.6), torch.full((4,), 0.45)
    schedule = LogLinearSchedule(1e-3)
    with torch.no_grad():
        log_x0 = x0_log_probs(model(x_t, t), x_t)
        ours = reverse_log_probs(log_x0, x_t, schedule.alpha(t), schedule.alpha(s)).exp()
        move_t, move_s = (1 - 1e-3) * t[:, None, None], (1 - 1e-3) * s[:, None, None]
        q = torch.cat([log_x0.exp() * (move_t - move_s), move_s.expand(4, 25, 1)], dim=-1)
        drakes = q / q.sum(-1, keepdim=True)
    masked = x_t == 4
    torch.testing.assert_close(ours[masked], drakes[masked], atol=1e-6, rtol=1e-5)
    assert (ours[~masked].argmax(-1) == x_t[~masked]).all()  # copy_flag: unmasked tokens are kept
