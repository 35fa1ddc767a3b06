"""Objective parser, one-call term values, the Lagrangian form and the specificity report."""

import pytest
import torch

from dnadav.errors import InputError
from dnadav.objectives import all_log_odds, make_objective, parse_objective, specificity_report


class Fixed(torch.nn.Module):
    class_names = ("HepG2", "K562", "GM12878", "hESC", "shuffled")

    def __init__(self, logits):
        super().__init__()
        self.logits, self.calls = logits, 0

    def forward(self, onehot):
        self.calls += 1
        return self.logits


LOGITS = torch.tensor([[2.0, 0.0, -1.0, 1.0, 0.5]])


def test_log_odds_closed_form():
    p = torch.softmax(LOGITS, -1)
    assert torch.allclose(all_log_odds(LOGITS), torch.log(p / (1 - p)), atol=1e-6)


def test_terms_and_one_call():
    oracle = Fixed(LOGITS)
    lo = all_log_odds(LOGITS)[0]
    x = torch.zeros(1, 4, 8)
    o = make_objective("hepg2 - max(k562,gm12878,hesc)", oracle=oracle)
    assert torch.allclose(o.reward(x), lo[0] - lo[3:4]) and oracle.calls == 1
    o = make_objective("2*hepg2 - 0.5*k562", oracle=oracle)
    assert torch.allclose(o.reward(x), 2 * lo[0:1] - 0.5 * lo[1:2])
    o = make_objective("hepg2 - softmax(k562,hesc; tau=0.5)", oracle=oracle)
    assert torch.allclose(o.reward(x), lo[0:1] - 0.5 * torch.logsumexp(lo[[1, 3]] / 0.5, 0))


@pytest.mark.parametrize(
    "text,where",
    [
        ("hepg2 - foo", "position 9"),
        ("hepg2 -", "position 8"),
        ("max(k562", "position 9"),
        ("hepg2 & k562", "position 7"),
        ("hepg2 s.t. k562 < 2", "position 19"),
        ("min(hepg2 - k562, )", "position 19"),
        ("(hepg2 - k562", "position 14"),
        ("4", "mentions no cell type"),
        ("max(hepg2; tau=1)", "takes no options"),
    ],
)
def test_bad_expressions(text, where):
    with pytest.raises(InputError, match=where):
        parse_objective(text)


def test_nested_expressions_and_constants():
    """Functions take sub-expressions and constants: the saturating margin and a grouped sum, by hand."""
    oracle = Fixed(LOGITS)
    lo = all_log_odds(LOGITS)[0]
    x = torch.zeros(1, 4, 8)
    margin = lo[0] - lo[1:4].max()  # about 1.5 nats here
    o = make_objective("min(hepg2 - max(k562,gm12878,hesc), 1)", oracle=oracle)
    assert float(margin) > 1 and torch.allclose(o.reward(x), torch.tensor([1.0]))
    o = make_objective("min(hepg2 - max(k562,gm12878,hesc), 4)", oracle=oracle)
    assert torch.allclose(o.reward(x), margin.reshape(1))
    o = make_objective("-2*(hepg2 - k562) + 0.5 + mean(hesc, max(k562, -1))", oracle=oracle)
    expected = -2 * (lo[0] - lo[1]) + 0.5 + (lo[3] + torch.maximum(lo[1], torch.tensor(-1.0))) / 2
    assert torch.allclose(o.reward(x), expected.reshape(1)) and oracle.calls == 3
    assert parse_objective("min(hesc - max(hepg2,k562), 3) s.t. gm12878 < 0.1").names == ("hesc", "hepg2", "k562", "gm12878")


def test_lagrangian_update():
    oracle = Fixed(torch.tensor([[2.0, 1.9, -5.0, -5.0, -5.0]]))
    o = make_objective("hepg2 s.t. others < 0.1", oracle=oracle, step=1.0, tolerance=0.0, initial_multiplier=0.0)
    before = o.reward(torch.zeros(1, 4, 8))
    o.update(torch.zeros(1, 4, 8))
    assert o.multipliers.tolist() == [1.0, 0.0, 0.0]
    assert float(o.reward(torch.zeros(1, 4, 8))) < float(before)


def test_specificity_report():
    logits = torch.tensor([[5.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.9, 0.0, 0.0, 0.0]])
    r = specificity_report(logits, Fixed.class_names, "hepg2")
    assert r.specific.tolist() == [True, False] and r.specificity == 0.5
