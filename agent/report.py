"""CNAPS-style reports: one answer (and its restoration, when an image ran) as a self-contained HTML, Markdown or
PDF file.

HTML embeds every image as a data URI and links nothing but the references, so the file can be mailed or opened
offline. The PDF is the same HTML printed by weasyprint. Every file is written atomically and an existing file is
kept unless `overwrite=True`.
"""

from __future__ import annotations

import importlib
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Literal

from markupsafe import Markup, escape

from agent import __version__
from agent.errors import OutputError, UsageError
from agent.report_images import Picture, report_images
from agent.schemas import Answer
from tools.atomic import atomic_write

ReportFormat = Literal["html", "md", "pdf"]
FORMATS: dict[str, ReportFormat] = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".pdf": "pdf"}

_CITATION = re.compile(r"\[(\d+)\]")
_SAFE_LINK = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)


def safe_link(url: str | None) -> str | None:
    """The URL when it is a plain http(s) link, else None: reports never link javascript:, data: or file: URLs."""
    return url if url and _SAFE_LINK.match(url.strip()) else None


def _cite_html(known: set[int]):
    def cite(text: str) -> Markup:
        """Escaped text whose [n] markers link to the n-th reference."""
        escaped = str(escape(text))
        return Markup(_CITATION.sub(
            lambda m: f'<a class="cite" href="#ref-{m[1]}">[{m[1]}]</a>' if int(m[1]) in known else m[0], escaped))

    return cite


def md_text(text: str) -> str:
    """One line of text that Markdown shows literally: no raw HTML, emphasis, images or links sneak in from user
    or document text; [n] citation markers stay readable."""
    text = re.sub(r"([\\`*_<>!|#])", r"\\\1", " ".join(text.split()))
    return text.replace("](", "]\\(")


@dataclass(frozen=True)
class DiagramBox:
    stage: str
    title: str
    lines: tuple[str, ...]


def diagram(answer: Answer) -> list[DiagramBox]:
    """The input -> model -> output boxes, with the run's real sizes and timings when an image ran."""
    run = answer.restoration
    if run is None:
        models = [r.title for r in answer.references if r.role == "recommended-model" and r.kind == "paper"]
        return [
            DiagramBox("input", "Input", ("your blurred image", "no image attached to this answer")),
            DiagramBox("model", "Model", tuple(models[:1]) or ("the recommended model",)),
            DiagramBox("output", "Output", ("restored image", "same size as the network's input")),
        ]
    width, height = run.input_size
    input_name = Path(run.input_path).name if run.input_path else "image"
    boxes = [DiagramBox("input", "Input", (input_name, f"{width} × {height} px"))]
    if run.scale > 1:
        enlarged = (width * run.scale, height * run.scale)
        boxes.append(DiagramBox("input", f"Enlarge ×{run.scale}", (run.resize or "interpolation",
                                                                    f"{enlarged[0]} × {enlarged[1]} px")))
    tiles = f"{run.tiles} tiles of {run.tile_size} px" if run.tiles > 1 and run.tile_size else "whole image"
    boxes.append(DiagramBox("model", run.network, (
        run.model_id, f"{run.weights.provenance} weights: {Path(run.weights.file).name}",
        f"{run.device}, {run.precision}, {tiles}", f"{run.seconds:.2f} s")))
    out_w, out_h = run.output_size
    output_name = Path(run.image_path).name if run.image_path else "restored image"
    boxes.append(DiagramBox("output", "Output", (output_name, f"{out_w} × {out_h} px")))
    return boxes


_BREAK_AFTER = re.compile(r"([-_./\\])")


def breakable(text: str) -> Markup:
    """Escaped text with a line-break opportunity after each '-', '_', '.' or slash: a long file name in a
    narrow diagram box wraps between its parts instead of mid-word. (Escaping adds none of these characters.)"""
    return Markup(_BREAK_AFTER.sub(r"\1<wbr>", str(escape(text))))


def files_folder(path: Path) -> Path:
    """The folder a Markdown report's pictures go in: `report.md` -> `report_files/`."""
    return path.with_name(f"{path.stem}_files")


@dataclass(frozen=True)
class RenderedReport:
    """A report's text and, for Markdown, the pictures it links (relative to the report, in `folder`)."""

    text: str
    pictures: list[Picture]
    folder: str | None = None


def build_report(answer: Answer, question: str, fmt: ReportFormat = "html", created: datetime | None = None,
                 folder: str = "report_files") -> RenderedReport:
    """The report as HTML (pictures as data URIs) or Markdown (pictures linked as `folder/<name>`, to be written
    beside it: a Markdown viewer shows linked files, and base64 would make the file unreadable and huge)."""
    from urllib.parse import quote

    from prompts import render

    from agent.links import scrub

    created = created or datetime.now(timezone.utc)
    images = report_images(answer)
    context = dict(
        answer=answer,
        # A report is shared: the quoted question keeps only links the answer cites, as the answer itself does.
        question=scrub(question, {reference.url for reference in answer.references}),
        created=created.strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        boxes=diagram(answer),
        images=images,
        safe_link=safe_link,
        basename=lambda path: Path(path).name,  # a report is shared: no local folder names in it
    )
    if fmt == "md":
        text = render("report.md.j2", md=md_text, src=lambda picture: f"{quote(folder)}/{quote(picture.name)}",
                      **context)
        return RenderedReport(text, images.pictures if images else [], folder if images else None)
    known = {reference.n for reference in answer.references}
    text = render("report.html.j2", cite=_cite_html(known), src=lambda picture: picture.data_uri,
                  breakable=breakable, **context)
    return RenderedReport(text, [])


def render_report(answer: Answer, question: str, fmt: ReportFormat = "html",
                  created: datetime | None = None) -> str:
    """The report's text as HTML or Markdown (PDF is rendered from the HTML by `write_report`)."""
    return build_report(answer, question, fmt, created).text


def report_format(path: Path) -> ReportFormat:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot tell the report format from '{path.name}': end the output name in .html, .md or .pdf")
    return fmt


@lru_cache(maxsize=1)
def pdf_unavailable() -> str | None:
    """Why PDF reports cannot be written here (weasyprint or its pango library missing), or None when they can."""
    from PIL import ImageFile

    # Importing weasyprint sets PIL's process-wide LOAD_TRUNCATED_IMAGES; put it back, or every later decode in
    # this process (uploads included) would accept truncated files.
    truncated_ok = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        importlib.import_module("weasyprint")
    except (ImportError, OSError) as error:
        return " ".join(str(error).split())[:160]
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_ok
    return None


def require_pdf() -> None:
    reason = pdf_unavailable()
    if reason is not None:
        raise OutputError(
            f"PDF reports need weasyprint and the pango library ({reason}): pip install 'cnaps[pdf]' (or "
            "weasyprint), apt-get install libpango-1.0-0 libpangoft2-1.0-0, or write .html instead")


def html_to_pdf(html: str) -> bytes:
    require_pdf()
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def write_atomically(path: Path, data: bytes, overwrite: bool = False) -> Path:
    """Write `data` to a temporary file beside `path`, then rename: readers never see a partial file."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path} already exists: choose another name or pass --overwrite")
    return atomic_write(path, lambda stream: stream.write(data))


def report_bytes(answer: Answer, question: str, fmt: ReportFormat, created: datetime | None = None) -> bytes:
    """An HTML or PDF report as one file's bytes (Markdown has files beside it: `write_report`)."""
    if fmt == "pdf":
        return html_to_pdf(render_report(answer, question, "html", created))
    return render_report(answer, question, fmt, created).encode("utf-8")


def write_answer_markdown(answer: Answer, folder: str | os.PathLike[str]) -> Path:
    """The answer's Markdown in `folder`, named after the restored image written there (`photo-restored-….md`
    beside `photo-restored-….png`), else `answer.md`; never over an existing file."""
    from tools.restore import unused_name

    folder = Path(folder)
    run = answer.restoration
    image = Path(run.image_path) if run is not None and run.image_path else None
    stem = image.stem if image is not None and image.parent.resolve() == folder.resolve() else "answer"
    path = unused_name(folder, stem, ".md")
    text = answer.markdown if answer.markdown.endswith("\n") else answer.markdown + "\n"
    return write_atomically(path, text.encode("utf-8"))


def check_writable(folder: Path) -> None:
    """Refuse a folder this process cannot create files in, by creating one: permission bits say nothing for root,
    and a read-only mount or a full inode table only shows when a file is made."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"folder {folder} cannot be written ({error.strerror or type(error).__name__}): choose "
                          "another output folder") from None


def check_output(path: str | os.PathLike[str], overwrite: bool = False,
                 inputs: tuple[str | os.PathLike[str] | None, ...] = ()) -> ReportFormat:
    """Refuse a bad report path before any slow work: unknown suffix, an existing file (unless `overwrite`),
    one of the inputs, a folder that does not exist or cannot be written. A Markdown report's pictures folder
    (`report_files/`) is checked too. Returns the format."""
    path = Path(path)
    fmt = report_format(path)
    if fmt == "pdf":
        require_pdf()
    for source in inputs:
        if source is not None and Path(source).exists() and path.exists() and path.samefile(source):
            raise OutputError(f"the report {path} would overwrite an input: choose another output name")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} already exists: choose another name or pass --overwrite")
    if path.is_dir():
        raise OutputError(f"{path} is a folder: give a file name ending in .html, .md or .pdf")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"folder {folder} does not exist: create it first")
    if fmt == "md":
        pictures = files_folder(path)
        if pictures.exists() and not pictures.is_dir():
            raise OutputError(f"{pictures} is a file, where the report's pictures would go: move it or choose "
                              "another report name")
        if pictures.exists() and not overwrite:
            raise OutputError(f"{pictures} already exists: choose another report name or pass --overwrite")
        for source in inputs:
            if source is not None and Path(source).exists() and Path(source).resolve().is_relative_to(
                    pictures.resolve()):
                raise OutputError(f"the report's pictures folder {pictures} holds an input: choose another name")
    check_writable(folder)
    return fmt


def _write_pictures(folder: Path, pictures: list[Picture]) -> None:
    """Fill `folder` with `pictures`, replacing what it held: built in a temporary folder beside it, then swapped
    in, so an interrupted write leaves the old folder or none, never half of one."""
    temp = folder.with_name(f".{folder.name}.{secrets.token_hex(6)}.partial")
    old = folder.with_name(f".{folder.name}.{secrets.token_hex(6)}.old")
    try:
        temp.mkdir()
        for picture in pictures:
            write_atomically(temp / picture.name, picture.data)
        if folder.exists():
            folder.rename(old)
        temp.rename(folder)
    except OSError as error:
        raise OutputError(f"cannot write {folder} ({error.strerror or error}): free some space or choose another "
                          "folder") from error
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_report(answer: Answer, question: str, path: str | os.PathLike[str], overwrite: bool = False,
                 created: datetime | None = None) -> Path:
    """Write the report to `path` (.html, .md or .pdf), atomically; an existing file is kept unless `overwrite`.
    A Markdown report's pictures go in `<name>_files/` beside it, linked relatively."""
    path = Path(path)
    inputs = (answer.restoration.input_path, answer.restoration.image_path) if answer.restoration else ()
    fmt = check_output(path, overwrite, inputs)
    if fmt != "md":
        return write_atomically(path, report_bytes(answer, question, fmt, created), overwrite=overwrite)
    folder = files_folder(path)
    report = build_report(answer, question, "md", created, folder=folder.name)
    if report.pictures:
        _write_pictures(folder, report.pictures)
    try:
        written = write_atomically(path, report.text.encode("utf-8"), overwrite=overwrite)
    except BaseException:
        if report.pictures:
            shutil.rmtree(folder, ignore_errors=True)  # no pictures without their report
        raise
    if not report.pictures and folder.is_dir() and overwrite:
        shutil.rmtree(folder, ignore_errors=True)  # the replaced report's pictures: this one has none
    return written
