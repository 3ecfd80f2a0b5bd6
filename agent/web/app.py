"""The web app: one chat page, a JSON API and an SSE stream, all over the same answer engine as the CLI.

Routes: `GET /` (the page), `GET /healthz`, `GET /api/cards`, `GET /api/cards/{name}`, `POST /api/ask` (JSON
answer), `POST /api/ask/stream` (server-sent events), `GET /api/runs/{run}/{kind}` (images and reports by opaque
id), `/docs`. Every `CnapsError` becomes a JSON `{"detail", "error"}` with the error's HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles

from agent import __version__
from agent.cards import DEFAULT_CARD, bundled_card, bundled_cards
from agent.errors import BusyError, CnapsError, UsageError
from agent.schemas import Answer
from agent.settings import Settings, get_settings
from agent.web.ask_requests import AskRequest, parse_ask
from agent.web.forms import ASK_FORM
from agent.web.jobs import Deadline, WorkerPool
from agent.web.payloads import answer_payload
from agent.web.runs import REPORT_FILES, REPORT_MEDIA, RunStore
from agent.web.security import REPORT_CSP, SecurityHeaders, swagger_assets
from agent.web.sessions import NotFoundError, SessionStore

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ANSWER_WORKERS, ANSWER_QUEUE = 2, 16  # questions without an image: fast, but still bounded
SSE_PING_SECONDS = 15  # a comment line this often keeps a long restoration's stream open through proxies
AskFunction = Callable[..., Answer]


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
        payload = answer_payload(run_id, req, answer, crops, self.runs, self.settings)
        req.session.add_turn(req.question, payload["markdown"], run_id, self.sessions.max_turns)
        return payload


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
        req = await parse_ask(request, server.settings, server.sessions)
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
        req = await parse_ask(request, server.settings, server.sessions)
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
