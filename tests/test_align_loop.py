"""The Lightning EM loop: it raises a toy reward, resumes exactly, and shards over 2 DDP ranks."""

import dataclasses

import pytest
import pytorch_lightning as pl
import torch

from dnadav.core.distill import DistillConfig
from dnadav.core.fit import fit_em
from dnadav.core.ranks import local_count
from dnadav.core.search import SearchConfig
from dnadav.dna import ConvDenoiser, ConvDenoiserConfig, LogLinearSchedule, sample
from dnadav.dna.config import AlignConfig
from dnadav.dna.em import MaskedDAVModule as DAVModule
from dnadav.dna.tokens import tokens_to_onehot

LENGTH = 12


def gc_reward(onehot: torch.Tensor) -> torch.Tensor:
    return onehot[:, 1:3].sum(dim=(1, 2))


def tiny_module(iterations: int, seed: int = 0, kl_weight: float = 0.0) -> DAVModule:
    torch.manual_seed(0)  # initialisation only
    model = ConvDenoiser(ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), dropout=0.1))
    prior = ConvDenoiser(ConvDenoiserConfig(channels=16, num_blocks=2, kernel_size=3, dilations=(1, 2), dropout=0.1))
    prior.load_state_dict(model.state_dict())
    config = AlignConfig(
        length=LENGTH,
        iterations=iterations,
        sequences_per_iteration=16,
        inner_epochs=2,
        batch_size=16,
        lr=3e-3,
        search=SearchConfig(num_children=4, reward_temperature=0.5, num_steps=4),
        distill=DistillConfig(kl_weight=kl_weight),
        seed=seed,
    )
    return DAVModule(model, gc_reward, config, LogLinearSchedule(), prior=prior)


def mean_reward(model: ConvDenoiser) -> float:
    draws = sample(model, 256, LENGTH, 6, generator=torch.Generator().manual_seed(7))
    return gc_reward(tokens_to_onehot(draws)).mean().item()


class StopAfterFirstIteration(pl.Callback):
    """Simulates an interruption: raises once the first iteration's checkpoint should exist."""

    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash")


def test_every_iteration_leaves_a_checkpoint_to_resume_from(tmp_path):
    module = tiny_module(iterations=3)
    trainer_kwargs = {"accelerator": "cpu", "progress": False}
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit_em(module, tmp_path, callbacks=[StopAfterFirstIteration()], **trainer_kwargs)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    resumed = tiny_module(iterations=3)
    fit_em(resumed, tmp_path, **trainer_kwargs)
    assert len(resumed.history) == 3


def test_em_iterations_raise_the_reward_of_plain_samples(tmp_path):
    module = tiny_module(iterations=4, kl_weight=0.1)
    before = mean_reward(module.model)
    fit_em(module, tmp_path, accelerator="cpu", progress=False)
    after = mean_reward(module.model)
    assert after > before + 1.0, (before, after)
    assert len(module.history) == 4 and all("estep/reward_mean" in r for r in module.history)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    straight = tiny_module(iterations=3)
    fit_em(straight, tmp_path / "straight", accelerator="cpu", progress=False)
    interrupted = tiny_module(iterations=2)
    fit_em(interrupted, tmp_path / "resumed", accelerator="cpu", progress=False)
    resumed = tiny_module(iterations=3)
    fit_em(resumed, tmp_path / "resumed", accelerator="cpu", progress=False)  # picks up last.ckpt
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [r["estep/reward_mean"] for r in straight.history] == [r["estep/reward_mean"] for r in resumed.history]


class RecordingDAV(DAVModule):
    """Writes what each rank searched and gathered, for the DDP test."""

    record_dir = None

    def e_step(self):
        trajectory = super().e_step()
        rank = self.trainer.global_rank
        local = local_count(self.config.sequences_per_iteration, self.trainer.world_size, rank)
        torch.save({"local": local, "gathered": trajectory.states[-1].cpu()}, f"{self.record_dir}/rank{rank}.pt")
        return trajectory


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_shards_the_e_step_without_duplicates(tmp_path):
    base = tiny_module(iterations=1)
    config = dataclasses.replace(base.config, sequences_per_iteration=15)  # not divisible by 2
    module = RecordingDAV(base.model, gc_reward, config, LogLinearSchedule(), prior=base._frozen["prior"])
    module.record_dir = str(tmp_path)
    fit_em(module, tmp_path / "run", accelerator="cpu", devices=2, strategy="ddp_spawn", progress=False)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert (rank0["local"], rank1["local"]) == (8, 7)
    assert torch.equal(rank0["gathered"], rank1["gathered"])  # every rank trains on the same union
    gathered = rank0["gathered"]
    assert gathered.shape == (15, LENGTH)
    assert len({tuple(row) for row in gathered.tolist()}) == 15  # distinct seeds: no duplicated slice
