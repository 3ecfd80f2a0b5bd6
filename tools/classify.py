"""The `classify_task` tool: what an image-restoration question asks for, as the agent's language model sees it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.schemas import Classification


class ClassifyRequest(BaseModel):
    question: str = Field(description="The user's question, word for word.")


def classify_task(request: ClassifyRequest) -> Classification:
    """Classify an image-restoration question: the task label (deblurring, super-resolution, both or other), the
    enlargement scale it names (4 for '4x'), content cues (text, faces, edges, motion, focus), the capabilities it
    needs (deblur, upscale, denoise...) and a confidence. Offline and deterministic; use it to check a reading of
    a follow-up question."""
    from agent.classify import classify

    return classify(request.question)
