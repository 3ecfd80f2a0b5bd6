"""Tiled MIMO-UNet inference on the CPU or a CUDA GPU, and the `Restorer` that ties weights, images and records.

The image is padded to a multiple of 4 (reflect where the image is large enough, else replicate), cut into
overlapping tiles whose origins are multiples of 4 (so the network's nearest-neighbour /2 and /4 resizes sample
the same pixels as on the whole image), and the tile outputs are blended with raised-cosine ramps across each
overlap. The tiles are run one band of rows at a time: a band is read from the image, enlarged and converted to
float only when it is needed, and rows leave for the output image as soon as no later band overlaps them, so the
working memory depends on the tile and the image width, never on the image height.

The grid is planned from a memory budget (RAM on the CPU, free VRAM on CUDA): of the grids whose tiles fit, the
one that runs the fewest pixels through the network, tiles balanced so that none is mostly overlap. A CUDA
out-of-memory error halves the tile and runs again.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from tools.errors import DeviceError, UsageError
from agent.settings import get_settings
from tools.restoration import build_model, checkpoint, zoo
from tools.restoration.imageio import Sink, Source, check_output, open_image, save_image_atomic
from tools.restoration.network import MULTIPLE
from tools.restoration.record import ToolRun, WeightsRecord

Progress = Callable[[int, int], None]  # (tiles done, tiles in all)

PRECISIONS = ("fp32", "fp16", "bf16")
ENLARGE_POLICIES = ("auto", "network", "lanczos")
ENLARGE_BAND = 256  # rows per band when Lanczos enlarges alone
MAX_SCALE = zoo.MAX_SCALE
MIN_TILE = 64
OVERLAP = 32  # pixels shared by neighbouring tiles; the blend ramps across them
# Peak activation bytes per tile pixel of the lean fp32 forward (`MIMOUNet.restore`) per base channel. Measured
# on the CPU with MIMO-UNet (c=32, channels_last): 768 bytes per pixel at 1280x720, 935 at 640x480 (the full
# `forward` needs 2630); 32 per channel (1 KB per pixel) leaves a margin. Halved for fp16/bf16.
_BYTES_PER_PIXEL_PER_CHANNEL = 32
# Whole-image buffers a CPU run holds besides the network: the decoded input and the output image (Pillow stores
# RGB as 4 bytes per pixel), plus the float band read from the image and the band's blend accumulator.
_IMAGE_BYTES_PER_PIXEL = 4 + 4
_BAND_BYTES_PER_PIXEL = 4 * 3 * 2
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


# --- padding and tiling ---------------------------------------------------------------------------------------


def pad_mode(height: int, width: int) -> str:
    """Padding to multiples of 4: reflect where the image is larger than the padding, else replicate."""
    return "reflect" if -height % MULTIPLE < height and -width % MULTIPLE < width else "replicate"


def pad_to_multiple(x: torch.Tensor) -> torch.Tensor:
    """Pad (B, C, H, W) bottom/right to multiples of 4 (`pad_mode`)."""
    height, width = x.shape[-2:]
    if not height % MULTIPLE and not width % MULTIPLE:
        return x
    return F.pad(x, (0, -width % MULTIPLE, 0, -height % MULTIPLE), mode=pad_mode(height, width))


def _ceil4(n: float) -> int:
    return int(math.ceil(n / MULTIPLE)) * MULTIPLE


def tile_starts(length: int, tile: int, overlap: int) -> tuple[int, list[int]]:
    """(tile, origins) covering [0, length) with tiles of at most `tile` pixels, as few as possible, balanced.

    The tile is shrunk to the smallest multiple of 4 that still covers the axis with that many tiles, and the
    origins are spread evenly on multiples of 4, so no tile is mostly overlap. Neighbours share >= `overlap`.
    """
    if length <= tile:
        return length, [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    tile = min(tile, _ceil4((length + (count - 1) * overlap) / count))
    span = (length - tile) // MULTIPLE  # in steps of 4 pixels; length and tile are multiples of 4
    return tile, [MULTIPLE * (i * span // (count - 1)) for i in range(count)]


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


@dataclass(frozen=True)
class Grid:
    """Overlapping tiles over a padded (height, width) image: every tile is tile_h x tile_w."""

    height: int
    width: int
    tile_h: int
    tile_w: int
    overlap: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    @property
    def tiles(self) -> int:
        return len(self.rows) * len(self.cols)

    @property
    def whole(self) -> bool:
        return self.tiles == 1

    @property
    def pixels_run(self) -> int:
        """Pixels the network processes, overlaps counted twice."""
        return self.tiles * self.tile_h * self.tile_w


def plan_grid(height: int, width: int, max_h: int | None, max_w: int | None, overlap: int = OVERLAP) -> Grid:
    """Balanced tiles of at most max_h x max_w pixels (None: the whole axis) over a padded image."""
    max_h = height if max_h is None else max(MULTIPLE * 2, max_h - max_h % MULTIPLE)
    max_w = width if max_w is None else max(MULTIPLE * 2, max_w - max_w % MULTIPLE)
    overlap = min(overlap, min(max_h, max_w) // 4) // MULTIPLE * MULTIPLE
    tile_h, rows = tile_starts(height, max_h, overlap)
    tile_w, cols = tile_starts(width, max_w, overlap)
    return Grid(height, width, tile_h, tile_w, overlap, tuple(rows), tuple(cols))


def auto_grid(height: int, width: int, budget: float, tile_bytes_per_pixel: float, band_bytes_per_pixel: float = 0.0,
              overlap: int = OVERLAP) -> Grid:
    """The grid that runs the fewest pixels among those whose working memory fits `budget` bytes.

    Working memory: tile_h * tile_w * tile_bytes_per_pixel for the network plus tile_h * width *
    band_bytes_per_pixel for the band being read and blended. Tiles are at least MIN_TILE on each side (or the
    whole axis when it is shorter); when not even that fits, MIN_TILE tiles run anyway.
    """
    def max_rows(tile_w: int) -> int:
        rows = int(budget // (tile_w * tile_bytes_per_pixel + width * band_bytes_per_pixel))
        return rows - rows % MULTIPLE

    if max_rows(width) >= height:
        return plan_grid(height, width, None, None, overlap)
    best: Grid | None = None
    for columns in range(1, width // MIN_TILE + 2):
        tile_w = width if columns == 1 else _ceil4((width + (columns - 1) * overlap) / columns)
        if tile_w < MIN_TILE:
            break
        max_h = max_rows(tile_w)
        if max_h < MIN_TILE:
            continue
        grid = plan_grid(height, width, max_h, tile_w, overlap)
        if best is None or grid.pixels_run < best.pixels_run:
            best = grid
    return best or plan_grid(height, width, MIN_TILE, MIN_TILE, overlap)


@dataclass
class TileStats:
    tiles: int = 1
    tile_size: str | None = None  # 'WxH' of the tiles, None when the image ran whole
    notes: list[str] = field(default_factory=list)


ReadRows = Callable[[int, int], torch.Tensor]  # (top, bottom) -> (1, 3, bottom - top, width) padded rows
WriteRows = Callable[[int, torch.Tensor], None]  # (top, (1, 3, n, width)) finished, blended rows


def run_bands(forward: Callable[[torch.Tensor], torch.Tensor], read_rows: ReadRows, grid: Grid,
              write_rows: WriteRows, progress: Progress | None = None) -> TileStats:
    """Run `forward` over `grid` one band of tiles at a time, handing out rows as soon as they are final."""
    if grid.whole:
        write_rows(0, forward(read_rows(0, grid.height)))
        if progress:
            progress(1, 1)
        return TileStats()
    tile_h, tile_w, overlap = grid.tile_h, grid.tile_w, grid.overlap
    # The tiles form a product grid, so the summed blend weight is separable: sum_rows(y) * sum_cols(x).
    row_weight, col_weight = torch.zeros(grid.height), torch.zeros(grid.width)
    for top in grid.rows:
        row_weight[top:top + tile_h] += ramp(tile_h, overlap, top > 0, top + tile_h < grid.height)
    for left in grid.cols:
        col_weight[left:left + tile_w] += ramp(tile_w, overlap, left > 0, left + tile_w < grid.width)
    done, carry = 0, None
    for index, top in enumerate(grid.rows):
        band = read_rows(top, top + tile_h)
        blended = torch.zeros((1, 3, tile_h, grid.width))
        if carry is not None:  # what the previous band added to the rows it shares with this one
            blended[..., :carry.shape[-2], :] = carry
        wy = ramp(tile_h, overlap, top > 0, top + tile_h < grid.height)
        for left in grid.cols:
            wx = ramp(tile_w, overlap, left > 0, left + tile_w < grid.width)
            piece = forward(band[..., left:left + tile_w])
            blended[..., left:left + tile_w] += piece * (wy[:, None] * wx[None, :])
            done += 1
            if progress:
                progress(done, grid.tiles)
        del band
        final = (grid.rows[index + 1] if index + 1 < len(grid.rows) else grid.height) - top
        carry = blended[..., final:, :].clone()
        rows = blended[..., :final, :]
        rows /= row_weight[top:top + final, None]
        rows /= col_weight
        write_rows(top, rows)
    return TileStats(tiles=grid.tiles, tile_size=f"{tile_w}x{tile_h}")


def run_tiled(forward: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, tile: int | Grid | None,
              overlap: int = OVERLAP, progress: Progress | None = None) -> tuple[torch.Tensor, TileStats]:
    """Run `forward` on a (1, 3, H, W) tensor (H, W multiples of 4): whole, in tiles of at most `tile` pixels, or
    on a planned `Grid`."""
    height, width = image.shape[-2:]
    grid = tile if isinstance(tile, Grid) else plan_grid(height, width, tile, tile, overlap)
    output = torch.empty((1, 3, height, width))

    def write(top: int, rows: torch.Tensor) -> None:
        output[..., top:top + rows.shape[-2], :] = rows

    stats = run_bands(forward, lambda top, bottom: image[..., top:bottom, :], grid, write, progress)
    return output, stats


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


def memory_grid(model: nn.Module, device: torch.device, precision: str, height: int, width: int,
                budget_mb: int) -> Grid:
    """The auto grid for a padded (height, width) image: within `budget_mb` of RAM on the CPU, counting the
    input and output images and the band buffers, or within 70% of the free memory of a CUDA GPU."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return auto_grid(height, width, free * 0.7, bytes_per_pixel(model, precision))
    budget = budget_mb * 2**20 - height * width * _IMAGE_BYTES_PER_PIXEL
    return auto_grid(height, width, budget, bytes_per_pixel(model, precision), _BAND_BYTES_PER_PIXEL)


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
        # without reordering every activation to its blocked layout and back (1.62x over NCHW at 1280x720 with
        # 2 threads, 97.9 dB agreement: README, benchmarks/restore_speed.py).
        self.model = model.to(device).eval().to(memory_format=torch.channels_last)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # every tile of a run has the same shape: autotune once
        self._run_state = threading.local()  # one Restorer serves several web workers at once

    @property
    def fell_back(self) -> bool:
        """Whether a tile of this thread's current run was recomputed in fp32."""
        return getattr(self._run_state, "fell_back", False)

    def start_run(self) -> None:
        self._run_state.fell_back = False

    @torch.inference_mode()
    def _run(self, x: torch.Tensor, precision: str) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        x = x.contiguous(memory_format=torch.channels_last)
        if precision == "fp32":
            return self.model.restore(x).float()
        with torch.autocast(self.device.type, dtype=_DTYPES[precision]):
            return self.model.restore(x).float()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self._run(x, self.precision)
        if self.precision != "fp32" and not bool(torch.isfinite(out).all()):
            # fp16 overflow on this tile: redo it in fp32 rather than return NaNs.
            out = self._run(x, "fp32")
            self._run_state.fell_back = True
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
    gains = None
    if provenance == "project" and metadata.get("real_photo_gain_db"):
        gains = {key: float(value) for key, value in json.loads(metadata["real_photo_gain_db"]).items()}
    record = WeightsRecord(file=str(source.path), sha256=checkpoint.sha256(source.path), provenance=provenance,
                           description=description, real_photo_gain_db=gains,
                           real_photo_set=metadata.get("real_photo_set") if gains else None)
    return LoadedWeights(model=model, record=record)


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

    def grid_for(self, height: int, width: int) -> Grid:
        """The tile grid for a padded image: the --tile size, the whole image, or planned from memory."""
        if self.tile != "auto":
            return plan_grid(height, width, self.tile, self.tile)
        budget = get_settings().restore.cpu_memory_budget_mb
        return memory_grid(self.forward.model, self.device, self.precision, height, width, budget)

    def enlarges_with_network(self, scale: int, policy: str = "auto") -> bool:
        """Whether an enlargement by `scale` runs the network after Lanczos.

        'auto' skips the network where these weights measured no gain over Lanczos on real photographs at that
        scale (the product never knowingly makes a photo worse); 'network' always runs it; 'lanczos' never does.
        """
        if policy == "auto":
            policy = get_settings().restore.enlarge
        if policy not in ENLARGE_POLICIES:
            raise UsageError(f"unknown enlargement policy '{policy}': use one of {', '.join(ENLARGE_POLICIES)}")
        if scale <= 1 or policy == "network":
            return True
        if policy == "lanczos":
            return False
        gain = self.weights.enlargement_gain(scale)
        return gain is None or gain > 0

    def _restore(self, image: Image.Image, scale: int, progress: Progress | None,
                 policy: str = "auto") -> tuple[Image.Image, TileStats]:
        check_scale(scale)
        if scale > 1 and policy == "network-first":  # deblur at the input's size, then enlarge (benchmarks only)
            restored, stats = self._restore(image, 1, progress, "network")
            return restored.resize((restored.width * scale, restored.height * scale), Image.Resampling.LANCZOS), stats
        if not self.enlarges_with_network(scale, policy):
            return self._enlarge_only(image, scale)
        width, height = image.size
        limit = get_settings().restore.max_pixels
        if width * height * scale * scale > limit:
            too_large = (f"x{scale} would make a {width * scale}x{height * scale} image, more than the "
                         f"{limit:,}-pixel limit")
            raise UsageError(f"{too_large}: lower --scale or raise CNAPS_RESTORE__MAX_PIXELS",
                             web=f"{too_large}: pick a smaller Scale (form field scale) or ask for less enlargement")
        source = Source(image, scale)
        width, height = source.size
        padded_h, padded_w = height + -height % MULTIPLE, width + -width % MULTIPLE
        mode = pad_mode(height, width)  # each band padded as pad_to_multiple pads the whole image

        def read_rows(top: int, bottom: int) -> torch.Tensor:
            inside = min(bottom, height)
            band = torch.from_numpy(source.rgb(top, inside)).permute(2, 0, 1)[None]  # (1, 3, h, W)
            if bottom > inside or padded_w > width:
                band = F.pad(band, (0, padded_w - width, 0, bottom - inside), mode=mode)
            return band

        sink = Sink(source)

        def write_rows(top: int, rows: torch.Tensor) -> None:
            count = min(rows.shape[-2], height - top)
            if count > 0:
                sink.write(top, rows[0, :, :count, :width].permute(1, 2, 0).numpy(), source.alpha(top, top + count))

        self.forward.start_run()
        grid = self.grid_for(padded_h, padded_w)
        notes = list(source.notes)
        while True:
            try:
                stats = run_bands(self.forward, read_rows, grid, write_rows, progress)
                break
            except torch.cuda.OutOfMemoryError as error:
                torch.cuda.empty_cache()
                current = max(grid.tile_h, grid.tile_w)
                if current <= MIN_TILE:
                    raise DeviceError("the GPU ran out of memory even with 64-pixel tiles: free GPU memory or "
                                      "pass --device cpu") from error
                edge = max(MIN_TILE, current // 2 - current // 2 % MULTIPLE)
                grid = plan_grid(padded_h, padded_w, edge, edge)
                notes.append(f"GPU out of memory: retried with tiles of at most {edge} pixels")
        if self.forward.fell_back:
            stats.notes.append("fp16 overflowed on some tiles; they were recomputed in fp32")
        if self.entry.self_ensemble:
            stats.notes.append("geometric self-ensemble: each tile ran 8 times (flips and rotations), averaged")
        stats.notes[:0] = notes
        return sink.image(), stats

    def _enlarge_only(self, image: Image.Image, scale: int) -> tuple[Image.Image, TileStats]:
        """Lanczos enlargement alone, through the same band reader and writer as the network path."""
        source = Source(image, scale)
        width, height = source.size
        sink = Sink(source)
        for top in range(0, height, ENLARGE_BAND):
            bottom = min(height, top + ENLARGE_BAND)
            sink.write(top, source.rgb(top, bottom), source.alpha(top, bottom))
        gain = self.weights.enlargement_gain(scale)
        stats = TileStats(tiles=0, tile_size=None, notes=list(source.notes))
        stats.notes.append(
            f"enlarged by Lanczos alone: on real photographs these weights measured {gain:+.2f} dB against Lanczos at "
            f"x{self.weights.measured_scale(scale)}, so the network was not run (it runs for deblurring at --scale 1)")
        return sink.image(), stats

    def restore(self, img: Image.Image, scale: int = 1, policy: str = "auto") -> Image.Image:
        """The restored image (enlarged `scale` times with Lanczos first), in the input's mode family."""
        return self._restore(img, scale, None, policy)[0]

    def run(self, image: Image.Image | str | Path, scale: int = 1, output: str | Path | None = None,
            overwrite: bool = False, progress: Progress | None = None, policy: str = "auto") -> ToolRun:
        """Restore a PIL image or an image file; with `output`, write the result atomically. Returns the record."""
        started = time.perf_counter()
        input_path = None
        if not isinstance(image, Image.Image):
            input_path = Path(image).expanduser()
            image = open_image(input_path, get_settings().restore.max_pixels)
        if output is not None:  # refuse a bad output before spending minutes on the network
            check_output(Path(output), overwrite, input_path)
        network_ran = self.enlarges_with_network(scale, policy)
        restored, stats = self._restore(image, scale, progress, policy)
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
            resize=(f"lanczos x{scale} then {self.entry.network}" if network_ran else f"lanczos x{scale} only")
            if scale > 1 else None,
            network_ran=network_ran,
            tiles=stats.tiles,
            tile_size=stats.tile_size,
            seconds=round(time.perf_counter() - started, 3),
            notes=stats.notes,
            input_path=str(input_path) if input_path else None,
            image_path=image_path,
        )
