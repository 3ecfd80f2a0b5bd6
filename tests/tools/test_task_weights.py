"""Weights per task: where the project ships enlargement weights apart from the general ones, an enlargement runs
them and a deblurring runs the general ones; the record names the file that ran, and the measured gains that answers
quote are each task's own. Weights passed by the user serve both tasks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tools.restoration import Restorer, build_model, zoo
from tools.restoration.checkpoint import save_safetensors

ENTRY = "test-mimo-unet"


def _weights(path, gains: dict, seed: int):
    model = build_model(ENTRY)
    generator = np.random.default_rng(seed)
    for parameter in model.parameters():  # visibly different networks, so outputs tell which one ran
        parameter.data.copy_(parameter.data.new_tensor(generator.normal(0, 0.2, tuple(parameter.shape))))
    save_safetensors(model, path, {"cnaps_provenance": "project", "description": f"test weights {seed}",
                                   "real_photo_gain_db": json.dumps(gains), "real_photo_set": "a test set"})
    return path


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A project weights folder with general weights (no gain at x2) and enlargement weights (a gain at x2)."""
    monkeypatch.setattr(zoo, "PROJECT_WEIGHTS_DIR", tmp_path)
    general = _weights(tmp_path / f"{ENTRY}.safetensors", {"x2": -0.4, "x4": 0.1, "deblur": 1.1}, seed=1)
    enlarge = _weights(tmp_path / f"{ENTRY}-enlarge.safetensors", {"x2": 0.5, "x4": 0.7, "deblur": -2.0}, seed=2)
    return general, enlarge


def _photo() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 52, 3), dtype=np.uint8))


def test_each_task_runs_its_own_weights_and_records_them(shipped):
    general, enlarge = shipped
    restorer = Restorer(ENTRY, device="cpu")
    deblurred = restorer.run(_photo(), 1)
    enlarged = restorer.run(_photo(), 2)
    assert deblurred.weights.file == str(general) and deblurred.weights.real_photo_gain_db["deblur"] == 1.1
    assert enlarged.weights.file == str(enlarge) and enlarged.network_ran  # the general weights would skip x2
    assert enlarged.weights.sha256 != deblurred.weights.sha256
    assert restorer.run(_photo(), 1).weights.file == str(general)  # the first enlargement changed nothing after


def test_weights_passed_by_the_user_serve_both_tasks(shipped):
    general, _ = shipped
    restorer = Restorer(ENTRY, weights=general, device="cpu")
    assert restorer.run(_photo(), 2).weights.file == str(general)
    assert not restorer.run(_photo(), 2).network_ran  # their own x2 gain is negative: Lanczos alone


def test_without_enlargement_weights_the_general_ones_enlarge(shipped):
    general, enlarge = shipped
    enlarge.unlink()
    restorer = Restorer(ENTRY, device="cpu")
    assert restorer.run(_photo(), 2).weights.file == str(general)


def test_answers_quote_each_tasks_measured_gain(shipped):
    facts = zoo.project_weights_facts(ENTRY)
    assert facts.real_photo_gain_db == {"x2": 0.5, "x4": 0.7, "deblur": 1.1}


def test_wrapped_networks_cover_both_tasks(shipped):
    restorer = Restorer(ENTRY, device="cpu")
    wrapped = []

    def wrapper(forward):
        wrapped.append(forward)
        return forward

    restorer.wrap_forwards(wrapper)
    restorer.weights_for(2)
    assert len(wrapped) == 2 and wrapped[0] is not wrapped[1]
