"""The restoration tool: a typed function the agent calls; its docstring is its description for the model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from tools.restoration.record import ToolRun

if TYPE_CHECKING:
    from tools.restoration.engine import Restorer

_restorers: dict[tuple, "Restorer"] = {}  # loaded networks, reused across calls in one process


class RestoreRequest(BaseModel):
    image: Path = Field(description="Path of the image file to restore.")
    scale: int = Field(1, ge=1, le=8, description="Enlarge by this factor (Lanczos) before restoring; 1: same size.")
    model_id: str = Field("MIMO-UNet", description="Zoo model id, e.g. 'Deblur-MIMO-UNet-RealBlur' or 'MIMO-UNet+'.")
    weights: Path | None = Field(None, description="A weights file; default: official weights, then project weights.")
    output: Path | None = Field(None, description="Where to write the result; default: a new PNG in cnaps' outputs.")
    device: str | None = Field(None, description="'auto', 'cpu' or 'cuda'; default from settings.")


def _default_output(image: Path) -> Path:
    from agent.settings import get_settings

    folder = get_settings().output_dir
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, counter = folder / f"{image.stem}-restored-{stamp}.png", 1
    while candidate.exists():
        counter += 1
        candidate = folder / f"{image.stem}-restored-{stamp}-{counter}.png"
    return candidate


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
