"""The `Restorer` that ties weights, images and records: tiled MIMO-UNet inference on the CPU or a CUDA GPU.

The tiles, their blending and the grid planned from memory are `tiling`'s; the network on one tile, its device and
precision are `tile_forward`'s. A CUDA out-of-memory error halves the tile and runs again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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
from tools.restoration.tile_forward import SelfEnsemble, TileForward, describe_device, resolve_device, resolve_precision
from tools.restoration.tiling import (MIN_TILE, Grid, Progress, TileStats, memory_grid, pad_mode, parse_tile, plan_grid,
                                      run_bands)

ENLARGE_POLICIES = ("auto", "network", "lanczos")
ENLARGE_BAND = 256  # rows per band when Lanczos enlarges alone
MAX_SCALE = zoo.MAX_SCALE


# --- the restorer ----------------------------------------------------------------------------------------------


@dataclass
class LoadedWeights:
    model: nn.Module
    record: WeightsRecord


def load_weights(entry: zoo.ZooEntry, weights: str | Path | None, enlarging: bool = False) -> LoadedWeights:
    """Find, load (strictly) and describe the weights for a zoo entry (for enlargement when `enlarging`)."""
    settings = get_settings()
    source = zoo.locate_weights(entry, weights, settings.weights_dir, enlarging)
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
    """Restores images with one MIMO-UNet variant. Its weights are found and loaded at construction; the project's
    enlargement weights, where they ship apart (zoo.project_weights_path), on the first enlargement."""

    def __init__(self, model_id: str, weights: str | Path | None = None, device: str = "auto",
                 precision: str = "auto", tile: str | int | None = "auto") -> None:
        self.entry = zoo.lookup(model_id)
        self.model_id = model_id
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.tile = parse_tile(tile)
        self._wrapper: Callable[[TileForward], TileForward] | None = None
        self.forward, self.weights = self._load(weights, enlarging=False)
        # The project's enlargement weights, where they ship apart: loaded on the first enlargement
        self._apart = weights is None and zoo.is_shipped(self.weights.file) and \
            zoo.project_weights_path(self.entry, enlarging=True) != Path(self.weights.file)
        self._enlarging: tuple[TileForward, WeightsRecord] | None = None

    def _load(self, weights: str | Path | None, enlarging: bool) -> tuple[TileForward, WeightsRecord]:
        loaded = load_weights(self.entry, weights, enlarging)
        forward = TileForward(loaded.model, self.device, self.precision)
        forward = SelfEnsemble(forward) if self.entry.self_ensemble else forward
        return (self._wrapper(forward) if self._wrapper else forward), loaded.record

    def wrap_forwards(self, wrapper: Callable[[TileForward], TileForward]) -> None:
        """Wrap the network of every task, loaded now or later (a Ray worker batches tiles this way)."""
        self._wrapper = wrapper
        self.forward = wrapper(self.forward)
        if self._enlarging is not None:
            self._enlarging = (wrapper(self._enlarging[0]), self._enlarging[1])

    def weights_for(self, scale: int) -> tuple[TileForward, WeightsRecord]:
        """The network and the record of the weights that run at `scale`: the enlargement weights above 1."""
        if scale <= 1 or not self._apart:
            return self.forward, self.weights
        if self._enlarging is None:
            self._enlarging = self._load(None, enlarging=True)
        return self._enlarging

    def grid_for(self, height: int, width: int, forward: TileForward | None = None) -> Grid:
        """The tile grid for a padded image: the --tile size, the whole image, or planned from memory."""
        if self.tile != "auto":
            return plan_grid(height, width, self.tile, self.tile)
        budget = get_settings().restore.cpu_memory_budget_mb
        return memory_grid((forward or self.forward).model, self.device, self.precision, height, width, budget)

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
        gain = self.weights_for(scale)[1].enlargement_gain(scale)
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
        forward = self.weights_for(scale)[0]

        def write_rows(top: int, rows: torch.Tensor) -> None:
            count = min(rows.shape[-2], height - top)
            if count > 0:
                sink.write(top, rows[0, :, :count, :width].permute(1, 2, 0).numpy(), source.alpha(top, top + count))

        forward.start_run()
        grid = self.grid_for(padded_h, padded_w, forward)
        notes = list(source.notes)
        while True:
            try:
                stats = run_bands(forward, read_rows, grid, write_rows, progress)
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
        if forward.fell_back:
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
        record = self.weights_for(scale)[1]
        gain = record.enlargement_gain(scale)
        stats = TileStats(tiles=0, tile_size=None, notes=list(source.notes))
        stats.notes.append(
            f"enlarged by Lanczos alone: on real photographs these weights measured {gain:+.2f} dB against Lanczos at "
            f"x{record.measured_scale(scale)}, so the network was not run (it runs for deblurring at --scale 1)")
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
            weights=self.weights_for(scale)[1],
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
