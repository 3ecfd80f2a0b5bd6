"""Load and save MIMO-UNet weights safely.

Official checkpoints are `torch.save({'model': state_dict})` pickles; they load with `weights_only=True`, so no
arbitrary object is ever unpickled. `.safetensors` files are read without pickle at all.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tools.errors import WeightsError
from tools.atomic import atomic_write

if TYPE_CHECKING:
    import torch
    from torch import nn

PICKLE_SUFFIXES = (".pkl", ".pth", ".pt", ".ckpt", ".bin")
_WRAPPERS = ("model", "state_dict", "params", "net")
_PREFIXES = ("module.", "_orig_mod.")
_SHOWN = 5  # keys listed in a mismatch message


class CheckpointUnreadable(WeightsError):
    """A file that does not load as a checkpoint; `reason` says why in words, without the fix (callers that verify
    a download or an import give their own)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class CheckpointMismatch(WeightsError):
    """A checkpoint whose keys or shapes do not fit the network; `reason` lists them, without the fix."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a .safetensors file ({} for other formats or none)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as file:
            return dict(file.metadata() or {})
    except Exception as error:
        raise WeightsError(f"cannot read metadata from {path}: {load_failure(path, error)}; pass a valid checkpoint") \
            from error


def load_state(path: str | Path) -> dict[str, "torch.Tensor"]:
    """A flat name -> tensor dict from a checkpoint: unwraps {'model': ...}, strips 'module.' and '_orig_mod.'."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist: check the path passed with --weights")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            raw: object = load_file(str(path), device="cpu")
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        reason = load_failure(path, error)
        raise CheckpointUnreadable(
            f"cannot load weights from {path}: {reason}; pass an official MIMO-UNet checkpoint "
            "(torch.save of {'model': state_dict}) or a .safetensors file", reason
        ) from error
    return _flatten(raw, path)


def load_failure(path: Path, error: Exception) -> str:
    """What is wrong with the file, in words: torch's and safetensors' own messages are internals (a bare pickle
    opcode such as '(101)', or a page of advice about unsafe loading)."""
    if isinstance(error, OSError):
        return f"the file cannot be read ({error.strerror or error})"
    if path.stat().st_size == 0:
        return "the file is empty"
    if isinstance(error, EOFError):
        return "the file is cut short"
    if path.suffix == ".safetensors":
        return "it is not a valid .safetensors file (its header cannot be read)"
    with open(path, "rb") as handle:
        start = handle.read(4)
    if not (start.startswith(b"PK\x03\x04") or start[:1] == b"\x80"):  # a torch.save zip, or a legacy pickle
        return "it is not a PyTorch checkpoint or a .safetensors file"
    if isinstance(error, pickle.UnpicklingError) and "weights only" in str(error).lower():
        return "it holds Python objects besides tensors, which cnaps never unpickles (that could run code)"
    return "it is not a PyTorch checkpoint"


def _flatten(raw: object, path: Path) -> dict[str, "torch.Tensor"]:
    import torch

    while isinstance(raw, Mapping):
        wrapper = next((key for key in _WRAPPERS if isinstance(raw.get(key), Mapping)), None)
        if wrapper is None:
            break
        raw = raw[wrapper]
    if not isinstance(raw, Mapping) or not raw:
        raise CheckpointUnreadable(f"{path} holds no state_dict: pass a checkpoint saved as {{'model': state_dict}}",
                                   "it holds no state_dict")
    state: dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor):
            continue  # optimizer step counters and similar bookkeeping
        name = str(key)
        stripped = True
        while stripped:
            stripped = False
            for prefix in _PREFIXES:
                if name.startswith(prefix):
                    name, stripped = name[len(prefix):], True
        state[name] = value
    if not state:
        raise CheckpointUnreadable(f"{path} holds no tensors: pass a MIMO-UNet checkpoint", "it holds no tensors")
    return state


def load_into(model: "nn.Module", state: Mapping[str, "torch.Tensor"], strict: bool = True,
              source: str = "the checkpoint") -> None:
    """Copy `state` into `model`; on a mismatch raise WeightsError naming the first missing/unexpected keys."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong_shape = [f"{key} {tuple(state[key].shape)} != {tuple(value.shape)}"
                   for key, value in expected.items() if key in state and state[key].shape != value.shape]
    if wrong_shape or (strict and (missing or unexpected)):
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
            if keys:
                more = f" (+{len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
                parts.append(f"{len(keys)} {label}: {', '.join(keys[:_SHOWN])}{more}")
        reason = f"its keys do not fit the network ({'; '.join(parts)})"
        raise CheckpointMismatch(
            f"{source} does not match this network ({'; '.join(parts)}): pass weights for this model, "
            "e.g. MIMO-UNet.pkl for MIMO-UNet and MIMO-UNetPlus.pkl for MIMO-UNet+", reason
        )
    model.load_state_dict(dict(state), strict=strict)


def save_official(model: "nn.Module", path: str | Path) -> None:
    """Save in the official format, torch.save({'model': state_dict}), atomically."""
    import torch

    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    atomic_write(Path(path), lambda stream: torch.save({"model": state}, stream))


def save_safetensors(model: "nn.Module", path: str | Path, metadata: Mapping[str, str] | None = None,
                     dtype: "torch.dtype | None" = None) -> None:
    """Save as .safetensors (fp16 by default, which halves the file) with string metadata, atomically."""
    import torch
    from safetensors.torch import save

    dtype = torch.float16 if dtype is None else dtype
    state = {key: value.detach().to("cpu", dtype).contiguous() for key, value in model.state_dict().items()}
    meta = {str(key): str(value) for key, value in (metadata or {}).items()}
    atomic_write(Path(path), lambda stream: stream.write(save(state, metadata=meta)))


def update_metadata(path: str | Path, updates: Mapping[str, str]) -> dict[str, str]:
    """Rewrite a .safetensors file with `updates` merged into its metadata, tensors byte for byte unchanged,
    atomically. Returns the new metadata."""
    from safetensors.torch import load_file, save

    path = Path(path)
    if path.suffix != ".safetensors":
        raise WeightsError(f"{path} is not a .safetensors file: only those carry metadata; export the weights first")
    metadata = {**read_metadata(path), **{str(key): str(value) for key, value in updates.items()}}
    state = load_file(str(path), device="cpu")
    atomic_write(path, lambda stream: stream.write(save(state, metadata=metadata)))
    return metadata
