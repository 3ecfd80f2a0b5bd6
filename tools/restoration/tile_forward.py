"""The network as a function on tiles, on the chosen device and precision, and the geometric self-ensemble.

A tile in fp16 or bf16 that overflows is recomputed in fp32, so a run never returns NaNs.
"""

from __future__ import annotations

import threading

import torch
from torch import nn

from tools.errors import DeviceError, UsageError

PRECISIONS = ("fp32", "fp16", "bf16")
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


# --- devices and precision --------------------------------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    if device in ("auto", ""):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise UsageError(f"unknown device '{device}': use auto, cpu, cuda or cuda:N") from error
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA is not available on this machine: pass --device cpu (or auto)")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise DeviceError(f"there is no {device} (found {torch.cuda.device_count()} GPUs): pass --device cuda:0")
    elif chosen.type != "cpu":
        raise UsageError(f"unsupported device '{device}': use auto, cpu, cuda or cuda:N")
    return chosen


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision == "auto":
        # CUDA: fp16 autocast (10-bit mantissa; bf16 keeps only 7), recomputed in fp32 on overflow.
        # CPU: fp32 (channels_last, see TileForward). On the 2-core AVX2 EPYC bf16 autocast ran ~35x slower
        # (emulated without AVX512-BF16/AMX), so it is never the default there.
        return "fp16" if device.type == "cuda" else "fp32"
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision '{precision}': use auto, fp32, fp16 or bf16")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError("this GPU has no bf16 support: pass --precision fp16 or fp32")
    return precision


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return "cpu"


# --- the network as a function on tiles ---------------------------------------------------------------------------


class TileForward:
    """(1, 3, h, w) CPU fp32 tile -> (1, 3, h, w) CPU fp32 restored tile, on the chosen device and precision."""

    def __init__(self, model: nn.Module, device: torch.device, precision: str) -> None:
        self.device, self.precision = device, precision
        # channels_last everywhere: cuDNN tensor cores want NHWC, and oneDNN on the CPU runs NHWC convolutions
        # without reordering every activation to its blocked layout and back (1.62x over NCHW at 1280x720 with
        # 2 threads, 97.9 dB agreement: README, benchmarks/restore_speed.py).
        self.model = model.to(device).eval().to(memory_format=torch.channels_last)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # every tile of a run has the same shape: autotune once
        self._run_state = threading.local()  # one Restorer serves several web workers at once

    @property
    def fell_back(self) -> bool:
        """Whether a tile of this thread's current run was recomputed in fp32."""
        return getattr(self._run_state, "fell_back", False)

    def start_run(self) -> None:
        self._run_state.fell_back = False

    @torch.inference_mode()
    def _run(self, x: torch.Tensor, precision: str) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        x = x.contiguous(memory_format=torch.channels_last)
        if precision == "fp32":
            return self.model.restore(x).float()
        with torch.autocast(self.device.type, dtype=_DTYPES[precision]):
            return self.model.restore(x).float()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self._run(x, self.precision)
        if self.precision != "fp32" and not bool(torch.isfinite(out).all()):
            # fp16 overflow on this tile: redo it in fp32 rather than return NaNs.
            out = self._run(x, "fp32")
            self._run_state.fell_back = True
        return out.to("cpu", torch.float32).contiguous()


class SelfEnsemble:
    """Geometric self-ensemble (MIMO-UNet++): the mean over the 8 flips/rotations of a tile, each undone."""

    def __init__(self, forward: TileForward) -> None:
        self.forward = forward

    def __getattr__(self, name: str):
        return getattr(self.forward, name)

    def __setattr__(self, name: str, value) -> None:
        if name == "forward":
            object.__setattr__(self, name, value)
        else:
            setattr(self.forward, name, value)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(x)
        for turns in range(4):
            for flip in (False, True):
                t = x.rot90(turns, (2, 3))
                t = t.flip(3) if flip else t
                y = self.forward(t.contiguous())
                y = y.flip(3) if flip else y
                total += y.rot90(-turns, (2, 3))
        return total / 8
