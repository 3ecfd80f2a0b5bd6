"""Synthetic training data: deterministic banks, a held-out split that never meets training, sane batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tools.restoration import procedural_scenes, synthdata


def test_held_out_photos_never_train():
    assert not set(synthdata.TRAIN_PHOTOS) & set(synthdata.HELDOUT_PHOTOS)
    # skimage's 'cat' is 'chelsea' under another name: it must not sneak into training.
    assert "skimage:cat" not in synthdata.TRAIN_PHOTOS


@pytest.mark.parametrize("kind", synthdata.SCENES)
def test_every_scene_kind_renders(kind):
    image = synthdata.render_scene(kind, np.random.default_rng(0), 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert image.std() > 5  # not a blank tile


def test_bank_is_deterministic_per_seed_and_split():
    a = synthdata.build_bank(6, 48, seed=1)
    assert a.shape == (6, 48, 48, 3)
    assert np.array_equal(a, synthdata.build_bank(6, 48, seed=1))
    assert not np.array_equal(a, synthdata.build_bank(6, 48, seed=2))
    assert not np.array_equal(a, synthdata.build_bank(6, 48, seed=1, split="heldout"))


def test_held_out_images_are_not_in_a_training_bank():
    held = synthdata.heldout_images(size=48, procedural=2)
    assert len(held) == len(synthdata.HELDOUT_PHOTOS) + 2
    bank = synthdata.build_bank(12, 48, seed=0)
    for _, image in held:
        assert image.shape == (48, 48, 3)
        assert not any(np.array_equal(image, tile) for tile in bank)


def test_sample_batch_shapes_range_and_seed():
    bank = synthdata.bank_tensor(synthdata.build_bank(4, 40, seed=0), "cpu")
    a = synthdata.sample_batch(bank, 5, 32, torch.Generator().manual_seed(0))
    b = synthdata.sample_batch(bank, 5, 32, torch.Generator().manual_seed(0))
    assert a.shape == (5, 3, 32, 32) and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)


def test_text_uses_dejavu_fonts():
    fonts = procedural_scenes.font_files()
    assert len(fonts) >= 8 and all("DejaVu" in font for font in fonts)


@pytest.mark.slow
def test_bank_does_not_depend_on_worker_count():
    assert np.array_equal(synthdata.build_bank(8, 48, seed=4, workers=2), synthdata.build_bank(8, 48, seed=4))
