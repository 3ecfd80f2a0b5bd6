"""Tiled MIMO-UNet inference on the CPU or a CUDA GPU, and the `Restorer` that ties weights, images and records.

The image is padded to a multiple of 4 (reflect where the image is large enough, else replicate), cut into
overlapping tiles whose origins are multiples of 4 (so the network's nearest-neighbour /2 and /4 resizes sample
the same pixels as on the whole image), and the tile outputs are blended with raised-cosine ramps across each
overlap. Tile size follows a memory budget: RAM on the CPU, free VRAM on CUDA, halved after an out-of-memory error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from agent.errors import DeviceError, UsageError
from agent.settings import get_settings
from tools.restoration import build_model, checkpoint, zoo
from tools.restoration.imageio import Picture, check_output, from_picture, open_image, save_image_atomic, to_picture
from tools.restoration.network import MULTIPLE
from tools.restoration.record import ToolRun, WeightsRecord

Progress = Callable[[int, int], None]  # (tiles done, tiles in all)

PRECISIONS = ("fp32", "fp16", "bf16")
MAX_SCALE = 8
MIN_TILE = 64
OVERLAP = 32  # pixels shared by neighbouring tiles; the blend ramps across them
# Peak activation bytes per pixel of an fp32 eager forward per base channel (measured on the CPU with
# MIMO-UNet, c=32: about 3.4 KB per pixel; halved for fp16/bf16). The auto tile keeps tile^2 * this under budget.
_BYTES_PER_PIXEL_PER_CHANNEL = 110
# Whole-image buffers a run holds besides the network: float input and blended output, 8-bit input and output.
_IMAGE_BYTES_PER_PIXEL = 4 * 3 + 4 * 3 + 3 + 3
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


# --- padding and tiling ---------------------------------------------------------------------------------------


def pad_to_multiple(x: torch.Tensor, multiple: int = MULTIPLE) -> torch.Tensor:
    """Pad (B, C, H, W) bottom/right to multiples of `multiple`: reflect when the image allows, else replicate."""
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not pad_h and not pad_w:
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis covering [0, length) with neighbours sharing at least `overlap` pixels."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def ramp(size: int, overlap: int, fade_in: bool, fade_out: bool) -> torch.Tensor:
    """1-D blend weights: a raised cosine rising over the first `overlap` pixels and falling over the last."""
    weights = torch.ones(size)
    if overlap > 0:
        rise = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(overlap) + 0.5) / overlap)
        if fade_in:
            weights[:overlap] = rise
        if fade_out:
            weights[size - overlap:] = rise.flip(0)
    return weights


@dataclass
class TileStats:
    tiles: int = 1
    tile_size: int | None = None
    notes: list[str] = field(default_factory=list)


def run_tiled(forward: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, tile: int | None,
              overlap: int = OVERLAP, progress: Progress | None = None) -> tuple[torch.Tensor, TileStats]:
    """Run `forward` on (1, 3, H, W) (H, W multiples of 4) whole or in overlapping tiles; returns CPU fp32."""
    height, width = image.shape[-2:]
    if tile is None or (height <= tile and width <= tile):
        out = forward(image)
        if progress:
            progress(1, 1)
        return out, TileStats()
    tile = max(MULTIPLE * 2, tile - tile % MULTIPLE)
    overlap = min(overlap, tile // 4) // MULTIPLE * MULTIPLE
    tile_h, tile_w = min(tile, height), min(tile, width)
    rows, cols = tile_starts(height, tile_h, overlap), tile_starts(width, tile_w, overlap)
    total = len(rows) * len(cols)
    output = torch.zeros((1, 3, height, width))
    # The tiles form a product grid, so the summed blend weight is separable: sum_rows(y) * sum_cols(x).
    row_weight, col_weight = torch.zeros(height), torch.zeros(width)
    for top in rows:
        row_weight[top:top + tile_h] += ramp(tile_h, overlap, top > 0, top + tile_h < height)
    for left in cols:
        col_weight[left:left + tile_w] += ramp(tile_w, overlap, left > 0, left + tile_w < width)
    done = 0
    for top in rows:
        wy = ramp(tile_h, overlap, top > 0, top + tile_h < height)
        for left in cols:
            wx = ramp(tile_w, overlap, left > 0, left + tile_w < width)
            window = wy[:, None] * wx[None, :]  # (tile_h, tile_w)
            piece = forward(image[..., top:top + tile_h, left:left + tile_w])
            output[..., top:top + tile_h, left:left + tile_w] += piece * window
            done += 1
            if progress:
                progress(done, total)
    output /= row_weight[:, None]  # in place, no (H, W) weight image
    output /= col_weight
    return output, TileStats(tiles=total, tile_size=tile)


# --- devices, precision, memory ----------------------------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    if device in ("auto", ""):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise UsageError(f"unknown device '{device}': use auto, cpu, cuda or cuda:N") from error
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA is not available on this machine: pass --device cpu (or auto)")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise DeviceError(f"there is no {device} (found {torch.cuda.device_count()} GPUs): pass --device cuda:0")
    elif chosen.type != "cpu":
        raise UsageError(f"unsupported device '{device}': use auto, cpu, cuda or cuda:N")
    return chosen


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision == "auto":
        # CUDA: fp16 autocast (10-bit mantissa; bf16 keeps only 7), recomputed in fp32 on overflow.
        # CPU: fp32 (channels_last, see TileForward). On the 2-core AVX2 EPYC bf16 autocast ran ~35x slower
        # (emulated without AVX512-BF16/AMX), so it is never the default there.
        return "fp16" if device.type == "cuda" else "fp32"
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision '{precision}': use auto, fp32, fp16 or bf16")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError("this GPU has no bf16 support: pass --precision fp16 or fp32")
    return precision


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return "cpu"


def bytes_per_pixel(model: nn.Module, precision: str) -> float:
    """Estimated peak activation bytes per input pixel of one forward pass."""
    channels = model.feat_extract[0].main[0].out_channels
    return _BYTES_PER_PIXEL_PER_CHANNEL * channels * (1.0 if precision == "fp32" else 0.5)


def auto_tile(model: nn.Module, device: torch.device, precision: str, budget_mb: int, image_pixels: int = 0) -> int:
    """The largest tile edge (multiple of 4, at least MIN_TILE) whose forward fits the memory budget.

    On the CPU the budget also holds the whole-image buffers of an `image_pixels` image.
    """
    budget = budget_mb * 2**20 - image_pixels * _IMAGE_BYTES_PER_PIXEL
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        budget = int(free * 0.7)
    edge = int(math.sqrt(max(budget, 0) / bytes_per_pixel(model, precision)))
    return max(MIN_TILE, edge - edge % MULTIPLE)


def parse_tile(tile: str | int | None) -> str | int | None:
    """'auto' | 'none' | pixels -> 'auto' | None | int."""
    if tile is None or (isinstance(tile, str) and tile.lower() in ("none", "off", "0")):
        return None
    if isinstance(tile, str) and tile.lower() == "auto":
        return "auto"
    try:
        size = int(tile)
    except (TypeError, ValueError) as error:
        raise UsageError(f"invalid tile '{tile}': use auto, none or a size in pixels such as 512") from error
    if size == 0:
        return None
    if size < MIN_TILE:
        raise UsageError(f"tile {size} is too small: use at least {MIN_TILE} pixels, auto or none")
    return size - size % MULTIPLE


# --- the network as a function on tiles ---------------------------------------------------------------------------


class TileForward:
    """(1, 3, h, w) CPU fp32 tile -> (1, 3, h, w) CPU fp32 restored tile, on the chosen device and precision."""

    def __init__(self, model: nn.Module, device: torch.device, precision: str) -> None:
        self.device, self.precision = device, precision
        # channels_last everywhere: cuDNN tensor cores want NHWC, and oneDNN on the CPU runs NHWC convolutions
        # without reordering every activation to its blocked layout and back (measured 1.19x at 384x216 and
        # 1.86x at 1280x720 with 2 threads, 1.02x with 1 thread; 96-98 dB from NCHW fp32).
        self.channels_last = True
        self.model = model.to(device).eval()
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # every tile of a run has the same shape: autotune once
        self.fell_back = False

    @torch.inference_mode()
    def _run(self, x: torch.Tensor, precision: str) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if precision == "fp32":
            return self.model(x)[-1].float()
        with torch.autocast(self.device.type, dtype=_DTYPES[precision]):
            return self.model(x)[-1].float()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self._run(x, self.precision)
        if self.precision != "fp32" and not bool(torch.isfinite(out).all()):
            # fp16 overflow on this tile: redo it in fp32 rather than return NaNs.
            out = self._run(x, "fp32")
            self.fell_back = True
        return out.to("cpu", torch.float32).contiguous()


class SelfEnsemble:
    """Geometric self-ensemble (MIMO-UNet++): the mean over the 8 flips/rotations of a tile, each undone."""

    def __init__(self, forward: TileForward) -> None:
        self.forward = forward

    def __getattr__(self, name: str):
        return getattr(self.forward, name)

    def __setattr__(self, name: str, value) -> None:
        if name == "forward":
            object.__setattr__(self, name, value)
        else:
            setattr(self.forward, name, value)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(x)
        for turns in range(4):
            for flip in (False, True):
                t = x.rot90(turns, (2, 3))
                t = t.flip(3) if flip else t
                y = self.forward(t.contiguous())
                y = y.flip(3) if flip else y
                total += y.rot90(-turns, (2, 3))
        return total / 8


# --- the restorer ----------------------------------------------------------------------------------------------


@dataclass
class LoadedWeights:
    model: nn.Module
    record: WeightsRecord


def load_weights(entry: zoo.ZooEntry, weights: str | Path | None) -> LoadedWeights:
    """Find, load (strictly) and describe the weights for a zoo entry."""
    settings = get_settings()
    source = zoo.locate_weights(entry, weights, settings.weights_dir)
    state = checkpoint.load_state(source.path)
    model = build_model(entry.network)
    checkpoint.load_into(model, state, strict=True, source=str(source.path))
    metadata = checkpoint.read_metadata(source.path)
    name = source.path.name
    official = zoo.official_entry(entry, name) if source.found_by != "project" else None
    if official is not None:
        provenance = "official"
        description = (f"The MIMO-UNet authors' official {entry.network} checkpoint ({name}), "
                       f"trained on {official.trained_on}.")
    elif source.found_by == "project" or metadata.get("cnaps_provenance") == "project":
        provenance = "project"
        description = metadata.get("description") or (
            f"Weights trained by the cnaps project for {entry.network}, not the authors' checkpoint.")
    else:
        provenance = "user"
        description = f"Weights supplied by the user ({name}); cnaps does not know what they were trained on."
    record = WeightsRecord(file=str(source.path), sha256=checkpoint.sha256(source.path), provenance=provenance,
                           description=description)
    return LoadedWeights(model=model, record=record)


def _resize_plane(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Lanczos-resize one (H, W) float plane to size=(width, height)."""
    return np.asarray(Image.fromarray(plane, "F").resize(size, Image.Resampling.LANCZOS), dtype=np.float32)


def enlarge(picture: Picture, scale: int) -> Picture:
    """Lanczos-enlarge the RGB planes and the alpha plane (separately, never through the network)."""
    if scale == 1:
        return picture
    width, height = picture.size
    size = (width * scale, height * scale)
    rgb = np.stack([_resize_plane(np.ascontiguousarray(picture.rgb[..., i]), size) for i in range(3)], axis=2)
    alpha = None if picture.alpha is None else np.clip(_resize_plane(picture.alpha, size), 0.0, 1.0)
    return Picture(rgb=np.clip(rgb, 0.0, 1.0), alpha=alpha, kind=picture.kind, bits=picture.bits,
                   icc_profile=picture.icc_profile, notes=picture.notes)


def check_scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise UsageError(f"scale must be a whole number from 1 to {MAX_SCALE}, got {scale!r}: e.g. --scale 4")
    return scale


class Restorer:
    """Restores images with one MIMO-UNet variant; weights are found and loaded once, at construction."""

    def __init__(self, model_id: str, weights: str | Path | None = None, device: str = "auto",
                 precision: str = "auto", tile: str | int | None = "auto") -> None:
        self.entry = zoo.lookup(model_id)
        self.model_id = model_id
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.tile = parse_tile(tile)
        loaded = load_weights(self.entry, weights)
        self.weights = loaded.record
        self.forward = TileForward(loaded.model, self.device, self.precision)
        if self.entry.self_ensemble:
            self.forward = SelfEnsemble(self.forward)

    def tile_for(self, picture_pixels: int) -> int | None:
        if self.tile != "auto":
            return self.tile
        budget = get_settings().restore.cpu_memory_budget_mb
        return auto_tile(self.forward.model, self.device, self.precision, budget, picture_pixels)

    def _restore(self, image: Image.Image, scale: int, progress: Progress | None) -> tuple[Image.Image, TileStats]:
        check_scale(scale)
        width, height = image.size
        limit = get_settings().restore.max_pixels
        if width * height * scale * scale > limit:
            raise UsageError(
                f"x{scale} would make a {width * scale}x{height * scale} image, more than the {limit:,}-pixel "
                "limit: lower --scale or raise CNAPS_RESTORE__MAX_PIXELS"
            )
        picture = enlarge(to_picture(image), scale)
        self.forward.fell_back = False
        rgb = torch.from_numpy(picture.rgb).permute(2, 0, 1)[None]  # (1, 3, H, W)
        padded = pad_to_multiple(rgb)
        del rgb
        tile = self.tile_for(padded.shape[-1] * padded.shape[-2])
        while True:
            try:
                out, stats = run_tiled(self.forward, padded, tile, progress=progress)
                break
            except torch.cuda.OutOfMemoryError as error:
                torch.cuda.empty_cache()
                current = tile or max(padded.shape[-2:])
                if current <= MIN_TILE:
                    raise DeviceError("the GPU ran out of memory even with 64-pixel tiles: free GPU memory or "
                                      "pass --device cpu") from error
                tile = max(MIN_TILE, current // 2 - current // 2 % MULTIPLE)
                picture.notes.append(f"GPU out of memory: retried with {tile}-pixel tiles")
        height_s, width_s = picture.rgb.shape[:2]
        del padded
        picture.rgb = np.zeros((0, 0, 3), np.float32)  # free the input pixels before the output copy
        restored = out[0, :, :height_s, :width_s].permute(1, 2, 0).numpy()  # (H, W, 3)
        if self.forward.fell_back:
            stats.notes.append("fp16 overflowed on some tiles; they were recomputed in fp32")
        if self.entry.self_ensemble:
            stats.notes.append("geometric self-ensemble: each tile ran 8 times (flips and rotations), averaged")
        stats.notes[:0] = picture.notes
        return from_picture(restored, picture), stats

    def restore(self, img: Image.Image, scale: int = 1) -> Image.Image:
        """The restored image (enlarged `scale` times with Lanczos first), in the input's mode family."""
        return self._restore(img, scale, None)[0]

    def run(self, image: Image.Image | str | Path, scale: int = 1, output: str | Path | None = None,
            overwrite: bool = False, progress: Progress | None = None) -> ToolRun:
        """Restore a PIL image or an image file; with `output`, write the result atomically. Returns the record."""
        started = time.perf_counter()
        input_path = None
        if not isinstance(image, Image.Image):
            input_path = Path(image).expanduser()
            image = open_image(input_path, get_settings().restore.max_pixels)
        if output is not None:  # refuse a bad output before spending minutes on the network
            check_output(Path(output), overwrite, input_path)
        restored, stats = self._restore(image, scale, progress)
        image_path = None
        if output is not None:
            image_path = str(save_image_atomic(restored, output, overwrite=overwrite, source=input_path))
        return ToolRun(
            model_id=self.model_id,
            network=self.entry.network,
            weights=self.weights,
            device=describe_device(self.device),
            precision=self.precision,
            input_size=image.size,
            output_size=restored.size,
            scale=scale,
            resize=f"lanczos x{scale} then {self.entry.network}" if scale > 1 else None,
            tiles=stats.tiles,
            tile_size=stats.tile_size,
            seconds=round(time.perf_counter() - started, 3),
            notes=stats.notes,
            input_path=str(input_path) if input_path else None,
            image_path=image_path,
        )
