"""The engine: padding, tiling and blending invariants, scales, modes, memory-driven tiles, the record."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from agent.errors import DeviceError, UsageError
from tools.restoration import Restorer, build_model
from tools.restoration.tile_forward import TileForward
from tools.restoration.tiling import (MIN_TILE, auto_grid, bytes_per_pixel, memory_grid, pad_to_multiple, plan_grid, ramp,
                                      run_tiled, tile_starts)


def _photo(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Smooth colour ramps plus noise: enough structure for a network to change it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx / max(width, 1), yy / max(height, 1), (xx + yy) % 17 / 17], axis=2) * 200
    pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB").convert(mode)


@pytest.mark.parametrize(("height", "width"), [(1, 1), (2, 3), (5, 7), (8, 12), (13, 4)])
def test_pad_to_multiple_of_four(height, width):
    x = torch.rand(1, 3, height, width)
    padded = pad_to_multiple(x)
    assert padded.shape[-2] % 4 == 0 and padded.shape[-1] % 4 == 0
    assert padded.shape[-2] - height < 4 and padded.shape[-1] - width < 4
    assert torch.equal(padded[..., :height, :width], x)


@settings(max_examples=80, deadline=None)
@given(length=st.integers(1, 750).map(lambda n: 4 * n), tile=st.sampled_from([64, 96, 128, 512]),
       overlap=st.sampled_from([8, 16, 32]))
def test_tiles_cover_the_axis_with_the_overlap_and_balance(length, tile, overlap):
    size, starts = tile_starts(length, tile, overlap)
    assert size <= tile and size % 4 == 0 and all(start % 4 == 0 for start in starts)
    assert starts[0] == 0 and starts[-1] + size == length
    for a, b in zip(starts, starts[1:]):
        assert a < b and a + size - b >= overlap
    if len(starts) > 1:  # as few tiles as that tile size allows, and none of them larger than needed
        assert len(starts) == math.ceil((length - overlap) / (tile - overlap))
        assert (size - 4) * len(starts) - (len(starts) - 1) * overlap < length


def test_balanced_tiles_waste_less_than_fixed_ones():
    grid = plan_grid(720, 1280, 544, 544)
    assert (grid.tile_h, grid.tile_w) == (376, 448) and grid.tiles == 6
    assert grid.pixels_run < 1.25 * 720 * 1280  # fixed 544-pixel tiles would run 1.93x the image


def test_auto_grid_fits_the_budget_and_prefers_less_overlap():
    for height, width, budget in [(720, 1280, 300e6), (2000, 3000, 500e6), (4000, 64, 50e6), (64, 9000, 80e6)]:
        grid = auto_grid(height, width, budget, 1000.0, 24.0)
        assert grid.tile_h * (grid.tile_w * 1000 + width * 24) <= budget
        assert grid.rows[-1] + grid.tile_h == height and grid.cols[-1] + grid.tile_w == width
        squares = plan_grid(height, width, grid.tile_h, grid.tile_h)
        assert grid.pixels_run <= squares.pixels_run
    assert auto_grid(720, 1280, 1e12, 1000.0).whole
    tiny = auto_grid(720, 1280, 1.0, 1000.0)  # nothing fits: the smallest tiles still run
    assert tiny.tile_h <= MIN_TILE and tiny.tile_w <= MIN_TILE


def test_raised_cosine_ramps_sum_to_one_across_an_overlap():
    left, right = ramp(64, 16, False, True), ramp(64, 16, True, False)
    torch.testing.assert_close(left[-16:] + right[:16], torch.ones(16))
    assert left[0] == 1 and right[-1] == 1 and bool((left > 0).all())


def _restorer(weights, **options) -> Restorer:
    return Restorer("test-mimo-unet", weights=weights, device="cpu", precision="fp32", **options)


def _max_diff(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max())


def test_tiled_equals_untiled_with_the_tiny_network(tiny_weights):
    image = _photo(203, 141)
    whole = _restorer(tiny_weights, tile="none").run(image)
    assert whole.tiles == 1
    tiled_restorer = _restorer(tiny_weights, tile=64)
    tiled = tiled_restorer.restore(image)
    untiled = _restorer(tiny_weights, tile="none").restore(image)
    assert tiled_restorer.run(image).tiles > 6
    assert _max_diff(tiled, untiled) <= 2
    assert _max_diff(untiled, image) > 10  # the network did change the image


@pytest.mark.parametrize(("mode", "scale"), [("RGBA", 2), ("LA", 3), ("I;16", 1)])
def test_bands_of_tiles_equal_the_whole_image_for_any_mode_and_scale(tiny_weights, mode, scale):
    image = _photo(90, 70, "RGBA" if mode == "I;16" else mode, seed=3)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257)
    tiled_run = _restorer(tiny_weights, tile=64).run(image, scale=scale)
    assert tiled_run.tiles > 2 and tiled_run.output_size == (90 * scale, 70 * scale)
    tiled = _restorer(tiny_weights, tile=64).restore(image, scale)
    whole = _restorer(tiny_weights, tile="none").restore(image, scale)
    assert tiled.mode == whole.mode == mode
    limit = 2 * 257 if mode == "I;16" else 2
    assert _max_diff(tiled, whole) <= limit
    if mode in ("RGBA", "LA"):  # alpha never goes through the network: tiling cannot touch it
        assert np.array_equal(np.asarray(tiled.getchannel("A")), np.asarray(whole.getchannel("A")))


def test_tiled_equals_untiled_with_mimo_unet_random_weights():
    torch.manual_seed(0)
    forward = TileForward(build_model("MIMO-UNet"), torch.device("cpu"), "fp32")
    x = torch.from_numpy(np.asarray(_photo(144, 112), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    whole, _ = run_tiled(forward, x, None)
    tiled, stats = run_tiled(forward, x, 96)
    assert stats.tiles == 4
    assert float((tiled - whole).abs().max()) <= 2 / 255
    assert float((whole - x).abs().mean()) > 5 / 255


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (9, 1), (2, 3), (37, 53)])
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK"])
def test_identity_network_returns_the_image_for_any_size_and_mode(identity_weights, size, mode):
    image = _photo(*size, mode=mode)
    out = _restorer(identity_weights, tile="none").restore(image)
    assert out.size == image.size
    expected = image.convert("RGB") if mode == "P" else image
    assert out.mode == expected.mode
    tolerance = 2 if mode == "CMYK" else 0  # CMYK -> RGB -> CMYK is PIL's naive conversion
    assert _max_diff(out, expected) <= tolerance


def test_sixteen_bit_input_keeps_its_depth(identity_weights):
    values = (np.arange(24 * 16, dtype=np.uint32).reshape(16, 24) * 170 % 65536).astype(np.uint16)
    out = _restorer(identity_weights, tile="none").restore(Image.fromarray(values))
    assert out.mode == "I;16" and np.abs(np.asarray(out).astype(int) - values).max() <= 1


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_output_size_is_input_size_times_scale_and_the_order_is_recorded(tiny_weights, scale):
    image = _photo(11, 7, "RGBA")
    run = _restorer(tiny_weights).run(image, scale=scale)
    assert run.output_size == (11 * scale, 7 * scale) and run.input_size == (11, 7)
    assert run.resize == (None if scale == 1 else f"lanczos x{scale} then test-mimo-unet")


def test_alpha_is_resized_separately_not_restored(tiny_weights):
    image = _photo(16, 12, "RGBA")
    alpha = np.zeros((12, 16), np.uint8)
    alpha[:, 8:] = 255
    image.putalpha(Image.fromarray(alpha))
    out = _restorer(tiny_weights).restore(image, scale=2)
    out_alpha = np.asarray(out.getchannel("A"))
    assert out_alpha.shape == (24, 32)
    assert (out_alpha[:, :8] == 0).all() and (out_alpha[:, 24:] == 255).all()
    lanczos = np.asarray(Image.fromarray(alpha).resize((32, 24), Image.Resampling.LANCZOS), dtype=int)
    assert np.abs(out_alpha.astype(int) - lanczos).max() <= 1


@pytest.mark.parametrize("scale", [0, -1, 9, 100, 2.5, True])
def test_bad_scales_are_usage_errors(tiny_weights, scale):
    with pytest.raises(UsageError, match="scale must be"):
        _restorer(tiny_weights).restore(_photo(4, 4), scale=scale)


def test_enlarged_size_above_the_pixel_limit_is_refused(tiny_weights, monkeypatch):
    monkeypatch.setenv("CNAPS_RESTORE__MAX_PIXELS", "1000")
    from agent.settings import get_settings

    get_settings.cache_clear()
    with pytest.raises(UsageError, match="lower --scale or raise CNAPS_RESTORE__MAX_PIXELS") as caught:
        _restorer(tiny_weights).restore(_photo(20, 20), scale=2)
    web = caught.value.web_message  # the web app names its form field, not a command-line option
    assert "40x40 image" in web and "form field scale" in web and "--" not in web


def test_memory_grid_counts_the_images_and_bands_on_the_cpu():
    model = build_model("MIMO-UNet")
    cpu = torch.device("cpu")
    for budget_mb in (256, 1024, 4096):
        grid = memory_grid(model, cpu, "fp32", 2000, 3000, budget_mb)
        images = 2000 * 3000 * 8
        network = grid.tile_h * grid.tile_w * bytes_per_pixel(model, "fp32")
        assert images + network + grid.tile_h * 3000 * 24 <= budget_mb * 2**20 or grid.tile_h <= MIN_TILE
    assert memory_grid(model, cpu, "fp32", 720, 1280, 1024).tiles < memory_grid(model, cpu, "fp32", 720, 1280, 256).tiles


def test_auto_tile_follows_the_cpu_budget_setting(tiny_weights, monkeypatch):
    monkeypatch.setenv("CNAPS_RESTORE__CPU_MEMORY_BUDGET_MB", "1")
    from agent.settings import get_settings

    get_settings.cache_clear()
    run = _restorer(tiny_weights).run(_photo(150, 100))
    width, height = (int(n) for n in run.tile_size.split("x"))
    assert width <= MIN_TILE and height <= MIN_TILE and run.tiles == 6


def test_out_of_memory_halves_the_tile(tiny_weights):
    restorer = _restorer(tiny_weights, tile=128)
    real_forward, calls = restorer.forward, []

    def forward(x):
        calls.append(x.shape[-1])
        if x.shape[-1] > 64:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return real_forward(x)

    forward.start_run, forward.fell_back = real_forward.start_run, False
    restorer.forward = forward
    run = restorer.run(_photo(128, 128))
    assert run.tile_size == "56x56" and run.tiles == 9 and calls[0] == 128
    assert any("out of memory" in note for note in run.notes)


def test_progress_reports_every_tile(tiny_weights):
    seen = []
    _restorer(tiny_weights, tile=64).run(_photo(130, 70), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 6) for i in range(1, 7)]


def test_record_describes_the_run(tiny_weights):
    run = _restorer(tiny_weights).run(_photo(20, 10))
    assert run.device == "cpu" and run.precision == "fp32" and run.network == "test-mimo-unet"
    assert run.weights.provenance == "user" and len(run.weights.sha256) == 64
    assert run.seconds > 0 and run.image_path is None


def test_bad_options_are_usage_errors(tiny_weights):
    with pytest.raises(UsageError, match="tile"):
        _restorer(tiny_weights, tile="huge")
    with pytest.raises(UsageError, match="precision"):
        Restorer("test-mimo-unet", weights=tiny_weights, precision="fp8")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="--device cpu"):
            Restorer("test-mimo-unet", weights=tiny_weights, device="cuda")


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("network", ["test-mimo-unet", "MIMO-UNet"])
def test_cuda_half_precision_agrees_with_fp32(network, precision):
    from tools.restoration.metrics import psnr

    torch.manual_seed(0)
    model = build_model(network)
    reference = TileForward(model, torch.device("cpu"), "fp32")
    x = torch.from_numpy(np.asarray(_photo(256, 192), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    expected = reference(x)
    fast = TileForward(model, torch.device("cuda"), precision)
    got = fast(x)
    to_image = lambda t: (t[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255)  # noqa: E731
    assert psnr(to_image(got), to_image(expected)) >= (45 if precision == "fp16" else 38)


@pytest.mark.gpu
def test_cuda_restorer_runs_and_records_the_gpu(tiny_weights):
    run = Restorer("test-mimo-unet", weights=tiny_weights, device="cuda").run(_photo(100, 60))
    assert run.device.startswith("cuda:") and run.precision == "fp16"


def test_cpu_defaults_to_fp32_and_bf16_stays_close_to_it():
    from tools.restoration.tile_forward import resolve_precision
    from tools.restoration.metrics import psnr

    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    torch.manual_seed(0)
    model = build_model("test-mimo-unet")
    x = torch.from_numpy(np.asarray(_photo(48, 32), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    exact = TileForward(model, torch.device("cpu"), "fp32")(x)
    bf16 = TileForward(model, torch.device("cpu"), "bf16")(x)
    to_image = lambda t: (t[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round()  # noqa: E731
    assert 38 <= psnr(to_image(bf16), to_image(exact), channel="rgb") < math.inf


def test_fp16_overflow_is_recomputed_in_fp32():
    class Overflowing(torch.nn.Module):
        def restore(self, x):  # the engine runs the network's lean full-scale path
            if torch.is_autocast_enabled("cpu"):
                return x * float("inf")
            return x

    forward = TileForward(Overflowing(), torch.device("cpu"), "bf16")
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(forward(x), x) and forward.fell_back
    # Another worker's run on the same forward does not see this run's fall-back, and a new run starts clean.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: forward.fell_back).result() is False
    forward.start_run()
    assert forward.fell_back is False


def test_self_ensemble_averages_the_eight_dihedral_transforms():
    from tools.restoration.tile_forward import SelfEnsemble

    torch.manual_seed(0)
    forward = TileForward(build_model("test-mimo-unet"), torch.device("cpu"), "fp32")
    x = torch.rand(1, 3, 16, 24)
    outputs = []
    for turns in range(4):
        turned = x.rot90(turns, (2, 3))
        outputs.append(forward(turned).rot90(-turns, (2, 3)))
        outputs.append(forward(turned.flip(3)).flip(3).rot90(-turns, (2, 3)))
    expected = torch.stack(outputs).mean(0)
    ensemble = SelfEnsemble(forward)
    torch.testing.assert_close(ensemble(x), expected)
    assert not torch.allclose(ensemble(x), forward(x), atol=1e-4)  # the transforms do change the output
    ensemble.start_run()  # the ensemble passes the run's state through to its forward
    assert ensemble.fell_back is False and forward.fell_back is False


def test_cpu_fast_path_agrees_with_plain_eager_fp32():
    from tools.restoration.metrics import psnr

    torch.manual_seed(0)
    model = build_model("MIMO-UNet").eval()
    x = torch.from_numpy(np.asarray(_photo(64, 48), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        plain = model(x)[-1]
    fast = TileForward(build_model("MIMO-UNet"), torch.device("cpu"), "fp32")
    fast.model.load_state_dict(model.state_dict())
    assert fast.model.feat_extract[0].main[0].weight.is_contiguous(
        memory_format=torch.channels_last)
    to_image = lambda t: (t[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round()  # noqa: E731
    assert psnr(to_image(fast(x)), to_image(plain), channel="rgb") >= 45
