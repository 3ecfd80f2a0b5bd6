"""The restoration tool: a typed function the agent calls; its docstring is its description for the model."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from tools.restoration.record import ToolRun
from tools.restoration.zoo import MAX_SCALE

if TYPE_CHECKING:
    from tools.restoration.engine import Restorer
    from tools.restoration.ray_backend import RayRestorer
    from tools.restoration.metrics import Assessment

_restorers: dict[tuple, "Restorer"] = {}  # loaded networks, reused across calls in one process


class RestoreRequest(BaseModel):
    image: Path = Field(description="Path of the image file to restore.")
    scale: int = Field(1, ge=1, le=MAX_SCALE, description="Enlarge by this factor (Lanczos) before restoring; 1: same size.")
    model_id: str = Field("MIMO-UNet", description="Zoo model id, e.g. 'Deblur-MIMO-UNet-RealBlur' or 'MIMO-UNet+'.")
    weights: Path | None = Field(None, description="A weights file; default: official weights, then project weights.")
    output: Path | None = Field(None, description="Where to write the result; default: a new PNG in cnaps' outputs.")
    device: str | None = Field(None, description="'auto', 'cpu' or 'cuda'; default from settings.")


def open_restorer(model_ids: list[str], weights: Path | str | None = None, fall_back: bool = True,
                  device: str | None = None, precision: str | None = None,
                  tile: str | None = None) -> tuple["Restorer | RayRestorer", str | None]:
    """`open_local_restorer`, or with CNAPS_RESTORE__BACKEND=ray its stand-in whose `run` is done by a Ray worker
    (which opens the restorer there, stand-in note included in each record)."""
    from agent.settings import get_settings

    settings = get_settings().restore
    if settings.backend == "ray":
        from tools.restoration.ray_backend import RayRestorer

        return RayRestorer.open(model_ids, weights, fall_back, device, precision, tile, policy=settings.enlarge), None
    return open_local_restorer(model_ids, weights, fall_back, device, precision, tile)


def open_local_restorer(model_ids: list[str], weights: Path | str | None = None, fall_back: bool = True,
                        device: str | None = None, precision: str | None = None,
                        tile: str | None = None) -> tuple["Restorer", str | None]:
    """A Restorer for the first of `model_ids` in this process, and a note when another model had to stand in.

    `device`, `precision` and `tile` default to the settings (CNAPS_RESTORE__DEVICE and the others). With explicit
    `weights`, or `fall_back=False`, only the first id is tried. Otherwise, when it has no weights here (official or
    project), the other candidates of `zoo.runner_candidates` are tried in order (another official checkpoint of the
    same network, then the plain MIMO-UNet) and the note says which ran instead.
    """
    from tools.errors import WeightsError
    from agent.settings import get_settings
    from tools.restoration import Restorer
    from tools.restoration.zoo import find, runner_candidates

    settings = get_settings().restore
    options = {"device": device or settings.device, "precision": precision or settings.precision,
               "tile": tile or settings.tile}

    first = model_ids[0]
    if weights is not None or not fall_back or find(first) is None:  # an unknown id fails with the zoo's message
        return Restorer(first, weights=weights, **options), None
    first_error: WeightsError | None = None
    for entry in runner_candidates(model_ids):
        try:
            restorer = Restorer(entry.id, **options)
        except WeightsError as error:
            first_error = first_error or error
            continue
        note = None if first_error is None else f"{first} could not run ({first_error}); cnaps ran {entry.id} instead."
        return restorer, note
    assert first_error is not None
    raise first_error


def check_restore_options(model: str | None = None, weights: Path | str | None = None,
                          device: str | None = None) -> None:
    """Refuse a bad --model, --weights or --device up front, before any answer or server that would only fail (or
    silently ignore them) when an image arrives. Loads nothing."""
    from tools.errors import UsageError, WeightsError
    from tools.restoration.zoo import lookup

    if model is not None:
        lookup(model)  # UsageError listing the known ids
    if weights is not None and not Path(weights).expanduser().is_file():
        raise WeightsError(f"weights file {weights} does not exist: check the path passed with --weights")
    if device is not None:
        import re

        if not re.fullmatch(r"auto|cpu|cuda(?::\d+)?", device):
            raise UsageError(f"unknown device '{device}': use auto, cpu, cuda or cuda:N")
        if device.startswith("cuda"):
            from tools.restoration.tile_forward import resolve_device

            resolve_device(device)  # DeviceError when this machine has no such GPU


def unused_name(folder: Path, name: str, suffix: str = ".png") -> Path:
    """`folder/name.png`, or `name-2.png`, `name-3.png`... when that exists: a new output never replaces another."""
    candidate, counter = folder / f"{name}{suffix}", 1
    while candidate.exists():
        counter += 1
        candidate = folder / f"{name}-{counter}{suffix}"
    return candidate


def _default_output(image: Path) -> Path:
    from agent.settings import get_settings

    from tools.restoration.imageio import make_folder

    folder = make_folder(get_settings().output_dir)
    return unused_name(folder, f"{image.stem}-restored-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")


def restore_image(request: RestoreRequest) -> ToolRun:
    """Restore (deblur) an image file with a MIMO-UNet model, optionally enlarging it first by `scale` with Lanczos
    interpolation, and write the result. MIMO-UNet removes blur at the image's own resolution; it does not invent
    resolution, so for scale > 1 the enlargement is plain interpolation and the network then sharpens it. Returns
    the record of the run: model and network, which weights ran (file, sha256, provenance official/project/user,
    description), device, precision, input and output size, tiles, seconds, notes and the output image path."""
    from agent.settings import get_settings
    from tools.restoration.engine import Restorer

    settings = get_settings().restore
    key = (request.model_id, str(request.weights), request.device or settings.device, settings.precision,
           settings.tile, str(get_settings().weights_dir))
    restorer = _restorers.get(key)
    if restorer is None:
        if len(_restorers) >= 2:  # each holds a network in memory
            _restorers.clear()
        restorer = _restorers[key] = Restorer(request.model_id, weights=request.weights, device=key[2],
                                              precision=settings.precision, tile=settings.tile)
    output = request.output or _default_output(request.image)
    return restorer.run(request.image, scale=request.scale, output=output)


@dataclass
class BatchPlan:
    """What `cnaps restore` will do: the (input, output) pairs, the restorer, and the note a stand-in model adds."""

    pairs: list[tuple[Path, Path]]
    restorer: "Restorer | RayRestorer"
    stand_in: str | None


def plan_batch(input_path: Path, output_path: Path, model: str, scale: int, overwrite: bool = False,
               compare: Path | None = None, weights: Path | None = None, device: str | None = None,
               precision: str | None = None, tile: str | None = None) -> BatchPlan:
    """Check a restoration of a file or a folder before any work (paths, reference, scale, model, weights) and
    open the restorer. A card's model id (Deblur-MIMO-UNet-Plus, -RealBlur) without its official checkpoint runs
    MIMO-UNet, and each record says so; a network named as such (MIMO-UNet+) runs that network or fails."""
    from tools.errors import InputFileError
    from agent.settings import get_settings
    from tools.restoration.engine import check_scale
    from tools.restoration.imageio import batch_pairs, check_not_reference, check_output
    from tools.restoration.metrics import check_reference
    from tools.restoration.zoo import find

    check_scale(scale)
    if not input_path.exists():
        raise InputFileError(f"{input_path} does not exist: pass an image file or a folder of images")
    check_not_reference(output_path, compare)
    if input_path.is_dir():
        pairs = batch_pairs(input_path, output_path)
    else:
        check_output(output_path, overwrite, input_path)
        pairs = [(input_path, output_path)]
    if compare is not None and not compare.is_dir():
        check_reference(compare, input_path, scale, get_settings().restore.max_pixels)  # before the run, not after
    entry = find(model)
    card_id = entry is not None and entry.id != entry.network
    restorer, stand_in = open_restorer([model], weights=weights, fall_back=card_id, device=device,
                                       precision=precision, tile=tile)
    return BatchPlan(pairs=pairs, restorer=restorer, stand_in=stand_in)


@dataclass
class FileResult:
    """One file of a batch: its record and quality figures, or why it was skipped."""

    source: Path
    run: ToolRun | None = None
    quality: "Assessment | None" = None
    skipped: str | None = None
    reference_note: str | None = None


def reference_for(compare: Path | None, source: Path, scale: int, max_pixels: int) -> tuple[Path | None, str | None]:
    """The reference `source`'s output is compared with, and why there is none when a folder's image is missing or
    unusable (size, too small for SSIM): that file then gets sharpness only. A single reference was checked up
    front."""
    from tools.errors import CnapsError
    from tools.restoration.metrics import check_reference

    if compare is None or not compare.is_dir():
        return compare, None
    reference = compare / source.name
    if not reference.is_file():
        return None, f"no reference {reference}: sharpness only"
    try:
        check_reference(reference, source, scale, max_pixels)
    except CnapsError as error:
        return None, f"{error}: sharpness only"
    return reference, None


def restore_files(plan: BatchPlan, scale: int, overwrite: bool = False, compare: Path | None = None,
                  on_start: Callable[[Path], None] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> Iterator[FileResult]:
    """Restore each pair of `plan`, yielding a result per file. A single file's failure is raised; in a batch a
    file that cannot be read or written is skipped (and said so) and the others go on."""
    from PIL import Image

    from tools.errors import CnapsError, InputFileError, OutputError
    from agent.settings import get_settings
    from tools.restoration.imageio import open_image
    from tools.restoration.metrics import assess
    from tools.restoration.ray_cluster import WorkerLostError

    max_pixels = get_settings().restore.max_pixels
    sent = _send_all(plan, scale, overwrite)  # a Ray pool gets the whole folder at once; None runs them here
    for source, target in plan.pairs:
        if on_start is not None:
            on_start(source)
        reference, note = reference_for(compare, source, scale, max_pixels)
        try:
            if sent is None:
                run = plan.restorer.run(source, scale=scale, output=target, overwrite=overwrite, progress=progress)
            elif isinstance(outcome := next(sent), CnapsError):
                raise outcome
            else:
                run = outcome
        except (InputFileError, OutputError, WorkerLostError) as error:  # a lost worker loses its job, not all
            if len(plan.pairs) == 1:
                raise
            yield FileResult(source=source, skipped=str(error), reference_note=note)
            continue
        if plan.stand_in:
            run.notes.append(plan.stand_in)
        ref_image = open_image(reference, max_pixels) if reference is not None else None
        with Image.open(target) as restored:
            quality = assess(open_image(source, max_pixels), restored, ref_image, str(reference) if reference else None)
        yield FileResult(source=source, run=run, quality=quality, reference_note=note)


def _send_all(plan: BatchPlan, scale: int, overwrite: bool) -> "Iterator[ToolRun | Exception] | None":
    """With the ray backend, every pair of `plan` sent to the pool at once, outcomes in order; None locally."""
    from tools.restoration.ray_backend import RayRestorer

    if not isinstance(plan.restorer, RayRestorer):
        return None
    return plan.restorer.run_all(plan.pairs, scale, overwrite)
