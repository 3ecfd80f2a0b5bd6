"""The settings of a training run: what each option means, which may change on --resume, and turning option
values into a checked TrainConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from tools.errors import UsageError
from tools.restoration import degrade

# Fields that must not change when a run resumes: they decide the batches, the schedule and the network.
FIXED_ON_RESUME = ("network", "batch", "crop", "seed", "lr", "min_lr", "warmup", "weight_decay", "recipe",
                   "bank_size", "bank_tile", "bank_refresh", "identity_init", "clip", "init", "photos", "guard")


class TrainConfig(BaseModel):
    """One training run. The fields in FIXED_ON_RESUME are stored in the checkpoint and checked on resume."""

    network: Literal["MIMO-UNet", "MIMO-UNet+", "test-mimo-unet"] = Field(
        "MIMO-UNet", description="'MIMO-UNet', 'MIMO-UNet+' or 'test-mimo-unet'.")
    steps: int = Field(description="Total optimizer steps of the whole run (all chunks). May change on resume: "
                                   "the cosine decay then follows the new total from the current step.", gt=0)
    batch: int = Field(8, description="Images per step.", gt=0)
    crop: int = Field(128, description="Training crop edge in pixels (a multiple of 4).", ge=16)
    seed: int = Field(0, description="Fixes initialisation, scenes, crops and degradations.")
    out: Path = Field(description="Run folder: checkpoint.pt and log.jsonl.")
    lr: float = Field(5e-4, description="Peak learning rate.")
    min_lr: float = Field(1e-6, description="Learning rate at the end of the cosine decay.")
    warmup: int = Field(200, description="Linear warm-up steps.")
    weight_decay: float = Field(1e-4, description="AdamW weight decay.")
    clip: float = Field(1.0, description="Gradient-norm clip (0 disables).")
    guard: float = Field(0.0, description="Weight of the hinge on how many dB each output falls below its own "
                                          "input (0 disables): the never-worse criterion the real-photo table "
                                          "ships by, as a loss.", ge=0)
    recipe: str = Field("users", description=f"Degradation recipe: {', '.join(degrade.RECIPES)}.")
    bank_size: int = Field(1024, description="Clean tiles rendered per bank.")
    bank_tile: int = Field(256, description="Edge of a bank tile; crops are cut from it.")
    bank_refresh: int = Field(2000, description="Steps between fresh banks (0: one bank for the whole run).")
    identity_init: bool = Field(True, description="Zero the output convolutions: the untrained net returns its input.")
    init: Path | None = Field(None, description="Start from these weights (.safetensors or checkpoint) instead of a "
                                                "random network: a fine-tune with a fresh optimizer and schedule.")
    photos: Path | None = Field(None, description="A folder of real photographs to cut most training tiles from "
                                                  "(every 10th, by name, is the validation split).")
    val_every: int = Field(200, description="Steps between validation PSNR measurements.")
    val_images: int = Field(8, description="Validation pairs (validation split, fixed degradation seed).")
    ckpt_every: int = Field(200, description="Steps between checkpoints.")
    log_every: int = Field(20, description="Steps between loss log lines.")
    max_minutes: float | None = Field(None, description="Checkpoint and stop after this many minutes (a chunk; 0 "
                                                        "checkpoints after the first step).", ge=0)
    threads: int | None = Field(None, description="torch CPU threads.")
    workers: int = Field(1, description="Processes rendering the scene bank.")
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'.", pattern=r"^(?:auto|cpu|cuda(?::\d+)?)$")
    compile: bool = Field(False, description="torch.compile the network (CUDA only).")


def make_config(**values: object) -> TrainConfig:
    """A TrainConfig from option values; a bad value becomes a UsageError naming the field."""
    from pydantic import ValidationError

    try:
        return TrainConfig.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(f"--{'-'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}" for e in error.errors())
        raise UsageError(f"bad training option ({problems}): fix the value") from error


def check_resume(config: TrainConfig, stored: dict) -> None:
    """Refuse a resumed run whose fixed settings differ from the stored ones, naming each change."""
    # A key older checkpoints lack was stored as its default.
    defaults = {key: TrainConfig.model_fields[key].default for key in FIXED_ON_RESUME}
    changed = [f"{key} ({stored.get(key, defaults[key])} -> {getattr(config, key)})" for key in FIXED_ON_RESUME
               if str(stored.get(key, defaults[key])) != str(getattr(config, key))]
    if changed:
        raise UsageError(f"--resume with different settings: {', '.join(changed)}; pass the run's original "
                         "values or start a new --out folder")
