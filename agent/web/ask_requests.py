"""Reading a `POST /api/ask` form into an `AskRequest`: a byte limit before any parsing, each field once, the card
(uploaded, pasted, bundled or the session's), the question, a checked image and the scale."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from agent.cards import DEFAULT_CARD, Card, bundled_card, parse_card
from agent.errors import UsageError
from agent.settings import ServerSettings, Settings
from agent.web.sessions import ChatSession, SessionStore
from agent.web.uploads import CheckedImage, TooLargeError, UnsupportedTypeError, check_image, check_size, decode_text
from tools.restoration.zoo import MAX_SCALE

MAX_QUESTION_CHARS = 4000


@dataclass
class AskRequest:
    card: Card
    card_label: str
    question: str
    image: CheckedImage | None
    scale: int | None
    session: ChatSession


_SINGLE_FIELDS = ("card", "card_name", "question", "image", "scale", "session_id")


async def read_form(request: Request, limits: ServerSettings) -> FormData:
    """The multipart form, read with a byte limit before any parsing (a chunked upload cannot dodge it)."""
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


async def parse_ask(request: Request, settings: Settings, sessions: SessionStore) -> AskRequest:
    """The ask form as an `AskRequest`: the card (uploaded, pasted, bundled or the session's), the question, a
    checked image and the scale; a new session when none is given or the card changed."""
    limits = settings.server
    form = await read_form(request, limits)
    try:
        for name in _SINGLE_FIELDS:
            if len(form.getlist(name)) > 1:  # which one was meant? keeping the last would drop the others
                raise UsageError(f"the form has {len(form.getlist(name))} '{name}' fields: send each field once")
        session = None
        if session_id := _text(form, "session_id"):
            session = sessions.get(session_id)
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
            session = sessions.create(card, label)

        question = (_text(form, "question") or card.question).strip()
        if len(question) > MAX_QUESTION_CHARS:
            raise UsageError(f"the question is {len(question):,} characters: keep it under {MAX_QUESTION_CHARS:,}")

        image = None
        image_field = form.get("image")
        if isinstance(image_field, UploadFile):
            data = await image_field.read(limits.max_upload_bytes + 1)
            if data or image_field.filename:
                image = await asyncio.to_thread(check_image, data, limits.max_upload_bytes,
                                                settings.restore.max_pixels)
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


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
