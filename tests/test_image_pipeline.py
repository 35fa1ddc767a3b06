"""The image plugin end to end on a tiny random Stable-Diffusion-layout pipeline built here:
local loading (and its one-line errors), CFG search raising JPEG compressibility, an M-step that
raises the likelihood of the chosen transitions, LoRA merge and save/load round trips, the CLI."""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("peft")

import torch  # noqa: E402

from dnadav.core.distill import DistillConfig, distill_loss, transition_batch, transition_pairs  # noqa: E402
from dnadav.core.protocol import sample_process  # noqa: E402
from dnadav.core.search import SearchConfig, search_process  # noqa: E402
from dnadav.errors import InputError  # noqa: E402
from dnadav.image.lora import AdaptersOff, add_lora, merged_unet  # noqa: E402
from dnadav.image.pipeline import load_pipeline  # noqa: E402
from dnadav.image.rewards import jpeg_compressibility  # noqa: E402
from tests.image_toys import write_tiny_sd_pipeline  # noqa: E402


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return write_tiny_sd_pipeline(tmp_path_factory.mktemp("tiny_sd"))


def test_incomplete_or_missing_folders_fail_in_one_line(tiny_sd, tmp_path):
    with pytest.raises(InputError, match="no such pipeline folder"):
        load_pipeline(tmp_path / "nope")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text((tiny_sd / "model_index.json").read_text())
    (broken / "unet").mkdir()
    with pytest.raises(InputError, match=r"missing unet/config\.json, scheduler/, vae/, text_encoder/, tokenizer/"):
        load_pipeline(broken)


def test_conditional_process_shapes_and_classifier_free_guidance(tiny_sd):
    pipeline = load_pipeline(tiny_sd)
    assert pipeline.conditional and pipeline.latent_shape == (4, 8, 8)
    context = pipeline.encode_prompts(["cat", "dog"])
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.full((2,), 50.0)
    guided = pipeline.process(guidance_scale=3.0).predict(x, t, context)
    plain = pipeline.process(guidance_scale=1.0)
    cond = plain.predict(x, t, context)
    uncond = plain.predict(x, t, plain.uncond.expand(2, -1, -1))
    torch.testing.assert_close(guided[:, 0], uncond[:, 0] + 3.0 * (cond[:, 0] - uncond[:, 0]), atol=1e-5, rtol=1e-4)
    assert guided.shape == (2, 2, 4, 8, 8)
    assert plain.decode(x).shape == (2, 3, 16, 16)
    chunked = pipeline.process(guidance_scale=3.0, max_batch=1)  # memory cap: same numbers, smaller calls
    torch.testing.assert_close(chunked.predict(x, t, context), guided, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(chunked.decode(x), plain.decode(x), atol=1e-5, rtol=1e-4)


def test_search_raises_jpeg_compressibility_over_plain_sampling_at_equal_seed(tiny_sd):
    pipeline = load_pipeline(tiny_sd)
    process = pipeline.process(guidance_scale=2.0)
    context = pipeline.encode_prompts(["cat", "dog", "bird", "fish"] * 2)
    plain = sample_process(process, 8, 6, torch.Generator().manual_seed(0), context)
    config = SearchConfig(num_children=8, reward_temperature=0.01, num_steps=6)
    result = search_process(process, jpeg_compressibility, 8, config, torch.Generator().manual_seed(0), context)
    # one batched UNet call (2·N·M rows with CFG counted as one call) per step, plus the first; the
    # last step's children are clean and scored without the UNet
    assert result.stats.network_calls == 6 and result.stats.network_sequences == 8 + 5 * 64
    assert float(jpeg_compressibility(process.decode(result.sequences)).mean()) > float(
        jpeg_compressibility(process.decode(plain)).mean()
    )
    torch.testing.assert_close(result.trajectory.context, context)  # each path keeps its prompt


def test_m_step_with_lora_raises_the_likelihood_of_the_chosen_transitions_and_merges_exactly(tiny_sd, tmp_path):
    pipeline = load_pipeline(tiny_sd)
    model = add_lora(pipeline.unet, rank=4)
    process = pipeline.process(model, guidance_scale=1.0)
    context = pipeline.encode_prompts(["cat", "dog", "bird", "fish"])
    result = search_process(
        process, jpeg_compressibility, 4, SearchConfig(num_children=4, num_steps=4), torch.Generator().manual_seed(0), context
    )
    batch = transition_batch(result.trajectory, transition_pairs(result.trajectory))
    reference = AdaptersOff(model)
    config = DistillConfig(kl_weight=0.1)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all("lora" in n for n, p in model.named_parameters() if p.requires_grad)
    optimizer = torch.optim.Adam(trainable, lr=1e-2)
    model.train()
    _, first = distill_loss(process, batch, config, reference)
    assert float(first["prior_kl"].detach()) == pytest.approx(0.0, abs=1e-6)  # LoRA starts at the reference
    for _ in range(15):
        loss, parts = distill_loss(process, batch, config, reference)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _, last = distill_loss(process, batch, config, reference)
    assert float(last["transition_nll"].detach()) < float(first["transition_nll"].detach())
    assert float(last["prior_kl"].detach()) > 0
    model.eval()
    x, t = batch.x_t[:3], batch.t[:3]
    with torch.no_grad():
        expected = process.predict(x, t, batch.context[:3])
        plain = merged_unet(model)
        plain.save_pretrained(tmp_path / "run" / "unet")
        (tmp_path / "run" / "aligned.json").write_text(json.dumps({"base": str(tiny_sd)}))
        loaded = load_pipeline(tmp_path / "run")
        again = loaded.process(guidance_scale=1.0).predict(x, t, batch.context[:3])
    assert not any("lora" in k for k in loaded.unet.state_dict())
    torch.testing.assert_close(again, expected, atol=1e-4, rtol=1e-4)


def test_cli_sample_with_search_writes_everything_and_refuses_to_overwrite(tiny_sd, tmp_path, capsys):
    from dnadav.commands.image import main

    out = tmp_path / "samples"
    argv = ["sample", "--pipeline", str(tiny_sd), "--n", "3", "--seed", "1", "--out", str(out), "--steps", "3",
            "--search", "2", "--reward", "jpeg_compressibility", "--guidance-scale", "2"]  # fmt: skip
    assert main(argv) == 0
    assert sorted(p.name for p in (out / "images").iterdir()) == ["image_0000.png", "image_0001.png", "image_0002.png"]
    assert (out / "contact_sheet.png").stat().st_size > 0
    rows = (out / "rewards.csv").read_text().splitlines()
    assert rows[0] == "file,prompt,reward" and len(rows) == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 1 and any("unet" in k for k in manifest["checkpoints"])
    assert main(argv) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main([*argv[:-4], "--reward", "sharpness", "--force"]) == 2
    assert "unknown reward 'sharpness'" in capsys.readouterr().err
    assert main(["sample", "--pipeline", "digits", "--prompts", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "takes no --prompts" in capsys.readouterr().err


def test_align_runs_with_lora_and_resumes(tiny_sd, tmp_path):
    from dnadav.jobs.image_align import ImageAlignOptions, align_images

    options = ImageAlignOptions(pipeline=str(tiny_sd), out=tmp_path / "run", reward="jpeg_compressibility", steps=3, images=4,
                                search=2, iterations=1, eval_images=2, lora_rank=2, lr=1e-3, quiet=True, accelerator="cpu")  # fmt: skip
    first = align_images(options)
    assert first["last"]["iteration"] == 0.0 and "plain/reward_mean" in first["baseline"]
    options.iterations = 2
    second = align_images(options)  # resumes from checkpoints/last.ckpt: one more iteration only
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["iteration"] for h in history] == [0.0, 1.0]
    assert second["last"]["iteration"] == 1.0
    assert load_pipeline(tmp_path / "run").unet.config.in_channels == 4
    from tests.test_bad_inputs_outputs import non_finite_fields

    written = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert {str(p): non_finite_fields(p) for p in written if non_finite_fields(p)} == {}  # no nan/inf written (issue 23)
    umask = os.umask(0o022)
    os.umask(umask)
    expected = 0o666 & ~umask  # every file as an ordinary open() would make it (safetensors writes 0600)
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in written if p.stat().st_mode & 0o777 != expected} == {}
