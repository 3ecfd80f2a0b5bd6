"""Random numbers drawn on the generator's own device, so one seed fixes a degradation on the CPU and on a GPU alike."""

from __future__ import annotations

import torch


def uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=generator.device)


def normal(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=generator.device)
