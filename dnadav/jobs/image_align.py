"""DAV over an image pipeline: the same ``DAVModule`` / ``fit_em`` / ``search_process`` /
``distill_loss`` as DNA, with a ``GaussianDDIM`` process around the UNet being aligned.

The run folder holds ``checkpoints/last.ckpt`` (resume), ``baseline.json`` (plain samples of the
reference), ``history.json``, the aligned ``unet/`` (LoRA merged) with ``aligned.json`` naming the
base pipeline (so ``--pipeline RUN`` samples from it), and ``samples/`` (plain samples after).
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dnadav.errors import InputError
from dnadav.jobs.image_judge import DigitsJudge, check_min_realism, realism_floor, selection_note, selects
from dnadav.jobs.image_options import ImageOptions
from dnadav.jobs.options import option

__all__ = ["ImageAlignOptions", "align_images", "em_config"]


@dataclass
class ImageAlignOptions(ImageOptions):
    iterations: int = option(6, "EM iterations, at most (the realism floor keeps the best eligible one)")
    images: int = option(48, "E-step images per iteration")
    children: int = option(8, "M children per image per step", metavar="M")
    kl_weight: float = option(0.0, "λ: KL of each step to the frozen reference (DAV-KL; 0: none)")
    objective: str = option(
        "children",
        "M-step loss (children: all M children weighted by the search's choice)",
        choices=["transitions", "nelbo", "children"],
    )
    step_weighting: str = option(
        "variance",
        "per-step weight of the M-step (variance: each Gaussian step's NLL times σ²)",
        choices=["likelihood", "variance"],
    )
    inner_epochs: int = option(3, "M-step passes per iteration")
    batch_size: int = option(128, "transitions per M-step batch")
    lr: float = option(1e-3, "learning rate of the M-step")
    gradient_clip: float | None = option(1.0, "max gradient norm of the M-step", type=float)
    mstep_average: float = option(
        0.5,
        "M-step: keep the mean of the iterates of this last fraction of its steps (of each pass with --holdout): tail "
        "averaging, in [0, 1]; 0: the last iterate (docs/concepts.md)",
    )
    holdout: float = option(0.0, "fraction of E-step images held out to stop each M-step (0: none)")
    patience: int = option(1, "M-step passes without held-out gain before stopping (with --holdout)")
    target_kl: float | None = option(
        4.0,
        "trust region: solve α per iteration for this selection KL (nats/path; halved per rejection; 0: off, α = --temperature)",
        type=float,
    )
    pilot_images: int = option(8, "pilot search size for --target-kl")
    tilt_base: str = option(
        "model",
        "whose steps each E-step tilts: model (the current one; iterations compound) or prior (the frozen "
        "reference; iterations converge to its per-step tilt; docs/concepts.md)",
        choices=["model", "prior"],
    )
    proposal: str = option(
        "model",
        "who draws each E-step's children: model (the current one) or prior (the frozen reference: the E-step is its "
        "per-step tilt whatever the model; needs --tilt-base prior; docs/concepts.md)",
        choices=["model", "prior"],
    )
    replay: int = option(
        0,
        "the M-step also fits the training images of this many earlier E-steps, reweighted at the iteration's α "
        "(needs --tilt-base prior and the children M-step; docs/concepts.md)",
    )
    lora_rank: int = option(0, "LoRA rank on the attention projections (0 = full fine-tuning)")
    eval_images: int | None = option(
        None, "plain samples scored after every iteration (default: 256 in the digits world, 64 otherwise)", type=int
    )
    min_realism: str = option(
        "reference",
        "digits world: keep the best iteration (plain reward) whose realism under the validation classifiers is ≥ this "
        "('reference': the reference model's own; a share in [0, 1]; 'off': keep the last) and diversity ≥ real digits'",
    )
    gradient_checkpointing: str = option("auto", "auto = on for GPU", choices=["auto", "on", "off"])
    accelerator: str = option("auto", "cpu, gpu or auto")
    devices: str = option("1", "devices (a number, or auto)")
    quiet: bool = option(False, "no progress bar")

    def check(self) -> None:
        super().check()
        if self.children < 1:
            raise InputError("--children M must be ≥ 1 for align")
        if not self.reward:
            raise InputError("align needs --reward NAME")
        if self.gradient_clip is not None and not (math.isfinite(self.gradient_clip) and self.gradient_clip > 0):
            raise InputError(f"--gradient-clip must be a finite number > 0; got {self.gradient_clip}")
        if self.target_kl is not None and not (math.isfinite(self.target_kl) and self.target_kl >= 0):
            raise InputError(f"--target-kl must be a finite number ≥ 0 (0: off); got {self.target_kl}")
        if not 0 <= self.mstep_average <= 1:  # nan fails too
            raise InputError(f"--mstep-average must be a fraction in [0, 1]; got {self.mstep_average}")
        if not 0 <= self.holdout < 1:
            raise InputError(f"--holdout must be a fraction in [0, 1); got {self.holdout}")
        if self.holdout > 0 and self.images < 2:
            raise InputError("--holdout needs --images ≥ 2 (one image is held out)")
        if self.eval_images is not None and self.eval_images < 2:
            raise InputError(f"--eval-images must be ≥ 2; got {self.eval_images}")
        check_min_realism(self.min_realism, self.reward)
        for flag, value in (("--patience", self.patience), ("--pilot-images", self.pilot_images)):
            if value < 1:
                raise InputError(f"{flag} must be ≥ 1; got {value}")


def em_config(options: ImageAlignOptions, search, distill):
    """The core's ``EMConfig`` of an image align run: the E-step ``search``, the M-step ``distill`` and
    the loop settings of ``options`` (held-out stopping, trust region, gradient clip; with a realism
    floor, backtracking past rejected iterations)."""
    from dnadav.core.config import EMConfig

    return EMConfig(
        iterations=options.iterations,
        sequences_per_iteration=options.images,
        search=search,
        distill=distill,
        inner_epochs=options.inner_epochs,
        batch_size=options.batch_size,
        lr=options.lr,
        gradient_clip=options.gradient_clip,
        seed=options.seed,
        target_kl=options.target_kl or None,  # 0: off
        pilot_sequences=options.pilot_images,
        holdout_fraction=options.holdout,
        patience=options.patience,
        mstep_average=options.mstep_average,
        replay=options.replay,
        backtrack=selects(options),
    )


def _plain_images(process, num: int, steps: int, generator: torch.Generator, context) -> torch.Tensor:
    from dnadav.core.protocol import sample_process

    with torch.no_grad():
        return process.decode(sample_process(process, num, steps, generator, context)).float()


def align_images(options: ImageAlignOptions, resume: bool = True) -> dict:
    """Run DAV on the image model; returns the last iteration's record (plain-sample metrics).
    Every input (options, pipeline folder, reward) is checked before ``options.out`` is created, and a
    failed run removes the folder again if it created it."""
    from dnadav.core.distill import DistillConfig
    from dnadav.core.search import SearchConfig
    from dnadav.image.pipeline import load_pipeline
    from dnadav.image.rewards import chunked, make_reward
    from dnadav.jobs.image_sample import check_out, created_folder

    options.check()
    out = Path(options.out)
    check_out(out, True, "aligned.json")  # a file, or under one (a finished run is the command's to refuse)
    cuda = options.accelerator in ("gpu", "cuda") or (options.accelerator == "auto" and torch.cuda.is_available())
    pipeline = load_pipeline(options.pipeline, "cuda" if cuda else "cpu", torch.float16 if options.fp16 else torch.float32)
    if options.fp16 and options.lora_rank == 0:
        raise InputError("--fp16 needs --lora-rank > 0 (full fine-tuning in float16 is unstable)")
    reward_fn = make_reward(options.reward, options.reward_weights)
    if isinstance(reward_fn, torch.nn.Module):
        reward_fn.to("cuda" if cuda else "cpu")
    try:
        search = SearchConfig(num_children=options.children, reward_temperature=options.temperature, num_steps=options.steps,
                              mode=options.mode, tilt_base=options.tilt_base, proposal=options.proposal,
                              record_children=options.objective == "children" or bool(options.target_kl))  # fmt: skip
        distill = DistillConfig(objective=options.objective, kl_weight=options.kl_weight, step_weighting=options.step_weighting)
        config = em_config(options, search, distill)  # checks how its fields go together (replay, mstep bounds)
    except ValueError as error:
        raise InputError(str(error)) from None
    with created_folder(out):
        return _fit_and_save(options, out, pipeline, reward_fn, chunked(reward_fn, options.max_batch), config, cuda, resume)


def _fit_and_save(
    options: ImageAlignOptions, out: Path, pipeline, reward_module, reward_fn, config, cuda: bool, resume: bool
) -> dict:
    """The EM run of ``align_images`` into the existing folder ``out`` and what it writes there."""
    from dnadav.core.em import DAVModule
    from dnadav.core.fit import fit_em
    from dnadav.core.ranks import stream_seed
    from dnadav.image.lora import AdaptersOff, add_lora, merged_unet
    from dnadav.image.outputs import contact_sheet
    from dnadav.image.pipeline import recorded_base
    from dnadav.image.prompts import ANIMALS, draw_prompts, read_prompts
    from dnadav.image.rewards import target_digit
    from dnadav.io import atomic_write_text, current_command, save_pretrained, write_manifest

    if options.lora_rank > 0:
        model = add_lora(pipeline.unet, options.lora_rank)
        reference = AdaptersOff(model)
    else:
        model = copy.deepcopy(pipeline.unet).requires_grad_(True)
        reference = pipeline.unet
    if options.gradient_checkpointing == "on" or (options.gradient_checkpointing == "auto" and cuda):
        model.enable_gradient_checkpointing()
    model.train()
    process = pipeline.process(model, eta=options.eta, guidance_scale=options.guidance_scale, max_batch=options.max_batch)
    prompt_list = (read_prompts(options.prompts) if options.prompts else list(ANIMALS)) if pipeline.conditional else None

    def make_context(num: int, generator: torch.Generator):
        if prompt_list is None:
            return None
        return pipeline.encode_prompts(draw_prompts(prompt_list, num, generator))

    digit = target_digit(options.reward)
    eval_count = options.eval_images or (64 if digit is None else 256)
    judge = None if digit is None else DigitsJudge(digit)

    def metrics(network_process, generator: torch.Generator, searched: torch.Tensor | None) -> dict[str, float]:
        device = network_process.device
        context_generator = torch.Generator().manual_seed(stream_seed(options.seed, 0, 0, 5))
        context = make_context(eval_count, context_generator)
        images = _plain_images(network_process, eval_count, options.steps, generator,
                               None if context is None else context.to(device))  # fmt: skip
        with torch.no_grad():
            record = {"plain/reward_mean": float(reward_fn(images).float().mean())}
        if judge is not None:
            record.update(judge.plain(images.cpu(), None if searched is None else searched.cpu()))
        return record

    started = time.time()
    baseline = json.loads((out / "baseline.json").read_text()) if (out / "baseline.json").exists() and resume else {}
    if not baseline or (selects(options) and "select/realism_valid" not in baseline):
        reference_process = pipeline.process(eta=options.eta, guidance_scale=options.guidance_scale, max_batch=options.max_batch)
        if options.lora_rank > 0:
            reference_process.network = reference
            reference_process._device = process.device
        generator = torch.Generator().manual_seed(stream_seed(options.seed, 0, 0, 3))
        with torch.no_grad():
            baseline = metrics(reference_process, generator, None)
        atomic_write_text(out / "baseline.json", json.dumps(baseline, indent=2) + "\n")
    select, floor = realism_floor(options, baseline, judge) if selects(options) else (None, None)
    module_box: list[DAVModule] = []

    def evaluate(network, generator: torch.Generator) -> dict[str, float]:
        module = module_box[0]
        searched = process.decode(module.trajectory.final).float() if module.trajectory is not None else None
        record = metrics(process, generator, searched)
        with torch.no_grad():
            record["estep/searched_reward_mean"] = float(reward_fn(searched).float().mean())
        if judge is not None:
            record.update(judge.searched(searched.cpu()))
        return record

    frozen = [m for m in (pipeline.vae, pipeline.text_encoder, reward_module) if isinstance(m, torch.nn.Module)]
    needs_prior = options.kl_weight > 0 or options.tilt_base == "prior"
    module = DAVModule(model, reward_fn, config, prior=reference if needs_prior else None,
                       evaluate=evaluate,
                       frozen_modules=frozen + ([reference] if isinstance(reference, torch.nn.Module) else []),
                       process=process, make_context=make_context, select=select)  # fmt: skip
    module_box.append(module)
    accelerator = "gpu" if cuda else "cpu"
    devices = options.devices if options.devices == "auto" else int(options.devices)
    trainer = fit_em(module, out, devices=devices, accelerator=accelerator, resume=resume, progress=not options.quiet)
    if trainer.global_rank != 0:
        return {}
    selection = None
    if module.best is not None:
        selection = selection_note(module, floor, options.min_realism)
        if module.best.weights is not None:
            module.model.load_state_dict(module.best.weights)
    aligned = (merged_unet(module.model) if options.lora_rank > 0 else module.model).cpu().eval()
    save_pretrained(aligned, out / "unet", safe_serialization=True)
    # the last iteration's plain samples, for the contact sheet
    process.network = module.model.eval()
    generator = torch.Generator(process.device).manual_seed(stream_seed(options.seed, options.iterations, 0, 3))
    context = make_context(min(eval_count, 64), torch.Generator().manual_seed(stream_seed(options.seed, 0, 0, 5)))
    images = _plain_images(process, min(eval_count, 64), options.steps, generator,
                           None if context is None else context.to(process.device)).cpu()  # fmt: skip
    with torch.no_grad():
        rewards = reward_fn(images.to(process.device)).float().cpu()
    contact_sheet(images, [f"{float(r):.2f}" for r in rewards], out / "samples_after.png")
    atomic_write_text(out / "history.json", json.dumps(module.history, indent=2) + "\n")
    atomic_write_text(
        out / "aligned.json",
        json.dumps(
            {
                "base": recorded_base(options.pipeline, pipeline.path),
                "lora_rank": options.lora_rank,
                **({"selection": selection} if selection else {}),
            },
            indent=2,
        )
        + "\n",  # fmt: skip
    )
    options_dict = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}
    write_manifest(out / "manifest.json", command=current_command(f"dnadav.jobs.image_align.align_images({options_dict!r})"),
                   config={"options": options_dict, "align": config.as_dict()},
                   checkpoints=sorted((out / "unet").glob("*.safetensors")),
                   extra={"wall_minutes_this_session": (time.time() - started) / 60})  # fmt: skip
    return {"baseline": json.loads((out / "baseline.json").read_text()), "last": module.history[-1] if module.history else {}}
