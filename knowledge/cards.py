"""What a card holds, as the store indexes it: the user's question, the recommended models and the related papers,
with the only links an answer may cite. `agent.cards` reads the card format into these models."""

from __future__ import annotations

from pydantic import BaseModel, Field

# The id prefix of cnaps's own notes (knowledge/docs): a source id, never a link.
NOTES_PREFIX = "cnaps:notes/"


class RecommendedModel(BaseModel):
    name: str = Field(description="Model id as written in the card, e.g. 'Deblur-MIMO-UNet-RealBlur'.")
    paper: str | None = Field(None, description="The card's Paper: link.")
    github: str | None = Field(None, description="The card's GitHub: link.")


class RelatedPaper(BaseModel):
    title: str
    paper: str | None = None
    github: str | None = None
    summary: str = ""


class Card(BaseModel):
    question: str
    models: list[RecommendedModel]
    papers: list[RelatedPaper] = Field(default_factory=list)
    source: str | None = Field(None, description="Where the card came from (a path, 'bundled' or 'upload').")
    notes: list[str] = Field(
        default_factory=list, description="What the parser dropped or merged (bad links, duplicate blocks)."
    )

    @property
    def provided_links(self) -> set[str]:
        """Every URL the answer may cite: the Paper: and GitHub: fields, nothing else."""
        links = {m.paper for m in self.models} | {m.github for m in self.models}
        links |= {p.paper for p in self.papers} | {p.github for p in self.papers}
        return {link for link in links if link}
