"""Fetch the MIMO-UNet authors' official checkpoints onto this machine, or take in a copy the user fetched by hand.

The authors' repository carries no license, so cnaps neither ships nor re-hosts these files: it downloads them from
the authors' own links (settings: `agent.settings.WeightsSettings`) into $CNAPS_HOME/weights. gdown follows Google
Drive's download flow (the confirmation page Drive puts before large files) and resumes a partial file with an HTTP
Range request; a plain http(s) URL downloads the same way, which is how the tests serve files on loopback.

A file reaches its final name only after it loads with `weights_only=True` and strictly (every key and shape) into
its network: gdown writes `<file>.download<random>.part`, renames it to `<file>.download` when the transfer is
complete, and only a verified `<file>.download` is renamed to `<file>`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from tools.errors import UsageError, WeightsError
from tools.restoration import zoo
from tools.restoration.checkpoint import CheckpointMismatch, CheckpointUnreadable, sha256
from tools.restoration.installed import InstalledFile, check_unchanged, record

SOURCE_NOTICE = (f"Downloading from the MIMO-UNet authors' own links ({zoo.OFFICIAL_PAGE}). Their repository gives "
                 "no license, so cnaps neither ships nor re-hosts these files: they are fetched onto this machine.")

Progress = Callable[[int, "int | None"], None]  # (bytes so far, total bytes or None)


class WeightsDownloadError(WeightsError):
    """A download that could not finish (no network, an HTTP error, a cut transfer); the message names the URL to
    open in a browser and the import command."""


def staging_path(folder: Path, item: zoo.OfficialDownload) -> Path:
    """Where a complete but unverified download waits: never the final name, which lookup would load."""
    return folder / f"{item.file}.download"


def partial_bytes(folder: Path, item: zoo.OfficialDownload) -> int:
    """Bytes of an interrupted transfer that the next download resumes (gdown's `.part` files)."""
    stem = staging_path(folder, item).name
    return sum(path.stat().st_size for path in folder.glob(f"{stem}*.part")) if folder.is_dir() else 0


def verify(path: Path, item: zoo.OfficialDownload) -> None:
    """Load `path` exactly as a restoration would: no pickled objects (weights_only=True), every key and shape of
    `item`'s network (strict); CheckpointUnreadable or CheckpointMismatch otherwise."""
    from tools.restoration import build_model
    from tools.restoration.checkpoint import load_into, load_state

    load_into(build_model(zoo.lookup(item.model_id).network), load_state(path), strict=True, source=str(path))


def already_installed(item: zoo.OfficialDownload, folder: Path) -> InstalledFile | None:
    """The record of `item` when it is installed in `folder` and unchanged since it was verified; None when it is
    absent or changed (a download replaces it)."""
    final = folder / item.file
    if not final.is_file():
        return None
    try:
        return check_unchanged(final)
    except WeightsError:
        return None


def download(item: zoo.OfficialDownload, url: str | None, folder: Path, *, progress: Progress | None = None,
             timeout: float = 30.0, retries: int = 3) -> InstalledFile:
    """Download `item` from `url` into `folder`, verify it and record its sha256; resumes an interrupted transfer.

    Raises WeightsDownloadError (naming the browser route and `cnaps weights import`) when the transfer fails, and
    WeightsError when the file that arrived is not the checkpoint (it is deleted)."""
    if url is None:
        raise WeightsDownloadError(
            f"no download link is set for {item.name}: open {zoo.OFFICIAL_PAGE}, download its {item.name} checkpoint "
            f"in a browser, then run `cnaps weights import FILE --model {item.name}` (or set "
            f"CNAPS_WEIGHTS__{_setting_suffix(item)}_URL to the link)")
    _make_folder(folder)
    staging = staging_path(folder, item)
    if not staging.is_file():  # a complete transfer left unverified by a crash needs no network
        _fetch(item, url, staging, progress, timeout, retries)
    return _install(staging, item, folder, "download", url)


def import_file(path: Path, folder: Path, model: str | None = None) -> InstalledFile:
    """Verify a checkpoint the user downloaded by hand and install a copy of it (their file stays where it is).
    Without `model`, the file's name or its network says which official checkpoint it is."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UsageError(f"{path} does not exist or is not a file: pass the checkpoint you downloaded")
    if path.suffix == ".safetensors":
        raise UsageError(f"{path.name} is a .safetensors file, not one of the authors' .pkl checkpoints: pass it to "
                         "restore, ask or chat with --weights instead")
    item = zoo.official_download(model) if model else _recognise(path)
    _make_folder(folder)
    staging = folder / f"{item.file}.import"
    try:
        shutil.copyfile(path, staging)
    except OSError as error:
        staging.unlink(missing_ok=True)
        raise WeightsError(f"cannot copy {path} into {folder} ({error.strerror or error}): free some space or set "
                           "CNAPS_HOME to a writable folder") from None
    return _install(staging, item, folder, "import", str(path.resolve()), shown=path)


def _install(candidate: Path, item: zoo.OfficialDownload, folder: Path, how: Literal["download", "import"],
             origin: str, shown: Path | None = None) -> InstalledFile:
    try:
        verify(candidate, item)
    except (CheckpointUnreadable, CheckpointMismatch) as error:
        candidate.unlink(missing_ok=True)
        if how == "download":
            raise WeightsError(
                f"the file downloaded from {origin} is not the official {item.name} checkpoint ({error.reason}), so "
                f"it was deleted: check the link at {zoo.OFFICIAL_PAGE}, download it in a browser and run `cnaps "
                f"weights import FILE --model {item.name}`") from None
        raise WeightsError(
            f"{shown or origin} is not the official {item.name} checkpoint ({error.reason}): pass the authors' "
            f"{item.file} from {zoo.OFFICIAL_PAGE}, or --model for the checkpoint it is") from None
    entry = InstalledFile(file=item.file, download=item.name, sha256=sha256(candidate),
                          size=candidate.stat().st_size, how=how, origin=origin,
                          installed_at=datetime.now(timezone.utc).replace(microsecond=0))
    # The record first: a crash before the rename leaves a record for a file not there yet, never a file that
    # loads without its sha256 on record.
    record(folder, entry)
    os.replace(candidate, folder / item.file)
    return entry


def _recognise(path: Path) -> zoo.OfficialDownload:
    """Which official checkpoint a file is: by its official name, else by the one network its keys fit."""
    by_name = [item for item in zoo.OFFICIAL_DOWNLOADS.values()
               if path.name in (item.file, *zoo.lookup(item.model_id).official_files)]
    if by_name:
        return by_name[0]
    from tools.restoration import build_model
    from tools.restoration.checkpoint import load_into, load_state

    try:
        state = load_state(path)
    except CheckpointUnreadable as error:
        raise WeightsError(f"{path} is not an official MIMO-UNet checkpoint ({error.reason}): pass the authors' "
                           f"MIMO-UNet.pkl or MIMO-UNetPlus.pkl from {zoo.OFFICIAL_PAGE}") from None
    fits, reasons = [], []
    for network in dict.fromkeys(zoo.lookup(item.model_id).network for item in zoo.OFFICIAL_DOWNLOADS.values()):
        try:
            load_into(build_model(network), state, strict=True, source=str(path))
            fits.append(network)
        except CheckpointMismatch as error:
            reasons.append(f"{network}: {error.reason}")
    if not fits:
        raise WeightsError(f"{path} fits no MIMO-UNet network ({'; '.join(reasons)}): pass the authors' MIMO-UNet.pkl "
                           f"or MIMO-UNetPlus.pkl from {zoo.OFFICIAL_PAGE}")
    candidates = [item for item in zoo.OFFICIAL_DOWNLOADS.values() if zoo.lookup(item.model_id).network in fits]
    if len(candidates) > 1:
        options = " or ".join(f"--model {item.name}" for item in candidates)
        raise UsageError(f"{path.name} fits {fits[0]}, which has {len(candidates)} official checkpoints (trained on "
                         f"different data): say which it is with {options}")
    return candidates[0]


def _fetch(item: zoo.OfficialDownload, url: str, staging: Path, progress: Progress | None, timeout: float,
           retries: int) -> None:
    import gdown
    import requests
    from gdown.exceptions import DownloadError

    try:
        # use_cookies=False: Drive's confirmation flow needs cookies only within this session, and gdown would
        # otherwise keep them in ~/.cache/gdown.
        gdown.download(url, str(staging), quiet=True, resume=True, progress=progress, timeout=timeout,
                       retries=retries, use_cookies=False)
    except (requests.RequestException, DownloadError) as error:
        kept = partial_bytes(staging.parent, item)
        resume = f"; the {kept:,} bytes received are kept, and the same command resumes them" if kept else ""
        raise WeightsDownloadError(
            f"cannot download {item.file} ({_reason(error, url, timeout)}): open {url} in a browser, save the file, "
            f"then run `cnaps weights import FILE --model {item.name}`{resume}") from None
    except OSError as error:
        raise WeightsError(f"cannot write {staging} ({error.strerror or error}): free some space or set CNAPS_HOME "
                           "to a writable folder") from None


def _reason(error: BaseException, url: str, timeout: float) -> str:
    """What went wrong, in words; requests' and gdown's own messages run to several lines of internals."""
    import requests
    from gdown.exceptions import FileURLRetrievalError

    host = urlsplit(url).hostname or url
    text = str(error)
    if isinstance(error, requests.exceptions.ChunkedEncodingError) or "incomplete" in text:
        return "the transfer was cut off"
    if "byte range" in text:
        return f"{host} cannot resume the transfer"
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"{host} answered HTTP {error.response.status_code}"
    if isinstance(error, requests.Timeout):
        return f"{host} sent nothing for {timeout:g} s"
    if isinstance(error, requests.ConnectionError):
        return f"no connection to {host}"
    if isinstance(error, FileURLRetrievalError):
        return "Google Drive did not hand out the file (too many downloads today, or it is no longer shared)"
    if error.__cause__ is not None and error.__cause__ is not error:  # gdown's 'failed after N retries' wrapper
        return _reason(error.__cause__, url, timeout)
    return text.splitlines()[0].rstrip(".") if text else type(error).__name__


def _setting_suffix(item: zoo.OfficialDownload) -> str:
    return item.name.upper().replace("-", "_").replace("+", "_PLUS")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WeightsError(f"cannot create {folder} ({error.strerror or error}): set CNAPS_HOME to a writable "
                           "folder") from None
