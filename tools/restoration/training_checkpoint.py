"""A training run's checkpoint read back, and exported as fp16 .safetensors weights with metadata saying what they
are and how and on what they were trained."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import torch

from tools.errors import OutputError, UsageError, WeightsError
from tools.restoration import build_model, checkpoint, degrade, synthdata
from tools.restoration.training_config import FIXED_ON_RESUME

CHECKPOINT = "checkpoint.pt"
_TRAINING_KEYS = ("config", "model", "optimizer", "generator", "torch_rng", "step", "devices")


def load_training_checkpoint(path: Path) -> dict:
    """A checkpoint `train` wrote, or a WeightsError saying why the file is not one (never a traceback)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsError(f"cannot read the training checkpoint {path}: {checkpoint.load_failure(path, error)}; "
                           "train again into a new --out folder") from error
    missing = [key for key in _TRAINING_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise WeightsError(f"{path} is not a cnaps training checkpoint (it lacks {', '.join(missing)}): point at the "
                           f"{CHECKPOINT} a training run wrote")
    return state


def check_export_path(weights: Path) -> None:
    """A .safetensors file in a folder that exists or can be made and written."""
    from tools.restoration.imageio import make_folder

    if weights.suffix != ".safetensors":
        raise UsageError(f"--export {weights}: the exported weights are a .safetensors file; name it e.g. "
                         f"{weights.with_suffix('.safetensors').name}")
    if weights.is_dir():
        raise OutputError(f"--export {weights} is a folder: give a file name such as {weights}/weights.safetensors")
    folder = make_folder(weights.parent)
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write into {folder}: choose a writable folder for --export")


def export(run: Path, weights: Path, description: str | None = None) -> dict[str, str]:
    """Write the run's latest checkpoint as fp16 .safetensors with metadata; returns the metadata."""
    check_export_path(Path(weights))
    path = Path(run) / CHECKPOINT if Path(run).is_dir() else Path(run)
    if not path.is_file():
        raise WeightsError(f"no training checkpoint at {path}: train first with --out {Path(run)}")
    state = load_training_checkpoint(path)
    model = build_model(state["config"]["network"])
    model.load_state_dict(state["model"])
    metadata = weights_metadata(state, description)
    checkpoint.save_safetensors(model, weights, metadata=metadata, dtype=torch.float16)
    return metadata


def weights_metadata(state: dict, description: str | None = None) -> dict[str, str]:
    """The metadata stored in exported weights: what they are, how and on what they were trained."""
    config = state["config"]
    step = int(state["step"])
    devices = ", ".join(state["devices"])
    on_cpu_only = all(device == "cpu" for device in state["devices"])
    init_from = state.get("init_from")
    start = f", fine-tuned from {init_from}" if init_from else ""
    photos = config.get("photos")
    if photos:
        names = synthdata.folder_photos(Path(photos), "train")
        sets = sorted({Path(name).stem.split("_img")[0] for name in names})
        trained_on = f"real photographs ({', '.join(sets)}) blurred and reduced by cnaps"
        data = (f"real photographs: {len(names)} files of {photos} ({', '.join(sets)}; every "
                f"{synthdata.FOLDER_VALIDATION_EVERY}th file held out for the training's validation), package photos "
                f"({', '.join(synthdata.TRAIN_PHOTOS)}) and procedural scenes ({', '.join(synthdata.SCENES[1:])})")
    else:
        trained_on = "synthetic blur"
        data = (f"synthetic: photos shipped with scikit-image/matplotlib ({', '.join(synthdata.TRAIN_PHOTOS)}) and "
                f"procedural scenes ({', '.join(synthdata.SCENES[1:])}); held out: "
                f"{', '.join(synthdata.HELDOUT_PHOTOS)}")
    default = (f"project weights, trained {'on CPU ' if on_cpu_only else ''}for {step} steps on "
               f"{'real photographs' if photos else 'synthetic data'} "
               f"({config['network']}, batch {config['batch']}, crop {config['crop']}, seed {config['seed']}{start}); "
               "not the official checkpoints")
    recipe = degrade.RECIPES[config["recipe"]]
    return {
        "network": config["network"],
        "recipe": json.dumps({"planned_steps": config["steps"], **{key: config.get(key) for key in FIXED_ON_RESUME}}),
        "steps": str(step),
        "data": data,
        "trained_on": trained_on,
        "degradations": recipe.model_dump_json(),
        "seed": str(config["seed"]),
        "init": init_from or "random",
        "device": devices,
        "cnaps_provenance": "project",
        "description": description or default,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
