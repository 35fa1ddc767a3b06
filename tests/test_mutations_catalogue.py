"""Hand mutations of the E-step / M-step / masked sampler and the tests that must kill them.

Not a test module (it defines no tests); run it from the repository root on a clean work tree:

    PYTHONPATH=$PWD python -m tests.test_mutations_catalogue [name,name,...]

Each mutation is applied to its file, the tests in ``TESTS`` run (``-x``: the first killing test is
reported), and the file is restored with ``git checkout`` whatever happens. Results go to stdout
as one JSON line per mutation; docs/testing.md records them. A mutation whose text no longer occurs
(the code moved on) is reported as ``"stale"``.
"""

import json
import subprocess
import sys
import time

S, P, D = "dnadav/core/search.py", "dnadav/dna/sampler.py", "dnadav/core/distill.py"
TR, FC, EM = "dnadav/core/trust_region.py", "dnadav/core/fit_control.py", "dnadav/core/em.py"
ML, RP = "dnadav/core/move_limit.py", "dnadav/core/replay.py"
BO, AM = "dnadav/core/back_off.py", "dnadav/jobs/align_metrics.py"
IS = "dnadav/core/importance.py"
MUTATIONS = [
    (
        "smc-no-log-ratio",
        "SMC mode drops log p − log q",
        S,
        "                if log_ratio is not None:\n                    log_weights = log_weights + log_ratio\n",
        "",
        1,
    ),
    (
        "discount-off-by-one",
        "steps_left = T − k (one too many)",
        S,
        "steps_left=config.num_steps - 1 - k",
        "steps_left=config.num_steps - k",
        1,
    ),
    (
        "discount-power-plus-one",
        "value_potential uses γ^(n+1)",
        S,
        "config.discount**steps_left * value",
        "config.discount ** (steps_left + 1) * value",
        1,
    ),
    (
        "smc-path-not-reindexed",
        "resampling does not re-index the stored path",
        S,
        "                    states = [s[index] for s in states]\n",
        "",
        1,
    ),
    (
        "child-at-parent-time",
        "children scored at the parent's time t_k",
        S,
        "predict(children, float(times[k + 1]), child_context)",
        "predict(children, float(times[k]), child_context)",
        1,
    ),
    ("temperature-twice", "V / α²", S, "* value / config.reward_temperature", "* value / config.reward_temperature**2", 1),
    (
        "ess-unnormalised",
        "ESS = 1/Σw² of unnormalised weights",
        IS,
        "torch.exp(2 * torch.logsumexp(log_weights, 0) - torch.logsumexp(2 * log_weights, 0))",
        "torch.exp(-torch.logsumexp(2 * log_weights, 0))",
        1,
    ),
    (
        "ess-threshold-fraction",
        "resample when ESS < threshold (not threshold·N)",
        S,
        "if ess < config.ess_threshold * b or last:",
        "if ess < config.ess_threshold or last:",
        1,
    ),
    (
        "smc-no-final-resample",
        "no forced resampling at the last step",
        S,
        "if ess < config.ess_threshold * b or last:",
        "if ess < config.ess_threshold * b:",
        1,
    ),
    (
        "smc-no-weight-reset",
        "weights not reset after resampling",
        S,
        "                    log_weights = torch.zeros_like(log_weights)\n",
        "",
        1,
    ),
    (
        "smc-no-parent-potential",
        "incremental weight lacks − γ^n V(parent)/α",
        S,
        "log_weights + child_potential - potential",
        "log_weights + child_potential",
        1,
    ),
    (
        "smc-potential-not-reindexed",
        "parent potential not re-indexed on resampling",
        S,
        "value[index], potential[index]",
        "value[index], potential",
        1,
    ),
    (
        "smc-value-not-reindexed",
        "reported value not re-indexed on resampling",
        S,
        "value[index], potential[index]",
        "value, potential[index]",
        1,
    ),
    (
        "smc-prediction-not-reindexed",
        "cached x̂0 not re-indexed on resampling",
        S,
        "x[index], _select(prediction, index)",
        "x[index], prediction",
        1,
    ),
    (
        "per-seq-no-log-ratio",
        "per-sequence mode drops log p − log q",
        S,
        "log_w = child_potential if log_ratio is None else child_potential + log_ratio",
        "log_w = child_potential",
        1,
    ),
    (
        "per-seq-wrong-layout",
        "child j of sequence i read at j·B + i",
        S,
        "pick = torch.arange(b, device=device) * m + choice",
        "pick = choice * b + torch.arange(b, device=device)",
        1,
    ),
    (
        "per-seq-argmax",
        "greedy argmax instead of sampling ∝ w",
        S,
        "choice = gumbel_argmax(log_w.view(b, m), generator, dim=1)",
        "choice = log_w.view(b, m).argmax(dim=1)",
        1,
    ),
    (
        "sampled-value-parentheses",
        "α·lse(r/α) − log K",
        S,
        "alpha * (torch.logsumexp(rewards / alpha, dim=0) - math.log(k))",
        "alpha * torch.logsumexp(rewards / alpha, dim=0) - math.log(k)",
        1,
    ),
    (
        "guided-log-q-is-log-p",
        "guided proposal reports log q = log p",
        P,
        "_children_log_prob(log_p_rows, children), _children_log_prob(log_q_rows, children)",
        "_children_log_prob(log_p_rows, children), _children_log_prob(log_p_rows, children)",
        1,
    ),
    (
        "guided-children-from-p",
        "children drawn from p, weighted as if from q",
        P,
        "children = gumbel_argmax(log_q_rows[:, None]",
        "children = gumbel_argmax(log_p_rows[:, None]",
        1,
    ),
    (
        "guidance-sign",
        "gradient tilt away from reward",
        P,
        "log_x0 + guidance.scale * gradient",
        "log_x0 - guidance.scale * gradient",
        1,
    ),
    ("kl-weight-missing", "DAV-KL without (α_s − α_t)/(1 − α_t)", P, "return unmask * predictive", "return predictive", 1),
    (
        "kl-weight-over-alpha-t",
        "DAV-KL weight (α_s − α_t)/α_t",
        P,
        "unmask = ((alpha_s - alpha_t) / (1.0 - alpha_t))",
        "unmask = ((alpha_s - alpha_t) / alpha_t)",
        1,
    ),
    (
        "stay-inverted",
        "stay probability (1 − α_t)/(1 − α_s)",
        P,
        "stay = ((1.0 - alpha_s) / (1.0 - alpha_t))",
        "stay = ((1.0 - alpha_t) / (1.0 - alpha_s))",
        1,
    ),
    (
        "plug-in-overwrites-kept",
        "plug-in x̂0 replaces unmasked bases",
        P,
        "tokens_to_onehot(torch.where(masked, prediction.argmax(dim=-1), x))",
        "tokens_to_onehot(prediction.argmax(dim=-1))",
        1,
    ),
    (
        "transition-counts-staying-masked",
        "transition NLL also over positions that stay masked",
        P,
        "newly_unmasked = (x_t == MASK_INDEX) & (x_s != MASK_INDEX)",
        "newly_unmasked = x_t == MASK_INDEX",
        1,
    ),
    ("mstep-grid-shift", "transition_batch t = times[step + 1]", D, "t=times[step],", "t=times[step + 1],", 1),
    (
        "mstep-transitions-at-s",
        "transitions objective predicts at s",
        D,
        "prediction = process.predict(batch.x_t, batch.t, batch.context)",
        "prediction = process.predict(batch.x_t, batch.s, batch.context)",
        1,
    ),
    (
        "mstep-paper-at-s",
        "paper objective predicts at s",
        D,
        "prediction = process.predict(batch.x_t, batch.t, batch.context)",
        "prediction = process.predict(batch.x_t, batch.s, batch.context)",
        2,
    ),
    (
        "mstep-reference-at-s",
        "DAV-KL reference predicts at s",
        D,
        "process.predict(batch.x_t, batch.t, batch.context, network=reference)",
        "process.predict(batch.x_t, batch.s, batch.context, network=reference)",
        1,
    ),
    (
        "mstep-kl-t-s-swapped",
        "divergence called with (s, t)",
        D,
        "reference_prediction, batch.x_t, batch.t, batch.s)",
        "reference_prediction, batch.x_t, batch.s, batch.t)",
        1,
    ),
    (
        "paper-weight-1-minus-alpha",
        "paper weight (α_s − α_t)/(1 − α_t)",
        P,
        "(alpha_s - alpha_t) / alpha_t.clamp_min(1e-8)",
        "(alpha_s - alpha_t) / (1 - alpha_t).clamp_min(1e-8)",
        1,
    ),
    ("paper-skip-off-by-one", "skips one step too many", D, "batch.step >= round(skip)", "batch.step > round(skip)", 1),
    (
        "kl-weight-lambda-dropped",
        "λ not applied to the KL",
        D,
        'loss = loss + config.kl_weight * parts["prior_kl"]',
        'loss = loss + parts["prior_kl"]',
        1,
    ),
    (
        "nelbo-x0-not-clean",
        "nelbo fits x_s instead of the clean end",
        D,
        "x0=states[-1, sequence]",
        "x0=states[step + 1, sequence]",
        1,
    ),
    (
        "children-uniform-weights",
        "the children M-step ignores the selection weights",
        D,
        "weights = torch.softmax(batch.child_log_weights.float(), dim=1)",
        "weights = torch.full_like(batch.child_log_weights.float(), 1.0 / m)",
        1,
    ),
    (
        "recorded-potential-undiscounted",
        "recorded child values lack γ^n",
        S,
        "(config.discount**steps_left * child_value)",
        "(child_value)",
        1,
    ),
    ("selection-kl-no-log-m", "selection KL without log M", TR, "(log_norm + math.log(num_children))", "(log_norm)", 1),
    (
        "bisection-wrong-way",
        "the bisection moves α the wrong way",
        TR,
        "> target_kl:\n            low = middle",
        "< target_kl:\n            low = middle",
        1,
    ),
    (
        "stopper-no-restore",
        "early stopping keeps the last pass, not the best",
        FC,
        "                model.load_state_dict(self.best_state)\n",
        "                pass\n",
        1,
    ),
    ("keeper-last-not-best", "selection keeps the last eligible iteration", FC, "if score > self.score:", "if True:", 1),
    ("keeper-never-stops", "selection never stops the run", FC, ">= self.stop_patience", "> 10**9", 1),
    (
        "trust-region-alpha-unused",
        "the trust region solves α but the E-step runs at the configured one",
        EM,
        "return dataclasses.replace(config, reward_temperature=alpha), log",
        "return config, log",
        1,
    ),
    (
        "tilt-prior-ratio-dropped",
        "tilt_base='prior' leaves log p_prior − log p_θ out of the children's weights (the model is tilted)",
        S,
        "                log_ratio = anchor if log_ratio is None else log_ratio + anchor\n",
        "",
        1,
    ),
    (
        "prior-proposal-ignored",
        "proposal='prior' is ignored: the model draws and scores the children",
        S,
        "        network = proposer if network is None else network\n",
        "",
        1,
    ),
    (
        "greedy-pick",
        "the per-sequence search keeps its best child instead of sampling one by its weight",
        S,
        "                choice = gumbel_argmax(log_w.view(b, m), generator, dim=1)\n",
        "                choice = log_w.view(b, m).argmax(dim=1)\n",
        1,
    ),
    (
        "prior-proposal-ratio-kept",
        "proposal='prior' still adds log p_prior − log p_θ to weights of children the prior drew",
        S,
        'if config.tilt_base == "prior" and config.proposal == "model":',
        'if config.tilt_base == "prior":',
        1,
    ),
    (
        "replay-not-joined",
        "the buffer keeps earlier E-steps but the M-step fits the current one only",
        RP,
        "        if not self.parts:\n            return current\n",
        "        return current\n",
        1,
    ),
    (
        "replay-keeps-held-out",
        "held-out sequences enter the buffer (later M-steps train on what an earlier stopper judged on)",
        RP,
        "        keep[held_out_sequences.cpu()] = False\n",
        "",
        1,
    ),
    (
        "replay-held-out-from-replayed",
        "the held-out split draws from replayed sequences too",
        FC,
        "    batch = trajectory.states.shape[1] if current is None else current\n",
        "    batch = trajectory.states.shape[1]\n",
        1,
    ),
    (
        "pilot-full-weights",
        "the pilot of a prior-tilting search solves on the full weights, not the step between targets",
        TR,
        "stepping = reference is not None and previous is not None",
        "stepping = False",
        1,
    ),
    (
        "pilot-rounds-not-updated",
        "every pilot round re-runs at the configured α, not at the α the previous round solved",
        TR,
        "pilot = dataclasses.replace(config, reward_temperature=alpha,",
        "pilot = dataclasses.replace(config, reward_temperature=config.reward_temperature,",
        1,
    ),
    (
        "variance-weighting-inverted",
        "the variance step weighting divides by σ² instead of multiplying",
        D,
        "per_transition * process.step_variance(batch.t, batch.s)",
        "per_transition / process.step_variance(batch.t, batch.s)",
        1,
    ),
    (
        "dav-kl-anchor-is-the-model",
        "DAV-KL anchors to the model being trained instead of the frozen reference",
        D,
        "process.predict(batch.x_t, batch.t, batch.context, network=reference)",
        "process.predict(batch.x_t, batch.t, batch.context)",
        1,
    ),
    (
        "backtrack-keeps-rejected-model",
        "backtracking goes on from the rejected iteration's weights instead of the kept one's",
        EM,
        "            restore_kept(self.best, self.model, self.trainer.optimizers[0], broadcast)\n",
        "            pass\n",
        1,
    ),
    (
        "backtrack-alpha-from-rejected",
        "backtracking starts the pilot's step from the rejected iteration's α, not the kept one's",
        EM,
        "records = self.history[: self._restart if self._restart is not None else iteration]",
        "records = self.history[:iteration]",
        1,
    ),
    (
        "backtrack-step-not-halved",
        "backtracking restarts with the full trust-region step instead of halving it per rejection",
        EM,
        "target_kl = self.config.target_kl / 2**self._rejected",
        "target_kl = self.config.target_kl",
        1,
    ),
    (
        "resume-searches-the-finished-iteration",
        "on resume, the loader Lightning asks for the finished iteration runs its E-step again",
        EM,
        "        if self.current_epoch < len(self.history):\n",
        "        if False:\n",
        1,
    ),
    (
        "backtrack-counts-early-rejections",
        "iterations rejected before the first eligible one count as rejections (the step shrinks too early)",
        FC,
        "rejected = sum(1 for flag in flags[0 if start else flags.index(1.0) + 1 :] if flag == 0.0)",
        "rejected = sum(1 for flag in flags if flag == 0.0)",
        1,
    ),
    (
        "move-per-transition",
        "the M-step's move averaged per transition, not per path",
        ML,
        "return total / self.num_paths",
        "return total / len(self.pairs)",
        1,
    ),
    (
        "move-limit-keeps-outside",
        "the line search ends at the smallest scale found outside the bound",
        ML,
        "    interpolate_weights(model, meter.start_state, fitted, low)",
        "    interpolate_weights(model, meter.start_state, fitted, high)",
        1,
    ),
    (
        "move-limit-unused",
        "the loop measures each M-step's move but never bounds it",
        EM,
        "self._stopper.finish(self.model, self.config.mstep_max_kl)",
        "self._stopper.finish(self.model, None)",
        1,
    ),
    (
        "back-off-wrong-way",
        "an eligible scale brings the upper end down",
        BO,
        "        low = middle\n",
        "        high = middle\n",
        1,
    ),
    (
        "back-off-ignores-kept",
        "a scale is kept though the kept iteration scores higher",
        BO,
        "if score > best_score:",
        "if True:",
        1,
    ),
    (
        "back-off-ends-at-last-try",
        "the model is left at the last scale tried, not the one reported",
        BO,
        "    interpolate_weights(model, start, end, 0.0 if outcome.scale is None else outcome.scale)\n",
        "",
        1,
    ),
    (
        "back-off-from-prior",
        "the run's back-off starts at the prior even when an iteration was kept",
        AM,
        "start = best.weights if held else copy_state(prior)",
        "start = copy_state(prior)",
        1,
    ),
    (
        "back-off-first-rejected-only",
        "the run's back-off searches toward the first iteration after the kept one only",
        AM,
        "towards = [k for k in sorted(snapshots) if k > kept] if held else [min(snapshots)]",
        "towards = [kept + 1] if held else [min(snapshots)]",
        1,
    ),
    (
        "back-off-leaves-prior",
        "with nothing eligible anywhere the run ends at the prior instead of its last iteration",
        AM,
        "module.model.load_state_dict(start if held else snapshots[last])",
        "module.model.load_state_dict(start)",
        1,
    ),
]
TESTS = [
    "tests/test_align_search.py",
    "tests/test_align_distill.py",
    "tests/test_core_process.py",
    "tests/test_align_paper_mstep.py",
    "tests/test_estep_exact.py",
    "tests/test_align_mstep_control.py",
    "tests/test_dav_iterations_exact.py",
    "tests/test_move_limit.py",
    "tests/test_back_off.py",
]


def main(names: set[str] | None = None) -> list[dict]:
    files = sorted({path for _, _, path, _, _, _ in MUTATIONS})
    if subprocess.run(["git", "diff", "--quiet", "--", *files]).returncode != 0:
        raise SystemExit(f"one of {', '.join(files)} has uncommitted changes; mutate a clean tree")
    results = []
    for name, what, path, old, new, nth in MUTATIONS:
        if names and name not in names:
            continue
        text = open(path).read()
        parts = text.split(old)
        if len(parts) <= nth:
            results.append(dict(name=name, what=what, where=path, killed=None, by=["stale"]))
            print(json.dumps(results[-1]), flush=True)
            continue
        head = old.join(parts[:nth])
        started = time.time()
        try:
            with open(path, "w") as handle:
                handle.write(head + new + old.join(parts[nth:]))
            command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-rf", "--tb=no", *TESTS]
            run = subprocess.run(command, capture_output=True, text=True)
        finally:
            subprocess.run(["git", "checkout", "-q", "--", path], check=True)
        failed = sorted({line.split()[1] for line in run.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))})
        where = f"{path}:{head.count(chr(10)) + 1}"
        results.append(
            dict(name=name, what=what, where=where, killed=bool(failed), by=failed, seconds=round(time.time() - started, 1))
        )
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    return results


if __name__ == "__main__":
    main(set(sys.argv[1].split(",")) if len(sys.argv) > 1 else None)
