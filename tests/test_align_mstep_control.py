"""The M-step that fits what the E-step chose, the trust region, held-out stopping and selection:
each against a closed form (docs/concepts.md, "The M-step" and "A trust region per iteration")."""

import dataclasses
import math

import pytest
import torch

from dnadav.core.distill import DistillConfig, children_nll, distill_loss, transition_batch, transition_pairs
from dnadav.core.fit_control import BestKeeper, HeldOutStopper, backtrack_plan, holdout_split, judge_start, pass_batches
from dnadav.core.search import SearchConfig, search_process
from dnadav.core.trajectory import Trajectory
from dnadav.core.trust_region import pilot_temperature, selection_kl, temperature_for_kl
from dnadav.dna.sampler import MaskedDiffusion
from tests.toys import TimeDependentDenoiser

REWARD = torch.tensor([0.0, 1.0, 2.5, -1.0])  # r(A), r(C), r(G), r(T) of a one-base "sequence"


class TableNetwork(torch.nn.Module):
    """One learnable logit per base, whatever the state: p_θ(x0 = v) = softmax(θ)_v for L = 1."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = torch.nn.Parameter(logits.clone())

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x_t.shape[0], x_t.shape[1], 4)


def base_reward(onehot: torch.Tensor) -> torch.Tensor:
    return onehot[:, :, 0] @ REWARD


def test_selection_kl_is_the_sum_over_steps_of_the_kl_of_the_selection_weights_to_uniform():
    potential = torch.tensor([[[0.0, 1.0, 3.0]], [[2.0, 2.0, 2.0]], [[-1.0, 0.5, 0.0]]])  # [T=3, B=1, M=3]
    log_ratio = torch.tensor([[[0.2, -0.1, 0.0]], [[0.0, 0.0, 0.3]], [[0.0, 0.0, 0.0]]])
    alpha = 0.7

    def kl(row):
        w = [math.exp(v) for v in row]
        total = sum(w)
        return sum(x / total * math.log(3 * x / total) for x in w)

    expected = sum(kl([p / alpha + q for p, q in zip(ps[0], qs[0])]) for ps, qs in zip(potential.tolist(), log_ratio.tolist()))
    assert selection_kl(potential, alpha, log_ratio) == pytest.approx(expected, rel=1e-12)
    assert selection_kl(potential, math.inf) == 0.0
    # two sequences: the mean over sequences
    both = torch.cat([potential, 2 * potential], dim=1)
    assert selection_kl(both, alpha) == pytest.approx(0.5 * (selection_kl(potential, alpha) + selection_kl(2 * potential, alpha)))


def test_temperature_for_kl_inverts_the_selection_kl_and_clips_at_its_bounds():
    potential = torch.randn(5, 4, 8, generator=torch.Generator().manual_seed(0)) * 3
    for target in (0.5, 3.0, 9.0):
        alpha = temperature_for_kl(potential, target)
        assert selection_kl(potential, alpha) == pytest.approx(target, rel=1e-6)
    assert selection_kl(potential, 0.5) > selection_kl(potential, 1.0) > selection_kl(potential, 2.0)  # monotone
    assert temperature_for_kl(potential, 5 * math.log(8) + 1) == 1e-3  # more than argmax selection can give
    with pytest.raises(ValueError):
        temperature_for_kl(potential, 0.0)


def test_recorded_children_hold_the_kept_child_and_their_discounted_values():
    length, steps, m, alpha, gamma = 4, 3, 5, 0.6, 0.8
    process = MaskedDiffusion(TimeDependentDenoiser(length, seed=3), length)
    config = SearchConfig(num_children=m, reward_temperature=alpha, discount=gamma, num_steps=steps, record_children=True)
    gc = lambda onehot: onehot[:, 1:3].sum(dim=(1, 2))  # noqa: E731
    result = search_process(process, gc, 6, config, torch.Generator().manual_seed(0))
    trajectory = result.trajectory
    assert trajectory.children.shape == (steps, 6, m, length)
    times = trajectory.times
    for k in range(steps):
        kept = trajectory.states[k + 1]
        assert ((trajectory.children[k] == kept[:, None]).all(-1).any(-1)).all()  # the kept child is one of them
        children = trajectory.children[k].reshape(6 * m, length)
        if k < steps - 1:
            prediction = process.predict(children, torch.full((6 * m,), float(times[k + 1])))
            value = gc(process.clean_estimate(prediction, children, None, None))
        else:
            value = gc(process.decode(children))
        expected = gamma ** (steps - 1 - k) * value.view(6, m)
        assert torch.allclose(trajectory.child_potential[k], expected)
    assert torch.allclose(trajectory.selection_log_weights(alpha), trajectory.child_potential / alpha)


def test_children_loss_is_the_selection_weighted_transition_nll_of_every_child():
    length, steps, m, alpha = 4, 3, 4, 0.5
    process = MaskedDiffusion(TimeDependentDenoiser(length, seed=1), length)
    config = SearchConfig(num_children=m, reward_temperature=alpha, num_steps=steps, record_children=True)
    gc = lambda onehot: onehot[:, 1:3].sum(dim=(1, 2))  # noqa: E731
    trajectory = search_process(process, gc, 3, config, torch.Generator().manual_seed(1)).trajectory
    batch = transition_batch(trajectory, transition_pairs(trajectory), reward_temperature=alpha)
    prediction = process.predict(batch.x_t, batch.t)
    got = children_nll(process, prediction, batch)
    for n in range(len(got)):
        weights = torch.softmax(batch.child_log_weights[n] / 1.0, dim=0)
        nll = [
            -process.transition_log_prob(prediction[n : n + 1], batch.x_t[n : n + 1], c[None], None, None)
            for c in batch.children[n]
        ]
        assert float(got[n]) == pytest.approx(float(sum(w * v for w, v in zip(weights, nll))), rel=1e-5)
    loss, parts = distill_loss(process, batch, DistillConfig(objective="children"))
    assert float(loss) == pytest.approx(float(got.mean()), rel=1e-6) and "children_nll" in parts
    with pytest.raises(ValueError, match="record_children"):
        distill_loss(process, transition_batch(trajectory, transition_pairs(trajectory)), DistillConfig(objective="children"))


def test_the_children_m_step_optimum_is_the_weighted_empirical_law_of_the_children():
    """One step, L = 1: −Σ_n Σ_j w̄_nj log softmax(θ)[c_nj] is minimised by softmax(θ) ∝ Σ w̄_nj·1[c_nj = v]."""
    process = MaskedDiffusion(TableNetwork(torch.tensor([0.3, -0.2, 0.1, 0.0])), 1)
    alpha = 0.8
    config = SearchConfig(num_children=6, reward_temperature=alpha, num_steps=1, record_children=True)
    trajectory = search_process(process, base_reward, 40, config, torch.Generator().manual_seed(2)).trajectory
    batch = transition_batch(trajectory, transition_pairs(trajectory), reward_temperature=alpha)
    weights = torch.softmax(REWARD[trajectory.children[0, :, :, 0]] / alpha, dim=1)  # [B, M]
    law = torch.zeros(4).index_add_(0, trajectory.children[0, :, :, 0].reshape(-1), weights.reshape(-1)) / 40
    network = TableNetwork(law.log())
    process.network = network
    loss, _ = distill_loss(process, batch, DistillConfig(objective="children"))
    (gradient,) = torch.autograd.grad(loss, network.logits)
    assert gradient.abs().max() < 1e-6
    uniform = torch.zeros(4).index_add_(0, trajectory.children[0, :, :, 0].reshape(-1), torch.ones(240)) / 240
    network.logits.data = uniform.log()
    loss, _ = distill_loss(process, batch, DistillConfig(objective="children"))
    (gradient,) = torch.autograd.grad(loss, network.logits)
    assert gradient.abs().max() > 1e-2  # the unweighted law is not the optimum


def fit_children(process, trajectory, alpha, steps=300):
    batch = transition_batch(trajectory, transition_pairs(trajectory), reward_temperature=alpha)
    optimiser = torch.optim.Adam(process.network.parameters(), lr=0.05)
    for _ in range(steps):
        optimiser.zero_grad()
        distill_loss(process, batch, DistillConfig(objective="children"))[0].backward()
        optimiser.step()


@pytest.mark.parametrize("schedule", ["fixed", "trust_region"])
def test_iterated_e_and_m_steps_reach_the_compounded_tilt(schedule):
    """K iterations of E-step + children M-step on a one-base world reach p_0·exp(r·Σ_k 1/α_k): the
    tilts compound (docs/concepts.md). With the trust region, α_k is solved each iteration for a
    selection KL of 0.25 nats, and the law after K iterations is the closed form at the solved α's."""
    prior = torch.tensor([0.4, 0.3, 0.2, 0.1]).log()
    process = MaskedDiffusion(TableNetwork(prior), 1)
    alphas = []
    for k in range(3):
        alpha = 2.0
        if schedule == "trust_region":
            pilot = SearchConfig(num_children=64, reward_temperature=alpha, num_steps=1, record_children=True)
            recorded = search_process(process, base_reward, 64, pilot, torch.Generator().manual_seed(100 + k)).trajectory
            alpha = temperature_for_kl(recorded.child_potential, 0.25)
        alphas.append(alpha)
        config = SearchConfig(num_children=64, reward_temperature=alpha, num_steps=1, record_children=True)
        trajectory = search_process(process, base_reward, 512, config, torch.Generator().manual_seed(k)).trajectory
        fit_children(process, trajectory, alpha)
    target = torch.softmax(prior + REWARD * sum(1 / a for a in alphas), dim=0)
    model = torch.softmax(process.network.logits.detach(), dim=0)
    assert 0.5 * (model - target).abs().sum() < 0.03
    if schedule == "trust_region":  # the model moves less each iteration, so α falls
        assert alphas[0] > alphas[1] > alphas[2]
        one_tilt = torch.softmax(prior + REWARD / alphas[0], dim=0)
        assert 0.5 * (model - one_tilt).abs().sum() > 0.05  # and the iterations did compound


def dav_kl_optimum(target: torch.Tensor, reference: torch.Tensor, weight: float) -> torch.Tensor:
    """The exact minimiser over the simplex of CE(target, p) + λ·KL(p ‖ reference): a strictly convex
    function of p, solved to machine precision by bisection on its stationarity condition (the zero
    gradient in the logits) target_v = p_v·(1 + λ·(log(p_v/reference_v) − c)), where the scalar c
    (= KL(p ‖ reference) at the optimum) makes Σp = 1."""

    def solve(c: float) -> torch.Tensor:  # each p_v: the one root where the right side is positive and rising
        low, high = torch.full_like(target, 1e-300), torch.ones_like(target)
        for _ in range(200):
            middle = (low * high).sqrt()
            too_big = middle * (1 + weight * (middle.log() - reference.log() - c)) > target
            high, low = torch.where(too_big, middle, high), torch.where(too_big, low, middle)
        return (low * high).sqrt()

    low, high = -50.0, 50.0
    for _ in range(200):  # Σ p(c) grows with c
        c = 0.5 * (low + high)
        low, high = (low, c) if float(solve(c).sum()) > 1 else (c, high)
    return solve(0.5 * (low + high))


def test_iterated_dav_kl_reaches_the_closed_form_of_its_anchored_m_step():
    """DAV-KL on the one-base world: each M-step's optimum is the minimiser of CE(η, p) + λ·KL(p ‖ p_0)
    with η the tilt of the current model, so K iterations follow p_{k+1} = argmin(...) from p_0; the
    search + M-step loop lands on that law, well away from the plain compounded tilt."""
    prior = torch.tensor([0.4, 0.3, 0.2, 0.1]).double().log()
    process = MaskedDiffusion(TableNetwork(prior.float()), 1)
    reference = TableNetwork(prior.float())
    alpha, weight, steps = 2.0, 1.0, 3
    law = prior.exp()
    for k in range(steps):
        tilt = law * (REWARD.double() / alpha).exp()
        law = dav_kl_optimum(tilt / tilt.sum(), prior.exp(), weight)
        config = SearchConfig(num_children=64, reward_temperature=alpha, num_steps=1, record_children=True)
        trajectory = search_process(process, base_reward, 512, config, torch.Generator().manual_seed(k)).trajectory
        batch = transition_batch(trajectory, transition_pairs(trajectory), reward_temperature=alpha)
        optimiser = torch.optim.Adam(process.network.parameters(), lr=0.05)
        for _ in range(300):
            optimiser.zero_grad()
            distill_loss(process, batch, DistillConfig(objective="children", kl_weight=weight), reference)[0].backward()
            optimiser.step()
    model = torch.softmax(process.network.logits.detach().double(), dim=0)
    assert 0.5 * (model - law).abs().sum() < 0.03
    plain = torch.softmax(prior + REWARD.double() * steps / alpha, dim=0)
    assert 0.5 * (plain - law).abs().sum() > 0.1  # the anchor matters: not the compounded tilt


def test_held_out_stopper_keeps_the_best_pass_and_stops_after_patience():
    model = torch.nn.Linear(1, 1, bias=False)
    losses = iter([5.0, 4.0, 3.0, 3.5, 3.2, 1.0])  # initial, then after passes 1, 2, 3, 4, ...
    batches = pass_batches(10, 5, 4, torch.Generator().manual_seed(0))  # 3 batches per pass (4, 4, 2)
    assert [len(b) for b in batches] == [4, 4, 2] * 5
    assert all(sorted(sum(batches[3 * p : 3 * p + 3], [])) == list(range(10)) for p in range(5))
    stopper = HeldOutStopper(lambda: next(losses), [len(b) for b in batches], 10, patience=2)
    model.weight.data.fill_(0.0)
    stopper.start(model)
    for index in range(len(batches)):
        if stopper.stopped:
            break
        model.weight.data.fill_(float(index // 3 + 1))  # the weights "of pass p"
        stopper.after_batch(model, index)
    assert stopper.stopped and stopper.passes == 4 and stopper.best_pass == 2
    assert float(model.weight.detach()) == 2.0  # pass 2's weights restored
    assert stopper.log()["mstep/heldout_best"] == 3.0


def test_held_out_stopper_keeps_the_initial_weights_when_no_pass_helps():
    model = torch.nn.Linear(1, 1, bias=False)
    model.weight.data.fill_(7.0)
    losses = iter([1.0, 2.0])
    stopper = HeldOutStopper(lambda: next(losses), [5], 5, patience=1)
    stopper.start(model)
    model.weight.data.fill_(8.0)
    stopper.after_batch(model, 0)
    assert stopper.stopped and stopper.best_pass == 0 and float(model.weight.detach()) == 7.0


def test_holdout_split_holds_out_whole_sequences():
    pairs = torch.stack(torch.meshgrid(torch.arange(3), torch.arange(8), indexing="ij"), -1).reshape(-1, 2)
    train, held = holdout_split(pairs, 8, 0.25, torch.Generator().manual_seed(0))
    assert len(held) == 3 * 2 and len(train) == 3 * 6
    assert set(held[:, 1].tolist()).isdisjoint(train[:, 1].tolist())
    with pytest.raises(ValueError):
        holdout_split(pairs, 8, 1.0, torch.Generator())


def test_best_keeper_keeps_the_best_eligible_iteration_and_stops_after_patience():
    model = torch.nn.Linear(1, 1, bias=False)
    floor = lambda record: record["reward"] if record["natural"] >= 0.9 else None  # noqa: E731
    keeper = BestKeeper(floor, stop_patience=2)
    records = [(0.95, 1.0), (0.93, 3.0), (0.91, 2.0), (0.85, 9.0), (0.80, 12.0)]
    stops = []
    for iteration, (natural, reward) in enumerate(records, start=1):
        model.weight.data.fill_(float(iteration))
        keeper.consider(iteration, {"natural": natural, "reward": reward}, model)
        stops.append(keeper.should_stop())
    assert keeper.iteration == 2 and float(keeper.weights["weight"]) == 2.0  # not 4 or 5: below the floor
    assert stops == [False, False, False, False, True]
    restored = BestKeeper(floor, stop_patience=2)
    restored.load(keeper.state())
    assert restored.iteration == 2 and restored.should_stop()


def selection_history(*flags: int, start: int | None = None) -> list[dict[str, float]]:
    """Per-iteration selection records of eligibility ``flags`` (select/kept_iteration: the last eligible so far);
    ``start``: iteration 1's ``select/start_eligible``, as ``BestKeeper.keep_start`` logs it."""
    kept = [max((i + 1 for i, f in enumerate(flags[: n + 1]) if f), default=0) for n in range(len(flags))]
    records = [{"select/eligible": float(f), "select/kept_iteration": float(k)} for f, k in zip(flags, kept)]
    if start is not None:
        records[0]["select/start_eligible"] = float(start)
    return records


def test_backtrack_plan_restarts_after_a_rejection_and_counts_rejections_since_the_first_eligible():
    history = selection_history
    assert backtrack_plan([]) == (None, 0)
    assert backtrack_plan(history(0, 0)) == (None, 0)  # nothing eligible yet: nothing to go back to
    assert backtrack_plan(history(0, 1)) == (None, 0)
    assert backtrack_plan(history(0, 1, 0)) == (2, 1)  # the early rejection does not count
    assert backtrack_plan(history(1, 1, 0, 1)) == (None, 1)  # go on from the accepted 4th, δ stays halved
    assert backtrack_plan(history(1, 1, 0, 1, 0)) == (4, 2)
    assert backtrack_plan(history(1, 1, 0, 1, 0, 0)) == (4, 3)
    assert backtrack_plan([{}, {}]) == (None, 0)  # a run without a selection rule


def test_a_start_judged_eligible_is_iteration_0_and_a_first_rejection_goes_back_to_it():
    """``backtrack_start``: the start, kept by ``BestKeeper.keep_start`` when eligible, is iteration 0. A first
    iteration under the floor then restarts from 0 with δ halved, and every rejection since the start counts;
    an ineligible start changes nothing; the stopping rule counts from the start."""

    def history(start: int, *flags: int) -> list[dict[str, float]]:
        return selection_history(*flags, start=start)

    assert backtrack_plan(history(1, 0)) == (0, 1)  # back to the start, δ/2
    assert backtrack_plan(history(1, 0, 0)) == (0, 2)
    assert backtrack_plan(history(1, 0, 1)) == (None, 1)  # go on from the accepted 2nd, δ stays halved
    assert backtrack_plan(history(1, 0, 1, 0)) == (2, 2)
    assert backtrack_plan(history(1, 1, 0)) == (1, 1)  # as without the start once iteration 1 is eligible
    assert backtrack_plan(history(0, 0, 0)) == (None, 0)  # an ineligible start: as before
    floor = lambda record: record["score"] if record["natural"] else None  # noqa: E731
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 7.0)
    keeper = BestKeeper(floor, stop_patience=2)
    assert keeper.keep_start({"score": -1.0, "natural": 1}, model) == {"select/start_eligible": 1.0}
    assert keeper.iteration == 0 and float(keeper.weights["weight"]) == 7.0 and not keeper.should_stop()
    stops = []
    for iteration in (1, 2):
        torch.nn.init.constant_(model.weight, float(iteration))
        assert keeper.consider(iteration, {"score": 5.0, "natural": 0}, model)["select/kept_iteration"] == 0.0
        stops.append(keeper.should_stop())
    assert stops == [False, True] and float(keeper.weights["weight"]) == 7.0  # the start's weights are kept

    def drawing(model, generator):  # a judge that draws from torch's global stream
        return {"score": float(torch.rand(())), "natural": 1}

    torch.manual_seed(5)
    judge_start(BestKeeper(floor, stop_patience=2), model, torch.optim.SGD(model.parameters(), lr=0.1), drawing, None)
    after = float(torch.rand(()))
    torch.manual_seed(5)
    assert after == float(torch.rand(()))  # the run draws on as it would have without the judge
    unnatural = BestKeeper(floor, stop_patience=2)
    assert unnatural.keep_start({"score": -1.0, "natural": 0}, model) == {"select/start_eligible": 0.0}
    assert unnatural.weights is None and unnatural.iteration is None


def test_validation_reference_is_the_target_cell_types_chr2_ranked_by_signal_never_chr1():
    from types import SimpleNamespace

    from dnadav.data.dhs import load_dhs
    from dnadav.errors import InputError
    from dnadav.evaluate.reference import validation_reference

    oracle = SimpleNamespace(target="K562", class_names=("HepG2", "K562", "GM12878", "hESC", "shuffled"))
    reference = validation_reference(oracle, size=50)
    valid = load_dhs("valid", "K562")
    assert len(reference) == 50 and set(reference) <= set(valid["sequence"])
    assert set(reference).isdisjoint(load_dhs("test")["sequence"])
    assert reference[0] == valid["sequence"][valid["total_signal"].idxmax()]
    with pytest.raises(InputError, match="DHS cell-type oracle"):
        validation_reference(SimpleNamespace(target="hepg2", class_names=("hepg2",)))


def test_variance_step_weighting_makes_a_gaussian_step_the_squared_distance_to_the_weighted_children():
    """σ²·(−Σ_j w̄_j log N(c_j; μ_θ, σ²)) = Σ_j w̄_j ‖c_j − μ_θ‖²/2 + σ²·const: no step outweighs another
    by 1/σ², and the masked process, which has no step variance, is refused."""
    pytest.importorskip("diffusers")
    from tests.test_image_ddim import toy_process

    process, _ = toy_process(shape=(1, 2, 2))
    n, m = 3, 4
    generator = torch.Generator().manual_seed(0)
    t, s = torch.full((n,), 60.0), torch.full((n,), 40.0)
    x_t = torch.randn(n, 1, 2, 2, generator=generator)
    children = torch.randn(n, m, 1, 2, 2, generator=generator)
    log_w = torch.randn(n, m, generator=generator)
    from dnadav.core.distill import TransitionBatch

    batch = TransitionBatch(x_t=x_t, x_s=children[:, 0], t=t, x0=x_t, s=s, children=children, child_log_weights=log_w)
    prediction = process.predict(x_t, t, None)
    got = distill_loss(process, batch, DistillConfig(objective="children", step_weighting="variance"))[0]
    mean = process.step_mean(prediction, t, s)[:, None]
    variance = process.step_variance(t, s)
    dims = 4
    const = dims * (variance.log() / 2 + 0.5 * math.log(2 * math.pi)) * variance
    expected = (torch.softmax(log_w, 1) * (children - mean).pow(2).flatten(2).sum(2) / 2).sum(1) + const
    assert float(got.detach()) == pytest.approx(float(expected.mean().detach()), rel=1e-5)
    plain = distill_loss(process, batch, DistillConfig(objective="children"))[0]
    assert float(got.detach()) == pytest.approx(float(plain.detach()) * float(variance[0]), rel=1e-5)
    masked = MaskedDiffusion(TimeDependentDenoiser(4, seed=0), 4)
    trajectory = search_process(
        masked, lambda o: o[:, 1:3].sum((1, 2)), 2, SearchConfig(num_children=2, num_steps=2, record_children=True), generator
    ).trajectory
    with pytest.raises(ValueError, match="no step variance"):
        distill_loss(
            masked,
            transition_batch(trajectory, transition_pairs(trajectory), 0.1),
            DistillConfig(objective="children", step_weighting="variance"),
        )
    with pytest.raises(ValueError, match="transitions or children"):
        DistillConfig(objective="nelbo", step_weighting="variance")


@pytest.mark.parametrize("schedule", ["fixed", "trust_region"])
def test_tilting_the_prior_converges_to_its_one_tilt_instead_of_compounding(schedule):
    """``tilt_base="prior"``: the search weighs each child by γ^n·V/α + log p_0(c|x) − log p_θ(c|x), so
    the children M-step's optimum is p_0·exp(r/α) whatever the model is. Three iterations at one α land
    on that one tilt (the plain loop lands on p_0·exp(3r/α)); with the trust region, α falls each
    iteration and the law is the one tilt at the last α — the earlier α's leave no trace (with the
    model tilted instead, the same δ gives the compounded tilt at its α's: the test above)."""
    prior = torch.tensor([0.4, 0.3, 0.2, 0.1]).log()
    process = MaskedDiffusion(TableNetwork(prior), 1)
    reference = TableNetwork(prior)
    alphas = []
    for k in range(3):
        alpha = 2.0
        if schedule == "trust_region":
            pilot = SearchConfig(num_children=64, reward_temperature=alpha, num_steps=1, record_children=True, tilt_base="prior")
            recorded = search_process(
                process, base_reward, 64, pilot, torch.Generator().manual_seed(100 + k), reference=reference
            ).trajectory
            if alphas:  # the step between consecutive targets (pilot_temperature with previous=)
                alpha = 1 / (1 / temperature_for_kl(recorded.child_potential, 0.1) + 1 / alphas[-1])
            else:
                alpha = temperature_for_kl(recorded.child_potential, 0.1, recorded.child_log_ratio)
        alphas.append(alpha)
        config = SearchConfig(num_children=64, reward_temperature=alpha, num_steps=1, record_children=True, tilt_base="prior")
        generator = torch.Generator().manual_seed(k)
        trajectory = search_process(process, base_reward, 512, config, generator, reference=reference).trajectory
        fit_children(process, trajectory, alpha)
    target = torch.softmax(prior + REWARD / alphas[-1], dim=0)
    model = torch.softmax(process.network.logits.detach(), dim=0)
    assert 0.5 * (model - target).abs().sum() < 0.03
    compounded = torch.softmax(prior + REWARD * sum(1 / a for a in alphas), dim=0)
    assert 0.5 * (model - compounded).abs().sum() > 0.1
    if schedule == "trust_region":  # each iteration still moves: α falls
        assert alphas[0] > alphas[1] > alphas[2]


def test_tilting_the_prior_needs_the_prior_and_costs_one_row_per_sequence_and_step():
    prior = torch.tensor([0.4, 0.3, 0.2, 0.1]).log()
    process = MaskedDiffusion(TableNetwork(prior), 1)
    config = SearchConfig(num_children=4, reward_temperature=1.0, num_steps=1, tilt_base="prior")
    with pytest.raises(ValueError, match="reference"):
        search_process(process, base_reward, 8, config, torch.Generator().manual_seed(0))
    model_base = dataclasses.replace(config, tilt_base="model")
    plain = search_process(process, base_reward, 8, model_base, torch.Generator().manual_seed(0))
    tilted = search_process(process, base_reward, 8, config, torch.Generator().manual_seed(0), reference=TableNetwork(prior))
    assert tilted.stats.network_sequences == plain.stats.network_sequences + 8
    # the model is the prior here: the importance ratio is 0 and the search is unchanged
    assert torch.equal(tilted.sequences, plain.sequences)


def test_the_pilot_of_a_prior_tilting_search_steps_between_consecutive_targets():
    """A model that already is the one tilt at α = 1, tilting the prior: the full weights' selection KL
    is least near α = 1 and grows on both sides, so solving on them lands above it (weights that pull
    back to the prior). With previous=1 the pilot solves the incremental weights V·(1/α − 1) alone:
    α < 1, and exactly the step the same children give at the inverse-temperature difference."""
    prior = torch.tensor([0.4, 0.3, 0.2, 0.1]).log()
    process = MaskedDiffusion(TableNetwork(prior + REWARD / 1.0), 1)
    config = SearchConfig(num_children=64, reward_temperature=1.0, num_steps=1, tilt_base="prior")
    solve = lambda previous, rounds: pilot_temperature(  # noqa: E731
        process, base_reward, config, 0.1, 64, torch.Generator().manual_seed(0), rounds=rounds,
        reference=TableNetwork(prior), previous=previous,
    )  # fmt: skip
    assert solve(None, 2) > 1.0
    stepped = solve(1.0, 1)
    assert 0.3 < stepped < 1.0
    pilot = SearchConfig(num_children=64, reward_temperature=1.0, num_steps=1, tilt_base="prior", record_children=True)
    recorded = search_process(process, base_reward, 64, pilot, torch.Generator().manual_seed(0), reference=TableNetwork(prior))
    assert selection_kl(recorded.trajectory.child_potential, 1 / (1 / stepped - 1.0)) == pytest.approx(0.1, abs=1e-6)


@pytest.mark.parametrize("fitted_to", [1.0, 1.5, 0.25], ids=["on-target", "under-shot", "over-shot"])
def test_the_total_trust_region_counts_the_models_drift(fitted_to):
    """``include_drift``: the selection KL is solved on the full weights r/α + log p_0 − log p_θ for α ≤ previous
    (= 1). The model is the one tilt p_0·exp(r/a) at ``fitted_to`` = a, so the full weights are r·(1/α − 1/a) up to
    a constant: the step is taken from where the model is, not from its last target. Closed forms, with s the
    temperature whose plain tilt r/s has the target KL: a = 1 (on target) gives the step mode's α = 1/(1 + 1/s);
    a = 1.5 (under-shot, drift below the target) gives α = 1/(1/1.5 + 1/s) > that; a = 1/4 (over-shot, its drift
    r·(1 − 4) alone above the target) gives α = previous: no step, only the correction."""
    prior = torch.tensor([0.4, 0.3, 0.2, 0.1]).log()
    process = MaskedDiffusion(TableNetwork(prior + REWARD / fitted_to), 1)
    config = SearchConfig(num_children=64, reward_temperature=1.0, num_steps=1, tilt_base="prior")
    solve = lambda include_drift: pilot_temperature(  # noqa: E731
        process, base_reward, config, 0.1, 64, torch.Generator().manual_seed(0), rounds=1,
        reference=TableNetwork(prior), previous=1.0, include_drift=include_drift,
    )  # fmt: skip
    pilot = dataclasses.replace(config, record_children=True)
    recorded = search_process(process, base_reward, 64, pilot, torch.Generator().manual_seed(0), reference=TableNetwork(prior))
    potential, log_ratio = recorded.trajectory.child_potential, recorded.trajectory.child_log_ratio
    plain_step = temperature_for_kl(potential, 0.1)  # s
    drift = selection_kl(potential, 1.0, log_ratio)
    total = solve(True)
    if fitted_to == 0.25:
        assert drift > 0.1 and total == 1.0
        assert solve(False) < 1.0  # the step mode steps anyway, on top of the drift
        return
    assert drift < 0.1
    assert selection_kl(potential, total, log_ratio) == pytest.approx(0.1, abs=1e-6)
    assert total == pytest.approx(1 / (1 / fitted_to + 1 / plain_step), rel=1e-6)
    if fitted_to == 1.0:
        assert total == pytest.approx(solve(False), rel=1e-6)
    else:
        assert total > solve(False)


def test_proposing_from_the_prior_makes_the_e_step_the_priors_search_whatever_the_model():
    """``proposal="prior"``: the prior draws the children and scores them, so the E-step is the prior's
    own per-step tilt, bit for bit, and the model being aligned is never called: no extra row, no
    importance ratio. A model far from the prior then reaches the one tilt p_0·exp(r/α) in one fitted
    iteration and stays there."""
    prior = torch.tensor([0.4, 0.3, 0.2, 0.1]).log()
    far = torch.tensor([0.05, 0.05, 0.1, 0.8]).log()
    process = MaskedDiffusion(TableNetwork(far), 1)
    config = SearchConfig(
        num_children=4, reward_temperature=1.0, num_steps=1, record_children=True, tilt_base="prior", proposal="prior"
    )
    proposed = search_process(process, base_reward, 16, config, torch.Generator().manual_seed(0), reference=TableNetwork(prior))
    own = dataclasses.replace(config, tilt_base="model", proposal="model")
    searched = search_process(MaskedDiffusion(TableNetwork(prior), 1), base_reward, 16, own, torch.Generator().manual_seed(0))
    assert torch.equal(proposed.sequences, searched.sequences)
    assert torch.equal(proposed.trajectory.children, searched.trajectory.children)
    assert torch.equal(proposed.trajectory.child_potential, searched.trajectory.child_potential)
    assert proposed.trajectory.child_log_ratio is None
    assert proposed.stats.network_sequences == searched.stats.network_sequences
    with pytest.raises(ValueError, match="needs tilt_base='prior'"):
        SearchConfig(tilt_base="model", proposal="prior")

    alpha = 2.0
    target = torch.softmax(prior + REWARD / alpha, dim=0)
    config = dataclasses.replace(config, num_children=64, reward_temperature=alpha)
    for k in range(3):
        trajectory = search_process(
            process, base_reward, 512, config, torch.Generator().manual_seed(k), reference=TableNetwork(prior)
        ).trajectory
        fit_children(process, trajectory, alpha)
        model = torch.softmax(process.network.logits.detach(), dim=0)
        assert 0.5 * (model - target).abs().sum() < 0.03, k


def test_with_the_prior_proposing_the_children_m_step_distils_the_finite_m_search_law_not_the_tilt():
    """With the prior proposing M children and picking one with probability softmax(r/α) among them, the
    kept child's law is q(c) = E[Σ_i w_i·1{c_i = c}] (enumerated exactly over the M-tuples here), and the
    children M-step's optimum is that same law: the search's own law at finite M, which at M = 2 and
    α = 0.5 lies far from the infinite-M tilt p_0·exp(r/α) (docs/concepts.md, "Eighth round")."""
    import itertools

    prior = torch.tensor([0.4, 0.3, 0.2, 0.1])
    alpha, m = 0.5, 2
    search_law = torch.zeros(4)
    for tuple_ in itertools.product(range(4), repeat=m):
        chosen = list(tuple_)
        weights = torch.softmax(REWARD[chosen] / alpha, dim=0)
        for child, weight in zip(chosen, weights):
            search_law[child] += prior[chosen].prod() * weight
    tilt = torch.softmax(prior.log() + REWARD / alpha, dim=0)
    assert search_law.sum() == pytest.approx(1.0, abs=1e-6)
    assert 0.5 * (search_law - tilt).abs().sum() > 0.4  # the two targets are far apart

    far = torch.tensor([0.05, 0.05, 0.1, 0.8]).log()
    process = MaskedDiffusion(TableNetwork(far), 1)
    config = SearchConfig(
        num_children=m, reward_temperature=alpha, num_steps=1, record_children=True, tilt_base="prior", proposal="prior"
    )
    result = search_process(
        process, base_reward, 8192, config, torch.Generator().manual_seed(0), reference=TableNetwork(prior.log())
    )
    kept = torch.bincount(result.sequences.view(8192, -1)[:, 0], minlength=5)[:4].float() / 8192
    assert 0.5 * (kept - search_law).abs().sum() < 0.02  # the search samples q
    fit_children(process, result.trajectory, alpha)
    model = torch.softmax(process.network.logits.detach(), dim=0)
    assert 0.5 * (model - search_law).abs().sum() < 0.02  # the M-step distils q, not the tilt


def test_replayed_sequences_are_trained_on_never_held_out_and_kept_without_the_held_out_ones():
    """``dnadav.core.replay``: the M-step's trajectory is [current, *earlier]; only the current E-step's
    sequences are split, the held-out ones never enter the buffer, the newest ``size`` E-steps are kept,
    and a checkpoint's copy (integers as uint8) loads back equal."""
    from types import SimpleNamespace

    from dnadav.core.fit_control import held_out_passes
    from dnadav.core.replay import ReplayBuffer

    def e_step(offset: int, batch: int = 8) -> Trajectory:
        states = torch.arange(offset, offset + batch).repeat(3, 1)  # [T + 1 = 3, B]: a sequence's id at every step
        children = states[1:, :, None].repeat(1, 1, 4)  # [T, B, M = 4]
        return Trajectory(states, torch.tensor([1.0, 0.5, 0.0]), children=children, child_potential=torch.randn(2, batch, 4))

    buffer = ReplayBuffer(2)
    config = SimpleNamespace(inner_epochs=1, batch_size=64, patience=1)
    kept_ids = []
    for i in range(3):
        current = e_step(100 * i)
        joined = buffer.joined(current)
        assert joined.states.shape[1] == 8 + sum(len(k) for k in kept_ids[-2:])
        _, stopper, held = held_out_passes(joined, 0.25, config, lambda pairs: 0.0, torch.Generator().manual_seed(i), None, 8)
        assert held.tolist() == sorted(held.tolist()) and len(held) == 2 and bool((held < 8).all())
        buffer.keep(current, held)
        kept_ids.append([100 * i + j for j in range(8) if j not in held.tolist()])
    assert [p.states[0].tolist() for p in buffer.parts] == [kept_ids[2], kept_ids[1]]  # newest first, held-out left out
    again = ReplayBuffer(2)
    again.load(torch.load(_saved(buffer.state()), weights_only=True))
    for mine, theirs in zip(buffer.parts, again.parts):
        assert torch.equal(mine.children, theirs.children) and mine.children.dtype == theirs.children.dtype
        assert torch.equal(mine.child_potential, theirs.child_potential)
    assert buffer.state()[0]["children"]["uint8"].dtype == torch.uint8  # stored small, read back as int64


def _saved(state):
    import io

    handle = io.BytesIO()
    torch.save(state, handle)
    handle.seek(0)
    return handle
