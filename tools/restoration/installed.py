"""The record of official checkpoints that `cnaps weights download` and `cnaps weights import` verified.

`$CNAPS_HOME/weights/installed.json` holds one entry per file: its sha256, size and where it came from. A file in
that folder loads only while it still has the recorded sha256, so a checkpoint that changed on disk (a truncated
copy, a file swapped in by hand) is refused instead of being run and described as the authors' weights.
Torch-free: the zoo checks a file before the engine loads it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from tools.errors import UsageError, WeightsError
from tools.atomic import atomic_write
from tools.restoration.checkpoint import sha256

MANIFEST = "installed.json"


class InstalledFile(BaseModel):
    """One verified official checkpoint in $CNAPS_HOME/weights."""

    file: str = Field(description="File name in the folder, e.g. 'MIMO-UNet.pkl'.")
    download: str = Field(description="Which official download it is: 'MIMO-UNet', 'MIMO-UNet+' or 'RealBlur'.")
    sha256: str = Field(description="SHA-256 of the file when it was verified.")
    size: int = Field(description="Size in bytes when it was verified.")
    how: Literal["download", "import"] = Field(description="'download' (cnaps fetched it) or 'import' (the user did).")
    origin: str = Field(description="The URL it was downloaded from, or the path it was imported from.")
    installed_at: datetime = Field(description="When it was verified and installed (UTC).")


def read_manifest(folder: Path) -> dict[str, InstalledFile]:
    """File name -> record; {} when nothing was installed. An unreadable record counts as none (every file is then
    refused until installed again), never as a crash."""
    path = folder / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {name: InstalledFile.model_validate(item) for name, item in raw.items()}
    except (OSError, ValueError, ValidationError, AttributeError):
        return {}


def record(folder: Path, item: InstalledFile) -> None:
    """Add or replace one file's record, atomically (a crash leaves the old manifest or the new one)."""
    entries = {**read_manifest(folder), item.file: item}
    text = json.dumps({name: entry.model_dump(mode="json") for name, entry in sorted(entries.items())}, indent=2)
    atomic_write(folder / MANIFEST, lambda stream: stream.write(text.encode("utf-8")))


def reinstall_hint(name: str, download: str | None) -> str:
    which = download or "MODEL"
    return f"run `cnaps weights download {which}`, or `cnaps weights import FILE --model {which}` for a copy of {name}"


def check_unchanged(path: Path) -> InstalledFile:
    """The record of an installed file, after checking the file still has the recorded size and sha256; a
    WeightsError with the fix otherwise."""
    entry = read_manifest(path.parent).get(path.name)
    if entry is None:
        raise WeightsError(f"{path.name} in {path.parent} was not verified by cnaps (no sha256 is recorded for it): "
                           f"{reinstall_hint(path.name, None)}")
    size = path.stat().st_size
    digest = sha256(path) if size == entry.size else None
    if digest != entry.sha256:
        now = f"now {size} bytes" if digest is None else f"sha256 now {digest[:12]}"
        raise WeightsError(f"{path} changed since it was verified (recorded {entry.size} bytes, sha256 "
                           f"{entry.sha256[:12]}; {now}), so cnaps will not run it: "
                           f"{reinstall_hint(path.name, entry.download)}")
    return entry


# --- what would run, model by model (`cnaps weights list`) ---


class WeightsRow(BaseModel):
    """Which weights file a restoration with one zoo model would load, and how to get the official one."""

    model: str = Field(description="Zoo model id.")
    network: str = Field(description="Its network: 'MIMO-UNet' or 'MIMO-UNet+'.")
    provenance: Literal["official", "project", "user"] | None = Field(
        description="'official' (the authors' checkpoint), 'project' (trained by cnaps), 'user' (--weights), or "
                    "None when no weights exist for it.")
    found_by: Literal["argument", "weights_dir", "installed", "project"] | None = Field(
        description="Where it was found: --weights, $CNAPS_WEIGHTS_DIR, $CNAPS_HOME/weights or the project's.")
    path: str | None = Field(None, description="The file that would load.")
    sha256: str | None = Field(None, description="Its SHA-256.")
    size: int | None = Field(None, description="Its size in bytes.")
    about: str = Field(description="Where it came from, in a sentence.")
    problem: str | None = Field(None, description="Why it would be refused (changed since it was verified), with "
                                                  "the fix.")
    get: str | None = Field(None, description="The command that installs the official checkpoint, when that is not "
                                              "what runs.")


def weights_table(weights_dir: Path | None, weights: Path | None = None) -> list[WeightsRow]:
    """One row per user-facing zoo model, in lookup order: `weights`, then `weights_dir` ($CNAPS_WEIGHTS_DIR),
    then $CNAPS_HOME/weights, then the project's weights."""
    from tools.restoration import zoo

    if weights is not None and not Path(weights).expanduser().is_file():
        raise UsageError(f"{weights} does not exist or is not a file: check the path passed with --weights")
    digests: dict[Path, str] = {}
    rows = []
    for entry in zoo.user_models():
        get = zoo.install_command(entry.id)
        try:
            source = zoo.locate_weights(entry, weights, weights_dir)
            problem = None
        except WeightsError as error:  # an installed file that changed, or no weights at all
            found = zoo.official_source(entry, weights_dir)
            problem = error.message
            if found is None:
                rows.append(WeightsRow(model=entry.id, network=entry.network, provenance=None, found_by=None,
                                       about="no weights for this model here", get=get))
                continue
            source = found
        path = source.path.resolve() if source.path.is_file() else source.path
        if path not in digests and path.is_file():
            digests[path] = sha256(path)
        provenance, about = _describe(entry, source)
        rows.append(WeightsRow(model=entry.id, network=entry.network, provenance=provenance, found_by=source.found_by,
                               path=str(path), sha256=digests.get(path), size=path.stat().st_size if path.is_file()
                               else None, about=about, problem=problem,
                               get=None if provenance == "official" and problem is None else get))
    return rows


def _describe(entry, source) -> tuple[Literal["official", "project", "user"], str]:
    from tools.restoration import zoo

    official = zoo.official_entry(entry, source.path.name) if source.found_by != "project" else None
    if source.found_by == "installed":
        item = read_manifest(source.path.parent).get(source.path.name)
        trained = official.trained_on if official else "see the authors' README"
        if item is None:
            return "official", f"the authors' checkpoint (trained on {trained}); not verified by cnaps"
        how = f"downloaded from {item.origin}" if item.how == "download" else f"imported from {item.origin}"
        return "official", f"the authors' checkpoint, trained on {trained}; {how} on {item.installed_at:%Y-%m-%d}"
    if official is not None:
        where = "--weights" if source.found_by == "argument" else "$CNAPS_WEIGHTS_DIR"
        return "official", (f"the authors' checkpoint by its name, trained on {official.trained_on}; from {where}, "
                            "not verified by cnaps")
    if source.found_by == "project":
        facts = zoo.project_weights_facts(entry.network)
        learned = facts.trained_on if facts else "synthetic blur"
        enlarge = zoo.project_weights_path(entry, enlarging=True)
        apart = f"; enlargements (--scale 2 to 4) run {enlarge.name}" if enlarge != source.path else ""
        return "project", f"trained by the cnaps project on {learned}, not the authors' checkpoint{apart}"
    from tools.restoration.checkpoint import read_metadata

    if read_metadata(source.path).get("cnaps_provenance") == "project":
        return "project", "trained by the cnaps project (its metadata says so), passed with --weights"
    return "user", "a file passed with --weights; cnaps does not know what it learned from"


def installed_summary(weights_dir: Path | None) -> dict[str, str]:
    """Official download -> what a restoration with it would load: 'official' (its checkpoint is in $CNAPS_WEIGHTS_DIR
    or $CNAPS_HOME/weights), 'project' (only the project's weights for its network) or 'none'. Only looks for
    files (no hashing): the web app's header shows it on every status poll."""
    from tools.restoration import zoo

    summary = {}
    for item in zoo.OFFICIAL_DOWNLOADS.values():
        entry = zoo.lookup(item.model_id)
        if zoo.official_source(entry, weights_dir) is not None:
            summary[item.name] = "official"
        else:
            summary[item.name] = "project" if zoo.project_weights_path(entry).is_file() else "none"
    return summary
