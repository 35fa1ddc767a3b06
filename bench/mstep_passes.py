"""Does the children M-step stop too early, or does more fitting of one E-step stop helping? (issue 20)

    python bench/mstep_passes.py --cell-type gm12878 --alpha 1.0 --sequences 256 --passes 12 --every 2
    python bench/mstep_passes.py --sequences 8 --steps 4 --passes 2 --every 1 --eval 16   # smoke run

One E-step of the prior's own search (``proposal="prior"``: the prior proposes and scores M children per
step, the kept child sampled by its weight; the margin objective of ``bench/align_celltypes.py``), its
sequences split 7 : 1 into training and held-out ones as the align M-step splits them
(``dnadav.core.fit_control.holdout_split``), then the children M-step (the default recipe's loss, Adam
lr ``--lr``, minibatches of ``--batch-size`` transitions, gradient norm clipped at 1) run for ``--passes``
passes from the prior with **no** early stop. Every ``--every`` passes: the held-out children loss (what
the align stopper reads) and the model's plain samples (``dnadav.jobs.align_metrics.plain_sample_metrics``,
``--eval`` samples, 50 steps; evaluation-oracle accessibility and specificity, reward-oracle median,
3-mer to the validation (chr2) and test (chr1) references). The E-step's own kept sequences are judged the
same way, as the target the model is fitted to. Rows go to ``--csv`` (default
docs/runs/mstep_passes_<cell>.csv); nothing in docs/benchmarks.md is written.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from align_celltypes import CELL_TYPES, margin_objective  # noqa: E402
from children_fit import children_pass, held_out_loss  # noqa: E402

from dnadav.core.distill import transition_pairs  # noqa: E402
from dnadav.core.fit_control import holdout_split  # noqa: E402
from dnadav.core.search import SearchConfig, search_process  # noqa: E402
from dnadav.dna.config import AlignConfig  # noqa: E402
from dnadav.dna.sampler import MaskedDiffusion  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LENGTH = 200
SHOWN = {
    "plain/eval_accessibility_accuracy": "acc",
    "plain/eval_specificity": "spec",
    "plain/reward_median": "reward_median",
    "select/kmer3_validation": "kmer3_valid",
    "plain/kmer3_correlation": "kmer3_test",
    "plain/levenshtein_diversity": "levenshtein",
}


def judging(cell_type: str):
    """What judging a model on ``cell_type`` needs, as the align log judges it: ``(prior, schedule,
    eval_oracle, reward_fn, eval_reward_fn, test_reference, validation_reference)`` — the shipped prior
    (App-Log-Lik), both oracles' margin objectives, the chr1 and chr2 3-mer references."""
    from dnadav.dna.checkpoint import load_denoiser, model_schedule
    from dnadav.evaluate.reference import reference_for_oracle, validation_reference
    from dnadav.loaders import load_oracle
    from dnadav.objectives import make_objective

    prior, prior_config = load_denoiser("dhs_prior")
    reward_oracle = load_oracle(cell_type, role="reward").eval()
    eval_oracle = load_oracle(cell_type, role="eval").eval()
    objective = margin_objective(cell_type)
    return (
        prior,
        model_schedule(prior_config),
        eval_oracle,
        make_objective(objective, oracle=reward_oracle).reward,
        make_objective(objective, oracle=eval_oracle).reward,
        reference_for_oracle(eval_oracle),
        validation_reference(reward_oracle),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell-type", choices=CELL_TYPES, default="gm12878")
    parser.add_argument("--alpha", type=float, default=1.0, help="reward temperature of the E-step (nats)")
    parser.add_argument("--sequences", type=int, default=256, help="E-step sequences B (1/8 held out)")
    parser.add_argument("--children", type=int, default=16)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--passes", type=int, default=12)
    parser.add_argument("--every", type=int, default=2, help="judge every this many passes")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval", type=int, default=512, help="plain samples per judgement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ema", type=float, default=None, help="also judge an exponential moving average of the weights (decay per step)"
    )
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    csv_path = args.csv or ROOT / "docs" / "runs" / f"mstep_passes_{args.cell_type}.csv"

    from dnadav.jobs.align_metrics import metrics_of_tokens, plain_sample_metrics

    torch.manual_seed(args.seed)
    prior, schedule, eval_oracle, reward_fn, eval_reward_fn, test_reference, valid_reference = judging(args.cell_type)
    judge_config = AlignConfig(length=LENGTH, eval_sequences=args.eval, eval_steps=50)

    def judge(model) -> dict[str, float]:
        generator = torch.Generator().manual_seed(10_000 + args.seed)  # one draw for every judgement
        with torch.no_grad():
            got = plain_sample_metrics(
                model.eval(), prior, reward_fn, eval_oracle, test_reference, judge_config, schedule, generator,
                eval_reward_fn=eval_reward_fn, validation_reference=valid_reference,
            )  # fmt: skip
        return {label: float(got[key]) for key, label in SHOWN.items() if key in got}

    frozen = copy.deepcopy(prior).eval().requires_grad_(False)
    config = SearchConfig(
        num_children=args.children, reward_temperature=args.alpha, num_steps=args.steps,
        record_children=True, tilt_base="prior", proposal="prior",
    )  # fmt: skip
    started = time.perf_counter()
    with torch.no_grad():
        result = search_process(
            MaskedDiffusion(frozen, LENGTH, schedule), reward_fn, args.sequences, config,
            torch.Generator().manual_seed(args.seed), reference=frozen,
        )  # fmt: skip
    estep_seconds = time.perf_counter() - started
    trajectory = result.trajectory
    print(f"E-step {estep_seconds:.0f} s, reward median {result.rewards.median():.2f}", flush=True)

    got = metrics_of_tokens(
        result.sequences, prior, reward_fn, eval_oracle, test_reference, schedule, eval_reward_fn, valid_reference
    )
    target = {label: float(got[key]) for key, label in SHOWN.items() if key in got}
    rows = [{"model": "E-step sequences (the target)", "passes": float("nan"), "held_out_loss": float("nan"), **target}]
    print(rows[-1], flush=True)

    pairs = transition_pairs(trajectory)
    train_pairs, held_pairs = holdout_split(pairs, args.sequences, 0.125, torch.Generator().manual_seed(args.seed))
    model = copy.deepcopy(prior)
    process = MaskedDiffusion(model, LENGTH, schedule)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    loss = held_out_loss(process, trajectory, held_pairs, args.alpha)
    rows.append({"model": "prior", "passes": 0, "held_out_loss": loss, **judge(model)})
    print(rows[-1], flush=True)
    average = copy.deepcopy(model) if args.ema is not None else None

    def update_average() -> None:
        with torch.no_grad():
            for kept, live in zip(average.parameters(), model.parameters(), strict=True):
                kept.lerp_(live, 1.0 - args.ema)

    for done in range(1, args.passes + 1):
        children_pass(
            process, trajectory, train_pairs, optimizer, args.alpha, args.batch_size, generator,
            after_step=update_average if average is not None else None,
        )  # fmt: skip
        if done % args.every == 0 or done == args.passes:
            loss = held_out_loss(process, trajectory, held_pairs, args.alpha)
            rows.append({"model": "children M-step", "passes": done, "held_out_loss": loss, **judge(model)})
            print(rows[-1], flush=True)
            if average is not None:
                loss = held_out_loss(MaskedDiffusion(average, LENGTH, schedule), trajectory, held_pairs, args.alpha)
                rows.append(
                    {"model": f"children M-step, EMA {args.ema:g}", "passes": done, "held_out_loss": loss, **judge(average)}
                )
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False)
    print(table.round(4).to_string())
    print(f"{(time.perf_counter() - started) / 60:.1f} min; rows in {csv_path}")


if __name__ == "__main__":
    main()
