"""The language-model agent: tools, a streamed structured answer, the grounding guard, one repair round.

`answer_with_llm(ctx, fallback)` is called by `agent.ask.ask` with the deterministic composer's answer already
computed. The run:
1. tool phase: the model sees the card's material (prompts/system.j2) and may call `classify_task`,
   `search_knowledge` and, when an image is attached, `restore_image`; an endpoint without tool calling gets a
   plan-then-answer prompt instead (prompts/agent_plan.j2);
2. answer phase: the answer is asked for as JSON in the `DraftAnswer` shape, with the best JSON mode the endpoint
   accepts (`ask_json`), else by prompt alone, and parsed leniently; its prose streams to `on_token` as it
   arrives, with unprovided links held back;
3. the guard (agent.guard.check); on violations one repair round that lists them; if the answer still fails,
   `fallback` is returned with a note saying why.
Every endpoint fault ends the same way: `fallback` plus a one-line note, never a traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool

from agent.errors import LLMError
from agent.drafts import SHAPE, DraftAnswer, parse_draft
from agent.llm_requests import message_text
from agent.llm_tool_phase import MAX_PASSAGES, PASSAGE_CHARS, ToolPhase
from agent.llm_tools import agent_tools
from agent.guard import check, scrub_text, strip_unprovided_links
from agent.links import scrub
from agent.llm import chat_model, describe_failure, redact
from agent.reading import Reading, read
from agent.reading.intents import REGISTRY
from agent.schemas import NOTES_PREFIX, Answer, AnswerContext, Reference, Source, Task, Workflow
from agent.schemas import WorkflowStep
from agent.sentences import clip
from agent.settings import get_settings
from prompts import render
from tools.restoration.record import ToolRun

log = logging.getLogger(__name__)

HISTORY_TURNS = 8
REQUEST_TIMEOUTS = 3  # one request's time limit in all, in CNAPS_LLM__TIMEOUTs (that setting bounds each read)
ANSWER_TIMEOUTS = 8  # the whole answer's time limit, in CNAPS_LLM__TIMEOUTs


# --- the run ----------------------------------------------------------------------------------------------------


def answer_with_llm(
    ctx: AnswerContext,
    fallback: Answer,
    on_token: Callable[[str], None] | None = None,
    *,
    model: BaseChatModel | None = None,
    tools: list[BaseTool] | None = None,
) -> Answer:
    """The language model's grounded answer for `ctx`, or `fallback` with a note saying why it was not used.

    `model` and `tools` default to the configured endpoint and `agent_tools(ctx)`; tests pass fakes.
    """
    settings = get_settings()
    streamed: list[bool] = []

    def watched(token: str) -> None:
        streamed.append(True)
        on_token(token)

    try:
        chat = model or chat_model(settings)
        name = getattr(chat, "model_name", None) or settings.chat_model
        offered = agent_tools(ctx) if tools is None else tools
        return AgentRun(ctx, fallback, chat, offered, watched if on_token else None, name).answer()
    except LLMError as error:
        reason = redact(str(error), settings)
    except Exception as error:  # every endpoint fault ends in the deterministic answer, never a traceback
        import traceback

        log.debug("language-model run failed: %s", redact(traceback.format_exc(), settings))
        reason = describe_failure(error, settings)
    if streamed:  # a draft the reader already saw is marked as thrown away, on its own line
        on_token("\n\n(cnaps discarded the language model's draft above; its own answer follows)\n")
    return with_note(fallback, ctx, reason)


def with_note(fallback: Answer, ctx: AnswerContext, reason: str) -> Answer:
    """`fallback` with a note saying why the language model's answer is not shown."""
    from agent.compose import render_markdown

    answer = fallback.model_copy(deep=True)
    reason = scrub_text(reason, ctx.card.provided_links)
    answer.notes.append(f"The language model's answer was not used: {reason}. This is cnaps' deterministic answer.")
    answer.markdown = render_markdown(answer, question=scrub(ctx.question, ctx.card.provided_links))
    log.warning("language model not used: %s", reason)
    answer, _ = strip_unprovided_links(answer, ctx.card.provided_links)
    return answer


class AgentRun(ToolPhase):
    """One question answered by the model: holds the conversation and what the tools found.

    The tool phase is `ToolPhase` (agent/llm_tool_phase.py), the requests to the endpoint `EndpointRequests`
    (agent/llm_requests.py); this class sets their state, writes the prompts and judges the draft."""

    def __init__(self, ctx: AnswerContext, fallback: Answer, chat: BaseChatModel, tools: list[BaseTool],
                 on_token: Callable[[str], None] | None, model_name: str) -> None:
        self.ctx = ctx
        self.fallback = fallback
        self.chat = chat
        self.tools = {tool.name: tool for tool in tools}
        self.model_name = model_name
        self.on_token = on_token
        self.found: list[Source] = []
        self.restored: ToolRun | None = None
        schema = DraftAnswer.model_json_schema()
        self.json_modes: list[dict[str, Any]] = [
            {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": False}},
            {"type": "json_object", "schema": schema},
        ]
        self.max_tokens = get_settings().llm.max_tokens
        self.truncated = False
        self.tools_ran: str | None = None  # the tools' results when cnaps ran them for a model that called none
        # The endpoint's own timeout is per read: an endpoint that drips a token a second never trips it. Each
        # request gets three CNAPS_LLM__TIMEOUTs in all (a slow local model writing a long JSON answer needs more than
        # one), the whole answer (up to seven requests) eight.
        self.timeout = REQUEST_TIMEOUTS * get_settings().llm.timeout
        self.answer_timeout = ANSWER_TIMEOUTS * get_settings().llm.timeout
        self.deadline = time.monotonic() + self.answer_timeout

    # conversation ----------------------------------------------------------------------------------------------

    def system_prompt(self) -> str:
        number = {ref.url: ref.n for ref in self.fallback.references}
        # Passages are data: a link planted in a summary never reaches the model as something to cite.
        passages = [{"n": number[p.url], "title": p.title,
                     "text": scrub_text(clip(p.text, PASSAGE_CHARS), self.ctx.card.provided_links)}
                    for p in self.ctx.passages if p.url in number and p.text][:MAX_PASSAGES]
        draft = "\n".join([self.fallback.task.text]
                          + [f"{s.stage}: {s.text}" for s in self.fallback.workflow.steps]
                          + [self.fallback.workflow.text])
        return render(
            "system.j2", question=self.ctx.question, classification=self.ctx.classification,
            intents=[(match.name, REGISTRY[match.name].description) for match in self._reading().intents],
            mismatch=self.ctx.capability.mismatch,
            missing=list(self.ctx.capability.missing),
            plan=self.ctx.capability.plan,
            references=self.fallback.references, passages=passages, restoration=_restoration_text(self.ctx),
            draft=draft, tools=sorted(self.tools),
        )

    def _reading(self) -> Reading:
        """The question's reading (a context built by hand is read here, with its own task)."""
        if self.ctx.reading is None:
            self.ctx = self.ctx.model_copy(update={"reading": read(self.ctx.question, self.ctx.card, self.ctx.history,
                                                                   self.ctx.classification)})
        return self.ctx.reading

    def opening(self) -> list[BaseMessage]:
        messages: list[BaseMessage] = [SystemMessage(self.system_prompt())]
        for role, text in self.ctx.history[-HISTORY_TURNS:]:
            messages.append(HumanMessage(text) if role == "user" else AIMessage(text))
        messages.append(HumanMessage(self.ctx.question))
        return messages

    def answer(self) -> Answer:
        messages = self.opening()
        messages = self.gather(messages)
        answer_prompt = render("agent_answer.j2", schema=SHAPE, label=self.ctx.classification.label.value,
                               scale=self.ctx.classification.scale,
                               mismatch=self.ctx.capability.mismatch)
        if self.tools_ran:  # the question, the tools' results and the request as one user turn: the model's
            # prose reply was dropped, and some chat templates (Gemma's) refuse two user turns in a row
            answer_prompt = f"{message_text(messages.pop())}\n\n{self.tools_ran}\n\n{answer_prompt}"
        messages.append(HumanMessage(answer_prompt))
        raw = self.ask_json(messages)
        answer, problems = self.judge(raw)
        repaired = False
        if problems:
            log.info("grounding guard: %d violation(s); asking for one repair", len(problems))
            self._say("\n\n(cnaps is asking the model to fix: " + "; ".join(problems[:3]) + ")\n\n")
            messages += [AIMessage(raw), HumanMessage(render("agent_repair.j2", violations=problems))]
            raw = self.ask_json(messages)
            answer, problems = self.judge(raw)
            repaired = True
        if problems:
            raise LLMError("its answer failed the grounding check after one repair round ("
                           + "; ".join(problems[:4]) + ("; ..." if len(problems) > 4 else "") + ")")
        assert answer is not None
        answer, removed = strip_unprovided_links(answer, self.ctx.card.provided_links)
        note = (f"Written by the language model {self.model_name}; cnaps' grounding guard checked its links, "
                "citations, numbers and what it says ran against the sources and the record")
        if self.tools_ran:
            answer.notes.append("The language model called no tool; cnaps ran the classifier and the document "
                                "search for it and the model wrote the answer from their results.")
        answer.notes.append(note + (", after one repair round." if repaired else "."))
        if removed:
            answer.notes.append(f"{len(removed)} link(s) the card does not provide were removed.")
        from agent.compose import render_markdown

        answer.markdown = render_markdown(answer, question=scrub(self.ctx.question, self.ctx.card.provided_links))
        return answer

    # judging the draft -----------------------------------------------------------------------------------------

    def judge(self, raw: str) -> tuple[Answer | None, list[str]]:
        try:
            draft = parse_draft(raw)
        except ValueError as error:
            if self.truncated:
                return None, [f"{error}: the reply stopped at the max_tokens cap of {self.max_tokens} "
                              "(raise CNAPS_LLM__MAX_TOKENS, or answer more briefly)"]
            return None, [f"{error}: reply with one JSON object in the shape given"]
        answer = self.complete(draft)
        # What the model's own tool calls returned is grounded too: passages it searched, a restoration it ran.
        grounded = " ".join([self.fallback.markdown, *(f"{s.title} {s.text}" for s in self.found),
                             self.restored.model_dump_json() if self.restored is not None else ""])
        return answer, check(answer, self.ctx, draft.label_note, grounded=grounded)

    def complete(self, draft: DraftAnswer) -> Answer:
        """The draft filled out into the `Answer` contract: roles and kinds from the card's reference table."""
        from agent.compose import render_markdown

        table = {ref.url: ref for ref in self.fallback.references}
        references = []
        for ref in draft.references:
            known = table.get(ref.url)
            if known is None and ref.url.startswith(NOTES_PREFIX):
                continue  # a cnaps-notes id the composer never cited is not a source the model may invent
            references.append(Reference(
                n=ref.n, title=ref.title or (known.title if known else ref.url), url=ref.url,
                role=known.role if known else "related-paper", kind=known.kind if known else "paper",
                relevance=ref.relevance or (known.relevance if known else ""),
            ))
        cls = self.ctx.classification
        task = Task(label=draft.task.label, scale=draft.task.scale, mismatch=draft.task.mismatch,
                    text=draft.task.text, cues=cls.cues, confidence=cls.confidence,
                    missing=list(self.ctx.capability.missing))
        notes = list(draft.notes)
        if self.restored is not None and self.ctx.restoration is not None:
            notes.append(f"The language model also ran the restoration tool (x{self.restored.scale}); that result is "
                         f"{Path(self.restored.image_path or '').name}. The record shown is the restoration cnaps ran "
                         "for your question.")
        if draft.label_note.strip():
            notes.append(f"On the task label: {draft.label_note.strip()}")
        provided = self.ctx.card.provided_links
        sources = [s.model_copy(update={"text": scrub_text(s.text, provided)})  # passages are data, not links
                   for s in _unique_sources(self.ctx.passages + self.found)]
        answer = Answer(task=task, workflow=Workflow(steps=[WorkflowStep(stage=s.stage, text=s.text)
                                                             for s in draft.workflow.steps],
                                                      text=draft.workflow.text),
                        references=references, notes=notes, sources=sources,
                        restoration=self.ctx.restoration or self.restored,
                        engine=f"llm:{self.model_name}")
        answer.markdown = render_markdown(answer, question=scrub(self.ctx.question, self.ctx.card.provided_links))
        return answer


def _restoration_text(ctx: AnswerContext) -> str:
    run = ctx.restoration
    if run is None:
        return ""
    lines = [f"{run.model_id} ({run.network}) with {run.weights.provenance} weights: {run.weights.description}",
             f"{run.input_size[0]}x{run.input_size[1]} -> {run.output_size[0]}x{run.output_size[1]}"
             + (f" ({run.resize})" if run.resize else "") + f" on {run.device}, {run.precision}, {run.seconds:.2f} s"]
    return "\n".join(lines + list(run.notes))


def _unique_sources(sources: list[Source]) -> list[Source]:
    seen: dict[str, Source] = {}
    for source in sources:
        if source.id not in seen or seen[source.id].score < source.score:
            seen[source.id] = source
    return sorted(seen.values(), key=lambda s: s.score, reverse=True)
