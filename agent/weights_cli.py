"""`cnaps weights`: list what would run, download the authors' official checkpoints, import a copy fetched by hand.

It parses arguments and prints; tools.restoration.download and tools.restoration.installed decide everything.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from agent.errors import CnapsError, UsageError

weights_app = typer.Typer(
    name="weights",
    help="Official MIMO-UNet checkpoints: list what runs, download them from the authors' links, import a copy.",
    no_args_is_help=True,
)


class ListFormat(str, Enum):
    text = "text"
    json = "json"


@weights_app.command("list")
def list_weights(
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Show what this file would count as."),
    output_format: ListFormat = typer.Option(ListFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Every zoo model: the file that would run (official / project / user), its path, sha256, size and provenance,
    and for what is missing the command that gets it."""
    import json

    from agent.settings import get_settings
    from tools.restoration.installed import weights_table

    rows = weights_table(get_settings().weights_dir, weights)
    if output_format is ListFormat.json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    for row in rows:
        print(f"{row.model} ({row.network}): {row.provenance or 'no weights'}")
        if row.path:
            size = f"{row.size / 1e6:.1f} MB" if row.size is not None else "missing"
            print(f"  file: {row.path} ({size}, sha256 {(row.sha256 or '-')[:16]}, found in {_where(row.found_by)})")
        print(f"  about: {row.about}")
        if row.problem:
            print(f"  refused: {row.problem}")
        if row.get:
            print(f"  official: `{row.get}`")


def _where(found_by: str | None) -> str:
    return {"argument": "--weights", "weights_dir": "$CNAPS_WEIGHTS_DIR", "installed": "$CNAPS_HOME/weights",
            "project": "the project's weights"}.get(found_by or "", "-")


@weights_app.command("download")
def download_weights(
    models: Optional[list[str]] = typer.Argument(None, metavar="MODEL...",
                                                 help="MIMO-UNet, MIMO-UNet+ or RealBlur (or any zoo model id)."),
    every: bool = typer.Option(False, "--all", help="All three official checkpoints."),
) -> None:
    """Download the authors' official checkpoints into $CNAPS_HOME/weights, verify they load into the network, and
    record their sha256. An interrupted download resumes."""
    from rich.console import Console

    from agent.settings import get_settings
    from tools.restoration import zoo
    from tools.restoration.download import SOURCE_NOTICE, already_installed, download

    if every == bool(models):
        raise UsageError("name the checkpoints to download (MIMO-UNet, MIMO-UNet+, RealBlur) or pass --all, not "
                         "both: e.g. `cnaps weights download MIMO-UNet+`")
    items = list(zoo.OFFICIAL_DOWNLOADS.values()) if every else [zoo.official_download(name) for name in models]
    items = list({item.name: item for item in items}.values())
    settings = get_settings()
    folder = settings.installed_weights_dir
    console = Console(stderr=True)
    todo = []
    for item in items:
        if already_installed(item, folder) is not None:
            print(f"{item.name}: already installed and verified ({folder / item.file})")
        else:
            todo.append(item)
    if todo:
        console.print(SOURCE_NOTICE, markup=False, highlight=False, soft_wrap=True)
    failures: list[CnapsError] = []
    for item in todo:
        try:
            with _bar(console, item.file) as progress:
                installed = download(item, settings.weights.url(item.name), folder, progress=progress,
                                     timeout=settings.weights.timeout, retries=settings.weights.retries)
        except CnapsError as error:
            failures.append(error)
            continue
        print(f"{item.name}: installed {folder / item.file} ({installed.size / 1e6:.1f} MB, sha256 "
              f"{installed.sha256[:16]}), verified: it loads strictly into the network")
    for error in failures[:-1]:  # the last one is the command's error line; each is said once
        console.print(f"cnaps: error: {error}", markup=False, highlight=False, soft_wrap=True)
    if failures:
        raise failures[-1]


class _bar:
    """A rich progress bar (size, speed, time left) for one file, on stderr when it is a terminal."""

    def __init__(self, console, name: str) -> None:
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True,
                                 disable=not console.is_terminal)
        self.name = name
        self.task = None

    def __enter__(self):
        self.progress.start()
        self.task = self.progress.add_task(self.name, total=None)
        return self.update

    def update(self, done: int, total: int | None) -> None:
        self.progress.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        self.progress.stop()


@weights_app.command("import")
def import_weights(
    file: Path = typer.Argument(..., metavar="FILE", help="A checkpoint you downloaded from the authors' links."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="MIMO-UNet, MIMO-UNet+ or RealBlur (default: "
                                                                    "from the file's name or network)."),
) -> None:
    """Verify a checkpoint downloaded by hand (it loads strictly into the network) and install a copy into
    $CNAPS_HOME/weights, recording its sha256."""
    from agent.settings import get_settings
    from tools.restoration.download import import_file

    folder = get_settings().installed_weights_dir
    installed = import_file(file, folder, model)
    print(f"{installed.download}: installed {folder / installed.file} ({installed.size / 1e6:.1f} MB, sha256 "
          f"{installed.sha256[:16]}), verified: it loads strictly into the network")
