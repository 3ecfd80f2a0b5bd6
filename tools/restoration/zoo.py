"""The model zoo: an explicit table from model id to network, official checkpoint and capabilities.

No folder scanning and no torch import here: the answer engine reads capabilities without loading a network.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from agent.errors import UsageError, WeightsError

# SEE: https://github.com/chosj95/MIMO-UNet (official checkpoints and their training data)


class ZooEntry(BaseModel):
    id: str = Field(description="Canonical model id, as cards write it.")
    network: str = Field(description="Network constructor name for build_model: 'MIMO-UNet' or 'MIMO-UNet+'.")
    official_files: tuple[str, ...] = Field(description="File names the official checkpoint is published under.")
    trained_on: str = Field(description="What the official weights learned from.")
    capabilities: frozenset[str] = Field(description="What the network does: 'deblur' for MIMO-UNet variants.")
    same_resolution: bool = Field(True, description="Output size equals input size (no built-in upscaling).")
    self_ensemble: bool = Field(False, description="Geometric self-ensemble at test time (MIMO-UNet++).")
    test_only: bool = Field(False, description="Tiny variant for CPU tests; never offered to users.")


MAX_SCALE = 8  # the largest enlargement cnaps runs (interpolation, then the network)

_GOPRO = "GoPro (2,103 pairs of synthetically blurred / sharp 1280x720 video frames)"
_REALBLUR = "RealBlur (pairs of real camera-shake-blurred and sharp photos from a two-camera rig)"

ZOO: dict[str, ZooEntry] = {
    entry.id: entry
    for entry in [
        ZooEntry(id="MIMO-UNet", network="MIMO-UNet", official_files=("MIMO-UNet.pkl",), trained_on=_GOPRO,
                 capabilities=frozenset({"deblur"})),
        ZooEntry(id="MIMO-UNet+", network="MIMO-UNet+", official_files=("MIMO-UNetPlus.pkl",), trained_on=_GOPRO,
                 capabilities=frozenset({"deblur"})),
        ZooEntry(id="MIMO-UNet++", network="MIMO-UNet+", official_files=("MIMO-UNetPlus.pkl",), trained_on=_GOPRO,
                 capabilities=frozenset({"deblur"}), self_ensemble=True),
        ZooEntry(id="Deblur-MIMO-UNet", network="MIMO-UNet", official_files=("MIMO-UNet.pkl",), trained_on=_GOPRO,
                 capabilities=frozenset({"deblur"})),
        ZooEntry(id="Deblur-MIMO-UNet-Plus", network="MIMO-UNet+", official_files=("MIMO-UNetPlus.pkl",),
                 trained_on=_GOPRO, capabilities=frozenset({"deblur"})),
        ZooEntry(id="Deblur-MIMO-UNet-RealBlur", network="MIMO-UNet+",
                 official_files=("MIMO-UNetRealBlur.pkl", "MIMO-UNetPlusRealBlur.pkl", "RealBlur.pkl"),
                 trained_on=_REALBLUR, capabilities=frozenset({"deblur"})),
        ZooEntry(id="test-mimo-unet", network="test-mimo-unet", official_files=(), trained_on="nothing (random)",
                 capabilities=frozenset({"deblur"}), test_only=True),
    ]
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9+]", "", name.lower().replace("plus", "+"))


_BY_KEY = {_key(entry_id): entry for entry_id, entry in ZOO.items()}


def lookup(model_id: str) -> ZooEntry:
    """The zoo entry for a card's model id; tolerant of case, spaces, dashes and 'Plus' vs '+'."""
    entry = _BY_KEY.get(_key(model_id))
    if entry is None:
        known = ", ".join(e.id for e in ZOO.values() if not e.test_only)
        raise UsageError(f"unknown model '{model_id}': use one of {known}")
    return entry


def find(model_id: str) -> ZooEntry | None:
    """Like `lookup`, but None for a model the zoo does not hold (cards may recommend other models)."""
    return _BY_KEY.get(_key(model_id))


def user_models() -> list[ZooEntry]:
    return [entry for entry in ZOO.values() if not entry.test_only]


# --- weights lookup (torch-free: it only finds files; tools.restoration.checkpoint loads them) ---

PROJECT_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def network_slug(network: str) -> str:
    """File-name form of a network name: 'MIMO-UNet+' -> 'mimo-unet-plus'."""
    return network.lower().replace("+", "-plus")


def project_weights_path(entry: ZooEntry) -> Path:
    """Where the project's own trained weights for this entry's network ship."""
    return PROJECT_WEIGHTS_DIR / f"{network_slug(entry.network)}.safetensors"


class ProjectWeightsFacts(BaseModel):
    """What the shipped project weights of a network learned from and measured, for answers (read without torch)."""

    trained_on: str = Field(description="What they learned from, in a phrase.")
    real_photo_gain_db: dict[str, float] | None = Field(
        None, description="Measured mean PSNR gain on real photographs: 'x2'..'x4' over Lanczos, 'deblur' over the "
                          "blurred input; None when never measured.")


def project_weights_facts(network: str) -> ProjectWeightsFacts | None:
    """The facts of the project weights shipped for `network`, from the benchmark record beside them (the JSON that
    benchmarks/quality.py writes for that very file); None when no project weights ship for it."""
    record = PROJECT_WEIGHTS_DIR / f"{network_slug(network)}.json"
    if not record.with_suffix(".safetensors").is_file():
        return None
    metadata = json.loads(record.read_text(encoding="utf-8")).get("weights_metadata", {}) if record.is_file() else {}
    gains = metadata.get("real_photo_gain_db")
    return ProjectWeightsFacts(
        trained_on=metadata.get("trained_on") or "synthetic blur",
        real_photo_gain_db={key: float(value) for key, value in json.loads(gains).items()} if gains else None)


class WeightsSource(BaseModel):
    path: Path = Field(description="The weights file to load.")
    found_by: Literal["argument", "weights_dir", "project"] = Field(
        description="'argument' (--weights / weights=), 'weights_dir' ($CNAPS_WEIGHTS_DIR) or 'project' (shipped)."
    )


def official_entry(entry: ZooEntry, file_name: str) -> ZooEntry | None:
    """The zoo entry whose official checkpoint is published as `file_name` and fits `entry`'s network.

    Prefers `entry` itself, so 'MIMO-UNetPlus.pkl' run as Deblur-MIMO-UNet-Plus describes GoPro training.
    """
    candidates = [entry] + [other for other in ZOO.values() if other is not entry]
    return next((c for c in candidates if c.network == entry.network and file_name in c.official_files), None)


def locate_weights(entry: ZooEntry, weights: str | Path | None = None,
                   weights_dir: Path | None = None) -> WeightsSource:
    """Find the weights for `entry`: the explicit path, then weights_dir/<official name>, then the project's file."""
    if weights is not None:
        return WeightsSource(path=Path(weights).expanduser(), found_by="argument")
    official = official_weights(entry, weights_dir)
    if official is not None:
        return WeightsSource(path=official, found_by="weights_dir")
    project = project_weights_path(entry)
    if project.is_file():
        return WeightsSource(path=project, found_by="project")
    if entry.official_files:
        names = " or ".join(entry.official_files)
        where = f"{weights_dir}" if weights_dir else "a folder named by CNAPS_WEIGHTS_DIR"
        hint = (f"put the official {names} (https://github.com/chosj95/MIMO-UNet) into {where}"
                f"{'' if weights_dir else ' (e.g. export CNAPS_WEIGHTS_DIR=~/weights)'}, or pass --weights PATH")
    else:
        hint = "pass --weights PATH (a file saved for this network)"
    raise WeightsError(f"no weights found for {entry.id} ({entry.network}): {hint}")


def official_weights(entry: ZooEntry, weights_dir: Path | None) -> Path | None:
    """The official checkpoint for `entry` in `weights_dir`, if one is there."""
    if weights_dir is None:
        return None
    return next((path for name in entry.official_files
                 if (path := Path(weights_dir).expanduser() / name).is_file()), None)


Provenance = Literal["official", "project"]


def runner_candidates(model_ids: list[str]) -> list[ZooEntry]:
    """The zoo entries a restoration for these card models tries, in order: the card's own models, then other
    entries with the same network (another official checkpoint of MIMO-UNet+ can stand in for the RealBlur one),
    then the plain MIMO-UNet."""
    entries = [entry for model_id in model_ids if (entry := find(model_id)) is not None]
    networks = {entry.network for entry in entries}
    alike = [entry for entry in user_models() if entry.network in networks and not entry.self_ensemble]
    return list({entry.id: entry for entry in [*entries, *alike, ZOO["MIMO-UNet"]]}.values())


def planned_runner(model_ids: list[str], weights_dir: Path | None) -> tuple[ZooEntry, Provenance] | None:
    """Which model and which kind of weights a restoration for these card models would use, without loading any:
    the first of `runner_candidates` with its official checkpoint in `weights_dir` or the project's weights for its
    network. The card's own models come first; None when no weights exist at all."""
    for entry in runner_candidates(model_ids):
        if official_weights(entry, weights_dir) is not None:
            return entry, "official"
        if project_weights_path(entry).is_file():
            return entry, "project"
    return None
