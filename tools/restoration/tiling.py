"""Padding, tile grids and the band runner of tiled MIMO-UNet inference.

The image is padded to a multiple of 4 (reflect where the image is large enough, else replicate), cut into
overlapping tiles whose origins are multiples of 4 (so the network's nearest-neighbour /2 and /4 resizes sample
the same pixels as on the whole image), and the tile outputs are blended with raised-cosine ramps across each
overlap. The tiles are run one band of rows at a time: a band is read from the image, enlarged and converted to
float only when it is needed, and rows leave for the output image as soon as no later band overlaps them, so the
working memory depends on the tile and the image width, never on the image height.

The grid is planned from a memory budget (RAM on the CPU, free VRAM on CUDA): of the grids whose tiles fit, the
one that runs the fewest pixels through the network, tiles balanced so that none is mostly overlap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from tools.errors import UsageError
from tools.restoration.network import MULTIPLE

Progress = Callable[[int, int], None]  # (tiles done, tiles in all)

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


# --- planning from memory ---------------------------------------------------------------------------------------


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
