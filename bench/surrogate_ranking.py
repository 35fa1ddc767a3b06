"""Could a reward surrogate learnt from one E-step's labels stand in for the oracle? (issue 20, HepG2, the DHS prior)

At the cpu profile's training budget every reward call labels one whole plain path (the importance E-step,
``bench/dav_budget.py``), and most of the labels go unused: 1,024 paths are scored and 256 resampled. A
surrogate fitted to all the labels would let an E-step rank many more of the model's own paths at no reward
call. This measures how well it would rank them: ``2·--paths`` plain paths of the prior (T = 16, seed
``--seed``), each scored by the reward oracle's ``softmin(hepg2, 0)``; ridge regressions (α by leave-one-out
over 10⁻²…10⁴) fitted on the first half and judged on the second by the Spearman correlation of predicted
and oracle rewards, and by the oracle's mean reward over the 100 test paths each ranks first, against the
oracle's own top 100 and the mean of all. Features: counts of every k-mer on both strands (k = 4, 5, 6; a
gapless relative of the gkm-SVM that DHS classifiers are built on) and the prior network's last hidden layer
at t = 0, mean- and max-pooled over positions.

    python bench/surrogate_ranking.py [--paths 1024] [--seed 0] [--no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import RidgeCV

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmarks_md import machine, write_section  # noqa: E402
from dav_budget import ALLOCATIONS  # noqa: E402

from dnadav.core.protocol import sample_process  # noqa: E402
from dnadav.dna.sampler import MaskedDiffusion  # noqa: E402
from dnadav.dna.tokens import reverse_complement  # noqa: E402
from dnadav.evaluate.metrics import kmer_counts, spearman  # noqa: E402
from dnadav.jobs.align_judge import run_judge  # noqa: E402

STEPS = 16
TOP = 100


def both_strands_kmer_counts(tokens: torch.Tensor, k: int) -> np.ndarray:
    """Each sequence's counts of the 4^k k-mers over ``tokens [N, L]`` and their reverse complements -> ``[N, 4^k]``."""
    return kmer_counts(tokens, k, per_sequence=True) + kmer_counts(reverse_complement(tokens), k, per_sequence=True)


@torch.no_grad()
def prior_features(network: torch.nn.Module, tokens: torch.Tensor) -> np.ndarray:
    """The denoiser's last residual block output at t = 0 for clean ``tokens [N, L]`` (read by a forward hook
    on the network's own forward), mean- and max-pooled over positions -> ``[N, 2·channels]``."""
    network.eval()
    seen = []
    hook = network.blocks[-1].register_forward_hook(lambda module, inputs, output: seen.append(output))
    try:
        network(tokens, torch.zeros(tokens.shape[0]))
    finally:
        hook.remove()
    return torch.cat([seen[0].mean(-1), seen[0].amax(-1)], dim=1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=1024, help="labelled paths to fit on (as many again are judged)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    config = dataclasses.replace(ALLOCATIONS["is_k4_t3_kl"].config(), seed=args.seed)
    judge = run_judge(config)
    process = MaskedDiffusion(judge.prior, config.length, judge.schedule)
    tokens = sample_process(process, 2 * args.paths, STEPS, torch.Generator().manual_seed(args.seed + 11))
    with torch.no_grad():
        rewards = judge.reward_fn(process.decode(tokens)).float().numpy()
    train, test = slice(0, args.paths), slice(args.paths, 2 * args.paths)
    oracle_top = float(np.sort(rewards[test])[-TOP:].mean())
    features = {f"{k}-mer counts, both strands": lambda k=k: both_strands_kmer_counts(tokens, k) for k in (4, 5, 6)}
    features["prior's last hidden layer (t = 0), mean and max"] = lambda: prior_features(judge.prior, tokens)
    rows = []
    for name, make in features.items():
        values = make()
        fitted = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(values[train], rewards[train])
        predicted = fitted.predict(values[test])
        top = float(rewards[test][np.argsort(-predicted)[:TOP]].mean())
        rows.append({"features": name, "dims": values.shape[1], "spearman": spearman(predicted, rewards[test]), "top_mean": top})
        print(json.dumps(rows[-1]), flush=True)
    lines = [
        f"| features | dims | Spearman (test) | mean reward of its top {TOP} |",
        "|---|---|---|---|",
        *(f"| {r['features']} | {r['dims']} | {r['spearman']:.3f} | {r['top_mean']:.2f} |" for r in rows),
        f"| the oracle itself | | 1 | {oracle_top:.2f} |",
        f"| no ranking (all {args.paths} test paths) | | 0 | {float(rewards[test].mean()):.2f} |",
    ]
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        about = __doc__.split("\n\n")[1]
        command = f"python bench/surrogate_ranking.py --paths {args.paths} --seed {args.seed}"
        body = f"Command: `{command}`. Machine: {machine()}.\n{about}\n\n{table}\n"
        write_section("A reward surrogate from one E-step's labels (issue 20)", body)


if __name__ == "__main__":
    main()
