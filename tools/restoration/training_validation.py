"""Validation during training: fixed (degraded, clean) pairs from the validation split and their mean PSNR."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tools.restoration import degrade, synthdata
from tools.restoration.training_config import TrainConfig

PSNR_CAP = 60.0  # dB: an untouched 'clean' pair would score 120 dB and swamp the mean of a validation set


def psnr(output: torch.Tensor, target: torch.Tensor) -> float:
    mse = F.mse_loss(output.float().clamp(0, 1), target.float()).item()
    return min(PSNR_CAP, 10 * math.log10(1 / max(mse, 1e-12)))


def validation_pairs(config: TrainConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed (degraded, clean) pairs from the validation split (held-out photos, own scene seeds)."""
    size = min(config.crop, 192)
    clean = synthdata.build_bank(config.val_images, size, seed=config.seed, split="validation", photos=config.photos)
    clean = synthdata.bank_tensor(clean, device).float() / 255
    generator = torch.Generator(device=device).manual_seed(10_007 + config.seed)
    degraded, _ = degrade.degrade(clean, generator, degrade.RECIPES[config.recipe])
    return degraded, clean


@torch.no_grad()
def validate(model: torch.nn.Module, pairs: tuple[torch.Tensor, torch.Tensor], autocast: bool) -> float:
    degraded, clean = pairs
    model.eval()
    scores = []
    for index in range(len(clean)):
        with torch.autocast(degraded.device.type, dtype=torch.bfloat16, enabled=autocast):
            output = model(degraded[index:index + 1])[-1]
        scores.append(psnr(output, clean[index:index + 1]))
    model.train()
    return sum(scores) / len(scores)
