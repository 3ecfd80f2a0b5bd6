"""Fixtures for the restoration tool's tests: tiny weights saved to tmp, one torch thread.

One thread: the 2-core test machine is shared, and OpenMP threads spinning against other processes make a
millisecond forward take seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _save_tiny(path: Path, identity: bool) -> Path:
    import torch

    from tools.restoration import build_model
    from tools.restoration.checkpoint import save_safetensors

    torch.manual_seed(0)
    model = build_model("test-mimo-unet")
    if identity:  # the last convolution outputs zero, so the network returns its input (residual)
        with torch.no_grad():
            model.feat_extract[5].main[0].weight.zero_()
            model.feat_extract[5].main[0].bias.zero_()
    save_safetensors(model, path, {"description": "random test weights"}, dtype=torch.float32)
    return path


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    """test-mimo-unet with random weights that change the image noticeably."""
    return _save_tiny(tmp_path / "tiny.safetensors", identity=False)


@pytest.fixture
def identity_weights(tmp_path) -> Path:
    """test-mimo-unet whose output equals its input: checks the image plumbing exactly."""
    return _save_tiny(tmp_path / "identity.safetensors", identity=True)
