"""The model zoo: an explicit table from model id to network, official checkpoint and capabilities.

No folder scanning and no torch import here: the answer engine reads capabilities without loading a network.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from tools.errors import UsageError, WeightsError

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


# --- the authors' downloads (their links are settings: agent.settings.WeightsSettings) ---

OFFICIAL_PAGE = "https://github.com/chosj95/MIMO-UNet#model"


class OfficialDownload(BaseModel):
    """One checkpoint the MIMO-UNet authors publish, as `cnaps weights download NAME` fetches it."""

    name: str = Field(description="What `cnaps weights download` calls it: 'MIMO-UNet', 'MIMO-UNet+' or 'RealBlur'.")
    model_id: str = Field(description="The zoo entry it belongs to (its network is the one it must load into).")
    file: str = Field(description="The file name it is installed under (one of the entry's official_files).")
    trained_on: str = Field(description="What it learned from.")


OFFICIAL_DOWNLOADS: dict[str, OfficialDownload] = {
    item.name: item
    for item in [
        OfficialDownload(name="MIMO-UNet", model_id="MIMO-UNet", file="MIMO-UNet.pkl", trained_on=_GOPRO),
        OfficialDownload(name="MIMO-UNet+", model_id="MIMO-UNet+", file="MIMO-UNetPlus.pkl", trained_on=_GOPRO),
        OfficialDownload(name="RealBlur", model_id="Deblur-MIMO-UNet-RealBlur", file="MIMO-UNetRealBlur.pkl",
                         trained_on=_REALBLUR),
    ]
}


def official_download(name: str) -> OfficialDownload:
    """The download for a download name or any zoo model id ('Deblur-MIMO-UNet-Plus' and 'MIMO-UNet++' get
    MIMO-UNet+'s checkpoint); tolerant like `lookup`."""
    item = next((d for d in OFFICIAL_DOWNLOADS.values() if _key(d.name) == _key(name)), None)
    entry = find(name) if item is None else None
    if entry is not None:
        item = next((d for d in OFFICIAL_DOWNLOADS.values() if d.file in entry.official_files), None)
    if item is None:
        names = ", ".join(OFFICIAL_DOWNLOADS)
        raise UsageError(f"'{name}' has no official checkpoint to download: use one of {names} (or --all)")
    return item


def install_command(model_id: str) -> str | None:
    """The one command that installs the official checkpoint a zoo model runs with, e.g. 'cnaps weights download
    MIMO-UNet+' for Deblur-MIMO-UNet-Plus; None for a model without one (the test network, a model cnaps lacks)."""
    entry = find(model_id)
    if entry is None or not entry.official_files:
        return None
    return f"cnaps weights download {official_download(entry.id).name}"


# --- weights lookup (torch-free: it only finds files; tools.restoration.checkpoint loads them) ---

PROJECT_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def network_slug(network: str) -> str:
    """File-name form of a network name: 'MIMO-UNet+' -> 'mimo-unet-plus'."""
    return network.lower().replace("+", "-plus")


def project_weights_path(entry: ZooEntry, enlarging: bool = False) -> Path:
    """Where the project's own trained weights for this entry's network ship. Enlargement (--scale 2 to 4) has its
    own file where one ships: a fine-tune that gains more over Lanczos but deblurs worse than the general weights, so
    each task runs the weights that measured best at it. Without that file both tasks run the general one."""
    general = PROJECT_WEIGHTS_DIR / f"{network_slug(entry.network)}.safetensors"
    enlarge = general.with_name(f"{general.stem}-enlarge.safetensors")
    return enlarge if enlarging and enlarge.is_file() else general


def is_shipped(path: str | Path) -> bool:
    """Whether `path` is one of the project's shipped weights files (found by task, never passed by the user)."""
    return Path(path).resolve().parent == PROJECT_WEIGHTS_DIR


class ProjectWeightsFacts(BaseModel):
    """What the shipped project weights of a network learned from and measured, for answers (read without torch)."""

    trained_on: str = Field(description="What they learned from, in a phrase.")
    real_photo_gain_db: dict[str, float] | None = Field(
        None, description="Measured mean PSNR gain on real photographs: 'x2'..'x4' over Lanczos, 'deblur' over the "
                          "blurred input; None when never measured.")
    degradations: list[str] = Field(
        default_factory=list, description="The degradation kinds their training drew ('shake', 'defocus', ...).")


def project_weights_facts(network: str) -> ProjectWeightsFacts | None:
    """The facts of the project weights shipped for `network`, from the benchmark record beside them (the JSON that
    benchmarks/quality.py writes for that very file) or else the file's own metadata, with the enlargement gains of
    the enlargement weights where those ship; None when no project weights ship for it."""
    record = PROJECT_WEIGHTS_DIR / f"{network_slug(network)}.json"
    if not record.with_suffix(".safetensors").is_file():
        return None
    metadata = json.loads(record.read_text(encoding="utf-8")).get("weights_metadata", {}) if record.is_file() \
        else _safetensors_metadata(record.with_suffix(".safetensors"))
    gains = metadata.get("real_photo_gain_db")
    gains = {key: float(value) for key, value in json.loads(gains).items()} if gains else None
    enlarge = record.with_name(f"{record.stem}-enlarge.safetensors")
    if enlarge.is_file():  # its enlargement gains are the ones that run (its own deblurring row never runs)
        measured = _safetensors_metadata(enlarge).get("real_photo_gain_db")
        enlarging = {key: float(value) for key, value in json.loads(measured).items() if key.startswith("x")} \
            if measured else {}
        gains = {**(gains or {}), **enlarging} if gains or enlarging else None
    recipe = json.loads(metadata["degradations"]).get("weights", {}) if metadata.get("degradations") else {}
    return ProjectWeightsFacts(
        trained_on=metadata.get("trained_on") or "synthetic blur",
        real_photo_gain_db=gains,
        degradations=[kind for kind, share in recipe.items() if share > 0])


def _safetensors_metadata(path: Path) -> dict[str, str]:
    """A .safetensors file's string metadata, read through numpy so that answers need no torch."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as file:
        return dict(file.metadata() or {})


class WeightsSource(BaseModel):
    path: Path = Field(description="The weights file to load.")
    found_by: Literal["argument", "weights_dir", "installed", "project"] = Field(
        description="'argument' (--weights / weights=), 'weights_dir' ($CNAPS_WEIGHTS_DIR), 'installed' "
                    "($CNAPS_HOME/weights, by `cnaps weights download/import`) or 'project' (shipped)."
    )


def installed_dir() -> Path:
    """$CNAPS_HOME/weights, where `cnaps weights download` and `import` put verified official checkpoints."""
    from agent.settings import get_settings  # here, not at the top: the zoo's table is read before settings exist

    return get_settings().installed_weights_dir


def official_entry(entry: ZooEntry, file_name: str) -> ZooEntry | None:
    """The zoo entry whose official checkpoint is published as `file_name` and fits `entry`'s network.

    Prefers `entry` itself, so 'MIMO-UNetPlus.pkl' run as Deblur-MIMO-UNet-Plus describes GoPro training.
    """
    candidates = [entry] + [other for other in ZOO.values() if other is not entry]
    return next((c for c in candidates if c.network == entry.network and file_name in c.official_files), None)


def locate_weights(entry: ZooEntry, weights: str | Path | None = None,
                   weights_dir: Path | None = None, enlarging: bool = False) -> WeightsSource:
    """Find the weights for `entry`: the explicit path, then weights_dir/<official name>, then $CNAPS_HOME/weights
    (refused when the file changed since `cnaps weights` verified it), then the project's file for the task
    (`enlarging`: --scale above 1)."""
    if weights is not None:
        return WeightsSource(path=Path(weights).expanduser(), found_by="argument")
    found = official_source(entry, weights_dir)
    if found is not None:
        if found.found_by == "installed":
            from tools.restoration.installed import check_unchanged

            check_unchanged(found.path)
        return found
    project = project_weights_path(entry, enlarging)
    if project.is_file():
        return WeightsSource(path=project, found_by="project")
    if entry.official_files:
        names = " or ".join(entry.official_files)
        where = f"{weights_dir}" if weights_dir else "a folder named by CNAPS_WEIGHTS_DIR"
        hint = (f"run `{install_command(entry.id)}`, or put the official {names} ({OFFICIAL_PAGE}) into {where}, "
                "or pass --weights PATH")
    else:
        hint = "pass --weights PATH (a file saved for this network)"
    raise WeightsError(f"no weights found for {entry.id} ({entry.network}): {hint}")


def official_source(entry: ZooEntry, weights_dir: Path | None) -> WeightsSource | None:
    """The first official checkpoint for `entry` in `weights_dir`, then in $CNAPS_HOME/weights (unchecked)."""
    folders: list[tuple[Literal["weights_dir", "installed"], Path]] = [("installed", installed_dir())]
    if weights_dir is not None:
        folders.insert(0, ("weights_dir", Path(weights_dir).expanduser()))
    for found_by, folder in folders:
        for name in entry.official_files:
            if (folder / name).is_file():
                return WeightsSource(path=folder / name, found_by=found_by)
    return None


def official_weights(entry: ZooEntry, weights_dir: Path | None) -> Path | None:
    """The official checkpoint for `entry` in `weights_dir`, else in $CNAPS_HOME/weights, if one is there."""
    found = official_source(entry, weights_dir)
    return None if found is None else found.path


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
