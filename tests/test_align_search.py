"""The E-step against closed forms on tiny toys: the law of per-sequence search after every step
(enumerated exactly), and SMC's weights, ESS, resampling steps and kept paths (recomputed from every
recorded population). Finite α and γ < 1 throughout, with a denoiser that depends on t, so weighting,
discounting, timing and indexing bugs all change a number the tests check."""

import dataclasses
import itertools
import math

import pytest
import torch

from dnadav.core.search import SearchConfig, search_process, soft_value, systematic_resample, value_potential
from dnadav.dna import LogLinearSchedule, MaskedDiffusion
from dnadav.dna.search import search
from dnadav.dna.tokens import MASK_INDEX, tokens_to_onehot
from tests.toys import ExactDenoiser, RecordingProcess, TimeDependentDenoiser, random_distribution

LENGTH = 3


def count_of_g(onehot: torch.Tensor) -> torch.Tensor:
    """Toy reward: number of G's (soft one-hot allowed)."""
    return onehot[:, 2].sum(dim=-1)


def test_value_potential_is_the_discounted_tempered_value():
    value = torch.tensor([1.0, -2.0])
    config = SearchConfig(reward_temperature=0.5, discount=0.9)
    torch.testing.assert_close(value_potential(value, config, steps_left=3), 0.9**3 * value / 0.5)
    torch.testing.assert_close(value_potential(value, SearchConfig(reward_temperature=math.inf), 0), torch.zeros(2))


def test_plug_in_value_scores_the_argmax_completion():
    log_x0 = torch.log(torch.tensor([[[0.1, 0.2, 0.6, 0.1], [0.7, 0.1, 0.1, 0.1]]]))
    x_s = torch.tensor([[MASK_INDEX, 2]])  # position 1 is already G: kept, not replaced by argmax A
    assert soft_value(MaskedDiffusion(None, x_s.shape[1]), log_x0, x_s, count_of_g, SearchConfig(), None).item() == 2.0


def test_sampled_value_is_a_log_mean_exp_and_approaches_the_mean_for_large_alpha():
    log_x0 = torch.log(torch.tensor([[[0.5, 0.0, 0.5, 0.0]]]).clamp_min(1e-12))
    x_s = torch.tensor([[MASK_INDEX]])
    config = SearchConfig(value="sample", num_value_samples=20000, reward_temperature=1.0)
    value = soft_value(
        MaskedDiffusion(None, x_s.shape[1]), log_x0, x_s, count_of_g, config, torch.Generator().manual_seed(0)
    ).item()
    assert value == pytest.approx(math.log(0.5 + 0.5 * math.e), abs=0.02)  # α log E[exp(r/α)], r ∈ {0, 1}
    config = SearchConfig(value="sample", num_value_samples=20000, reward_temperature=0.25)
    value = soft_value(
        MaskedDiffusion(None, x_s.shape[1]), log_x0, x_s, count_of_g, config, torch.Generator().manual_seed(0)
    ).item()
    assert value == pytest.approx(0.25 * math.log(0.5 + 0.5 * math.exp(4)), abs=0.02)  # α ≠ 1: α outside the log
    config = SearchConfig(value="sample", num_value_samples=20000, reward_temperature=math.inf)
    assert soft_value(
        MaskedDiffusion(None, x_s.shape[1]), log_x0, x_s, count_of_g, config, torch.Generator().manual_seed(0)
    ).item() == pytest.approx(0.5, abs=0.02)


# ---- exact laws and weights on a tiny toy whose denoiser depends on t ------------------------------
# Written from the formulas, not from dnadav: the model's step (stay (1 − α_s)/(1 − α_t), else unmask
# to v with x̂0_v), the plug-in value (#G after filling masked positions by argmax x̂0), the gradient
# proposal for the count-of-G reward (x̂0 tilted by exp(scale·[v = G]) at masked positions) and the
# child's log weight γ^(steps left)·V/α + log p − log q.


def state_index(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens over A, C, G, T, MASK ``[..., L]`` -> index among the 5**L states ``[...]``."""
    return (tokens * 5 ** torch.arange(tokens.shape[-1] - 1, -1, -1)).sum(dim=-1)


def all_states(length: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(MASK_INDEX + 1), repeat=length)))  # [5**L, L]


def model_x0(denoiser, x: torch.Tensor, t: float) -> torch.Tensor:
    return torch.softmax(denoiser(x, torch.full((len(x),), t)).double(), dim=-1)  # [N, L, 4]


def plug_in_value(denoiser, x: torch.Tensor, t: float) -> torch.Tensor:
    filled = torch.where(x == MASK_INDEX, denoiser(x, torch.full((len(x),), t)).argmax(dim=-1), x)
    return (filled == 2).sum(dim=-1).double()


def proposal_x0(x0: torch.Tensor, scale: float) -> torch.Tensor:
    tilted = x0 * torch.exp(scale * (torch.arange(4) == 2).double())
    return tilted / tilted.sum(dim=-1, keepdim=True)


def step_law(x0: torch.Tensor, x: torch.Tensor, t: float, s: float) -> torch.Tensor:
    """One reverse step's law over all next states, rows ``x [N, L]`` -> ``[N, 5**L]``."""
    schedule = LogLinearSchedule()
    alpha_t, alpha_s = (float(schedule.alpha(torch.tensor(v, dtype=torch.float64))) for v in (t, s))
    stay = (1 - alpha_s) / (1 - alpha_t)
    masked_row = torch.cat([(1 - stay) * x0, torch.full((*x0.shape[:2], 1), stay, dtype=torch.float64)], dim=-1)
    kept_row = torch.nn.functional.one_hot(x, MASK_INDEX + 1).double()
    per_position = torch.where((x == MASK_INDEX)[..., None], masked_row, kept_row)  # [N, L, 5]
    states = all_states(x.shape[1])  # [S, L]
    picked = per_position[:, None].expand(-1, len(states), -1, -1).gather(-1, states[None, ..., None].expand(len(x), -1, -1, 1))
    return picked.squeeze(-1).prod(dim=-1)


def guided_log_ratio(denoiser, x: torch.Tensor, child: torch.Tensor, t: float, scale: float) -> torch.Tensor:
    """``log p(child | x) − log q(child | x)`` ``[N]``: only newly unmasked bases count (stay factors cancel)."""
    x0 = model_x0(denoiser, x, t)
    per_position = torch.log(1 - x0[..., 2] + x0[..., 2] * math.exp(scale)) - scale * (child == 2)
    return (per_position * ((x == MASK_INDEX) & (child != MASK_INDEX))).sum(dim=-1)


def parent_plug_in_value(denoiser, parents: torch.Tensor, children: torch.Tensor, t: float) -> torch.Tensor:
    """``lookahead="parent"``: #G of each child after filling its masked positions by the *parent's* argmax
    x̂0 at the parent's time -> ``[parents, children]``."""
    argmax = denoiser(parents, torch.full((len(parents),), t)).argmax(dim=-1)  # [P, L]
    filled = torch.where(children[None] == MASK_INDEX, argmax[:, None], children[None])  # [P, S, L]
    return (filled == 2).sum(dim=-1).double()


def exact_per_sequence_laws(denoiser, length: int, config: SearchConfig) -> torch.Tensor:
    """The law of the chosen state after each step of per-sequence search -> ``[T + 1, 5**L]``.

    Choosing ∝ w among M i.i.d. children from q: ``P(y) = M q(y) E[w(y) / (w(y) + Σ_{j<M} w(c_j))]``,
    the expectation enumerated over all (M − 1)-tuples of children. With ``lookahead="parent"`` a child's
    value is read from its parent's x̂0 (except at the last step, whose children are clean)."""
    assert config.num_children == 3
    states, steps = all_states(length), config.num_steps
    times = torch.linspace(1.0, 0.0, steps + 1).tolist()
    law = torch.zeros(len(states), dtype=torch.float64)
    law[state_index(torch.full((length,), MASK_INDEX))] = 1.0
    laws = [law]
    for k in range(steps):
        t, s = times[k], times[k + 1]
        x0 = model_x0(denoiser, states, t)
        p, q = step_law(x0, states, t, s), step_law(proposal_x0(x0, config.guidance_scale), states, t, s)
        if config.lookahead == "parent" and k < steps - 1:
            value = parent_plug_in_value(denoiser, states, states, t)  # [parent, child]
        else:
            value = plug_in_value(denoiser, states, s)[None]
        potential = config.discount ** (steps - 1 - k) * value / config.reward_temperature
        log_w = potential + torch.log(p) - torch.log(q)  # [parent, child]
        w = torch.where(q > 0, torch.exp(log_w - log_w.nan_to_num(nan=-math.inf).amax(dim=1, keepdim=True)), 0.0)
        pair_sum = w[:, :, None] + w[:, None, :]  # [parent, c2, c3]
        pair_prob = q[:, :, None] * q[:, None, :]
        share = w[:, :, None, None] / (w[:, :, None, None] + pair_sum[:, None]).clamp_min(1e-300)  # [parent, y, c2, c3]
        kernel = 3 * q * (share * pair_prob[:, None]).sum(dim=(2, 3))
        law = law @ kernel
        laws.append(law)
    return torch.stack(laws)


@pytest.mark.parametrize(
    "guidance_scale, lookahead, seed", [(0.0, "child", 0), (1.0, "child", 0), (0.0, "parent", 7), (1.0, "parent", 7)]
)
def test_per_sequence_search_has_the_exact_enumerated_law_after_every_step(guidance_scale, lookahead, seed):
    # L = 2, T = 3, M = 3, finite α, γ < 1: any change to the weights (temperature, discount exponent,
    # log p − log q, the time a child is scored at, which child is kept, whose x̂0 values it) moves these laws.
    # Seed 7's denoiser makes the parent's and the children's x̂0 disagree (seed 0's agree on every #G).
    length, num = 2, 20000
    denoiser = TimeDependentDenoiser(length, seed=seed)
    config = SearchConfig(
        num_children=3, reward_temperature=0.5, discount=0.5, num_steps=3, guidance_scale=guidance_scale, lookahead=lookahead
    )
    other = dataclasses.replace(config, lookahead="child" if lookahead == "parent" else "parent")
    if lookahead == "parent":  # the two lookaheads' laws differ here, so using the wrong x̂0 fails
        gap = exact_per_sequence_laws(denoiser, length, other)[-1] - exact_per_sequence_laws(denoiser, length, config)[-1]
        assert 0.5 * float(gap.abs().sum()) > 0.09
    process = RecordingProcess(denoiser, length)
    result = search_process(process, count_of_g, num, config, torch.Generator().manual_seed(0), max_batch=None)
    laws = exact_per_sequence_laws(denoiser, length, config)
    untilted = exact_per_sequence_laws(denoiser, length, SearchConfig(num_children=3, reward_temperature=math.inf, num_steps=3))
    assert 0.5 * float((laws[-1] - untilted[-1]).abs().sum()) > 0.08  # the tilt is large against the noise
    for k in range(1, 4):
        observed = torch.bincount(state_index(result.trajectory.states[k]), minlength=5**length).double() / num
        assert float(observed[laws[k] == 0].sum()) == 0.0
        z = (observed - laws[k]) / (laws[k] * (1 - laws[k]) / num).sqrt().clamp_min(1e-12)
        assert float(z.abs().max()) < 4.5, (k, z)
    # each kept state is one of its own parent's M children
    for k, (x, _, _, proposal) in enumerate(process.steps):
        assert torch.equal(x, result.trajectory.states[k])
        own = proposal.children.view(num, 3, length)
        assert bool((own == result.trajectory.states[k + 1][:, None]).all(dim=-1).any(dim=1).all())


@pytest.mark.parametrize("guidance_scale, threshold", [(0.0, 0.72), (1.0, 0.72), (1.0, 0.0)])
def test_smc_weights_ess_and_resampling_follow_the_closed_form(guidance_scale, threshold):
    # Every step's population is recorded, so the incremental weights
    # γ^(n_child)V(child)/α − γ^(n_parent)V(parent)/α + log p − log q, the ESS, the steps where
    # resampling fires (ESS < threshold·N, and the last step) and the systematic counts are all known.
    # threshold 0: no resampling until the forced one at the last step, whose ESS is then high.
    length, alpha, discount, steps, num = 3, 0.3, 0.8, 8, 256
    denoiser = TimeDependentDenoiser(length, seed=1)
    config = SearchConfig(
        reward_temperature=alpha,
        discount=discount,
        num_steps=steps,
        mode="smc",
        ess_threshold=threshold,
        guidance_scale=guidance_scale,
    )
    process = RecordingProcess(denoiser, length)
    result = search_process(process, count_of_g, num, config, torch.Generator().manual_seed(0), max_batch=None)
    times = result.trajectory.times.tolist()
    log_w = torch.zeros(num, dtype=torch.float64)
    parent_potential = torch.zeros(num, dtype=torch.float64)
    expected_ess, fired = [], []
    assert len(process.steps) == steps
    for k, (x, t, s, proposal) in enumerate(process.steps):
        children = proposal.children
        assert (t, s) == (times[k], times[k + 1])
        potential = discount ** (steps - 1 - k) * plug_in_value(denoiser, children, s) / alpha
        log_w = log_w + potential - parent_potential
        if guidance_scale > 0:
            log_w = log_w + guided_log_ratio(denoiser, x, children, t, guidance_scale)
        ess = float(torch.exp(2 * torch.logsumexp(log_w, 0) - torch.logsumexp(2 * log_w, 0)))
        expected_ess.append(ess)
        fired.append(ess < threshold * num or k == steps - 1)
        after = process.steps[k + 1][0] if k + 1 < steps else result.sequences
        if fired[-1]:  # systematic resampling: each particle kept floor or ceil of N·w times
            share = num * torch.softmax(log_w, dim=0)
            kids, kept = state_index(children), state_index(after)
            low = torch.zeros(5**length, dtype=torch.float64).index_add_(0, kids, share.floor())
            high = torch.zeros(5**length, dtype=torch.float64).index_add_(0, kids, share.ceil())
            counts = torch.bincount(kept, minlength=5**length).double()
            assert bool(((counts >= low) & (counts <= high)).all()), k
            log_w = torch.zeros_like(log_w)
        else:
            assert torch.equal(after, children), k
        parent_potential = discount ** (steps - 1 - k) * plug_in_value(denoiser, after, s) / alpha
    torch.testing.assert_close(torch.tensor(result.stats.ess_history), torch.tensor(expected_ess), rtol=1e-4, atol=1e-3)
    assert result.stats.resamples == sum(fired)
    if threshold > 0:
        assert fired == [False, False, True, False, True, True, True, True]  # really fires mid-run
    else:
        assert fired == [False] * 7 + [True]
    # every kept path is made of transitions the search really proposed (paths re-indexed on resampling)
    states = result.trajectory.states
    for k, (x, _, _, proposal) in enumerate(process.steps):
        proposed = state_index(x) * 5**length + state_index(proposal.children)
        kept = state_index(states[k]) * 5**length + state_index(states[k + 1])
        assert bool(torch.isin(kept, proposed).all()), k
    assert torch.equal(states[-1], result.sequences)
    torch.testing.assert_close(result.rewards, count_of_g(tokens_to_onehot(result.sequences)))


@pytest.mark.parametrize("lookahead, rows_after_the_start", [("child", [35] * 3), ("parent", [7] * 3)])
def test_search_batches_all_children_in_one_network_call_per_step_and_counts_its_budget(lookahead, rows_after_the_start):
    joint = random_distribution(LENGTH, seed=1)
    calls = []
    denoiser = ExactDenoiser(joint, LENGTH)

    def counting(x_t, t):
        calls.append(x_t.shape[0])
        return denoiser(x_t, t)

    config = SearchConfig(num_children=5, num_steps=4, lookahead=lookahead)
    result = search(counting, count_of_g, 7, LENGTH, config, generator=torch.Generator().manual_seed(0))
    # the start, then B·M children per step (parent lookahead: only each kept child, B rows); the last step's
    # children are clean, scored without the network; the oracle scores all B·M children either way
    assert calls == [7] + rows_after_the_start
    assert result.stats.network_calls == 4 and result.stats.oracle_calls == 35 * 4
    assert result.stats.network_sequences == sum(calls)
    assert result.rewards.shape == (7,)
    torch.testing.assert_close(result.rewards, count_of_g(tokens_to_onehot(result.sequences)))


def test_parent_lookahead_is_refused_where_it_cannot_tell_children_apart():
    from tests.test_toy_modality import PRIOR, Logits, OneToken, reward

    with pytest.raises(ValueError, match="lookahead='parent' needs a process whose clean estimate reads the child"):
        search_process(OneToken(Logits(PRIOR)), reward, 4, SearchConfig(num_children=2, num_steps=1, lookahead="parent"))
    with pytest.raises(ValueError, match="lookahead='parent' needs mode='per_sequence'"):
        SearchConfig(mode="smc", lookahead="parent")
    with pytest.raises(ValueError, match="lookahead must be child or parent"):
        SearchConfig(lookahead="sibling")


def test_search_is_seeded_and_restores_module_mode():
    model = torch.nn.Sequential()  # a module wrapper to check train/eval restoration
    model.train()
    joint = random_distribution(LENGTH, seed=2)
    denoiser = ExactDenoiser(joint, LENGTH)

    class Wrapped(torch.nn.Module):
        def forward(self, x_t, t):
            assert not self.training
            return denoiser(x_t, t)

    wrapped = Wrapped().train()
    a = search(wrapped, count_of_g, 16, LENGTH, SearchConfig(num_steps=3), generator=torch.Generator().manual_seed(4))
    b = search(wrapped, count_of_g, 16, LENGTH, SearchConfig(num_steps=3), generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.sequences, b.sequences) and wrapped.training


def test_systematic_resampling_keeps_proportions():
    log_w = torch.log(torch.tensor([0.5, 0.25, 0.25, 0.0]).clamp_min(1e-30))
    index = systematic_resample(log_w.repeat(100)[:4].repeat_interleave(1), torch.Generator().manual_seed(0))
    assert sorted(index.tolist()).count(0) == 2 and 3 not in index.tolist()
