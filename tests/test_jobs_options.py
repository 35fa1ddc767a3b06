"""One options dataclass per job: the CLI and the API build the same options from the same names and
defaults, and the image commands' old --search spelling of M still works, with a one-line warning;
`dnadav align`, now derived from AlignOptions, has the flags and builds the configs it had before."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from dnadav.commands.options import add_arguments, from_namespace
from dnadav.errors import InputError
from dnadav.jobs.design import DesignOptions
from dnadav.jobs.evaluate import EvaluateOptions
from dnadav.jobs.options import from_keywords


def _parse(options: type, argv: list[str]):
    parser = argparse.ArgumentParser()
    add_arguments(parser, options)
    return from_namespace(options, parser.parse_args(argv))


@pytest.mark.parametrize("options", [DesignOptions, EvaluateOptions])
def test_cli_and_api_defaults_are_the_dataclass_defaults(options):
    assert _parse(options, []) == options() == from_keywords(options)


def test_the_cli_flag_and_the_api_keyword_are_one_name():
    by_cli = _parse(DesignOptions, ["--n", "7", "--children", "3", "--temperature", "0.25", "--steps", "9"])
    by_api = from_keywords(DesignOptions, n=7, children=3, temperature=0.25, steps=9)
    assert by_cli == by_api and by_api.num_children == 3 and by_api.num_sequences == 7
    with pytest.raises(TypeError, match="num_childs"):
        from_keywords(DesignOptions, num_childs=3)


def test_evaluate_switches_are_the_negated_fields():
    options = _parse(EvaluateOptions, ["--no-real", "--no-loglik", "--kmer-js-k", "4"])
    assert (options.real_rows, options.loglik, options.kmer_js_k) == (False, False, 4)


def test_image_search_is_a_deprecated_alias_of_children(capsys):
    pytest.importorskip("diffusers")
    from dnadav.commands.image import add_image_parser
    from dnadav.jobs.image_sample import ImageSampleOptions

    parser = argparse.ArgumentParser()
    add_image_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["image", "sample", "--out", "x", "--search", "4"])
    from dnadav.commands.image import _options

    options = _options(ImageSampleOptions, args)
    assert options.children == 4 and "search" not in {f.name for f in dataclasses.fields(options)}
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--search is deprecated" in err and "--children" in err
    assert _options(ImageSampleOptions, parser.parse_args(["image", "sample", "--out", "x", "--children", "2"])).children == 2
    assert capsys.readouterr().err == ""


# dnadav align: the options as declared by hand at 92201a6 (tests/data/README.md), and the AlignConfig of a few lines
BEFORE = json.loads((Path(__file__).parent / "data" / "align_cli_92201a6.json").read_text())


def _align_parser() -> argparse.ArgumentParser:
    from dnadav.cli import build_parser

    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["align"]


# options added since the capture (each with its issue); every captured option must stay as it was
# issue 24: --reference FILE, the validation naturalness set;
# issue 20: --tilt-base, --proposal, --backtrack, --mstep-max-kl, --replay, --back-off, --target-ess, --warm-start*,
# --mstep-average, --trust-region
ADDED_SINCE = {"reference", "tilt_base", "proposal", "backtrack", "mstep_max_kl", "replay", "back_off", "lookahead", "target_ess",
               "mstep_min_naturalness",
               "warm_start", "warm_start_kept", "warm_start_ess", "warm_start_data", "warm_start_pool",
               "warm_start_average", "mstep_average", "trust_region"}  # fmt: skip
# options whose default, help or choices changed on purpose since (flags, dest and required must not):
# issue 20 made the one align recipe the default preset; the capture's default is now --preset quick
CHANGED_SINCE = {"preset", "iterations", "sequences", "children", "steps", "temperature", "m_step", "target_kl",
                 "pilot_sequences", "holdout", "patience", "min_naturalness", "stop_patience", "eval_sequences",
                 "inner_epochs", "gradient_clip", "eval_steps",
                 "search_mode"}  # issue 20 (session 12): --search-mode importance  # fmt: skip


def _same_option(action: dict) -> dict:
    return {k: v for k, v in action.items() if k in ("flags", "dest", "required")} if action["dest"] in CHANGED_SINCE else action


def test_align_lists_the_same_options_as_before():
    actions = [
        {"flags": a.option_strings, "dest": a.dest, "default": a.default, "help": a.help,
         "choices": list(a.choices) if a.choices else None, "required": a.required}
        for a in _align_parser()._actions if a.dest not in ADDED_SINCE
    ]  # fmt: skip
    assert [_same_option(a) for a in json.loads(json.dumps(actions, default=str))] == [_same_option(a) for a in BEFORE["actions"]]
    assert ADDED_SINCE <= {a.dest for a in _align_parser()._actions}


@pytest.mark.parametrize("case", BEFORE["configs"], ids=lambda case: " ".join(case["argv"][:4]) or "defaults")
def test_align_builds_the_same_config_as_before(case):
    from dnadav.commands.align import config_from_args
    from dnadav.dna.config import AlignConfig

    argv = case["argv"] if "--preset" in case["argv"] else ["--preset", "quick", *case["argv"]]  # the capture's default
    args = _align_parser().parse_args(["--out", "run", *argv])
    # fields added since the capture (e.g. distill.step_weighting) read back at their defaults
    assert config_from_args(args).as_dict() == AlignConfig.from_dict(case["config"]).as_dict()


def test_align_cli_and_api_build_the_same_options():
    from dnadav.constraints import spec_from_options
    from dnadav.jobs.align_options import AlignOptions, align_config

    assert _parse(AlignOptions, ["--out", "run"]) == AlignOptions(out=Path("run")) == from_keywords(AlignOptions, out=Path("run"))
    argv = ["--out", "run", "--preset", "dav-paper", "--children", "6", "--m-step", "children", "--holdout", "0.25"]
    argv += ["--temperature", "inf", "--forbid", "BsaI", "--max-batch", "0", "--devices", "2", "--keep-iterations"]
    argv += ["--lookahead", "parent"]
    by_cli = _parse(AlignOptions, argv)
    by_api = from_keywords(
        AlignOptions, out=Path("run"), preset="dav-paper", children=6, m_step="children", holdout=0.25,
        temperature=float("inf"), constraints=spec_from_options(forbid="BsaI"), max_batch=None, devices="2",
        keep_iterations=True, lookahead="parent",
    )  # fmt: skip
    assert by_cli == by_api and align_config(by_cli) == align_config(by_api)
    config = align_config(by_api)
    assert (config.search.num_children, config.search.record_children, config.holdout_fraction) == (6, True, 0.25)
    assert config.search.lookahead == "parent"
    assert config.constraints == {"forbid": ["BsaI"]} and config.iterations == 200  # the preset's


@pytest.mark.parametrize(
    "keywords, message",
    [
        ({"holdout": 1.0}, "--holdout must be a fraction below 1"),
        ({"min_naturalness": 2.0}, "--min-naturalness is a correlation"),
        ({"mstep_min_naturalness": float("nan")}, "--mstep-min-naturalness is a correlation"),
        ({"holdout": -0.1}, "--holdout must be ≥ 0"),
        ({"temperature": 0.0}, "--temperature must be a number > 0"),
        ({"pilot_sequences": 0}, "--pilot-sequences must be ≥ 1"),
        ({"devices": "two"}, "--devices must be a positive whole number"),
        ({"target_ess": 1.0}, "--target-ess must be a fraction below 1"),
        ({"target_ess": float("nan")}, "--target-ess must be a finite number > 0"),
        ({"warm_start": -1}, "--warm-start must be ≥ 0"),
        ({"warm_start_kept": 0}, "--warm-start-kept must be ≥ 1"),
        ({"warm_start_ess": 1.0}, "--warm-start-ess must be a fraction below 1"),
        ({"warm_start_ess": float("nan")}, "--warm-start-ess must be a finite number > 0"),
        ({"warm_start_pool": 0}, "--warm-start-pool must be ≥ 1"),
        ({"warm_start_average": 1.5}, "--warm-start-average must be a fraction in \\[0, 1\\]"),
        ({"warm_start_average": float("nan")}, "--warm-start-average must be ≥ 0"),
        ({"mstep_average": 1.5}, "--mstep-average must be a fraction in \\[0, 1\\]"),
        ({"mstep_average": float("nan")}, "--mstep-average must be ≥ 0"),
    ],
)
def test_align_api_refuses_what_the_cli_refuses(keywords, message):
    from dnadav.jobs.align_options import AlignOptions

    with pytest.raises(InputError, match=message):
        from_keywords(AlignOptions, out="run", **keywords)


def test_align_refuses_an_unknown_trust_region_and_sets_a_known_one():
    from dnadav.jobs.align_options import AlignOptions, align_config

    with pytest.raises(InputError, match="trust_region must be 'step' or 'total'; got 'both'"):
        align_config(from_keywords(AlignOptions, out="run", trust_region="both"))
    assert align_config(from_keywords(AlignOptions, out="run", trust_region="total")).trust_region == "total"
    assert align_config(from_keywords(AlignOptions, out="run")).trust_region == "step"


def test_backtrack_start_backtracks_and_judges_the_start():
    from dnadav.jobs.align_options import AlignOptions, align_config

    for value, wanted in (("start", (True, True)), ("on", (True, False)), ("off", (False, False)), (None, (True, False))):
        config = align_config(from_keywords(AlignOptions, out="run", backtrack=value))
        assert (config.backtrack, config.backtrack_start) == wanted, value


def test_align_refuses_target_ess_outside_the_importance_mode_in_one_line():
    from dnadav.jobs.align_options import AlignOptions, align_config

    with pytest.raises(InputError, match="target_ess needs mode='importance'"):
        align_config(from_keywords(AlignOptions, out="run", target_ess=0.1))
    options = from_keywords(
        AlignOptions, out="run", preset="quick", search_mode="importance", m_step="transitions", target_ess=0.1
    )
    assert align_config(options).search.target_ess == 0.1


def test_dnadav_align_refuses_a_finished_run(tmp_path):
    import dnadav

    (tmp_path / "model.pt").write_bytes(b"")
    with pytest.raises(InputError, match="pass --force"):
        dnadav.align(tmp_path, iterations=1)


def test_image_align_passes_the_m_step_controls_to_the_core_config():
    from dnadav.core.distill import DistillConfig
    from dnadav.core.search import SearchConfig
    from dnadav.jobs.image_align import ImageAlignOptions, em_config

    options = from_keywords(
        ImageAlignOptions,
        out="run",
        reward="digit=3",
        holdout=0.125,
        patience=2,
        target_kl=4.0,
        pilot_images=6,
        gradient_clip=1.0,
    )
    config = em_config(options, SearchConfig(), DistillConfig())
    assert (config.holdout_fraction, config.patience, config.target_kl, config.pilot_sequences, config.gradient_clip) == (
        0.125, 2, 4.0, 6, 1.0
    )  # fmt: skip
    default = em_config(ImageAlignOptions(out="run", reward="digit=3"), SearchConfig(), DistillConfig())
    assert (default.holdout_fraction, default.target_kl, default.gradient_clip, default.iterations) == (0.0, 4.0, 1.0, 6)
    assert default.mstep_average == 0.5  # issue 20 (session 23): the M-step's tail average, measured at 3 seeds
    assert default.backtrack  # the digits world selects on its realism floor, and undoes rejected iterations
    off_options = ImageAlignOptions(out="run", reward="digit=3", target_kl=0.0, min_realism="off")
    off = em_config(off_options, SearchConfig(), DistillConfig())
    assert (off.target_kl, off.backtrack) == (None, False)  # 0: the trust region off; 'off': keep the last iteration


@pytest.mark.parametrize(
    "keywords, message",
    [
        ({"holdout": 1.0}, "--holdout must be a fraction in"),
        ({"target_kl": float("nan")}, "--target-kl must be a finite number ≥ 0"),
        ({"target_kl": -1.0}, "--target-kl must be a finite number ≥ 0"),
        ({"min_realism": "high"}, "--min-realism must be 'reference', 'off' or a share"),
        ({"eval_images": 1}, "--eval-images must be ≥ 2"),
        ({"gradient_clip": 0.0}, "--gradient-clip must be a finite number > 0"),
        ({"patience": 0}, "--patience must be ≥ 1"),
        ({"mstep_average": float("nan")}, "--mstep-average must be a fraction in \\[0, 1\\]"),
        ({"mstep_average": 1.5}, "--mstep-average must be a fraction in \\[0, 1\\]"),
    ],
)
def test_image_align_refuses_bad_m_step_controls(keywords, message):
    from dnadav.jobs.image_align import ImageAlignOptions

    with pytest.raises(InputError, match=message):
        from_keywords(ImageAlignOptions, out="run", reward="digit=3", **keywords).check()


def test_the_guarded_m_step_keeps_passes_by_naturalness_not_by_held_out_sequences():
    from dnadav.jobs.align_options import AlignOptions, align_config

    with pytest.raises(InputError, match="kept by it or by held-out data, not both"):
        align_config(from_keywords(AlignOptions, out="run", mstep_min_naturalness=0.92))  # the default preset holds out 1/8
    config = align_config(from_keywords(AlignOptions, out="run", mstep_min_naturalness=0.92, holdout=0.0))
    assert (config.mstep_min_naturalness, config.holdout_fraction) == (0.92, 0.0)
