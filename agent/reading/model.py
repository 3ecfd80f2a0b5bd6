"""The typed reading of one question (see `agent.reading.read`)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from agent.reading.asks import Wants
from agent.reading.intents import REGISTRY, IntentMatch
from agent.schemas import Classification

# Where one part of a question ends and another begins: "What's the licence, and what is the biggest image?"
_PART_BREAK = re.compile(r"[?!;.]+\s*|,\s*(?:and|but|also|plus|or)?\s*|\s+(?:and\s+also|and|also|plus)\s+")


class Reading(BaseModel):
    """What one question asks, read once; nothing downstream reads the raw question for what it asks."""

    model_config = {"arbitrary_types_allowed": True}

    question: str
    text: str = Field(description="The question normalised: lower case, plain quotes, misspellings mended.")
    classification: Classification
    intents: list[IntentMatch] = Field(description="Intents, highest priority first; never empty ('general').")
    papers: list = Field(default_factory=list, description="The card's related papers the question names.")
    own_image: bool = Field(False, description="The question speaks of the user's own picture ('my photo').")
    language: str = Field("en", description="'en', or 'other' when mostly another language (answers stay English).")
    artifacts: list[str] = Field(default_factory=list, description="Artifacts a complaint names: 'ringing', 'waxy'...")
    sentences: int | None = Field(None, description="How many sentences the user asks for ('in three sentences').")
    greeting: bool = Field(False, description="Only a greeting or thanks ('hi', 'thanks!').")
    wants: Wants = Field(default_factory=Wants, description="What it asks beyond its intents (yes/no, a comparison...).")
    photo_size: tuple[int, str] | None = Field(
        None, description="The pixel count of a photo size the question names, with its words ('8000x6000', "
                          "'50-megapixel'), read for a practical question or a restoration request.")
    earlier_task: Classification | None = Field(
        None, description="The task of the chat's earlier turns, read only for a question that weighs the model "
                          "against it and names none itself ('should I bother with it?').")

    def name_of(self, paper) -> str:
        """The name the user gave a related paper, else its short title."""
        from agent.reading.papers import paper_name

        return paper_name(paper, self.question)

    def names_of(self, papers: list) -> str:
        from agent.reading.papers import paper_names

        return paper_names(papers, self.question)

    @property
    def primary(self) -> str:
        return self.intents[0].name

    def asks(self, name: str) -> bool:
        if name not in REGISTRY:
            raise KeyError(f"no intent named {name!r}")
        return any(match.name == name for match in self.intents)

    def part_asking(self, name: str) -> str:
        """The part of the normalised question whose words read intent `name` ("what is the biggest image it
        accepts" of "who owns the copyright, and what is the biggest image it accepts?"); the whole text when the
        intent was read from the whole question (its nearest example) or not at all."""
        match = next((m for m in self.intents if m.name == name), None)
        words = match.evidence.strip("'") if match and match.evidence.startswith("'") else ""
        at = self.text.find(words.lower()) if words else -1
        if at < 0:
            return self.text
        breaks = list(_PART_BREAK.finditer(self.text))
        starts = [0] + [m.end() for m in breaks if m.end() <= at]
        ends = [m.start() for m in breaks if m.start() >= at + len(words)]
        return self.text[max(starts):min(ends, default=len(self.text))].strip() or self.text

    @property
    def off_topic(self) -> bool:
        return self.primary == "off-topic"
