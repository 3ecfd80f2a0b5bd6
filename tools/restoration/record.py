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
    real_photo_gain_db: dict[str, float] | None = Field(
        None, description="The weights' measured mean PSNR gain on real photographs, per case: 'x2', 'x3', 'x4' over "
                          "Lanczos enlargement, 'deblur' over the blurred input; None when never measured (official "
                          "and user weights).")
    real_photo_set: str | None = Field(None, description="Which photographs the gains were measured on.")

    def measured_scale(self, scale: int) -> int | None:
        """The measured enlargement nearest to `scale` (the larger one on a tie), or None if none was measured."""
        gains = self.real_photo_gain_db or {}
        measured = [int(key[1:]) for key in gains if key[0] == "x" and key[1:].isdigit()]
        if scale <= 1 or not measured:
            return None
        return min(measured, key=lambda m: (abs(m - scale), -m))

    def enlargement_gain(self, scale: int) -> float | None:
        """The measured gain over Lanczos at `scale` (at the nearest measured scale), or None if unmeasured."""
        nearest = self.measured_scale(scale)
        return None if nearest is None else self.real_photo_gain_db[f"x{nearest}"]


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
    network_ran: bool = Field(True, description="Whether the network ran; False when an enlargement was done by "
                                                "Lanczos alone because these weights measured no gain over it.")
    tiles: int = Field(1, description="Number of tiles the network ran on.")
    tile_size: str | None = Field(None, description="Tile size 'WxH' in pixels, or None when the image ran whole.")
    seconds: float = Field(description="Wall-clock seconds for the whole restoration.")
    notes: list[str] = Field(default_factory=list, description="Anything the user should know (first frame only...).")
    input_path: str | None = Field(None, description="The input image file, when the input came from a file.")
    image_path: str | None = Field(None, description="Where the restored image was written, when it was.")
    backend: Literal["local", "ray"] = Field("local", description="Where the network ran: 'local' (this process) or "
                                                                "'ray' (a worker of a Ray cluster).")
    worker: str | None = Field(None, description="The Ray worker that ran it, as host:pid; None for 'local'.")
