"""Align the shipped prior to K562, GM12878 or hESC with a specificity objective, and measure models.

    python bench/align_celltypes.py train k562 --out runs/k562_aligned [--objective "..."] [--threads 2]
    python bench/align_celltypes.py measure k562 --model runs/k562_aligned --n 640 [--json out.json]
    python bench/align_celltypes.py table --out docs/celltypes.md  runs/*.json

``train`` builds ``dnadav.align.trainer.DAVModule`` with the objective's reward (default
``<target> - max(<the three other cell types>)``, the log-odds margin over the strongest off-target,
reward oracle) and drives the existing EM loop (``dnadav.align.run.fit_em``) with the default
``AlignConfig`` (3 iterations, 64 sequences × 16 children × 25 steps, α = 0.5), so the only change
from ``dnadav align`` is the reward. A constrained objective (``s.t.``) gets its multipliers updated
once per EM iteration from the E-step's final sequences (``LagrangianDAVModule`` below).

``measure`` draws plain samples (no search, 50 steps, seed 0, as ``dnadav design``) and reports, with
the *evaluation* oracle: target accessibility (p(target) > 0.5), specificity (p(target) > 0.5 and every
other cell type < 0.1), median margin, 3-mer correlation to the top-500 held-out (chr1) sequences of
the target cell type (ranked by the evaluation oracle), mean pairwise Levenshtein. ``--model prior``
measures the pretrained prior, ``--model real`` the real held-out (test split) sequences of the cell type.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

CELL_TYPES = {"hepg2": "HepG2", "k562": "K562", "gm12878": "GM12878", "hesc": "hESC"}


def default_objective(target: str) -> str:
    others = [n for n in CELL_TYPES if n != target]
    return f"{target} - max({','.join(others)})"


def _dav_module_class():
    from dnadav.align.trainer import DAVModule
    from dnadav.seq import tokens_to_onehot

    class LagrangianDAVModule(DAVModule):
        """DAVModule that adapts a LagrangianObjective's multipliers after every E-step."""

        def e_step(self):
            trajectory = super().e_step()
            objective = getattr(self._frozen["reward_fn"], "__self__", None)
            if hasattr(objective, "update"):
                record = objective.update(tokens_to_onehot(trajectory.final).to(self.device))
                self._search_log.update({f"objective/{k}": v for k, v in record.items()})
            return trajectory

    return LagrangianDAVModule


def metrics_of(model_or_tokens, target: str, eval_oracle, reference, prior=None, schedule=None, n=64, steps=25, generator=None):
    """The per-iteration (and final) metrics of plain samples, target-aware."""
    from dnadav.diffusion.sampler import sample
    from dnadav.evaluate.metrics import kmer_correlation, mean_pairwise_levenshtein
    from dnadav.objectives import class_logits, specificity_report
    from dnadav.seq import tokens_to_onehot, tokens_to_strings

    if isinstance(model_or_tokens, torch.Tensor):
        tokens = model_or_tokens
    else:
        tokens = sample(model_or_tokens, n, 200, steps, schedule, generator)
    report = specificity_report(class_logits(eval_oracle, tokens_to_onehot(tokens)), eval_oracle.class_names, target)
    strings = tokens_to_strings(tokens.cpu())
    return {
        "target_accessibility": float((report.probabilities[CELL_TYPES[target]] > 0.5).mean()),
        "specificity": report.specificity,
        "margin_median": report.margin_median,
        **{f"p_{k.lower()}_median": float(torch.tensor(v).median()) for k, v in report.probabilities.items()},
        "kmer3_correlation": float(kmer_correlation(strings, reference, k=3)),
        "levenshtein_diversity": float(mean_pairwise_levenshtein(strings)),
    }


def train(args) -> None:
    from dnadav.align.run import fit_em
    from dnadav.align.trainer import AlignConfig
    from dnadav.diffusion.checkpoint import load_denoiser, resolve_model_dir, save_denoiser
    from dnadav.diffusion.schedule import make_schedule
    from dnadav.evaluate.reference import reference_sequences
    from dnadav.io import atomic_write_text, write_manifest
    from dnadav.objectives import make_objective
    from dnadav.oracles import load_oracle

    torch.set_num_threads(args.threads)
    target = args.cell_type
    text = args.objective or default_objective(target)
    out = Path(args.out)
    config = AlignConfig(oracle=target, iterations=args.iterations, seed=args.seed)
    schedule = make_schedule("loglinear")
    prior, prior_config = load_denoiser(config.prior)
    model = copy.deepcopy(prior).train()
    objective = make_objective(text, role="reward").eval()
    eval_oracle = load_oracle(target, role="eval").eval()
    reference = reference_sequences(CELL_TYPES[target], oracle=target)
    evaluate = lambda m, g: metrics_of(m, target, eval_oracle, reference, schedule=schedule, generator=g)  # noqa: E731
    module = _dav_module_class()(
        model, objective.reward, config, schedule, evaluate=evaluate, frozen_modules=(prior, eval_oracle)
    )
    started = time.time()
    fit_em(module, out, devices=1, accelerator="cpu", progress=False)
    aligned = module.model.cpu().eval()
    align_config = {**config.as_dict(), "objective": text}
    save_denoiser(
        out,
        aligned,
        {
            "schedule": "loglinear",
            "length": config.length,
            "aligned_from": str(resolve_model_dir(config.prior)),
            "align_config": align_config,
            "objective": text,
            "target": CELL_TYPES[target],
            "prior_config": prior_config.get("train_config"),
        },
    )
    atomic_write_text(out / "history.json", json.dumps(module.history, indent=2) + "\n")
    write_manifest(
        out / "manifest.json",
        config=align_config,
        checkpoints=[out / "model.pt", resolve_model_dir(config.prior) / "model.pt"],
        extra={"wall_minutes_this_session": (time.time() - started) / 60, "command": " ".join(sys.argv)},
    )
    print(json.dumps(module.history[-1], indent=2))


def measure(args) -> None:
    from dnadav.design import design

    from dnadav.data.dhs import load_dhs
    from dnadav.evaluate.reference import reference_sequences
    from dnadav.oracles import load_oracle
    from dnadav.seq import strings_to_tokens

    torch.set_num_threads(args.threads)
    target = args.cell_type
    eval_oracle = load_oracle(target, role="eval").eval()
    reference = reference_sequences(CELL_TYPES[target], oracle=target)
    started = time.time()
    if args.model == "real":
        table = load_dhs("test", CELL_TYPES[target])
        strings = table["sequence"].tolist()
        if len(strings) > args.n:
            order = torch.randperm(len(strings), generator=torch.Generator().manual_seed(args.seed))[: args.n]
            strings = [strings[i] for i in order.tolist()]
        tokens = strings_to_tokens(strings)
    else:
        model = "dhs_prior" if args.model == "prior" else args.model
        tokens = strings_to_tokens(design(target, args.n, model=model, num_steps=args.steps, seed=args.seed).sequences)
    row = {"cell_type": CELL_TYPES[target], "model": args.model, "n": len(tokens)}
    row.update(metrics_of(tokens, target, eval_oracle, reference))
    row["seconds"] = time.time() - started
    row["command"] = "python bench/align_celltypes.py " + " ".join(sys.argv[1:])
    text = json.dumps(row, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")


def table(args) -> None:
    rows = [json.loads(Path(p).read_text()) for p in args.rows]
    head = "| cell type | sequences | n | target acc. | specificity | margin (nats) | 3-mer corr | Levenshtein |\n|---|---|---|---|---|---|---|---|"
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['cell_type']} | {r['model']} | {r['n']} | {100 * r['target_accessibility']:.1f}% | {100 * r['specificity']:.1f}% | "
            f"{r['margin_median']:.2f} | {r['kmer3_correlation']:.3f} | {r['levenshtein_diversity']:.1f} |"
        )
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("cell_type", choices=sorted(CELL_TYPES))
    t.add_argument("--out", required=True)
    t.add_argument("--objective", default=None)
    t.add_argument("--iterations", type=int, default=3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    m = sub.add_parser("measure")
    m.add_argument("cell_type", choices=sorted(CELL_TYPES))
    m.add_argument("--model", required=True, help="model folder, 'prior' or 'real'")
    m.add_argument("--n", type=int, default=640)
    m.add_argument("--steps", type=int, default=50)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--json", default=None)
    b = sub.add_parser("table")
    b.add_argument("rows", nargs="+")
    args = parser.parse_args(argv)
    {"train": train, "measure": measure, "table": table}[args.command](args)


if __name__ == "__main__":
    main()
