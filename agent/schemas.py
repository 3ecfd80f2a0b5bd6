"""The answer contract: what `cnaps ask --format json`, the web API and the LLM agent all return.

Other issues and outside checks rely on these field names; add fields, never rename them.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

from tools.restoration.record import ToolRun
from knowledge.cards import NOTES_PREFIX  # re-exported: answers cite cnaps's notes under this id, never as a link
from tools.restoration.zoo import ProjectWeightsFacts, ZooEntry, project_weights_facts

__all__ = ["NOTES_PREFIX"]  # and the models below

class TaskLabel(str, Enum):
    deblurring = "deblurring"
    super_resolution = "super-resolution"
    both = "both"
    other = "other"


class Classification(BaseModel):
    """What the question asks for."""

    label: TaskLabel
    scale: int | None = Field(None, description="Enlargement factor the question names (4 for '4x'), else None.")
    cues: list[str] = Field(default_factory=list, description="Content cues: text, faces, edges, motion, focus...")
    confidence: float = Field(ge=0.0, le=1.0)
    needs: list[str] = Field(
        default_factory=list,
        description="Capabilities the task needs: 'deblur', 'upscale', 'denoise', 'derain', 'dehaze', 'inpaint'...",
    )
    evidence: list[str] = Field(default_factory=list, description="Short phrases from the question that decided it.")
    refused: list[str] = Field(
        default_factory=list, description="Needs the question refuses ('without deblurring', 'keep the grain').")
    about_model: bool = Field(
        False, description="True for a question about the model itself ('what is the FAM?'), which asks for no task.")
    scale_note: str | None = Field(
        None, description="What the scale alone does not say, for the user: a second factor named ('2x or 4x'), a "
                          "factor applied twice, a fractional factor ('1.5x'), a target size of another shape, or an "
                          "order of steps cnaps reverses ('deblur first, then enlarge').")


class Task(BaseModel):
    label: TaskLabel
    scale: int | None = None
    mismatch: bool = Field(description="True when the task needs something the recommended models cannot do.")
    text: str
    cues: list[str] = Field(default_factory=list)
    confidence: float = 0.0
    missing: list[str] = Field(default_factory=list, description="Needed capabilities no recommended model has.")


class WorkflowStep(BaseModel):
    stage: Literal["input", "model", "output"]
    text: str


class Workflow(BaseModel):
    steps: list[WorkflowStep]
    text: str


class Reference(BaseModel):
    n: int = Field(description="The citation number used as [n] in the text.")
    title: str
    url: str
    role: Literal["recommended-model", "related-paper", "cnaps-notes"] = Field(
        description="'cnaps-notes': background cnaps wrote itself; its url is a 'cnaps:notes/...' id, not a link.")
    kind: Literal["paper", "code", "notes"] = "paper"
    relevance: str = Field(description="One honest line on how this source relates to the question.")


class Source(BaseModel):
    """A retrieved passage the answer drew on."""

    id: str
    url: str
    score: float
    title: str = ""
    text: str = ""


class Answer(BaseModel):
    task: Task
    workflow: Workflow
    references: list[Reference]
    notes: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    restoration: ToolRun | None = None
    markdown: str = ""
    engine: str = Field("composer", description="'composer' (deterministic) or 'llm:<model>'.")


class CapabilityCheck(BaseModel):
    """The needs the models cannot meet, and what cnaps will do about it."""

    mismatch: bool = Field(description="True when a need of the question is beyond every known recommended model.")
    missing: list[str] = Field(default_factory=list, description="Needs no known recommended model has.")
    unknown: list[str] = Field(default_factory=list, description="Card models the zoo does not know.")
    models: list[tuple[str, ZooEntry | None]] = Field(
        default_factory=list, description="(card model name, zoo entry or None when the zoo does not know it)."
    )
    plan: str = Field(description="What cnaps will do, in plain words, including what the model cannot do.")
    runner: tuple[ZooEntry, str] | None = Field(
        None, description="The model and the kind of weights ('official' or 'project') a restoration would use; "
                          "None when no weights exist.")

    @property
    def project_weights(self) -> bool:
        """Whether a restoration would run cnaps's own weights, not the authors' checkpoint."""
        return self.runner is not None and self.runner[1] == "project"

    def project_weights_facts(self) -> "ProjectWeightsFacts | None":
        """What the project weights a restoration would run learned from and measured; None when the authors'
        checkpoint (or nothing) would run."""
        return project_weights_facts(self.runner[0].network) if self.project_weights else None


class AnswerContext(BaseModel):
    """Everything one answer is built from; the composer and the LLM agent both read it."""

    model_config = {"arbitrary_types_allowed": True}

    card: "Card"
    question: str
    classification: Classification
    capability: "CapabilityCheck" = Field(description="What the card's models can do for this question.")
    passages: list[Source] = Field(default_factory=list, description="Retrieved passages, best first.")
    restoration: ToolRun | None = None
    history: list[tuple[str, str]] = Field(default_factory=list, description="(role, text) turns before this one.")
    reading: "Reading | None" = Field(None, description="The question read once (agent.reading.read).")
    detail: Literal["short", "brief", "full"] = Field(
        "brief", description="'brief' (default): each fact once, the workflow's main facts; 'full': every workflow "
                             "fact and the why paragraph; 'short': a chat's later turn, one line per workflow stage.")


from agent.cards import Card  # noqa: E402  (placed last: cards imports nothing from here)
from agent.reading.model import Reading  # noqa: E402  (placed last: it imports Classification above)

AnswerContext.model_rebuild()
