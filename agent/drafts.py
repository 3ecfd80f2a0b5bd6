"""What a language model writes for cnaps: the JSON `DraftAnswer` (task, workflow, references), parsed leniently
(`parse_draft`), and previewed while it streams (`JsonPreview`: the prose of a partial draft, links held back)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.utils.json import parse_partial_json
from pydantic import BaseModel, Field, ValidationError, field_validator

from agent.schemas import TaskLabel

class DraftTask(BaseModel):
    label: TaskLabel = Field(description="deblurring, super-resolution, both or other.")
    scale: int | None = Field(None, description="The enlargement factor the question names, else null.")
    mismatch: bool = Field(description="True when the recommended models cannot do everything the task needs.")
    text: str = Field(description="What the user is trying to do, in a few sentences.")

    @field_validator("scale", mode="before")
    @classmethod
    def _scale(cls, value: Any) -> Any:
        if isinstance(value, str):  # "4x", "x4", "none"
            digits = re.search(r"\d+", value)
            return int(digits.group(0)) if digits else None
        return value

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = re.sub(r"[\s_]+", "-", value.strip().lower())
            return {"super-res": "super-resolution", "sr": "super-resolution", "superresolution": "super-resolution",
                    "deblur": "deblurring", "upscaling": "super-resolution"}.get(word, word)
        return value


class DraftStep(BaseModel):
    stage: Literal["input", "model", "output"]
    text: str

    @field_validator("stage", mode="before")
    @classmethod
    def _stage(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class DraftWorkflow(BaseModel):
    steps: list[DraftStep] = Field(description="Three steps: input, model, output; facts cite [n].")
    text: str = Field("", description="Why this works, and what the model cannot do here.")

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, value: Any) -> Any:
        if isinstance(value, dict):  # {"input": "...", "model": "...", "output": "..."}
            return [{"stage": stage, "text": text} for stage, text in value.items()]
        return value


class DraftReference(BaseModel):
    n: int
    title: str
    url: str
    relevance: str = ""


class DraftAnswer(BaseModel):
    """The answer as the language model writes it; cnaps completes it into the `Answer` contract."""

    task: DraftTask
    label_note: str = Field("", description="Why the task label differs from the classifier's, when it does.")
    workflow: DraftWorkflow
    references: list[DraftReference]
    notes: list[str] = Field(default_factory=list)


SHAPE = json.dumps({
    "task": {"label": "deblurring | super-resolution | both | other", "scale": "integer or null",
             "mismatch": "true or false", "text": "..."},
    "label_note": "",
    "workflow": {"steps": [{"stage": "input", "text": "... [1]"}, {"stage": "model", "text": "... [1]"},
                           {"stage": "output", "text": "..."}], "text": "..."},
    "references": [{"n": 1, "title": "...", "url": "...", "relevance": "..."}],
    "notes": [],
}, indent=1)


def parse_draft(raw: str) -> DraftAnswer:
    """The model's reply as a `DraftAnswer`, tolerating code fences, prose around the JSON and a cut-off tail.

    Raises ValueError with a short reason the repair prompt can show the model.
    """
    text = raw.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)(?:```|$)", text, re.DOTALL)
    if fence and "{" in fence.group(1):
        text = fence.group(1)
    start = text.find("{")
    if start < 0:
        raise ValueError("the reply contains no JSON object")
    end = text.rfind("}")
    candidate = text[start:end + 1] if end > start else text[start:]
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError:
        data = parse_partial_json(text[start:])
    if not isinstance(data, dict):
        raise ValueError("the reply is not valid JSON")
    try:
        return DraftAnswer.model_validate(data)
    except ValidationError as error:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:4]]
        raise ValueError("the JSON does not have the answer's shape (" + "; ".join(problems) + ")") from None


class JsonPreview:
    """Turns a streamed JSON answer into readable text as it arrives: the task, then each workflow step."""

    EVERY = 16  # characters between two parses of the partial JSON

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.raw = ""
        self.sent = ""
        self._parsed_at = 0

    def feed(self, delta: str) -> None:
        self.raw += delta
        if len(self.raw) - self._parsed_at >= self.EVERY:  # re-parsing is O(n): not on every token
            self.finish()

    def finish(self) -> None:
        """Emit whatever readable text has arrived (call once more when the stream ends)."""
        self._parsed_at = len(self.raw)
        start = self.raw.find("{")
        if start < 0:
            return
        try:
            data = parse_partial_json(self.raw[start:])
        except Exception:  # a half-written escape sequence: wait for more
            return
        text = self.readable(data) if isinstance(data, dict) else ""
        if text.startswith(self.sent) and len(text) > len(self.sent):
            self.emit(text[len(self.sent):])
            self.sent = text

    @staticmethod
    def readable(data: dict[str, Any]) -> str:
        parts = []
        task = data.get("task")
        if isinstance(task, dict) and isinstance(task.get("text"), str):
            parts.append("Task: " + task["text"])
        workflow = data.get("workflow")
        steps = workflow.get("steps") if isinstance(workflow, dict) else None
        for step in steps if isinstance(steps, list) else []:
            if isinstance(step, dict) and isinstance(step.get("text"), str):
                parts.append(f"{str(step.get('stage', '')).capitalize()}: {step['text']}")
        return "\n".join(parts)


# --- tools ------------------------------------------------------------------------------------------------------


