"""The language-model endpoint: any OpenAI-compatible chat-completions server, configured from `Settings`.

OpenAI, vLLM, Ollama and llama.cpp's server all speak the same protocol; only the base URL, the key and the model
name differ. Retries with exponential backoff (and `Retry-After`) are the OpenAI client's own: `llm.retries`
retries after a connection error, a timeout, 408/409/429 or a 5xx.

The generation cap travels as `max_tokens` in the request body (`cap_field`). langchain-openai renames its own `max_tokens` to
`max_completion_tokens`, which llama.cpp's server ignores (it then generated ~3,000 tokens for a 200-token cap), so
the cap goes through `extra_body`, which the client merges into the JSON unchanged.

The key is never logged or printed: it lives in a `SecretStr` until the client is built, and `redact` scrubs it
from any endpoint message before that message reaches a note.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel

from agent.errors import LLMError
from agent.sentences import clip
from agent.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Local servers (vLLM, Ollama, llama.cpp) accept any key, but the OpenAI client refuses to start without one.
PLACEHOLDER_KEY = "not-needed"


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and how they are bounded. `repr` never shows the key."""

    base_url: str | None
    model: str
    timeout: float
    retries: int
    max_tokens: int
    temperature: float
    has_key: bool

    def describe(self) -> str:
        # Host and port only: a note is shown to the user, and no URL outside the card may be. `endpoint` has
        # checked the URL, so it splits.
        where = urlsplit(self.base_url).netloc if self.base_url else "api.openai.com"
        return f"model {self.model} at {where}"


def endpoint(settings: Settings | None = None) -> Endpoint:
    """The endpoint `settings` describe; raises `LLMError` when there is nothing to talk to."""
    settings = settings or get_settings()
    if settings.openai_api_key is None and not settings.openai_base_url:
        raise LLMError(
            "no language-model endpoint is configured: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL "
            "(vLLM, Ollama, llama.cpp server), or use --llm none"
        )
    base_url = settings.openai_base_url
    if base_url:
        try:
            parts = urlsplit(base_url)
            valid = parts.scheme in ("http", "https") and bool(parts.netloc)
        except ValueError:
            valid = False
        if not valid:  # fails before any request, instead of as "cannot reach the language model"
            # No example URL in the message: notes that reach the answer keep only the card's links.
            raise LLMError("OPENAI_BASE_URL is not an http(s) URL: set it to the endpoint's address (http or https, "
                           "host, port and the /v1 path), or unset it")
    return Endpoint(
        base_url=base_url or None,
        model=settings.chat_model,
        timeout=settings.llm.timeout,
        retries=max(0, settings.llm.retries),
        max_tokens=settings.llm.max_tokens,
        temperature=settings.llm.temperature,
        has_key=settings.openai_api_key is not None,
    )


def chat_model(settings: Settings | None = None) -> BaseChatModel:
    """A streaming langchain chat model for the configured endpoint."""
    from langchain_openai import ChatOpenAI

    settings = settings or get_settings()
    point = endpoint(settings)
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else PLACEHOLDER_KEY
    log.debug("language model: %s (timeout %.0f s, %d retries, max_tokens %d)", point.describe(), point.timeout,
              point.retries, point.max_tokens)
    return ChatOpenAI(
        model=point.model,
        api_key=key,
        base_url=point.base_url,
        timeout=point.timeout,
        max_retries=point.retries,
        temperature=point.temperature,
        streaming=True,
        stream_usage=False,
        extra_body={cap_field(point.model): point.max_tokens},
    )


def cap_field(model: str) -> str:
    """The body field that caps generation: `max_tokens` everywhere, except OpenAI's reasoning models (o1, o3,
    gpt-5...), which refuse it and take only `max_completion_tokens`."""
    return "max_completion_tokens" if re.match(r"^(o\d|gpt-5)", model) else "max_tokens"


def redact(text: str, settings: Settings | None = None) -> str:
    """`text` with the configured key (and any 'Bearer ...' token) removed."""
    settings = settings or get_settings()
    if settings.openai_api_key is not None:
        secret = settings.openai_api_key.get_secret_value()
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"(Bearer\s+)\S+", r"\1***", text)


def describe_failure(error: BaseException, settings: Settings | None = None) -> str:
    """One line saying what went wrong with the endpoint and what to do about it (never the key)."""
    import httpx
    import openai

    settings = settings or get_settings()
    try:
        where = endpoint(settings).describe()
    except LLMError:  # a model handed in directly (tests, embedding code): name it, not an endpoint
        where = f"model {settings.chat_model}"
    detail = clip(redact(str(getattr(error, "message", "") or error), settings), 160)
    if isinstance(error, openai.APITimeoutError) or isinstance(error, httpx.TimeoutException):
        return (f"the language model ({where}) did not answer within {settings.llm.timeout:g} s: "
                "raise CNAPS_LLM__TIMEOUT or use a faster model")
    if isinstance(error, openai.AuthenticationError):
        return f"the endpoint ({where}) refused the key (401): check OPENAI_API_KEY"
    if isinstance(error, openai.PermissionDeniedError):
        return f"the endpoint ({where}) denied access (403): check the key's permissions and the model name"
    if isinstance(error, openai.NotFoundError):
        return f"the endpoint ({where}) answered 404 ({detail}): check OPENAI_BASE_URL and CNAPS_LLM_MODEL"
    if isinstance(error, openai.RateLimitError):
        return (f"the endpoint ({where}) is rate-limiting requests (429) after {settings.llm.retries} retries: "
                "wait and retry, or raise CNAPS_LLM__RETRIES")
    if isinstance(error, openai.InternalServerError):
        status = getattr(error, "status_code", "5xx")
        return f"the endpoint ({where}) failed with a server error ({status}: {detail}): retry later"
    if isinstance(error, openai.APIStatusError):
        return f"the endpoint ({where}) rejected the request ({error.status_code}: {detail})"
    if isinstance(error, openai.APIConnectionError):
        return (f"cannot reach the language model ({where}): {detail}; check that the server is running "
                "and OPENAI_BASE_URL is right")
    if isinstance(error, httpx.HTTPError):
        return f"the connection to the language model ({where}) broke mid-answer ({detail}): retry"
    return f"the language model ({where}) failed: {type(error).__name__}: {detail}"
