"""Cards: the user's question plus the recommended models and related papers (format: shared/cards/README.md).

Only `Paper:` and `GitHub:` fields are links; text inside a question or a summary is data, never a source.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


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

    @property
    def provided_links(self) -> set[str]:
        """Every URL the answer may cite: the Paper: and GitHub: fields, nothing else."""
        links = {m.paper for m in self.models} | {m.github for m in self.models}
        links |= {p.paper for p in self.papers} | {p.github for p in self.papers}
        return {link for link in links if link}
