"""A tiny denoiser trained on a two-mode toy learns both modes; checkpoints round-trip."""

import torch

from dnadav.dna import ConvDenoiser, ConvDenoiserConfig, LogLinearSchedule, load_denoiser, sample, save_denoiser
from dnadav.dna.masked import nelbo, sequence_elbo, stratified_times

MODE_A = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])  # ACGTACGT
MODE_B = torch.tensor([3, 3, 2, 2, 1, 1, 0, 0])  # TTGGCCAA


def train_two_mode_model(steps: int = 300) -> ConvDenoiser:
    torch.manual_seed(0)  # parameter initialisation only
    model = ConvDenoiser(ConvDenoiserConfig(channels=32, num_blocks=3, kernel_size=3, dilations=(1, 2, 4), dropout=0.0))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    schedule = LogLinearSchedule()
    for _ in range(steps):
        pick = torch.rand(64, generator=generator) < 0.5
        x0 = torch.where(pick[:, None], MODE_A, MODE_B)
        loss = nelbo(model, x0, schedule, stratified_times(64, generator), generator).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def test_tiny_model_reproduces_both_modes_and_nothing_else(tmp_path):
    model = train_two_mode_model()
    draws = sample(model, 400, 8, num_steps=64, generator=torch.Generator().manual_seed(1))
    is_a = (draws == MODE_A).all(dim=1)
    is_b = (draws == MODE_B).all(dim=1)
    assert (is_a | is_b).float().mean() > 0.9
    assert 0.3 < is_a.float().mean() < 0.7
    # the ELBO ranks the modes far above a random sequence, and near log(1/2)
    elbo = sequence_elbo(
        model,
        torch.stack([MODE_A, MODE_B, torch.tensor([0, 0, 0, 1, 3, 2, 2, 1])]),
        num_time_samples=64,
        generator=torch.Generator().manual_seed(2),
    )
    assert elbo[0] > -2.0 and elbo[1] > -2.0 and elbo[2] < elbo[0] - 5
    # save / load (weights_only) gives the same function
    save_denoiser(tmp_path, model, {"note": "toy"})
    loaded, config = load_denoiser(tmp_path)
    x_t = torch.tensor([[4, 1, 4, 3, 4, 4, 2, 4]])
    t = torch.tensor([0.5])
    torch.testing.assert_close(loaded(x_t, t), model(x_t, t))
    assert config["note"] == "toy"
