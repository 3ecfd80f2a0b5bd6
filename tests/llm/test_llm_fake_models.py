"""The agent loop with langchain's fake chat models: no HTTP at all."""

from __future__ import annotations

import json
from typing import Any

from conftest import EVIL, good_draft
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from agent.loop import answer_with_llm


SEEN: list[Any] = []  # the messages each request of a ToolCallingFake received


class ToolCallingFake(GenericFakeChatModel):
    """GenericFakeChatModel that accepts tools and streams tool calls (the stock one drops them when streaming)."""

    def bind_tools(self, tools, **kwargs):
        return self

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        SEEN.append(list(messages))
        message = next(self.messages)
        message = AIMessage(content=message) if isinstance(message, str) else message
        chunks = [message.content[i:i + 5] for i in range(0, len(message.content), 5)] or [""]
        for piece in chunks:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        if message.tool_calls:
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[
                {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                for i, c in enumerate(message.tool_calls)]))


class BreaksMidway(GenericFakeChatModel):
    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        yield ChatGenerationChunk(message=AIMessageChunk(content='{"task": {"text": "Half'))
        raise ConnectionResetError("peer went away")


def test_model_without_tool_calling_plans_then_answers(ctx, fallback, fake_tools):
    model = GenericFakeChatModel(messages=iter(["1. cite [1] for scales", json.dumps(good_draft())]))
    tokens: list[str] = []
    answer = answer_with_llm(ctx, fallback, tokens.append, model=model, tools=fake_tools)
    assert answer.engine == "llm:gpt-4o-mini"  # the configured default model name
    assert "".join(tokens).startswith("Task: You enlarged")


def test_tool_calls_run_the_tool_and_feed_the_result_back(ctx, fallback, fake_tools, searches):
    call = AIMessage(content="", tool_calls=[{"name": "search_knowledge", "args": {"query": "RealBlur", "k": 2},
                                              "id": "c1"}])
    SEEN.clear()
    model = ToolCallingFake(messages=iter([call, "done", json.dumps(good_draft())]))
    answer = answer_with_llm(ctx, fallback, model=model, tools=fake_tools)
    assert answer.engine.startswith("llm:") and searches == ["RealBlur"]
    second = SEEN[1]
    assert second[-1].type == "tool" and "Asymmetric feature fusion" in second[-1].content


def test_repair_round_then_fallback_with_fake_model(ctx, fallback, fake_tools):
    bad = good_draft()
    bad["task"]["text"] += f" Read more: {EVIL}"
    model = GenericFakeChatModel(messages=iter(["plan", json.dumps(bad), json.dumps(bad)]))
    tokens: list[str] = []
    answer = answer_with_llm(ctx, fallback, tokens.append, model=model, tools=fake_tools)
    assert answer.engine == "composer" and "grounding check" in answer.notes[-1]
    assert EVIL not in "".join(tokens) + answer.model_dump_json()
    assert "asking the model to fix" in "".join(tokens)


def test_any_exception_midway_is_a_note_not_a_traceback(ctx, fallback):
    answer = answer_with_llm(ctx, fallback, model=BreaksMidway(messages=iter([])), tools=[])
    assert answer.engine == "composer"
    assert "broke off midway" in answer.notes[-1] and "peer went away" in answer.notes[-1]


def test_running_out_of_tool_rounds_still_answers(ctx, fallback, fake_tools, searches):
    call = AIMessage(content="", tool_calls=[{"name": "search_knowledge", "args": {"query": "again"}, "id": "c"}])
    model = ToolCallingFake(messages=iter([call] * 5 + [json.dumps(good_draft())]))  # the 5th call is not run
    answer = answer_with_llm(ctx, fallback, model=model, tools=fake_tools)
    assert answer.engine.startswith("llm:") and len(searches) == 4


def _classify_tool(calls: list[str]):
    from langchain_core.tools import StructuredTool
    from pydantic import BaseModel

    class ClassifyArgs(BaseModel):
        question: str

    def classify(question: str) -> str:
        calls.append(question)
        return json.dumps({"label": "both", "scale": 4, "cues": ["text"]})

    return StructuredTool.from_function(classify, name="classify_task", description="Classify the question.",
                                        args_schema=ClassifyArgs)


def test_a_model_that_calls_no_tool_gets_the_tools_run_for_it_and_is_asked_once(ctx, fallback, fake_tools,
                                                                                 searches):
    """Gemma 3 270M on llama.cpp, offered tools, wrote prose instead: cnaps runs the offline path's tools and the
    one answer request carries their results (and not the prose), before the guard."""
    classified: list[str] = []
    rambling = "Let me think about how the model works in general terms. " * 40
    SEEN.clear()
    model = ToolCallingFake(messages=iter([rambling, json.dumps(good_draft())]))
    answer = answer_with_llm(ctx, fallback, model=model, tools=[*fake_tools, _classify_tool(classified)])

    assert classified == [ctx.question] and searches == [ctx.question]  # run by cnaps, not by the model
    assert len(SEEN) == 2  # the tool request, then one answer request
    request = SEEN[1]
    asked = request[-1].content
    assert "Asymmetric feature fusion" in asked and "both" in asked  # the search's passage, the classifier's label
    assert rambling.strip()[:60] not in " ".join(str(m.content) for m in request)
    roles = [m.type for m in request]
    assert all(a != b for a, b in zip(roles, roles[1:]))  # user and assistant turns alternate (Gemma's template)
    assert answer.engine.startswith("llm:")  # the guard passed the answer written from those results
    assert any("called no tool" in note for note in answer.notes)
    assert "t1" in {source.id for source in answer.sources}  # the passages cnaps searched ground the answer


def test_a_model_that_calls_a_tool_is_not_given_tools_it_did_not_ask_for(ctx, fallback, fake_tools, searches):
    classified: list[str] = []
    call = AIMessage(content="", tool_calls=[{"name": "search_knowledge", "args": {"query": "FAM"}, "id": "c1"}])
    model = ToolCallingFake(messages=iter([call, "enough", json.dumps(good_draft())]))
    answer = answer_with_llm(ctx, fallback, model=model, tools=[*fake_tools, _classify_tool(classified)])
    assert searches == ["FAM"] and classified == []
    assert not any("called no tool" in note for note in answer.notes)
