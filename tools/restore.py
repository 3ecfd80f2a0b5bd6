"""The restoration tool: a typed function the agent calls; its docstring is its description for the model."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from tools.restoration.record import ToolRun
from tools.restoration.zoo import MAX_SCALE

if TYPE_CHECKING:
    from tools.restoration.engine import Restorer

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
                  tile: str | None = None) -> tuple["Restorer", str | None]:
    """A Restorer for the first of `model_ids`, and a note when another model had to stand in.

    `device`, `precision` and `tile` default to the settings (CNAPS_RESTORE__DEVICE and the others). With explicit
    `weights`, or `fall_back=False`, only the first id is tried. Otherwise, when it has no weights here (official or
    project), the other candidates of `zoo.runner_candidates` are tried in order (another official checkpoint of the
    same network, then the plain MIMO-UNet) and the note says which ran instead.
    """
    from agent.errors import WeightsError
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
    from agent.errors import UsageError, WeightsError
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
            from tools.restoration.engine import resolve_device

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
