"""The web app: one chat page, a JSON API and an SSE stream, all over the same answer engine as the CLI.

Routes: `GET /` (the page), `GET /healthz`, `GET /api/cards`, `GET /api/cards/{name}`, `POST /api/ask` (JSON
answer), `POST /api/ask/stream` (server-sent events), `GET /api/runs/{run}/{kind}` (images and reports by opaque
id), `/docs`. Every `CnapsError` becomes a JSON `{"detail", "error"}` with the error's HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from agent import __version__
from agent.cards import DEFAULT_CARD, Card, bundled_card, bundled_cards, parse_card
from agent.errors import BusyError, CnapsError, UsageError
from agent.schemas import Answer
from agent.settings import Settings, get_settings
from agent.web.forms import ASK_FORM
from agent.web.jobs import Deadline, WorkerPool
from agent.web.runs import REPORT_FILES, REPORT_MEDIA, RunStore
from agent.web.security import REPORT_CSP, SecurityHeaders, swagger_assets
from agent.web.sessions import ChatSession, NotFoundError, SessionStore
from agent.web.uploads import CheckedImage, TooLargeError, UnsupportedTypeError, check_image, check_size, decode_text
from tools.restoration.zoo import MAX_SCALE
from prompts import markdown_text

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_QUESTION_CHARS = 4000
ANSWER_WORKERS, ANSWER_QUEUE = 2, 16  # questions without an image: fast, but still bounded
SSE_PING_SECONDS = 15  # a comment line this often keeps a long restoration's stream open through proxies
AskFunction = Callable[..., Answer]

@dataclass
class AskRequest:
    card: Card
    card_label: str
    question: str
    image: CheckedImage | None
    scale: int | None
    session: ChatSession


_SINGLE_FIELDS = ("card", "card_name", "question", "image", "scale", "session_id")


class Server:
    """What the routes share: settings, the worker pools, chat sessions and run folders."""

    def __init__(self, settings: Settings, ask_fn: AskFunction | None, ask_options: dict[str, Any]) -> None:
        self.settings = settings
        self.ask_fn = ask_fn
        self.ask_options = ask_options
        restore_workers = settings.server.workers
        if settings.restore.backend == "ray":  # one thread per job the Ray workers take at once, each waiting
            from tools.restoration.ray_backend import shared_pool  # on it: a full cluster is a full pool, a 429

            restore_workers = shared_pool().slots
        self.restore_pool = WorkerPool(restore_workers, settings.server.queue_size, "cnaps-restore")
        self.answer_pool = WorkerPool(ANSWER_WORKERS, ANSWER_QUEUE, "cnaps-answer")
        self.sessions = SessionStore()
        self.runs = RunStore(settings.output_dir / "web", keep=settings.server.keep_runs,
                             job_timeout=settings.server.job_timeout)

    def ask(self, *args: Any, **kwargs: Any) -> Answer:
        if self.ask_fn is None:
            from agent.ask import ask

            self.ask_fn = ask
        return self.ask_fn(*args, **kwargs)

    # -- reading a request ------------------------------------------------------------------------------------

    async def read_form(self, request: Request) -> FormData:
        """The multipart form, read with a byte limit before any parsing (a chunked upload cannot dodge it)."""
        limits = self.settings.server
        limit = limits.max_upload_bytes + limits.max_card_bytes + 64 * 1024
        content_type = request.headers.get("content-type", "")
        if not content_type and request.headers.get("content-length", "0") == "0":
            return FormData()  # a bare POST: the default card and its own question
        if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            raise UnsupportedTypeError("send the question as multipart/form-data (fields: card, question, image, "
                                       "scale, session_id)")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLargeError(f"the request is {int(declared):,} bytes, over this server's limit of {limit:,}: "
                                "send a smaller image")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise TooLargeError(f"the request is over this server's limit of {limit:,} bytes: send a smaller image")
        boundary = re.search(r"boundary=\"?([^\";]+)", content_type)
        if content_type.startswith("multipart/form-data") and body and boundary and not bytes(body).rstrip().endswith(
                b"--" + boundary.group(1).encode("latin-1") + b"--"):
            # The parser would keep the complete parts and drop the rest without a word: a question lost silently.
            raise UsageError("the form is cut short (no closing boundary): send the whole multipart body")
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        try:
            return await Request(request.scope, replay).form(
                max_files=4, max_fields=16, max_part_size=limits.max_card_bytes + 1024)
        except (MultiPartException, HTTPException) as error:  # starlette wraps the first in the second
            detail = getattr(error, "detail", None) or str(error)
            if "maximum size" in detail:
                raise TooLargeError(f"a form field is over {limits.max_card_bytes:,} bytes: upload the card as a "
                                    "file or shorten it") from None
            raise UsageError(f"the form could not be read ({detail}): send multipart/form-data") from None

    async def parse_ask(self, request: Request) -> AskRequest:
        limits = self.settings.server
        form = await self.read_form(request)
        try:
            for name in _SINGLE_FIELDS:
                if len(form.getlist(name)) > 1:  # which one was meant? keeping the last would drop the others
                    raise UsageError(f"the form has {len(form.getlist(name))} '{name}' fields: send each field once")
            session = None
            if session_id := _text(form, "session_id"):
                session = self.sessions.get(session_id)
            card_field = form.get("card")
            card_name = _text(form, "card_name")
            if isinstance(card_field, UploadFile):
                data = await card_field.read(limits.max_card_bytes + 1)
                text = decode_text(data, limits.max_card_bytes)
                card, label = parse_card(text, source="upload"), card_field.filename or "uploaded card"
            elif card_field and card_field.strip():
                check_size(card_field.encode("utf-8"), limits.max_card_bytes, "the card")
                card, label = parse_card(card_field, source="upload"), "pasted card"
            elif card_name or session is None:
                name = card_name or DEFAULT_CARD
                card, label = await asyncio.to_thread(bundled_card, name), name
            else:
                card, label = session.card, session.card_label
            if session is None or session.card is not card:
                session = self.sessions.create(card, label)

            question = (_text(form, "question") or card.question).strip()
            if len(question) > MAX_QUESTION_CHARS:
                raise UsageError(f"the question is {len(question):,} characters: keep it under {MAX_QUESTION_CHARS:,}")

            image = None
            image_field = form.get("image")
            if isinstance(image_field, UploadFile):
                data = await image_field.read(limits.max_upload_bytes + 1)
                if data or image_field.filename:
                    image = await asyncio.to_thread(check_image, data, limits.max_upload_bytes,
                                                    self.settings.restore.max_pixels)
            elif image_field:
                raise UnsupportedTypeError("the image field holds text: attach the image as a file")

            scale = None
            if raw := _text(form, "scale"):
                if not raw.isdigit() or not 1 <= int(raw) <= MAX_SCALE:
                    raise UsageError(f"scale must be a whole number from 1 to {MAX_SCALE}, got {raw[:20]!r}: send e.g. "
                                     "scale=4")
                scale = int(raw)
        finally:
            await form.close()
        return AskRequest(card=card, card_label=label, question=question, image=image, scale=scale, session=session)

    # -- running a request ------------------------------------------------------------------------------------

    def pool_for(self, req: AskRequest) -> WorkerPool:
        """Restorations queue in their own bounded pool, so questions without an image never wait behind them."""
        return self.restore_pool if req.image is not None else self.answer_pool

    def submit(self, req: AskRequest, emit: Callable[[str, Any], None] | None) -> "asyncio.Future[dict]":
        future = self.pool_for(req).submit(self.run_job, req, emit or (lambda event, data: None))
        return asyncio.wrap_future(future)

    def run_job(self, req: AskRequest, emit: Callable[[str, Any], None]) -> dict:
        """Runs on a worker thread: restore (when an image came), answer, store the run; returns the API payload.

        The job fails at its deadline (CNAPS_SERVER__JOB_TIMEOUT): `RunStore.prune` counts on no live job being
        older, to tell a dead server's leftovers from a run still being answered."""
        run_id, folder = self.runs.create()
        deadline = Deadline(self.settings.server.job_timeout)

        def emit_in_time(event: str, data: Any) -> None:
            deadline.check()
            emit(event, data)

        try:
            return self._answer(run_id, folder, req, emit_in_time, deadline)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # a failed run leaves no half-written folder behind
            raise

    def _answer(self, run_id: str, folder: Path, req: AskRequest, emit: Callable[[str, Any], None],
                deadline: Deadline) -> dict:
        image_path = None
        if req.image is not None:
            image_path = folder / f"input.{req.image.extension}"
            image_path.write_bytes(req.image.data)
            emit("status", {"stage": "restoring", "message": f"Restoring the {req.image.size[0]}×"
                                                             f"{req.image.size[1]} image…"})
        else:
            emit("status", {"stage": "answering", "message": "Reading the card's documents…"})

        def progress(done: int, total: int) -> None:
            emit("progress", {"done": done, "total": total})

        answer = self.ask(req.card, question=req.question, image=image_path, scale=req.scale, output_dir=folder,
                          on_token=lambda token: emit("token", {"text": token}),
                          history=list(req.session.history), progress=progress, **self.ask_options)
        deadline.check()
        crops = self.runs.save(run_id, req.question, answer)
        payload = self.payload(run_id, req, answer, crops)
        req.session.add_turn(req.question, payload["markdown"], run_id, self.sessions.max_turns)
        return payload

    def payload(self, run_id: str, req: AskRequest, answer: Answer, crops: list[dict]) -> dict:
        """The answer contract plus what a web client needs: file URLs (never server paths), session and run ids."""
        data = _without_paths(answer.model_dump(mode="json"), self.public_names(run_id, answer))
        if answer.restoration is not None:
            original, run = answer.restoration, data["restoration"]
            run["input_path"] = Path(original.input_path).name if original.input_path else None
            run["image_path"] = Path(original.image_path).name if original.image_path else None
            run["weights"]["file"] = Path(original.weights.file).name
            run["image_url"] = self.runs.url(run_id, "restored")
            run["input_url"] = self.runs.url(run_id, "input")
            run["crops"] = crops
        data["report_url"] = self.runs.url(run_id, "report.html")
        from agent.report import pdf_unavailable

        data["report_urls"] = {fmt: self.runs.url(run_id, name) for fmt, name in REPORT_FILES.items()
                               if fmt != "pdf" or pdf_unavailable() is None}  # no link that would answer 500
        data["question"] = req.question
        data["session_id"] = req.session.id
        data["run_id"] = run_id
        data["card"] = {"label": req.card_label, "question": req.card.question,
                        "models": [m.name for m in req.card.models]}
        return data

    def public_names(self, run_id: str, answer: Answer) -> dict[str, str]:
        """Server path -> what a browser may see instead: the restored image's URL, file names, setting names."""
        run = answer.restoration
        names = {str(self.settings.home.expanduser().resolve()): "$CNAPS_HOME"}
        if self.settings.weights_dir:
            names[str(self.settings.weights_dir.expanduser().resolve())] = "$CNAPS_WEIGHTS_DIR"
        names = {path: name for path, name in names.items() if len(Path(path).parts) > 1}  # never '/' itself
        if run is not None:
            names[run.weights.file] = Path(run.weights.file).name
            if run.input_path:
                names[run.input_path] = Path(run.input_path).name
            if run.image_path:
                names[run.image_path] = self.runs.url(run_id, "restored")
        return names


def _without_paths(data: dict, names: dict[str, str]) -> dict:
    """`data` with every server path in `names` replaced, in every string (the markdown's "what ran" table, notes),
    as written or as the Markdown escape writes it; longest paths first, so a file goes before its folder."""
    text = json.dumps(data, ensure_ascii=False)
    for path in sorted(names, key=len, reverse=True):
        for written in {path, markdown_text(path)}:
            text = text.replace(json.dumps(written, ensure_ascii=False)[1:-1],
                                json.dumps(names[path], ensure_ascii=False)[1:-1])
    return json.loads(text)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _error_response(error: CnapsError, server: Server | None = None) -> JSONResponse:
    headers = {}
    if isinstance(error, BusyError):
        headers["Retry-After"] = str(getattr(error, "retry_after", 5))
    return JSONResponse({"detail": error.web_message, "error": type(error).__name__}, status_code=error.http_status,
                        headers=headers)


def _sse(event: str, data: Any) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(data, ensure_ascii=False), event=event, sep="\n")


def create_app(settings: Settings | None = None, ask_fn: AskFunction | None = None,
               ask_options: dict[str, Any] | None = None) -> FastAPI:
    """The app. `ask_fn` replaces `agent.ask.ask` (tests); `ask_options` are passed to every call (model,
    weights, device, llm)."""
    server = Server(settings or get_settings(), ask_fn, dict(ask_options or {}))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        server.restore_pool.shutdown()
        server.answer_pool.shutdown()

    docs_assets = swagger_assets()
    app = FastAPI(title="cnaps", version=__version__, lifespan=lifespan, docs_url=None if docs_assets else "/docs",
                  description="Explains image-restoration results and performs them (MIMO-UNet, ICCV 2021).")
    app.state.server = server
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if docs_assets:
        app.mount("/docs-assets", StaticFiles(directory=docs_assets), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        def docs() -> Response:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="cnaps API",
                                       swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                       swagger_css_url="/docs-assets/swagger-ui.css",
                                       swagger_favicon_url="/docs-assets/favicon-32x32.png")

    @app.exception_handler(CnapsError)
    async def cnaps_error(request: Request, error: CnapsError) -> JSONResponse:
        return _error_response(error)

    app.add_middleware(SecurityHeaders)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/healthz", summary="Liveness and queue state")
    def healthz() -> dict:
        from tools.restoration.installed import installed_summary

        return {"status": "ok", "version": __version__,
                "restore_queue": {"pending": server.restore_pool.pending, "capacity": server.restore_pool.capacity},
                "sessions": len(server.sessions), "weights": installed_summary(server.settings.weights_dir)}

    @app.get("/api/cards", summary="The bundled cards")
    def cards() -> list[dict]:
        listed = []
        for name in bundled_cards():
            card = bundled_card(name)
            listed.append({"name": name, "question": card.question, "models": [m.name for m in card.models],
                           "papers": len(card.papers), "default": name == DEFAULT_CARD})
        return listed

    @app.get("/api/cards/{name}", summary="One bundled card's text")
    def card_text(name: str) -> dict:
        paths = bundled_cards()
        if name not in paths:
            raise NotFoundError("no bundled card by that name: GET /api/cards lists them")
        card = bundled_card(name)
        return {"name": name, "question": card.question, "text": paths[name].read_text(encoding="utf-8")}

    @app.post("/api/ask", summary="Answer a card's question (and restore an image)", openapi_extra=ASK_FORM)
    async def ask(request: Request) -> JSONResponse:
        req = await server.parse_ask(request)
        try:
            payload = await server.submit(req, None)
        except CnapsError:
            raise
        except Exception:  # a bug, not bad input: keep the traceback in the log, not in the response
            log.exception("ask failed")
            return JSONResponse({"detail": "internal error while answering: see the server log", "error": "internal"},
                                status_code=500)
        return JSONResponse(payload)

    @app.post("/api/ask/stream", summary="Like /api/ask, streamed as server-sent events", openapi_extra=ASK_FORM)
    async def ask_stream(request: Request) -> EventSourceResponse:
        req = await server.parse_ask(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        closed = threading.Event()

        def emit(event: str, data: Any) -> None:
            if not closed.is_set():
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, (event, data))
                except RuntimeError:  # the loop is gone: nobody is listening
                    closed.set()

        pool = server.pool_for(req)
        future = server.submit(req, emit)  # BusyError (429) is raised here, before the stream starts
        ahead = max(0, pool.pending - pool.workers)

        def finished(done: asyncio.Future) -> None:
            if done.cancelled():
                queue.put_nowait(("error", {"status": 500, "detail": "the job was cancelled"}))
            elif isinstance(done.exception(), CnapsError):
                error = done.exception()
                queue.put_nowait(("error", {"status": error.http_status, "detail": error.web_message,
                                            "error": type(error).__name__}))
            elif done.exception() is not None:
                log.error("ask failed", exc_info=done.exception())
                queue.put_nowait(("error", {"status": 500, "detail": "internal error while answering: see the "
                                                                     "server log", "error": "internal"}))
            else:
                queue.put_nowait(("answer", done.result()))
            queue.put_nowait(None)

        future.add_done_callback(finished)

        async def events() -> AsyncIterator[ServerSentEvent]:
            yield _sse("session", {"session_id": req.session.id})
            yield _sse("status", {"stage": "queued", "ahead": ahead,
                                  "message": f"Queued behind {ahead} job(s)…" if ahead else "Starting…"})
            try:
                while (item := await queue.get()) is not None:
                    yield _sse(*item)
            finally:
                closed.set()

        # sse-starlette frames the events, pings every 15 s through proxies that drop quiet connections, and stops
        # the generator when the client goes away. One '\n' per line, as the page's reader splits on blank lines.
        return EventSourceResponse(events(), ping=SSE_PING_SECONDS, sep="\n")

    @app.get("/api/runs/{run_id}/{kind}", summary="A run's image, crop or report, by opaque id")
    async def run_file(run_id: str, kind: str) -> Response:
        if kind.startswith("report."):
            fmt = next((fmt for fmt, name in REPORT_FILES.items() if name == kind), None)
            if fmt is None:
                raise UsageError("reports come as report.html, report.md.zip or report.pdf")
            path = await asyncio.to_thread(server.runs.report, run_id, fmt)
            headers = {"Content-Security-Policy": REPORT_CSP} if fmt == "html" else {}
            return FileResponse(path, media_type=REPORT_MEDIA[fmt], headers=headers,
                                filename=f"cnaps-report-{run_id[:8]}{path.name.removeprefix('report')}")
        path = server.runs.file(run_id, kind)
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    return app
