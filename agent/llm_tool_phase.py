"""The agent run's tool phase: the model calls the typed tools (rounds capped), writes a plan in text when the
endpoint has no tool calling, or has cnaps run the tools for it when it answers in prose; what the tools found is
kept as the answer's sources and restoration record."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from pydantic import ValidationError

from agent.errors import CnapsError, LLMError
from agent.guard import scrub_text
from agent.llm_requests import EndpointRequests, message_text, rejected_feature
from agent.schemas import Answer, Source
from agent.sentences import clip
from prompts import render
from tools.restoration.record import ToolRun

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 4
PASSAGE_CHARS = 600
MAX_PASSAGES = 8


class ToolPhase(EndpointRequests):
    """The tool phase of `AgentRun`; its `__init__` sets these attributes."""

    fallback: Answer
    tools: dict[str, BaseTool]
    found: list[Source]  # passages the model's searches returned
    restored: ToolRun | None  # the restoration the model ran, if it ran one
    tools_ran: str | None  # the tools' results when cnaps ran them for a model that called none

    def gather(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        """The tool phase, or a written plan when the endpoint has no tool calling."""
        if not self.tools:
            return self.plan(messages)
        try:
            bound = self.chat.bind_tools(list(self.tools.values()))
            reply = self.stream(bound, messages)
        except NotImplementedError:
            return self.plan(messages)
        except Exception as error:
            if not rejected_feature(error):
                raise
            log.info("the endpoint refused tool calling (%s); planning in text instead", type(error).__name__)
            return self.plan(messages)
        if not reply.tool_calls and not reply.invalid_tool_calls:
            # Asked to call tools, the model wrote prose instead (small local models do, at length). cnaps runs
            # the tools itself and the answer request carries their results; the prose is dropped.
            self.tools_ran = self.run_tools_for_the_model()
            return messages  # still ending in the user's question, which the answer request takes up
        for _ in range(MAX_TOOL_ROUNDS):
            if reply.invalid_tool_calls:
                bad = reply.invalid_tool_calls[0]
                raise LLMError(f"the model called the tool {bad.get('name')!r} with arguments that are not valid "
                               "JSON; a model with better tool calling may help")
            if not reply.tool_calls:
                break
            messages.append(reply)
            for call in reply.tool_calls:
                messages.append(self.run_tool(call))
            reply = self.stream(bound, messages)
        if reply.content and not reply.tool_calls:
            messages.append(AIMessage(message_text(reply)))
        return messages

    def run_tools_for_the_model(self) -> str:
        """The tools the offline path runs (classify the question, search the card's documents for it), run here
        on the model's behalf; their results as the text that opens the answer request."""
        number = {ref.url: ref.n for ref in self.fallback.references}
        classification, passages = None, []
        if "classify_task" in self.tools:
            message = self.run_tool({"name": "classify_task", "args": {"question": self.ctx.question},
                                     "id": "cnaps-classify"})
            try:
                classification = json.loads(str(message.content))
            except ValueError:
                classification = None
        if "search_knowledge" in self.tools:
            message = self.run_tool({"name": "search_knowledge", "args": {"query": self.ctx.question, "k": 4},
                                     "id": "cnaps-search"})
            try:
                found = json.loads(str(message.content)).get("passages", [])
            except (ValueError, AttributeError):
                found = []
            provided = self.ctx.card.provided_links
            passages = [{"n": number.get(item.get("url")), "title": item.get("title", ""),
                         "text": scrub_text(clip(str(item.get("text", "")), PASSAGE_CHARS), provided)}
                        for item in found if isinstance(item, dict) and item.get("text")][:MAX_PASSAGES]
        log.info("the model called no tool; cnaps ran %s for it", ", ".join(
            name for name in ("classify_task", "search_knowledge") if name in self.tools))
        return render("agent_tools_ran.j2", question=self.ctx.question, classification=classification,
                      passages=passages)

    def plan(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        prompt = HumanMessage(render("agent_plan.j2"))
        reply = self.stream(self.chat, messages + [prompt])
        return messages + [prompt, AIMessage(message_text(reply))]

    def run_tool(self, call: dict[str, Any]) -> ToolMessage:
        name = call.get("name")
        tool = self.tools.get(name or "")
        # A wrong call is answered, not fatal: the model reads the error and can call again (tool rounds are capped).
        if tool is None:
            result = json.dumps({"error": f"there is no tool {name!r}; the tools are: {', '.join(sorted(self.tools))}"})
            return ToolMessage(content=result, tool_call_id=call.get("id") or str(name), name=str(name))
        started = time.monotonic()
        try:
            result = tool.invoke(call.get("args") or {})
        except (ValidationError, TypeError, ValueError) as error:
            result = json.dumps({"error": f"bad arguments for {name}: {clip(' '.join(str(error).split()), 300)}"})
        except CnapsError as error:  # a tool failure the model can react to (an unreadable image, ...)
            result = json.dumps({"error": str(error)})
        finally:
            self.deadline += time.monotonic() - started  # a restoration's minutes are not the endpoint's
        self._remember(name, result)
        log.info("tool %s(%s)", name, clip(json.dumps(call.get("args") or {}), 120))
        return ToolMessage(content=str(result), tool_call_id=call.get("id") or name, name=name)

    def _remember(self, name: str, result: object) -> None:
        """Keep what tools found: passages become the answer's sources, a restoration its record."""
        try:
            data = json.loads(str(result))
        except (TypeError, ValueError):
            return
        if name == "restore_image":
            try:
                self.restored = ToolRun.model_validate(data)
            except ValidationError:
                pass
            return
        for item in data.get("passages", []) if isinstance(data, dict) else []:
            try:
                self.found.append(Source.model_validate(item))
            except ValidationError:
                continue
