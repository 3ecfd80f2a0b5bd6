"""The networks match the official checkpoint layout and the official forward pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tools.restoration import NETWORKS, build_model

DATA = Path(__file__).resolve().parents[1] / "data"


def official_layout(file_name: str) -> list[tuple[str, tuple[int, ...]]]:
    layout = []
    for line in (DATA / file_name).read_text().splitlines():
        name, shape = line.split(" ", 1)
        layout.append((name, tuple(int(n) for n in shape.strip("()").split(",") if n.strip())))
    return layout


@pytest.mark.parametrize(
    ("network", "file_name", "parameters"),
    [("MIMO-UNet", "official_keys_mimo_unet.txt", 6_807_171),
     ("MIMO-UNet+", "official_keys_mimo_unet_plus.txt", 16_107_651)],
)
def test_state_dict_equals_official_layout_in_order(network, file_name, parameters):
    expected = official_layout(file_name)
    state = build_model(network).state_dict()
    assert [(name, tuple(t.shape)) for name, t in state.items()] == expected
    assert sum(t.numel() for t in state.values()) == parameters


def test_zoo_ids_build_their_network():
    assert len(build_model("Deblur-MIMO-UNet-RealBlur").state_dict()) == len(official_layout(
        "official_keys_mimo_unet_plus.txt"))
    assert set(NETWORKS) >= {"MIMO-UNet", "MIMO-UNet+", "test-mimo-unet"}


def test_forward_returns_quarter_half_and_full_scale():
    torch.manual_seed(0)
    model = build_model("test-mimo-unet").eval()
    x = torch.rand(2, 3, 24, 36)
    with torch.inference_mode():
        outputs = model(x)
    assert [tuple(o.shape) for o in outputs] == [(2, 3, 6, 9), (2, 3, 12, 18), (2, 3, 24, 36)]


def _reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor, num_res: int) -> list[torch.Tensor]:
    """An independent functional forward written from the facts file, reading weights by official name."""

    def conv(name, t, relu=True, stride=1, transpose=False):
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        if transpose:
            out = F.conv_transpose2d(t, w, b, stride=2, padding=1)
        else:
            out = F.conv2d(t, w, b, stride=stride, padding=w.shape[-1] // 2)
        return F.relu(out) if relu else out

    def stage(prefix, t):
        for i in range(num_res):
            block = f"{prefix}.layers.{i}.main"
            t = conv(f"{block}.1.main.0", conv(f"{block}.0.main.0", t), relu=False) + t
        return t

    def scm(prefix, t):
        f = t
        for i in range(4):
            f = conv(f"{prefix}.main.{i}.main.0", f)
        return conv(f"{prefix}.conv.main.0", torch.cat([t, f], 1), relu=False)

    def fam(prefix, a, b):
        return a + conv(f"{prefix}.merge.main.0", a * b, relu=False)

    def aff(prefix, *ts):
        return conv(f"{prefix}.conv.1.main.0", conv(f"{prefix}.conv.0.main.0", torch.cat(ts, 1)), relu=False)

    near = lambda t, s: F.interpolate(t, scale_factor=s, mode="nearest")  # noqa: E731
    x2, x4 = near(x, 0.5), near(near(x, 0.5), 0.5)
    z2, z4 = scm("SCM2", x2), scm("SCM1", x4)
    r1 = stage("Encoder.0", conv("feat_extract.0.main.0", x))
    r2 = stage("Encoder.1", fam("FAM2", conv("feat_extract.1.main.0", r1, stride=2), z2))
    z = stage("Encoder.2", fam("FAM1", conv("feat_extract.2.main.0", r2, stride=2), z4))
    a2 = aff("AFFs.1", near(r1, 0.5), r2, near(z, 2))
    a1 = aff("AFFs.0", r1, near(r2, 2), near(near(z, 2), 2))
    z = stage("Decoder.0", z)
    out4 = conv("ConvsOut.0.main.0", z, relu=False) + x4
    z = conv("Convs.0.main.0", torch.cat([conv("feat_extract.3.main.0", z, transpose=True), a2], 1))
    z = stage("Decoder.1", z)
    out2 = conv("ConvsOut.1.main.0", z, relu=False) + x2
    z = conv("Convs.1.main.0", torch.cat([conv("feat_extract.4.main.0", z, transpose=True), a1], 1))
    z = stage("Decoder.2", z)
    return [out4, out2, conv("feat_extract.5.main.0", z, relu=False) + x]


@pytest.mark.parametrize("network", ["test-mimo-unet", "MIMO-UNet"])
def test_forward_matches_independent_functional_reference(network):
    torch.manual_seed(1)
    model = build_model(network).eval()
    with torch.no_grad():  # larger weights than the default init, so a misplaced ReLU cannot hide
        for p in model.parameters():
            p.mul_(2.0)
    x = torch.rand(1, 3, 16, 20)
    with torch.inference_mode():
        ours = model(x)
        reference = _reference_forward(model.state_dict(), x, NETWORKS[network][0])
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert float((ours[-1] - x).abs().mean()) > 1e-3  # the network changes the image


@pytest.mark.parametrize(("network", "shape"), [("test-mimo-unet", (1, 3, 4, 4)), ("test-mimo-unet", (2, 3, 44, 68)),
                                              ("MIMO-UNet", (1, 3, 36, 20)), ("MIMO-UNet+", (1, 3, 24, 32))])
def test_lean_restore_equals_the_full_scale_forward(network, shape):
    torch.manual_seed(4)
    model = build_model(network).eval()
    with torch.no_grad():  # larger weights than the default init, so a wrongly split fusion cannot hide
        for p in model.parameters():
            p.mul_(1.5)
    x = torch.rand(shape)
    with torch.inference_mode():
        expected = model(x)[-1]
    got = model.restore(x.clone())
    assert got.shape == x.shape
    scale = float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * scale)
    assert float((expected - x).abs().mean()) > 1e-3 * scale  # the network changes the image


def test_lean_restore_leaves_the_input_alone():
    model = build_model("test-mimo-unet").eval()
    x = torch.rand(1, 3, 8, 12)
    kept = x.clone()
    model.restore(x)
    assert torch.equal(x, kept)


def test_plus_dropout_is_identity_in_eval_mode_only():
    from tools.restoration.network import MIMOUNet

    assert isinstance(build_model("MIMO-UNet+").drop1, torch.nn.Dropout2d)
    torch.manual_seed(2)
    model = MIMOUNet(num_res=1, base_channels=8, dropout=0.5)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert not torch.equal(model(x)[-1], model(x)[-1])  # training: channels dropped at random
        model.eval()
        torch.testing.assert_close(model(x)[-1], model(x)[-1], rtol=0, atol=0)


def test_record_and_zoo_import_without_torch():
    code = ("import sys; import tools.restoration, tools.restoration.record, tools.restoration.zoo; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
