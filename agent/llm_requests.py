"""The requests one agent run sends the chat endpoint: each streamed and time-limited, the answer in the best JSON
mode the endpoint accepts, its prose previewed to `on_token` through the link filter as it arrives."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from agent.drafts import JsonPreview
from agent.errors import LLMError
from agent.guard import LinkFilter
from agent.llm import describe_failure
from agent.schemas import AnswerContext

log = logging.getLogger(__name__)


class EndpointRequests:
    """How `AgentRun` talks to the endpoint; its `__init__` sets these attributes."""

    ctx: AnswerContext
    chat: BaseChatModel
    on_token: Callable[[str], None] | None
    json_modes: list[dict[str, Any]]  # still to try, best first; a refused one is dropped
    timeout: float  # one request's limit, s
    answer_timeout: float  # the whole answer's limit, s
    deadline: float  # time.monotonic() when the whole answer's time is up
    truncated: bool  # the last reply stopped at max_tokens

    def ask_json(self, messages: list[BaseMessage]) -> str:
        """The answer's raw text, in the best JSON mode the endpoint accepts; prose streams to `on_token`.

        JSON modes, tried in order until one is accepted: OpenAI's `json_schema` (OpenAI, vLLM, Ollama), then
        `json_object` with a `schema` (llama-cpp-python's server turns it into a grammar), then none (prompt only).
        """
        while self.json_modes:
            try:
                reply = self.stream(self.chat.bind(response_format=self.json_modes[0]), messages,
                                    JsonPreview(self._say))
                return self._checked(reply)
            except Exception as error:
                if not rejected_feature(error):
                    raise
                refused = self.json_modes.pop(0)
                log.info("the endpoint refused response_format %s (%s)", refused["type"], type(error).__name__)
        return self._checked(self.stream(self.chat, messages, JsonPreview(self._say)))

    def stream(self, runnable: Any, messages: list[BaseMessage], preview: JsonPreview | None = None) -> AIMessage:
        """One request, streamed; the chunks summed into one message."""
        total = None
        ends = min(time.monotonic() + self.timeout, self.deadline)
        try:
            for chunk in runnable.stream(messages):
                total = chunk if total is None else total + chunk
                if time.monotonic() > ends:
                    whole = ends == self.deadline
                    raise LLMError(
                        f"the language model did not finish {'its answer' if whole else 'a reply'} within "
                        f"{self.answer_timeout if whole else self.timeout:g} s: raise "
                        "CNAPS_LLM__TIMEOUT or use a faster endpoint")
                if preview is not None and isinstance(chunk.content, str) and chunk.content:
                    preview.feed(chunk.content)
        except LLMError:
            raise
        except Exception as error:
            if total is not None and not rejected_feature(error):
                raise LLMError("the stream from the language model broke off midway ("
                               + describe_failure(error) + ")") from None
            raise
        finally:
            if preview is not None:
                preview.finish()
            if self._filter is not None:
                self._filter.flush()
        if total is None:
            raise LLMError("the language model sent an empty reply; check CNAPS_LLM_MODEL")
        return total

    def _checked(self, reply: AIMessage) -> str:
        self.truncated = (reply.response_metadata or {}).get("finish_reason") == "length"
        return message_text(reply)

    _filter: LinkFilter | None = None

    def _say(self, text: str) -> None:
        if self.on_token is None:
            return
        if self._filter is None:
            self._filter = LinkFilter(self.ctx.card.provided_links, self.on_token)
        self._filter.feed(text)


def message_text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


def rejected_feature(error: BaseException) -> bool:
    """True when the endpoint refused the request's shape (tools, response_format), not the request itself.

    llama-cpp-python's server answers a response_format it does not know with 500 and a validation message.
    """
    status = getattr(error, "status_code", None)
    if isinstance(error, LLMError) or status is None:
        return False
    named = any(word in str(error) for word in ("response_format", "tools", "tool_choice"))
    # A 404 without those words is a wrong model name or path, not a missing feature: no plan request follows.
    return status in (400, 415, 422, 501) or (status in (404, 500) and named)
