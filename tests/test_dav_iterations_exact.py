"""K DAV iterations against their closed forms, on a 1-D Gaussian chain run through the real loop
(``DAVModule`` + ``fit_em``: E-step search, M-step, DAV-KL, the trust region, the selection rule).

The chain (docs/concepts.md, "Iterations in closed form"): x starts at 0 and takes T Gaussian steps
``x_{k+1} = x_k + θ_k + σ_k·ε``; the network is the vector of shifts θ ``[T]``, σ is fixed. Its clean
law is N(Σθ, Σσ²). With a linear reward r(x) = a·x the plug-in value x + Σ_{j≥k} θ_j is exact up to a
constant shared by siblings, so the per-sequence search is sampling-importance-resampling from the
exactly tilted step N(θ_k + a·σ_k²/α, σ_k²), and the children M-step's optimum is the weighted mean of
the children's shifts. Hence, with s = a·Σσ²/α:

* plain DAV: after K iterations the mean is Σθ_0 + K·s (the tilts compound: one tilt at α/K);
* DAV-KL (λ): each step's optimum is (shift + λ·θ_ref)/(1 + λ), so the mean moves by
  s·Σ_{i=1..K} (1 + λ)^{-i} and tends to s/λ (one tilt at α·λ): a fixed point, no over-shoot;
* the trust region: the selection KL of a path tends to Σ_k (a·σ_k/α)²/2 = a²·Σσ²/(2α²), so the α
  solved for a target δ is a·√(Σσ²/2δ) at every iteration;
* the selection rule: with a naturalness floor on the mean's shift, the kept iteration is the last
  one whose closed-form shift K·s stays under the floor, and the run stops stop_patience later;
* backtracking: a rejected iteration is undone and the step halved (δ/2^j after j rejections, so the
  shift per step is s*/2^(j/2)): the path of shifts in units of s* is 1, 2, 3 (rejected), 2 + 1/√2
  (kept), 2 + 2/√2 (rejected), 2 + 1/√2 + 1/2 (rejected, stop) — the same for both tilt bases.

* the step weighting: a network with ONE shift β shared by every step cannot follow the per-step
  shifts a·σ_k²/α, so the weighting decides what it fits. The transition likelihood weighs step k
  by 1/σ_k² and gives β = (a/α)·T/Σσ⁻²; weighting each NLL by σ_k² ("variance") gives
  β = (a/α)·Σσ²/T, whose clean mean T·β is the tilted one exactly.

The law after K iterations is N(m, Σσ²); the tests bound KL(model ‖ target) = (m − m*)²/(2Σσ²) by
KL_BOUND, which covers the search's finite-M bias (self-normalised weights pull each step's mean
toward the model's by O(1/M): about 0.04 of the 2.7 shift below at M = 128) and its noise.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

from dnadav.core.config import EMConfig
from dnadav.core.distill import DistillConfig
from dnadav.core.em import DAVModule
from dnadav.core.fit import fit_em
from dnadav.core.protocol import Proposal
from dnadav.core.search import SearchConfig, search_process
from dnadav.core.trust_region import pilot_temperature, selection_kl

SIGMA = torch.tensor([1.0, 0.7, 0.5, 0.3])  # per-step noise σ_k; Σσ² = 1.83
T = len(SIGMA)
SLOPE = 1.0  # a in r(x) = a·x
KL_BOUND = 0.005  # nats: |m − m*| ≤ 0.135


class Shifts(torch.nn.Module):
    """The network: one learnable shift θ_k per step (or, ``shared``, fixed shifts plus one learnable
    β added to every step) -> prediction ``[N, 2]`` = (θ_k, Σ_{j≥k} θ_j)."""

    def __init__(self, shifts: list[float], shared: bool = False):
        super().__init__()
        if shared:
            self.register_buffer("base", torch.tensor(shifts))
            self.beta = torch.nn.Parameter(torch.zeros(()))
        else:
            self.theta = torch.nn.Parameter(torch.tensor(shifts))

    @property
    def shifts(self) -> torch.Tensor:
        return self.base + self.beta if hasattr(self, "beta") else self.theta

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        theta = self.shifts
        step = t.long().clamp(max=T - 1)
        rest = theta.flip(0).cumsum(0).flip(0)  # Σ_{j ≥ k} θ_j
        return torch.stack([theta[step], torch.where(t >= T, torch.zeros_like(t), rest[step])], dim=1)


class GaussianChain:
    """The chain as a ``ReverseProcess``; states ``[N, 1]``, grid times 0, 1, …, T (the step index)."""

    def __init__(self, network: Shifts):
        self.network = network

    def time_grid(self, num_steps: int) -> torch.Tensor:
        if num_steps != T:
            raise ValueError(f"the chain has {T} steps")
        return torch.arange(T + 1, dtype=torch.float32)

    def initial_state(self, num, generator):
        return torch.zeros(num, 1)

    def predict(self, x, t, context, network=None):
        return (network or self.network)(x, t)

    def propose(self, prediction, x, t, s, num_children, generator, guidance=None) -> Proposal:
        rows = lambda v: v.repeat_interleave(num_children, dim=0)  # noqa: E731
        noise = torch.randn(x.shape[0] * num_children, 1, generator=generator)
        return Proposal(rows(x) + rows(prediction[:, :1]) + SIGMA[int(t)] * noise)

    def clean_estimate(self, prediction, x, num_samples, generator):
        return x + prediction[:, 1:]  # the plug-in mean of x_T

    def decode(self, x):
        return x

    def step_variance(self, t, s):
        return SIGMA[t.long()] ** 2

    def transition_log_prob(self, prediction, x_t, x_s, t, s):
        return -(((x_s - x_t)[:, 0] - prediction[:, 0]) ** 2) / (2 * self.step_variance(t, s))

    def divergence(self, prediction, reference, x_t, t, s):
        return (prediction[:, 0] - reference[:, 0]) ** 2 / (2 * self.step_variance(t, s))

    def sample_loss(self, network, x0, context, generator):
        mean = network.shifts.sum()
        return (x0[:, 0] - mean) ** 2 / (2 * SIGMA.pow(2).sum())


def reward(x: torch.Tensor) -> torch.Tensor:
    return SLOPE * x[:, 0]


PRIOR = [0.1, -0.2, 0.0, 0.3]
VARIANCE = float(SIGMA.pow(2).sum())


def run(tmp_path, iterations: int, alpha: float, **options):
    """``iterations`` EM iterations of the chain through DAVModule -> (module, mean Σθ after them)."""
    select, evaluate, pass_score = options.pop("select", None), options.pop("evaluate", None), options.pop("pass_score", None)
    network = Shifts(PRIOR, shared=options.pop("shared", False))
    objective = options.pop("objective", "children")
    distill = DistillConfig(
        objective=objective, kl_weight=options.pop("kl_weight", 0.0), step_weighting=options.pop("weighting", "likelihood")
    )
    config = EMConfig(
        iterations=iterations,
        sequences_per_iteration=256,
        search=SearchConfig(
            num_children=options.pop("children", 128),
            reward_temperature=alpha,
            num_steps=T,
            record_children=objective == "children",
            mode=options.pop("mode", "per_sequence"),
            tilt_base=options.pop("tilt_base", "model"),
            proposal=options.pop("proposal", "model"),
            target_ess=options.pop("target_ess", None),
        ),
        distill=distill,
        inner_epochs=100,
        batch_size=options.pop("batch_size", T * 256),  # full batch: the M-step reaches its optimum
        lr=0.05,
        seed=3,
        **options,
    )
    module = DAVModule(
        network, reward, config, GaussianChain(network), prior=copy.deepcopy(network), select=select, evaluate=evaluate,
        pass_score=pass_score,
    )  # fmt: skip
    fit_em(module, tmp_path, accelerator="cpu", progress=False)
    return module, float(network.shifts.detach().sum())


def kl_to(mean: float, target: float) -> float:
    return (mean - target) ** 2 / (2 * VARIANCE)


def test_plain_iterations_compound_the_tilt(tmp_path):
    alpha, k = 2.0, 3
    _, mean = run(tmp_path, k, alpha)
    shift = SLOPE * VARIANCE / alpha
    assert kl_to(mean, sum(PRIOR) + k * shift) < KL_BOUND
    assert kl_to(mean, sum(PRIOR) + shift) > 10 * KL_BOUND  # not one tilt: the iterations compound


def test_tail_averaged_m_steps_reach_the_same_closed_form(tmp_path):
    # --mstep-average: each M-step keeps the mean of its last half of iterates. Once the fit has converged
    # the mean is the optimum, so the iterations still compound to K tilts: averaging moves no fixed point.
    # Kills: the sum divided by one iterate too many (the mean shrunk toward 0).
    alpha, k = 2.0, 3
    _, mean = run(tmp_path, k, alpha, mstep_average=0.5)
    shift = SLOPE * VARIANCE / alpha
    assert kl_to(mean, sum(PRIOR) + k * shift) < KL_BOUND, (mean, sum(PRIOR) + k * shift)
    assert kl_to(mean, sum(PRIOR) + (k - 1) * shift) > 10 * KL_BOUND


@pytest.mark.parametrize("objective", ["nelbo", "transitions"])
def test_importance_iterations_compound_the_tilt_like_the_search(tmp_path, objective):
    # The importance E-step resamples whole paths by exp(r/α); fitting their clean ends (nelbo) or their
    # steps (transitions) moves the mean by the same s per iteration. Kills: α vs 1/α, no resampling
    # (the plain paths: no move), the first B paths only would still pass (covered in test_importance_estep).
    alpha, k = 2.0, 3
    _, mean = run(tmp_path, k, alpha, mode="importance", objective=objective)
    shift = SLOPE * VARIANCE / alpha
    assert kl_to(mean, sum(PRIOR) + k * shift) < KL_BOUND, (mean, sum(PRIOR) + k * shift)
    assert kl_to(mean, sum(PRIOR) + shift) > 10 * KL_BOUND


@pytest.mark.parametrize("objective", ["nelbo", "transitions"])
def test_importance_iterations_at_a_target_ess_move_by_equal_steps(tmp_path, objective):
    # The log-weights a·x/α of the model's clean law N(m, Σσ²) are normal with variance v = a²·Σσ²/α², and
    # the Kish ESS fraction of lognormal weights is e^−v: the α solved for ρ is a·√(Σσ²/(−ln ρ)) at every
    # iteration (the fits move only the mean), and each iteration moves the mean by a·Σσ²/α = √(Σσ²·(−ln ρ)),
    # whatever --temperature says (100 here). Kills: the solved α not logged, the weights at the configured α.
    rho, k = 0.3, 3
    module, mean = run(tmp_path, k, 100.0, mode="importance", objective=objective, target_ess=rho)
    alpha = SLOPE * math.sqrt(VARIANCE / -math.log(rho))
    solved = [r["estep/reward_temperature"] for r in module.history]
    assert solved == pytest.approx([alpha] * k, rel=0.1), (solved, alpha)
    target = sum(PRIOR) + k * math.sqrt(VARIANCE * -math.log(rho))
    assert kl_to(mean, target) < KL_BOUND, (mean, target)


@pytest.mark.parametrize("objective", ["nelbo", "transitions"])
def test_importance_iterations_tilting_the_prior_converge_to_one_tilt(tmp_path, objective):
    # With a reference, each path's weight adds log p_0(τ) − log p_θ(τ): every iteration aims at p_0·exp(r/α),
    # so three iterations land on the one tilt instead of compounding. Kills: the path ratio left out
    # (compounds to 3 tilts), its sign flipped (overshoots past them).
    alpha, k = 2.0, 3
    _, mean = run(tmp_path, k, alpha, mode="importance", objective=objective, tilt_base="prior")
    shift = SLOPE * VARIANCE / alpha
    assert kl_to(mean, sum(PRIOR) + shift) < KL_BOUND, (mean, sum(PRIOR) + shift)
    assert kl_to(mean, sum(PRIOR) + k * shift) > 10 * KL_BOUND


def test_tilting_the_prior_converges_to_one_tilt_at_alpha(tmp_path):
    """tilt_base="prior": the E-step weighs children by V/α + log p_0 − log p_θ, so three iterations at
    α land on the one tilt p_0·exp(r/α) (mean shift a·Σσ²/α), not the compounded 3·a·Σσ²/α."""
    alpha, k = 2.0, 3
    module, mean = run(tmp_path, k, alpha, tilt_base="prior")
    shift = SLOPE * VARIANCE / alpha
    assert kl_to(mean, sum(PRIOR) + shift) < KL_BOUND
    assert kl_to(mean, sum(PRIOR) + k * shift) > 10 * KL_BOUND
    # the E-step's weights at the α the model was fitted to: it is that tilt, so nothing is left to correct
    first, drifts = module.history[0]["estep/selection_kl"], [r["estep/drift_kl"] for r in module.history[1:]]
    assert "estep/drift_kl" not in module.history[0] and max(drifts) < 0.1 * first


def test_the_trust_region_tilting_the_prior_anneals_by_equal_steps_between_targets(tmp_path):
    """With the prior as base, each pilot solves the step between consecutive targets: for a linear
    reward 1/α_k − 1/α_{k−1} = 1/α* with α* = a·√(Σσ²/2δ), so α_k = α*/k, and the model after K
    iterations is the one tilt at α_K (the same law as K compounded tilts at α*)."""
    target_kl, k = 0.5, 3
    module, mean = run(tmp_path, k, 10.0, target_kl=target_kl, pilot_sequences=256, tilt_base="prior")
    alpha_star = SLOPE * math.sqrt(VARIANCE / (2 * target_kl))
    alphas = [record["estep/reward_temperature"] for record in module.history]
    for i, alpha in enumerate(alphas, start=1):
        assert alpha == pytest.approx(alpha_star / i, rel=0.08)
    assert kl_to(mean, sum(PRIOR) + SLOPE * VARIANCE / alphas[-1]) < KL_BOUND


@pytest.mark.parametrize("trust_region", ["step", "total"])
def test_the_total_trust_region_steps_from_where_an_anchored_m_step_left_the_model(tmp_path, trust_region):
    """DAV-KL at λ = 1 makes each M-step land half-way: the model's inverse temperature is b_k = (1/α_k)/2, short
    of the target's 1/α_k. The step trust region steps between targets, 1/α_k = 1/α_{k−1} + 1/α*, whatever the
    model; the total one counts the model's drift and steps from where it is, 1/α_k = b_{k−1} + 1/α* (the drift
    (1/α_{k−1} − b_{k−1}) stays under 1/α*, so no iteration is held), which tends to 2/α* instead of growing."""
    target_kl, k = 0.5, 3
    module, mean = run(
        tmp_path, k, 10.0, target_kl=target_kl, pilot_sequences=256, tilt_base="prior", kl_weight=1.0, trust_region=trust_region
    )
    alpha_star = SLOPE * math.sqrt(VARIANCE / (2 * target_kl))
    inverse = [1.0]  # 1/α_k in units of 1/α*
    for _ in range(k - 1):
        inverse.append(inverse[-1] / 2 + 1 if trust_region == "total" else inverse[-1] + 1)
    alphas = [record["estep/reward_temperature"] for record in module.history]
    for alpha, expected in zip(alphas, inverse, strict=True):
        assert alpha == pytest.approx(alpha_star / expected, rel=0.08), (alphas, inverse)
    assert kl_to(mean, sum(PRIOR) + SLOPE * VARIANCE / alphas[-1] / 2) < KL_BOUND


def test_dav_kl_iterations_converge_to_one_tilt_at_alpha_times_lambda(tmp_path):
    alpha, k, lam = 1.0, 4, 1.0
    _, mean = run(tmp_path, k, alpha, kl_weight=lam)
    shift = SLOPE * VARIANCE / alpha
    closed_form = sum(PRIOR) + shift * sum((1 + lam) ** -i for i in range(1, k + 1))
    assert kl_to(mean, closed_form) < KL_BOUND
    assert kl_to(mean, sum(PRIOR) + k * shift) > 10 * KL_BOUND  # the anchor holds the model back
    assert abs(closed_form - (sum(PRIOR) + shift / lam)) < 0.07 * shift  # near its fixed point s/λ


def test_importance_iterations_with_dav_kl_reach_the_same_closed_form(tmp_path):
    # The budget allocation's M-step (docs/benchmarks.md, is_k4_t3_kl): the importance E-step's kept paths
    # fitted step by step with λ·KL to the prior. Each fit lands each step's shift at (target + λ·prior)/(1 + λ),
    # so K iterations move s·Σ_i (1 + λ)^−i, as the search's do. Kills: the KL term dropped (4 compounded tilts).
    alpha, k, lam = 1.0, 4, 1.0
    _, mean = run(tmp_path, k, alpha, kl_weight=lam, mode="importance", objective="transitions")
    shift = SLOPE * VARIANCE / alpha
    closed_form = sum(PRIOR) + shift * sum((1 + lam) ** -i for i in range(1, k + 1))
    assert kl_to(mean, closed_form) < KL_BOUND, (mean, closed_form)
    assert kl_to(mean, sum(PRIOR) + k * shift) > 10 * KL_BOUND


def test_the_trust_region_solves_the_closed_form_temperature_every_iteration(tmp_path):
    target_kl, k = 0.5, 3
    module, mean = run(tmp_path, k, 10.0, target_kl=target_kl, pilot_sequences=256)
    alpha_star = SLOPE * math.sqrt(VARIANCE / (2 * target_kl))
    alphas = [record["estep/reward_temperature"] for record in module.history]
    assert len(alphas) == k and all(abs(a / alpha_star - 1) < 0.06 for a in alphas), (alphas, alpha_star)
    kls = [record["estep/selection_kl"] for record in module.history]
    assert all(abs(v - target_kl) < 0.08 for v in kls), kls
    shift = sum(SLOPE * VARIANCE / a for a in alphas)
    assert kl_to(mean, sum(PRIOR) + shift) < KL_BOUND
    assert kl_to(mean, sum(PRIOR) + k * SLOPE * VARIANCE / 10.0) > 10 * KL_BOUND  # α = 10 was never used


@pytest.mark.parametrize("stop_patience", [1, 2])
def test_the_selection_rule_keeps_the_last_iteration_under_the_floor_and_stops_after_patience(tmp_path, stop_patience):
    alpha = 2.0
    shift = SLOPE * VARIANCE / alpha  # 0.915 per iteration
    floor = 2.2 * shift  # iterations 1 and 2 stay under it, 3 does not

    def evaluate(model, generator):
        mean = float(model.shifts.detach().sum())
        return {"toy/shift": mean - sum(PRIOR), "toy/reward_mean": SLOPE * mean}

    def select(record):
        return None if record["toy/shift"] > floor else record["toy/reward_mean"]

    module, last_mean = run(tmp_path, 8, alpha, select=select, evaluate=evaluate, stop_patience=stop_patience)
    assert module.best.iteration == 2
    assert len(module.history) == 2 + stop_patience  # stopped stop_patience iterations after the last eligible
    kept = float(module.best.weights["theta"].sum())
    assert kl_to(kept, sum(PRIOR) + 2 * shift) < KL_BOUND
    assert kl_to(last_mean, sum(PRIOR) + (2 + stop_patience) * shift) < KL_BOUND


def test_the_guarded_m_step_stops_each_fit_at_the_naturalness_floor(tmp_path):
    # Naturalness = minus the mean's shift from the prior, floor −1.5·s: iteration 1's full fit (shift s) meets
    # it; iteration 2 fits toward 2·s and keeps the last pass still at 1.5·s or under; iteration 3 starts there
    # and can only creep up to it. Unguarded, three iterations reach 3·s. Adam moves each of the 4 shifts by
    # about lr = 0.05 per pass, so the kept shift lies within 0.3 of the floor. Kills: the last pass kept
    # instead of the guarded one (3·s), the best-scoring pass kept (no move at all), the floor's sign.
    alpha = 2.0
    shift = SLOPE * VARIANCE / alpha
    floor = -1.5 * shift
    naturalness = lambda model, generator: -(float(model.shifts.detach().sum()) - sum(PRIOR))  # noqa: E731
    module, mean = run(tmp_path, 3, alpha, pass_score=naturalness, mstep_min_naturalness=floor)
    first, second, third = module.history
    assert first["mstep/kept_pass"] == first["mstep/passes"] == 100  # s < 1.5·s: the whole fit stays
    assert kl_to(sum(PRIOR) - first["mstep/guard_kept"], sum(PRIOR) + shift) < KL_BOUND
    assert 0 < second["mstep/kept_pass"] < 100 and second["mstep/guard_last"] < floor  # the fit went on past it
    assert -0.3 < mean - sum(PRIOR) - 1.5 * shift <= 0, (mean, shift)
    assert mean - sum(PRIOR) == pytest.approx(-third["mstep/guard_kept"])  # the kept pass's weights are the model


@pytest.mark.parametrize("weighting", ["likelihood", "variance"])
def test_the_step_weighting_decides_what_one_shared_shift_fits(tmp_path, weighting):
    alpha = 2.0
    _, mean = run(tmp_path, 1, alpha, shared=True, weighting=weighting)
    tilted = SLOPE * VARIANCE / alpha  # the tilted clean mean's shift
    likelihood = SLOPE / alpha * T**2 / float(SIGMA.pow(-2).sum())  # 0.44: the small last steps dominate
    expected = tilted if weighting == "variance" else likelihood
    assert kl_to(mean, sum(PRIOR) + expected) < KL_BOUND
    assert abs(tilted - likelihood) > 0.4


def test_the_pilot_reads_child_values_on_the_paths_the_solved_alpha_takes():
    """With a bounded reward the children's values spread differently on differently tilted paths: a
    pilot run at α = 100 (the model's own paths, far from the optimum, steep values) under-estimates
    the α the E-step needs. Re-running the pilot at the solved α (rounds = 2) brings the E-step's own
    selection KL to the target; one round leaves it at about 0.7 of it."""
    network = Shifts(PRIOR)
    process = GaussianChain(network)
    peaked = lambda x: -((x[:, 0] - 3.0) ** 2)  # noqa: E731
    config = SearchConfig(num_children=64, reward_temperature=100.0, num_steps=T, record_children=True)
    realised = {}
    for rounds in (1, 2):
        alpha = pilot_temperature(process, peaked, config, 1.0, 256, torch.Generator().manual_seed(1), rounds=rounds)
        trajectory = search_process(
            process, peaked, 1024, dataclasses.replace(config, reward_temperature=alpha), torch.Generator().manual_seed(2)
        ).trajectory
        realised[rounds] = selection_kl(trajectory.child_potential, alpha)
    assert abs(realised[2] - 1.0) < 0.12, realised
    assert realised[1] < 0.8, realised


@pytest.mark.parametrize("tilt_base", ["model", "prior"])
def test_backtracking_undoes_a_rejected_iteration_and_halves_the_step(tmp_path, tilt_base):
    """Trust region (δ = 0.5, shift s* per full step) with a floor at 2.85·s*: iteration 3 (3·s*) is
    rejected, so iteration 4 restarts from iteration 2's weights and α with δ/2 and lands at
    (2 + 1/√2)·s*, under the floor (kept); iteration 5 (δ/2 from 4: (2 + 2/√2)·s*) and 6 (δ/4 from 4:
    (2 + 1/√2 + 1/2)·s*) are rejected and the run stops. Tilting the model, the solved α is α*·2^(j/2)
    after j rejections; tilting the prior it is the consecutive-target step 1/α = 1/α_kept + 1/(α*·2^(j/2))."""
    target_kl = 0.5
    alpha_star = SLOPE * math.sqrt(VARIANCE / (2 * target_kl))
    full_step = SLOPE * VARIANCE / alpha_star  # s*

    def evaluate(model, generator):
        return {"toy/shift": float(model.shifts.detach().sum()) - sum(PRIOR)}

    def select(record):
        return None if record["toy/shift"] > 2.85 * full_step else record["toy/shift"]

    module, last_mean = run(
        tmp_path, 10, 10.0, target_kl=target_kl, pilot_sequences=256, tilt_base=tilt_base,
        select=select, evaluate=evaluate, stop_patience=2, backtrack=True,
    )  # fmt: skip
    path = [1, 2, 3, 2 + 2**-0.5, 2 + 2 * 2**-0.5, 2 + 2**-0.5 + 0.5]  # shifts in units of s*
    history = module.history
    assert len(history) == 6 and module.best.iteration == 4
    assert [r["select/eligible"] for r in history] == [1, 1, 0, 1, 0, 0]
    assert [r.get("estep/restarted_from") for r in history] == [None, None, None, 2.0, None, 4.0]
    assert [r["estep/target_kl"] for r in history] == [0.5, 0.5, 0.5, 0.25, 0.25, 0.125]
    for record, shift in zip(history, path):
        assert kl_to(record["toy/shift"], shift * full_step) < KL_BOUND, (record["toy/shift"] / full_step, shift)
    alphas = [r["estep/reward_temperature"] for r in history]
    if tilt_base == "model":  # each step is one tilt at α*·2^(j/2) of the model it starts from
        expected = [alpha_star * 2 ** (j / 2) for j in (0, 0, 0, 1, 1, 2)]
    else:  # the target itself: one tilt at α = α*/shift
        expected = [alpha_star / shift for shift in path]
    for alpha, want in zip(alphas, expected):
        assert alpha == pytest.approx(want, rel=0.08)
    kept = float(module.best.weights[next(iter(module.best.weights))].sum())
    assert kl_to(kept, sum(PRIOR) + path[3] * full_step) < KL_BOUND


def test_a_backtracking_run_resumed_from_its_checkpoint_repeats_the_uninterrupted_one(tmp_path):
    """Scored by closeness to 2·s* (so a restart that passes the floor is not kept): 1, 2 (kept), 3 ✗,
    2 + 1/√2 from 2, 2 + 2/√2 ✗ from there, 2 + 1/2 from 2 again. Stopped after iteration 4 and resumed,
    the run must not restart iteration 5 from the kept weights (Lightning's restore asks for iteration
    4's loader once more) and must match the uninterrupted run exactly."""
    target_kl = 0.5
    full_step = SLOPE * VARIANCE / (SLOPE * math.sqrt(VARIANCE / (2 * target_kl)))

    def evaluate(model, generator):
        return {"toy/shift": float(model.shifts.detach().sum()) - sum(PRIOR)}

    def select(record):
        return None if record["toy/shift"] > 2.85 * full_step else -abs(record["toy/shift"] - 2 * full_step)

    options = dict(target_kl=target_kl, pilot_sequences=256, tilt_base="model", select=select, evaluate=evaluate,
                   stop_patience=3, backtrack=True)  # fmt: skip
    straight, _ = run(tmp_path / "straight", 6, 10.0, **options)
    run(tmp_path / "resumed", 4, 10.0, **options)
    resumed, _ = run(tmp_path / "resumed", 6, 10.0, **options)
    shifts = [r["toy/shift"] / full_step for r in straight.history]
    for shift, want in zip(shifts, [1, 2, 3, 2 + 2**-0.5, 2 + 2 * 2**-0.5, 2.5]):
        assert abs(shift - want) < 0.1, shifts
    assert [r["toy/shift"] for r in resumed.history] == [r["toy/shift"] for r in straight.history]
    assert straight.best.iteration == resumed.best.iteration == 2


def floored_backtracking(floor_in_steps: float) -> tuple[float, dict]:
    """(s*, the run options) of a backtracking chain at δ = 0.5 whose rule rejects a mean shift over
    ``floor_in_steps``·s* (s*: one full step's shift) and keeps the largest shift under it."""
    full_step = SLOPE * VARIANCE / (SLOPE * math.sqrt(VARIANCE / (2 * 0.5)))

    def evaluate(model, generator):
        return {"toy/shift": float(model.shifts.detach().sum()) - sum(PRIOR)}

    def select(record):
        return None if record["toy/shift"] > floor_in_steps * full_step else record["toy/shift"]

    options = dict(target_kl=0.5, pilot_sequences=256, tilt_base="model", select=select, evaluate=evaluate,
                   stop_patience=2, backtrack=True)  # fmt: skip
    return full_step, options


@pytest.mark.parametrize("backtrack_start", [True, False])
def test_a_first_iteration_under_the_floor_goes_back_to_a_start_judged_eligible(tmp_path, backtrack_start):
    """``backtrack_start``: the start (shift 0) is judged and kept as iteration 0. Iteration 1 at δ shifts by one
    full step s*, over the floor 0.85·s*, so iteration 2 restarts from the start at δ/2: shift s*/√2, kept. Iteration
    3 steps on at δ/2 (one rejection so far): s*/√2 + s*/√2 ✗; iteration 4 from 2 at δ/4: s*/√2 + s*/2 ✗; two
    rejections in a row stop the run. Without it nothing is ever undone: the shifts compound, 1, 2, 3, 4 × s*."""
    full_step, options = floored_backtracking(0.85)
    module, _ = run(tmp_path, 4, 10.0, **options, backtrack_start=backtrack_start)
    shifts = [r["toy/shift"] / full_step for r in module.history]
    root = 2**-0.5
    wanted = [1, root, 2 * root, root + 0.5] if backtrack_start else [1, 2, 3, 4]
    assert len(shifts) == len(wanted) and all(abs(a - b) < 0.1 for a, b in zip(shifts, wanted)), shifts
    assert module.history[0].get("select/start_eligible") == (1.0 if backtrack_start else None)
    assert module.best.iteration == (2 if backtrack_start else None)


def test_a_run_resumed_after_its_stopping_rule_fired_stays_stopped(tmp_path):
    """The backtracking chain above stops after iteration 6 (two rejections in a row). Its checkpoint of
    iteration 6 resumed with room for more iterations (a process killed after that checkpoint was written,
    before the run's end) must end there with the same history and weights, not run a 7th iteration."""
    _, options = floored_backtracking(2.85)
    stopped, stopped_mean = run(tmp_path, 10, 10.0, **options)
    assert len(stopped.history) == 6 and (tmp_path / "checkpoints" / "last.ckpt").is_file()
    resumed, resumed_mean = run(tmp_path, 10, 10.0, **options)
    assert [r["toy/shift"] for r in resumed.history] == [r["toy/shift"] for r in stopped.history]
    assert resumed_mean == stopped_mean and resumed.best.iteration == stopped.best.iteration == 4


def test_replayed_e_steps_are_fitted_at_the_current_alpha(tmp_path):
    """``replay``: iteration k's M-step also fits the two E-steps before it, their children reweighted at
    α_k. With the trust region α_k = α*/k, so weights kept from α_1, α_2 would fit a mix of three
    targets (mean shift ~2·s* instead of 3·s*, KL ≈ δ = 0.5 nats); reweighted, the model is the one
    tilt at α_3 as without replay. M = 512: an E-step of two iterations ago proposed from a model 2·s*
    short of today's target, and self-normalised weights pull towards the proposal by O(distance²/M)."""
    target_kl, k = 0.5, 3
    options = dict(target_kl=target_kl, pilot_sequences=256, tilt_base="prior", replay=2, children=512, batch_size=3 * T * 256)
    module, mean = run(tmp_path, k, 10.0, **options)
    alphas = [record["estep/reward_temperature"] for record in module.history]
    assert kl_to(mean, sum(PRIOR) + SLOPE * VARIANCE / alphas[-1]) < KL_BOUND
    assert module.trajectory.states.shape[1] == 3 * 256  # the current E-step's sequences and two replayed ones'


def test_a_replaying_run_resumed_from_its_checkpoint_repeats_the_uninterrupted_one(tmp_path):
    """The replayed sequences travel in the checkpoint: stopped after iteration 2 and resumed, the run
    fits the same data and ends on the same model, bit for bit."""
    options = dict(target_kl=0.5, pilot_sequences=64, tilt_base="prior", replay=2, children=16, batch_size=3 * T * 256)
    straight, mean = run(tmp_path / "straight", 3, 10.0, **options)
    run(tmp_path / "resumed", 2, 10.0, **options)
    resumed, resumed_mean = run(tmp_path / "resumed", 3, 10.0, **options)
    assert resumed_mean == mean
    assert resumed.trajectory.states.shape[1] == 3 * 256
    with pytest.raises(ValueError, match="prior-tilting"):
        run(tmp_path / "model", 1, 10.0, replay=1)
