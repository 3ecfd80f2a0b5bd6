"""The project weights shipped in the repository: they say what they are, load through the zoo, and really restore
(a small synthetic blurred image comes out clearly closer to the clean one). A few seconds on the CPU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tools.restoration import Restorer, blur_kernels, checkpoint, synthdata, zoo
from tools.restoration.metrics import psnr

WEIGHTS = zoo.project_weights_path(zoo.lookup("MIMO-UNet"))
MARGIN_DB = 2.0  # the shipped CPU-trained weights measured +3.1 dB on this image (27.8 -> 30.8 dB)


def test_shipped_weights_say_what_they_are():
    metadata = checkpoint.read_metadata(WEIGHTS)
    assert metadata["cnaps_provenance"] == "project"
    assert metadata["network"] == "MIMO-UNet"
    assert "not the official checkpoints" in metadata["description"]
    assert metadata["trained_on"] and metadata["trained_on"].split(" (")[0] in metadata["description"]  # what it learned from
    assert f"{metadata['steps']} steps " in metadata["description"]  # the last run's steps, with its settings
    sidecar = json.loads(WEIGHTS.with_suffix(".json").read_text())
    assert sidecar["sha256"] == checkpoint.sha256(WEIGHTS)  # the quality table belongs to this very file
    gains = json.loads(metadata["real_photo_gain_db"])  # measured on real photographs, and in the sidecar's table
    table = sidecar["real_photos"]["gains"]  # the per-scale rows, and the deblurring row's split by blur kind
    assert {key: round(table[key]["mean_db"], 2) for key in gains} == gains and set(gains) == {"x2", "x3", "x4", "deblur"}
    total = sum(path.stat().st_size for path in WEIGHTS.parent.glob("*.safetensors"))
    assert total < 40 * 2**20


def _blurred_pair() -> tuple[np.ndarray, np.ndarray]:
    """A held-out text scene (never trained on) and the same scene through a fixed 5-pixel camera shake."""
    clean = synthdata.render_scene("text", np.random.default_rng(np.random.SeedSequence([99, 0, 2])), 96)
    generator = torch.Generator().manual_seed(0)
    kernel = blur_kernels.shake_kernels(1, 11, generator, 5.0, 5.0)
    blurred = synthdata.to_array(blur_kernels.blur(synthdata.to_tensor(clean), kernel))
    return clean, blurred


def test_shipped_weights_sharpen_a_blurred_image():
    restorer = Restorer("MIMO-UNet", device="cpu", precision="fp32", tile="none")
    assert restorer.weights.provenance == "project"
    clean, blurred = _blurred_pair()
    restored = np.asarray(restorer.restore(Image.fromarray(blurred)))
    assert restored.shape == clean.shape
    before, after = psnr(blurred, clean, "rgb"), psnr(restored, clean, "rgb")
    assert after >= before + MARGIN_DB, f"blurred {before:.2f} dB, restored {after:.2f} dB"


@pytest.mark.parametrize("model_id", ["Deblur-MIMO-UNet-Plus", "Deblur-MIMO-UNet-RealBlur"])
def test_no_plus_weights_are_passed_off_as_trained(model_id):
    """MIMO-UNet+ project weights ship only once they were really trained; until then the zoo says so."""
    path = zoo.project_weights_path(zoo.lookup(model_id))
    if path.is_file():
        assert checkpoint.read_metadata(path)["network"] == "MIMO-UNet+"
    else:
        from agent.errors import WeightsError

        with pytest.raises(WeightsError, match="official"):
            Restorer(model_id, device="cpu")
