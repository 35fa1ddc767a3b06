"""The back-off of ``dnadav align --back-off N`` applied afterwards to a finished run made with
``--keep-iterations`` (issue 20: how much a run would have gained from it, without running it again).

    python bench/back_off_run.py RUN [--bisections 4] [--min-naturalness F] [--save FOLDER]

Reads the run's config (``align_config``), history and kept iterations and, when the last iteration was
rejected, searches the segments from the kept iteration (the prior when none was eligible) toward the
iterations after it exactly as ``align`` does at the end of a run
(``dnadav.jobs.align_metrics.back_off_rejected``: the run's own judge,
``dnadav.jobs.align_judge.run_judge``, on the same fixed seed). Prints one JSON line per scale
tried and one for the outcome; ``--save`` writes the model it keeps (with the run's config and the
selection note) to a new folder. The run's folder is not touched.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished align run made with --keep-iterations")
    parser.add_argument("--bisections", type=int, default=4)
    parser.add_argument("--save", type=Path, help="a new folder for the model kept")
    parser.add_argument("--reference", type=Path, help="the run's --reference file, when it was given one")
    parser.add_argument("--min-naturalness", type=float, help="the validation 3-mer floor (default: the run's own)")
    args = parser.parse_args()

    from dnadav.checkpoint_format import read_config
    from dnadav.core.fit_control import BestKeeper
    from dnadav.dna.checkpoint import load_denoiser, save_denoiser
    from dnadav.dna.config import AlignConfig
    from dnadav.jobs.align import kept_iterations
    from dnadav.jobs.align_judge import run_judge
    from dnadav.jobs.align_metrics import back_off_rejected, selection_note

    torch.set_grad_enabled(False)
    saved = read_config(args.run)
    floor = {} if args.min_naturalness is None else {"min_naturalness": args.min_naturalness}
    config = AlignConfig.from_dict({**saved["align_config"], "back_off": args.bisections, **floor})
    history = json.loads((args.run / "history.json").read_text())
    folders = dict(kept_iterations(args.run))
    last = len(history)
    if saved.get("reference") and args.reference is None:
        parser.error(f"{args.run} was judged on a reference file ({saved['reference']}): pass it with --reference")
    judge = run_judge(config, args.reference)
    if judge.select is None:
        parser.error(f"{args.run} ran without a naturalness floor: give one with --min-naturalness")
    # the kept iteration by the run's selection rule at this floor (the iterations themselves are the run's)
    scores = {i: judge.select(row) for i, row in enumerate(history, 1)}
    kept = max((i for i in scores if scores[i] is not None), key=scores.get, default=None)
    model, _ = load_denoiser(folders[last])
    snapshots = {k: load_denoiser(folder)[0].state_dict() for k, folder in folders.items() if k != last}
    best = BestKeeper(judge.select, config.stop_patience)
    if kept is not None:
        best.iteration, best.score, best.weights = kept, scores[kept], snapshots[kept]
    run = SimpleNamespace(best=best, history=history, model=model)
    backed = back_off_rejected(run, snapshots, judge.prior, judge.metrics_of, judge.select, config)
    if backed is None:
        print(json.dumps({"run": str(args.run), "kept": kept, "last": last, "back_off": "nothing to search"}))
        return
    shown = ("plain/eval_accessibility_accuracy", "plain/eval_specificity", "plain/reward_median", "select/kmer3_validation",
             "plain/kmer3_correlation", "plain/levenshtein_diversity")  # fmt: skip
    for toward, trace in backed.tried.items():
        for point in trace:
            rounded = {k: round(point[k], 4) for k in shown}
            print(json.dumps({"toward": toward, "scale": point["scale"], "eligible": point["eligible"], **rounded}))
    note = selection_note(run, config.min_naturalness, backed)
    if floor and args.min_naturalness != saved["align_config"]["min_naturalness"]:
        redone = f"`python bench/back_off_run.py RUN --min-naturalness {args.min_naturalness:g}`"
        note["why"] += f" (the back-off redone with {redone} after a run at floor {saved['align_config']['min_naturalness']:g})"
    print(json.dumps({"run": str(args.run), "kept": backed.start, "last": last, "toward": backed.toward, "scale": backed.scale,
                      "why": note["why"]}))  # fmt: skip
    if args.save:
        if args.save.exists():
            parser.error(f"{args.save} exists: give a new folder")
        save_denoiser(args.save, run.model, {**saved, "align_config": config.as_dict(), "selection": note})  # the floor used
        print(json.dumps({"saved": str(args.save), "kept_score": None if kept is None else best.score, "score": backed.score}))


if __name__ == "__main__":
    main()
