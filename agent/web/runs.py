"""Run folders: everything one web answer produced, under `<output_dir>/web/<run id>/`, served by opaque id.

A client names a file as (run id, kind): the run id must look like one this server made and the kind must be on
a fixed list, so no client-supplied text ever becomes part of a path. Every resolved path is checked to lie
inside the run folder before it is served.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from agent.errors import OutputError
from agent.report import ReportFormat, report_bytes, write_atomically, write_report
from agent.report_images import crop_pairs, open_image
from agent.schemas import Answer
from agent.web.sessions import OPAQUE_ID, NotFoundError, new_id

CROPS = 3
_CROP_NAME = re.compile(r"^crop-([1-9])-(before|after)$")
# A Markdown report is report.md plus its report_files/ folder: the browser gets both in one zip.
REPORT_MEDIA = {"html": "text/html; charset=utf-8", "md": "application/zip", "pdf": "application/pdf"}
REPORT_FILES = {"html": "report.html", "md": "report.md.zip", "pdf": "report.pdf"}


@dataclass(frozen=True)
class RunRecord:
    id: str
    question: str
    created: datetime
    answer: Answer


class RunStore:
    """Run folders under `root`; beyond `keep` finished runs, the oldest are deleted as new ones start, and so is
    an unfinished folder untouched for longer than `job_timeout` seconds (no job runs that long, so its server
    died: a `kill -9` or a power cut would otherwise leak its upload forever)."""

    def __init__(self, root: Path, keep: int = 200, job_timeout: float = 3600) -> None:
        self.root = root
        self.keep = keep
        self.job_timeout = job_timeout
        self._pruning = threading.Lock()

    def create(self) -> tuple[str, Path]:
        run_id = new_id()
        folder = self.root / run_id
        try:
            folder.mkdir(parents=True)
        except OSError as error:
            # No path in the message: it reaches the web client.
            raise OutputError(f"the server cannot store this answer ({error.strerror}): its operator must set "
                              "CNAPS_HOME to a writable folder") from None
        self.prune()
        return run_id, folder

    def prune(self) -> int:
        """Delete the oldest finished runs beyond `keep`, and unfinished runs abandoned for over `job_timeout`;
        runs still being answered are never touched (a live job writes into its folder and fails at its deadline).

        Workers prune one at a time (a folder another worker is deleting must not be stat'ed), and a folder that
        vanished meanwhile (another server on the same folder) is skipped.
        """
        with self._pruning:
            finished: list[tuple[float, Path]] = []
            abandoned: list[Path] = []
            oldest_live = time.time() - self.job_timeout
            for folder in self.root.iterdir():
                if not OPAQUE_ID.match(folder.name) or not folder.is_dir() or folder.is_symlink():
                    continue
                try:
                    finished.append(((folder / "run.json").stat().st_mtime, folder))
                except FileNotFoundError:  # no run.json: still being answered, or its server died
                    try:
                        if folder.stat().st_mtime < oldest_live:
                            abandoned.append(folder)
                    except OSError:
                        continue  # gone meanwhile
                except OSError:
                    continue
            finished.sort()
            old = abandoned + [folder for _, folder in finished[:max(0, len(finished) - self.keep)]]
            for folder in old:
                shutil.rmtree(folder, ignore_errors=True)
            return len(old)

    def folder(self, run_id: str) -> Path:
        if not OPAQUE_ID.match(run_id) or not (self.root / run_id).is_dir():
            raise NotFoundError("no such run on this server: ask again to get a new one")
        return self.root / run_id

    def save(self, run_id: str, question: str, answer: Answer) -> list[dict]:
        """Store the answer, a browser-viewable copy of the input and the largest-change crops; return the crops."""
        folder = self.folder(run_id)
        crops: list[dict] = []
        run = answer.restoration
        if run is not None and run.input_path and run.image_path:
            before = open_image(run.input_path)
            before.save(folder / "before.png")
            for i, pair in enumerate(crop_pairs(before, open_image(run.image_path), CROPS), start=1):
                pair.before.save(folder / f"crop-{i}-before.png")
                pair.after.save(folder / f"crop-{i}-after.png")
                crops.append({"x": pair.crop.x, "y": pair.crop.y, "size": pair.crop.size,
                              "mean_change": round(pair.crop.mean_change, 2),
                              "before_url": self.url(run_id, f"crop-{i}-before"),
                              "after_url": self.url(run_id, f"crop-{i}-after")})
        meta = {"question": question, "created": datetime.now(timezone.utc).isoformat(),
                "answer": answer.model_dump(mode="json")}
        write_atomically(folder / "run.json", json.dumps(meta).encode("utf-8"))
        return crops

    def load(self, run_id: str) -> RunRecord:
        path = self.folder(run_id) / "run.json"
        if not path.is_file():
            raise NotFoundError("this run has not finished yet: wait for its answer")
        meta = json.loads(path.read_text(encoding="utf-8"))
        return RunRecord(id=run_id, question=meta["question"], created=datetime.fromisoformat(meta["created"]),
                         answer=Answer.model_validate(meta["answer"]))

    @staticmethod
    def url(run_id: str, kind: str) -> str:
        return f"/api/runs/{run_id}/{kind}"

    def file(self, run_id: str, kind: str) -> Path:
        """The file behind (run id, kind): 'input', 'restored', 'crop-N-before|after'."""
        folder = self.folder(run_id)
        if kind == "input":
            path = folder / "before.png"
        elif kind == "restored":
            run = self.load(run_id).answer.restoration
            if run is None or not run.image_path:
                raise NotFoundError("this run restored no image: attach one to the question")
            path = Path(run.image_path)
        elif _CROP_NAME.match(kind):
            path = folder / f"{kind}.png"
        else:
            raise NotFoundError("unknown file kind: use input, restored, crop-N-before, crop-N-after or report.html")
        return self._inside(folder, path)

    def report(self, run_id: str, fmt: ReportFormat) -> Path:
        """The run's report in `fmt`, rendered on first request and kept; Markdown as a zip of report.md and
        its pictures folder (report_files/), as `cnaps report -o report.md` writes them."""
        folder = self.folder(run_id)
        path = folder / REPORT_FILES[fmt]
        if not path.is_file():
            record = self.load(run_id)
            if fmt == "md":
                write_atomically(path, self._markdown_zip(folder, record), overwrite=True)
            else:
                data = report_bytes(record.answer, record.question, fmt, created=record.created)
                write_atomically(path, data, overwrite=True)
        return self._inside(folder, path)

    @staticmethod
    def _markdown_zip(folder: Path, record: RunRecord) -> bytes:
        import io
        import tempfile
        import zipfile

        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            written = write_report(record.answer, record.question, Path(scratch) / "report.md", overwrite=True,
                                   created=record.created)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(p for p in written.parent.rglob("*") if p.is_file()):
                    archive.write(file, file.relative_to(written.parent).as_posix())
        return buffer.getvalue()

    @staticmethod
    def _inside(folder: Path, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(folder.resolve()) or not resolved.is_file():
            raise NotFoundError("no such file in this run")
        return resolved
