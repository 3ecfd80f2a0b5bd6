"""The enlargement policy: weights that measured no gain over Lanczos on real photographs at a scale do not run
there (the enlargement is Lanczos alone, and the record says so); measured gains travel in the weights' metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from agent.errors import UsageError
from agent.settings import get_settings
from tools.restoration import Restorer, build_model
from tools.restoration.checkpoint import save_safetensors


def _project_weights(path, gains: dict | None):
    metadata = {"cnaps_provenance": "project", "description": "Trained by cnaps for a test."}
    if gains is not None:
        metadata |= {"real_photo_gain_db": json.dumps(gains), "real_photo_set": "a test set"}
    model = build_model("test-mimo-unet")
    for parameter in model.parameters():  # a network that visibly changes the image
        parameter.data.normal_(0, 0.2)
    save_safetensors(model, path, metadata)
    return path


def _photo(seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (40, 52, 3), dtype=np.uint8))


def _lanczos(image: Image.Image, scale: int) -> np.ndarray:
    """Pillow's Lanczos on float planes (no clipping between its two passes, unlike 8-bit), then rounded."""
    size = (image.width * scale, image.height * scale)
    planes = [np.asarray(Image.fromarray(np.asarray(image, np.float32)[..., c] / 255, "F").resize(
        size, Image.Resampling.LANCZOS)) for c in range(3)]
    return np.rint(np.clip(np.stack(planes, axis=2), 0, 1) * 255).astype(int)


def test_measured_gains_are_read_from_the_metadata(tmp_path):
    gains = {"x2": -0.4, "x3": 0.2, "x4": 0.6, "deblur": 1.1}
    restorer = Restorer("test-mimo-unet", weights=_project_weights(tmp_path / "w.safetensors", gains), device="cpu")
    assert restorer.weights.real_photo_gain_db == gains
    assert restorer.weights.real_photo_set == "a test set"
    assert [restorer.weights.enlargement_gain(s) for s in (1, 2, 3, 4, 8)] == [None, -0.4, 0.2, 0.6, 0.6]


def test_a_scale_without_gain_is_lanczos_alone_and_says_so(tmp_path):
    weights = _project_weights(tmp_path / "w.safetensors", {"x2": -0.4, "x3": 0.2, "x4": 0.6})
    restorer = Restorer("test-mimo-unet", weights=weights, device="cpu")
    image = _photo()
    run = restorer.run(image, 2)
    assert not run.network_ran and run.resize == "lanczos x2 only" and run.output_size == (104, 80)
    assert any("-0.40 dB" in note for note in run.notes)
    restored = np.asarray(restorer.restore(image, 2), int)
    assert np.abs(restored - _lanczos(image, 2)).max() <= 1  # Lanczos on float planes, rounded once
    ran = restorer.run(image, 3)
    assert ran.network_ran and ran.resize.endswith("then test-mimo-unet")
    assert np.abs(np.asarray(restorer.restore(image, 3), int) - _lanczos(image, 3)).max() > 8


def test_the_network_always_runs_at_scale_one_and_where_nothing_was_measured(tmp_path):
    measured = Restorer("test-mimo-unet", weights=_project_weights(tmp_path / "a.safetensors", {"x2": -1.0}),
                        device="cpu")
    assert measured.run(_photo(), 1).network_ran
    unmeasured = Restorer("test-mimo-unet", weights=_project_weights(tmp_path / "b.safetensors", None),
                          device="cpu")
    assert unmeasured.weights.real_photo_gain_db is None
    assert unmeasured.run(_photo(), 2).network_ran


def test_the_policy_can_be_forced_either_way(tmp_path, monkeypatch):
    restorer = Restorer("test-mimo-unet", weights=_project_weights(tmp_path / "w.safetensors", {"x2": -0.4}),
                        device="cpu")
    assert restorer.run(_photo(), 2, policy="network").network_ran
    assert not restorer.run(_photo(), 4, policy="lanczos").network_ran
    monkeypatch.setenv("CNAPS_RESTORE__ENLARGE", "network")
    get_settings.cache_clear()
    assert restorer.enlarges_with_network(2)
    with pytest.raises(UsageError, match="auto, network, lanczos"):
        restorer.enlarges_with_network(2, "sometimes")
