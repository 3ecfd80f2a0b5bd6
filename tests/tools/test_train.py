"""Training on the tiny network: the loss falls, a resumed run equals an uninterrupted one, exports load back."""

from __future__ import annotations

import json

import numpy as np

import pytest
import torch

from agent.errors import OutputError, TrainingError, UsageError, WeightsError
from tools.restoration import build_model, checkpoint, degrade, synthdata
from tools.restoration import train as training
from tools.restoration import training_checkpoint, training_config, training_validation


def _config(out, steps: int = 4, **overrides):
    values = dict(network="test-mimo-unet", steps=steps, batch=2, crop=32, seed=3, out=out, bank_size=4,
                  bank_tile=40, bank_refresh=2, warmup=2, val_every=0, ckpt_every=1, log_every=1, threads=1)
    values.update(overrides)
    return training_config.make_config(**values)


def test_loss_is_zero_only_for_perfect_outputs():
    target = torch.rand(2, 3, 16, 16)
    perfect = [torch.nn.functional.interpolate(target, scale_factor=s, mode="bilinear") for s in (0.25, 0.5)]
    assert float(training.mimo_loss(perfect + [target], target)) == pytest.approx(0.0, abs=1e-6)
    assert float(training.mimo_loss([p + 0.1 for p in perfect] + [target + 0.1], target)) > 0.3


def test_the_guard_is_how_many_db_the_output_falls_below_its_input():
    target = torch.rand(3, 3, 24, 24)
    start = (target + 0.05 * torch.randn_like(target)).clamp(0, 1)
    assert float(training.below_input_db(target, start, target)) == 0.0  # better than the input: no penalty
    assert float(training.below_input_db(start, start, target)) == 0.0  # the input itself: no penalty
    worse = (target + 0.1 * torch.randn_like(target)).clamp(0, 1)

    def psnr(image: torch.Tensor) -> np.ndarray:
        return (10 * torch.log10(1 / (image - target).pow(2).mean(dim=(1, 2, 3)))).numpy()

    expected = float(np.mean(psnr(start) - psnr(worse)))
    assert expected > 3
    assert float(training.below_input_db(worse, start, target)) == pytest.approx(expected, abs=0.05)
    # A clean input (no error at all) costs a bounded penalty, not an infinite one.
    assert 0 < float(training.below_input_db(worse, target, target)) < 60


def test_the_guard_trains_is_recorded_and_fixed_on_resume(tmp_path):
    training.train(_config(tmp_path, steps=1, guard=0.5))
    state = training_checkpoint.load_training_checkpoint(tmp_path / training_checkpoint.CHECKPOINT)
    assert json.loads(training_checkpoint.weights_metadata(state)["recipe"])["guard"] == 0.5
    with pytest.raises(UsageError, match="guard"):
        training.train(_config(tmp_path, steps=2, guard=0.0), resume=True)
    # A checkpoint written before the guard existed resumes as a run without one.
    stored = json.loads(_config(tmp_path).model_dump_json())
    del stored["guard"]
    training_config.check_resume(_config(tmp_path), stored)
    with pytest.raises(UsageError, match="guard"):
        training_config.check_resume(_config(tmp_path, guard=0.1), stored)


def test_learning_rate_warms_up_then_decays_to_min():
    config = _config("unused", steps=100, warmup=10, lr=1e-3, min_lr=1e-6)
    rates = [training.learning_rate(config, step) for step in range(100)]
    assert rates[0] < rates[5] < rates[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert training.learning_rate(config, 100) == pytest.approx(1e-6)


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = build_model("test-mimo-unet")
    bank = synthdata.bank_tensor(synthdata.build_bank(2, 40, seed=0), "cpu")
    generator = torch.Generator().manual_seed(0)
    sharp = synthdata.sample_batch(bank, 2, 24, generator)
    blurry = degrade.apply("gaussian", sharp, generator, degrade.DegradationRecipe(noise_prob=0, jpeg_prob=0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        loss = training.mimo_loss(model(blurry), sharp)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.85 * losses[0]


def test_identity_init_returns_the_input():
    torch.manual_seed(0)
    model = build_model("test-mimo-unet")
    training.zero_output_convs(model)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x)[-1], x)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    straight = training.train(_config(tmp_path / "straight", steps=4))
    assert straight.finished and straight.step == 4

    chunked = tmp_path / "chunked"
    first = training.train(_config(chunked, steps=2))  # same run, stopped after 2 steps
    assert first.step == 2
    second = training.train(_config(chunked, steps=4), resume=True)
    assert second.finished and second.step == 4

    a = torch.load(straight.checkpoint, weights_only=True)
    b = torch.load(second.checkpoint, weights_only=True)
    assert a["step"] == b["step"] == 4
    assert torch.equal(a["generator"], b["generator"])  # the random stream continued, not restarted
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    events = [json.loads(line) for line in (chunked / training.LOG).read_text().splitlines()]
    assert [e["resume"] for e in events if e["event"] == "start"] == [False, True]


def test_a_diverged_run_stops_with_the_fix_and_keeps_its_last_good_checkpoint(tmp_path, monkeypatch):
    training.train(_config(tmp_path, steps=2))
    good = torch.load(tmp_path / training_checkpoint.CHECKPOINT, weights_only=True)
    real_loss = training.mimo_loss
    monkeypatch.setattr(training, "mimo_loss", lambda outputs, target: real_loss(outputs, target) * float("nan"))
    with pytest.raises(TrainingError, match=r"diverged at step 3 .* step 2 is kept: .* lower --lr"):
        training.train(_config(tmp_path, steps=4), resume=True)
    kept = torch.load(tmp_path / training_checkpoint.CHECKPOINT, weights_only=True)
    assert kept["step"] == 2
    for key, value in good["model"].items():
        assert torch.equal(value, kept["model"][key]), key
    def no_nan(constant):
        raise AssertionError(f"{constant} is not JSON")

    events = [json.loads(line, parse_constant=no_nan) for line in (tmp_path / training.LOG).read_text().splitlines()]
    assert events[-1] == {**events[-1], "event": "diverged", "last_checkpoint_step": 2}


def test_a_run_that_diverges_in_its_last_steps_is_not_reported_finished(tmp_path, monkeypatch):
    training.train(_config(tmp_path, steps=8, log_every=4, ckpt_every=4))
    real_loss = training.mimo_loss
    # NaN from step 9 on: neither a log step (every 4) nor a checkpoint step comes before the run's last step, 10.
    monkeypatch.setattr(training, "mimo_loss", lambda outputs, target: real_loss(outputs, target) * float("nan"))
    with pytest.raises(TrainingError, match="diverged at step 10 .* step 8 is kept"):
        training.train(_config(tmp_path, steps=10, log_every=4, ckpt_every=4), resume=True)
    assert torch.load(tmp_path / training_checkpoint.CHECKPOINT, weights_only=True)["step"] == 8


def test_time_limit_pauses_with_a_checkpoint(tmp_path):
    result = training.train(_config(tmp_path, steps=50, max_minutes=0.0))
    assert not result.finished and result.step == 0
    assert result.checkpoint.is_file()


def test_resume_refuses_changed_settings_and_fresh_start_refuses_old_run(tmp_path):
    training.train(_config(tmp_path, steps=1))
    with pytest.raises(UsageError, match="batch"):
        training.train(_config(tmp_path, steps=2, batch=3), resume=True)
    with pytest.raises(UsageError, match="--resume"):
        training.train(_config(tmp_path, steps=2))
    with pytest.raises(UsageError, match="does not exist"):
        training.train(_config(tmp_path / "empty", steps=2), resume=True)


def test_bad_options_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="crop"):
        training.train(_config(tmp_path, crop=30))
    with pytest.raises(UsageError, match="steps"):
        training_config.make_config(out=tmp_path, steps=0)


def test_export_writes_fp16_safetensors_that_load_back(tmp_path):
    result = training.train(_config(tmp_path / "run", steps=2))
    weights = tmp_path / "w.safetensors"
    metadata = training_checkpoint.export(tmp_path / "run", weights)
    stored = checkpoint.read_metadata(weights)
    assert stored == metadata
    for key in ("network", "recipe", "steps", "data", "degradations", "seed", "device", "description"):
        assert stored[key], key
    assert stored["cnaps_provenance"] == "project"
    assert stored["steps"] == "2" and stored["network"] == "test-mimo-unet" and stored["device"] == "cpu"
    assert "trained on CPU for 2 steps on synthetic data" in stored["description"]
    assert "not the official checkpoints" in stored["description"]

    state = checkpoint.load_state(weights)
    assert all(t.dtype == torch.float16 for t in state.values())
    model = build_model("test-mimo-unet")
    checkpoint.load_into(model, state)
    reference = build_model("test-mimo-unet")
    reference.load_state_dict(torch.load(result.checkpoint, weights_only=True)["model"])
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model(x)[-1], reference(x)[-1], atol=2e-2)


def test_init_fine_tunes_from_exported_weights_and_says_so(tmp_path):
    training.train(_config(tmp_path / "first", steps=2))
    start = tmp_path / "start.safetensors"
    training_checkpoint.export(tmp_path / "first", start)
    config = _config(tmp_path / "second", steps=2, init=start, lr=0.0)  # lr 0: the weights must stay as loaded
    result = training.train(config)
    tuned = torch.load(result.checkpoint, weights_only=True)
    loaded = checkpoint.load_state(start)
    assert all(torch.equal(tuned["model"][k], loaded[k].float()) for k in loaded)
    assert tuned["init_from"].startswith("start.safetensors (sha256 " + checkpoint.sha256(start)[:12])

    weights = tmp_path / "tuned.safetensors"
    metadata = training_checkpoint.export(tmp_path / "second", weights)
    assert metadata["init"] == tuned["init_from"]
    assert "fine-tuned from start.safetensors" in metadata["description"]
    with pytest.raises(UsageError, match="init"):  # a resumed run keeps its starting point
        training.train(_config(tmp_path / "second", steps=3, init=tmp_path / "other.safetensors"), resume=True)
    with pytest.raises(UsageError, match="does not exist"):
        training.train(_config(tmp_path / "third", init=tmp_path / "missing.safetensors"))


def test_export_without_a_run_says_what_to_do(tmp_path):
    with pytest.raises(WeightsError, match="train first"):
        training_checkpoint.export(tmp_path, tmp_path / "w.safetensors")


def test_command_line_trains_resumes_and_exports(tmp_path, capsys):
    args = ["--network", "test-mimo-unet", "--steps", "2", "--batch", "1", "--crop", "32", "--bank-size", "2",
            "--bank-tile", "36", "--val-every", "1", "--val-images", "1", "--threads", "1", "--out", str(tmp_path)]
    assert training.main(args + ["--max-minutes", "0"]) == 0
    assert "paused at step 0/2" in capsys.readouterr().out
    assert training.main(args + ["--resume", "--export", str(tmp_path / "w.safetensors")]) == 0
    out = capsys.readouterr().out
    assert '"event": "validation"' in out and "exported" in out
    assert (tmp_path / "w.safetensors").is_file()
    assert training.main(args) == 2  # a fresh start on an existing run is a usage error


def test_cli_train_reports_bad_options_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from agent.cli import app

    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path), "--steps", "2", "--crop", "30"])
    assert result.exit_code != 0
    assert isinstance(result.exception, UsageError) and "multiple of 4" in str(result.exception)


@pytest.mark.gpu
def test_cuda_run_uses_bf16_and_resumes(tmp_path):
    first = training.train(_config(tmp_path, steps=2, device="cuda", val_every=1, val_images=2))
    assert first.finished and first.val_psnr is not None
    resumed = training.train(_config(tmp_path, steps=4, device="cuda"), resume=True)
    assert resumed.finished and resumed.step == 4 and resumed.last_loss == resumed.last_loss  # not NaN
    state = torch.load(resumed.checkpoint, weights_only=True)
    assert any(device.startswith("cuda") for device in state["devices"])


def test_a_damaged_or_foreign_checkpoint_is_a_weights_error_on_resume_and_export(tmp_path):
    (tmp_path / training_checkpoint.CHECKPOINT).write_bytes(b"\x80\x02 cut short")
    with pytest.raises(WeightsError, match="cannot read the training checkpoint .*new --out folder"):
        training.train(_config(tmp_path, steps=2), resume=True)
    torch.save({"model": {}}, tmp_path / training_checkpoint.CHECKPOINT)  # a weights file, not a training run
    with pytest.raises(WeightsError, match="not a cnaps training checkpoint .*lacks config"):
        training_checkpoint.export(tmp_path, tmp_path / "w.safetensors")
    assert not (tmp_path / "w.safetensors").exists()


def test_bad_run_settings_fail_before_training_and_leave_no_folder(tmp_path):
    with pytest.raises(UsageError, match="device"):
        training_config.make_config(out=tmp_path / "a", steps=1, device="tpu")
    with pytest.raises(UsageError, match="max-minutes"):
        training_config.make_config(out=tmp_path / "a", steps=1, max_minutes=-1)
    with pytest.raises(UsageError, match="does not exist"):
        training.train(_config(tmp_path / "never", steps=1), resume=True)
    assert not (tmp_path / "never").exists()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OutputError, match="cannot use .* as the run folder"):
        training.train(_config(tmp_path / "a-file", steps=1))
    with pytest.raises(UsageError, match="name it e.g. w.safetensors"):
        training.run(_config(tmp_path / "run", steps=1), export_to=tmp_path / "w.xyz")
    assert not (tmp_path / "run").exists()  # refused before any training


def _photo_folder(folder, count: int = 10):
    import numpy as np
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)).save(folder / f"set{index % 2}_img_{index}.png")
    return folder


def test_a_folder_of_photographs_feeds_the_bank_and_holds_out_every_tenth(tmp_path):
    folder = _photo_folder(tmp_path / "photos", 20)
    train_names = synthdata.folder_photos(folder, "train")
    validation = synthdata.folder_photos(folder, "validation")
    assert len(validation) == 2 and len(train_names) == 18 and not set(validation) & set(train_names)
    bank = synthdata.build_bank(6, 48, seed=1, photos=folder)
    assert bank.shape == (6, 48, 48, 3) and np.array_equal(bank, synthdata.build_bank(6, 48, seed=1, photos=folder))
    with pytest.raises(ValueError, match="no photographs"):
        synthdata.folder_photos(tmp_path, "train")


def test_the_photos_recipe_trains_and_names_its_data(tmp_path):
    folder = _photo_folder(tmp_path / "photos")
    with pytest.raises(UsageError, match="multiple of 12"):
        training.train(_config(tmp_path / "bad", recipe="photos", photos=folder, crop=32))
    with pytest.raises(UsageError, match="not a folder"):
        training.train(_config(tmp_path / "bad2", photos=tmp_path / "missing"))
    training.train(_config(tmp_path / "run", steps=2, recipe="photos", photos=folder, crop=36, val_every=1,
                           val_images=2))
    metadata = training_checkpoint.export(tmp_path / "run", tmp_path / "w.safetensors")
    assert "real photographs (set0, set1)" in metadata["trained_on"]
    assert "for 2 steps on real photographs (" in metadata["description"]
    events = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(e["psnr"] <= training_validation.PSNR_CAP for e in events if e["event"] == "validation")
