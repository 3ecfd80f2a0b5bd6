"""The record of one restoration run: what ran, on what, how long it took."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class WeightsRecord(BaseModel):
    """Which weights ran. `provenance` is 'official' (the authors' checkpoint), 'project' (trained by cnaps) or
    'user' (a file passed with --weights that matches neither)."""

    file: str = Field(description="Path or name of the weights file that was loaded.")
    sha256: str = Field(description="SHA-256 of the weights file.")
    provenance: Literal["official", "project", "user"] = Field(description="'official', 'project' or 'user'.")
    description: str = Field(description="One honest sentence on what these weights are and what they learned from.")


class ToolRun(BaseModel):
    """What one call of the restoration tool did."""

    model_id: str = Field(description="The model id asked for, e.g. 'Deblur-MIMO-UNet-RealBlur'.")
    network: str = Field(description="The network that ran: 'MIMO-UNet' or 'MIMO-UNet+'.")
    weights: WeightsRecord
    device: str = Field(description="Device the network ran on, e.g. 'cpu' or 'cuda:0 (NVIDIA H100)'.")
    precision: str = Field(description="'fp32', 'fp16' or 'bf16'.")
    input_size: tuple[int, int] = Field(description="(width, height) of the input image.")
    output_size: tuple[int, int] = Field(description="(width, height) of the output image.")
    scale: int = Field(1, description="Enlargement factor applied before restoration.")
    resize: str | None = Field(None, description="How the image was enlarged, e.g. 'lanczos x4 then MIMO-UNet'.")
    tiles: int = Field(1, description="Number of tiles the network ran on.")
    tile_size: str | None = Field(None, description="Tile size 'WxH' in pixels, or None when the image ran whole.")
    seconds: float = Field(description="Wall-clock seconds for the whole restoration.")
    notes: list[str] = Field(default_factory=list, description="Anything the user should know (first frame only...).")
    input_path: str | None = Field(None, description="The input image file, when the input came from a file.")
    image_path: str | None = Field(None, description="Where the restored image was written, when it was.")
