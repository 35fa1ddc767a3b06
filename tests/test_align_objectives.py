"""An objective in the DAV loop: a constrained objective's multipliers take exactly one dual step per
E-step, are checkpointed and restored on resume; `dnadav align`'s options map onto AlignConfig."""

import argparse
import dataclasses

import pytest
import torch

from dnadav.commands.align import add_parser, config_from_args
from dnadav.core.fit import fit_em
from dnadav.core.search import SearchConfig
from dnadav.dna import ConvDenoiser, ConvDenoiserConfig, LogLinearSchedule
from dnadav.dna.config import AlignConfig
from dnadav.dna.em import MaskedDAVModule as DAVModule
from dnadav.dna.presets import preset
from dnadav.errors import InputError
from dnadav.objectives import make_objective
from dnadav.oracles import CellTypeOracle

LENGTH = 12
CLASSES = ("HepG2", "K562", "GM12878", "hESC", "shuffled")


class BaseCountLogits(torch.nn.Module):
    """Logits (#A, #C, #G, #T, 0): K562 likes C, HepG2 likes A."""

    def forward(self, onehot):
        counts = onehot.sum(dim=-1)
        return torch.cat([counts, torch.zeros(len(counts), 1)], dim=1) * 0.5


def constrained_module(iterations: int) -> tuple[DAVModule, object]:
    torch.manual_seed(0)
    model = ConvDenoiser(ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), dropout=0.1))
    oracle = CellTypeOracle(BaseCountLogits(), CLASSES, "K562")
    objective = make_objective("k562 s.t. hepg2 < 0.02", oracle=oracle, initial_multiplier=0.5, step=2.0, tolerance=0.1)
    config = AlignConfig(
        length=LENGTH,
        iterations=iterations,
        sequences_per_iteration=16,
        batch_size=16,
        lr=3e-3,
        search=SearchConfig(num_children=4, reward_temperature=0.5, num_steps=4),
    )
    return DAVModule(model, objective.reward, config, LogLinearSchedule()), objective


def test_multipliers_take_one_dual_step_per_iteration(tmp_path):
    module, objective = constrained_module(iterations=3)
    fit_em(module, tmp_path, accelerator="cpu", progress=False)
    multipliers = [r["objective/multiplier/hepg2"] for r in module.history]
    rates = [r["objective/violation_rate/hepg2"] for r in module.history]
    previous = 0.5
    for rate, value in zip(rates, multipliers):
        assert value == pytest.approx(min(10.0, max(0.0, previous + 2.0 * (rate - 0.1))))
        previous = value
    assert float(objective.multipliers[0]) == pytest.approx(multipliers[-1])
    assert len(set(multipliers)) > 1  # the rates moved it


def test_resume_restores_the_multipliers(tmp_path):
    straight, _ = constrained_module(iterations=3)
    fit_em(straight, tmp_path / "straight", accelerator="cpu", progress=False)
    first, _ = constrained_module(iterations=2)
    fit_em(first, tmp_path / "resumed", accelerator="cpu", progress=False)
    resumed, objective = constrained_module(iterations=3)
    fit_em(resumed, tmp_path / "resumed", accelerator="cpu", progress=False)
    assert [r["objective/multiplier/hepg2"] for r in resumed.history] == [
        r["objective/multiplier/hepg2"] for r in straight.history
    ]
    assert [r["estep/reward_mean"] for r in resumed.history] == [r["estep/reward_mean"] for r in straight.history]
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["align", "--out", "run", *argv])


def quick_base(args: argparse.Namespace) -> str:
    return config_from_args(args).search.tilt_base


def backtrack_when_off() -> bool:
    return config_from_args(parse("--backtrack", "off")).backtrack


def test_align_options_follow_the_preset_and_override_it():
    default = config_from_args(parse())
    assert default == dataclasses.replace(preset("default"), search=default.search)  # the defaults are the preset's
    assert (default.search.num_children, default.search.num_steps, default.objective, default.constraints) == (16, 25, None, None)
    assert default.search.record_children and default.distill.objective == "children"  # the children M-step needs them
    assert default.search.tilt_base == "prior" and quick_base(parse("--tilt-base", "model")) == "model"
    recipe = (default.target_kl, default.holdout_fraction, default.min_naturalness, default.sequences_per_iteration)
    assert recipe == (8.0, 0.125, 0.925, 64) and default.backtrack and not backtrack_when_off()
    assert default.warm_start_steps == 1600 and config_from_args(parse("--preset", "quick")).warm_start_steps == 0
    assert default.back_off == 4 and config_from_args(parse("--back-off", "0")).back_off == 0
    quick = config_from_args(parse("--preset", "quick"))
    assert quick == AlignConfig(search=quick.search) and quick.target_kl is None  # AlignConfig's own defaults
    assert quick.search.tilt_base == "model"
    paper = config_from_args(parse("--preset", "dav-paper", "--children", "6"))
    assert (paper.search.num_children, paper.search.num_steps, paper.sequences_per_iteration) == (6, 128, 256)
    assert (paper.distill.objective, paper.distill.skip_steps, paper.lr, paper.gradient_clip) == ("paper", 80, 2e-4, 1.0)
    assert paper.search.record_clean and (paper.iterations, paper.batch_size) == (200, 8192)
    assert config_from_args(parse("--preset", "dav-paper", "--batch-size", "64")).batch_size == 64
    back = config_from_args(parse("--preset", "dav-paper", "--m-step", "transitions"))
    assert back.distill.objective == "transitions" and not back.search.record_clean
    given = config_from_args(
        parse("--oracle", "k562", "--objective", "k562 - max(hepg2,gm12878,hesc)", "--forbid", "BsaI", "--gc", "0.4:0.6")
    )
    assert given.objective == "k562 - max(hepg2,gm12878,hesc)"
    assert given.constraints == {"forbid": ["BsaI"], "gc": "0.4:0.6"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--temperature", "nan"), "--temperature"),
        (("--temperature", "0"), "--temperature"),
        (("--lr", "-1"), "--lr"),
        (("--iterations", "0"), "--iterations"),
        (("--gradient-clip", "inf"), "--gradient-clip"),
        (("--gc", "0.7:0.2"), "--gc"),
        (("--back-off", "-1"), "--back-off"),
        (("--preset", "quick", "--back-off", "4"), "--back-off searches for the best point that meets --min-naturalness"),
        (("--search-mode", "importance"), "mode='importance' records no per-step children or x̂0"),
        (("--preset", "quick", "--search-mode", "importance", "--target-kl", "2"), "target_ess \\(no target_kl\\)"),
        (("--preset", "quick", "--search-mode", "importance", "--m-step", "paper"), "nelbo or transitions M-step"),
    ],
)
def test_bad_align_options_are_one_line_errors(argv, message):
    with pytest.raises(InputError, match=message):
        config_from_args(parse(*argv))


def test_the_importance_e_step_is_one_option_away_from_the_quick_preset():
    config = config_from_args(parse("--preset", "quick", "--search-mode", "importance", "--m-step", "nelbo"))
    assert (config.search.mode, config.distill.objective, config.search.record_children) == ("importance", "nelbo", False)


def test_align_config_round_trips_through_a_checkpoint_dict():
    from dnadav.core.distill import DistillConfig

    config = AlignConfig(
        iterations=5,
        search=SearchConfig(num_children=3, reward_temperature=0.25, num_steps=7, mode="smc"),
        distill=DistillConfig(objective="paper", skip_steps=2, kl_weight=0.1),
        gradient_clip=1.0,
        objective="min(hepg2, 5)",
    )
    assert AlignConfig.from_dict(config.as_dict()) == config
    old = {k: v for k, v in config.as_dict().items() if k not in ("gradient_clip", "objective")}  # an older run's keys
    assert AlignConfig.from_dict(old) == dataclasses.replace(config, gradient_clip=None, objective=None)
    with pytest.raises(ValueError, match="unknown key"):
        AlignConfig.from_dict({**config.as_dict(), "sequences": 3})
    with pytest.raises(ValueError, match="search: unknown key"):
        AlignConfig.from_dict({**config.as_dict(), "search": {"children": 3}})
