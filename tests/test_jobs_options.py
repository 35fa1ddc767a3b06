"""One options dataclass per job: the CLI and the API build the same options from the same names and
defaults, and the image commands' old --search spelling of M still works, with a one-line warning."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from dnadav.commands.options import add_arguments, from_namespace
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
