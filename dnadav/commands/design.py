"""``dnadav design``: the main job — write scored designs for an oracle to FASTA."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dnadav.errors import InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("design", help="design sequences for an oracle and write scored FASTA")
    parser.add_argument("--oracle", default="hepg2", help="oracle name (hepg2, k562, gm12878, hesc) or folder (default hepg2)")
    parser.add_argument("--n", type=int, default=128, help="number of sequences (default 128)")
    parser.add_argument("--length", type=int, default=200, help="sequence length in bp (default 200)")
    parser.add_argument("--out", required=True, type=Path, help="output FASTA; a manifest JSON is written beside it")
    parser.add_argument("--model", default=None, help="model folder or name (default: the shipped aligned model for --oracle)")
    parser.add_argument("--steps", type=int, default=50, help="reverse diffusion steps (default 50)")
    parser.add_argument(
        "--search",
        type=int,
        default=0,
        metavar="M",
        help="DAV posterior: run the E-step search with M candidates per step (default 0: plain sampling)",
    )
    parser.add_argument("--temperature", type=float, default=0.5, help="reward temperature α for --search (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (bit-reproducible; default 0)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise InputError(f"--n must be ≥ 1; got {args.n}")
    if args.length < 1 or args.steps < 1 or args.search < 0:
        raise InputError("--length and --steps must be ≥ 1 and --search ≥ 0")
    if args.temperature <= 0:
        raise InputError(f"--temperature must be > 0; got {args.temperature}")
    from dnadav.io import check_writable

    out = check_writable(args.out, args.force)
    started = time.perf_counter()

    from dnadav.data import write_fasta
    from dnadav.design import default_model_for, design
    from dnadav.io import write_manifest
    from dnadav.oracles import load_oracle

    oracles = (load_oracle(args.oracle, role="reward"), load_oracle(args.oracle, role="eval"))  # fail before any work
    if args.model is None and not default_model_for(args.oracle)[1] and not args.quiet:
        print(
            f"dnadav design: notice: no aligned model is shipped for oracle {args.oracle!r}; sampling the "
            "pretrained prior (run `dnadav align --oracle ...` and pass --model)",
            file=sys.stderr,
        )
    progress = None
    if not args.quiet:
        from tqdm import tqdm

        batches = -(-args.n // 128)
        progress = tqdm(total=args.steps * batches, desc="designing", unit="step", file=sys.stderr)
    result = design(
        args.oracle,
        args.n,
        args.length,
        args.model,
        args.steps,
        args.search,
        args.temperature,
        args.seed,
        on_step=(lambda k: progress.update(1)) if progress else None,
        oracles=oracles,
    )
    if progress:
        progress.close()
    descriptions = [
        {"reward": round(float(r), 4), "eval": round(float(e), 4), "eval_prob": round(float(p), 4)}
        for r, e, p in zip(result.reward, result.eval_reward, result.eval_probability)
    ]
    write_fasta(out, result.ids, result.sequences, descriptions, force=True)
    wall = time.perf_counter() - started
    write_manifest(
        out.with_suffix(out.suffix + ".manifest.json"),
        config={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "run"},
        checkpoints=[result.model_dir / "model.pt"],
        extra={
            "timings": {**result.timings, "wall_seconds": wall},
            "used_aligned_model": result.used_aligned_model,
            "search_stats": result.search_stats,
            "summary": {
                "reward_median": float(result.reward.median()),
                "eval_median": float(result.eval_reward.median()),
                "eval_accessible_fraction": float((result.eval_probability > 0.5).float().mean()),
            },
        },
    )
    if not args.quiet:
        print(
            f"dnadav design: wrote {args.n} sequences to {out} in {wall:.1f} s "
            f"(median reward {float(result.reward.median()):.2f}, median eval {float(result.eval_reward.median()):.2f}, "
            f"eval-accessible {float((result.eval_probability > 0.5).float().mean()):.0%})",
            file=sys.stderr,
        )
    return 0
