"""Sentences out of retrieved passages: splitting, sentences that lean on the one before, and the facts the composer
cites. Shared by the workflow facts (`agent.compose`) and the open question's own answer (`agent.focus`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.schemas import Source
from knowledge.sentences import SENTENCE_END, split_at_sentence_ends

__all__ = ["SENTENCE_END", "Fact", "LEANS_ON_PREVIOUS", "about_other_variant", "clip", "split_at_sentence_ends",
           "split_sentences"]

_MARKUP = re.compile(r"^\s*(?:[-*+]\s+|\d+\.\s+|#+\s+)")


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage, with list bullets and heading marks removed; headings and fragments dropped."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.|#))", text):
        block = _MARKUP.sub("", " ".join(block.split())).replace("**", "").replace("`", "")
        for sentence in split_at_sentence_ends(block):
            sentence = sentence.strip()
            # Links belong in the references, never inside a cited fact.
            if len(sentence.split()) >= 6 and sentence[-1:] in ".!?" and "://" not in sentence:
                sentences.append(sentence)
    return sentences


# A sentence that leans on the one before it ("It multiplies...", "The ... of those features").
LEANS_ON_PREVIOUS = re.compile(r"^(?:It|Its|This|These|Those|They|Their|Each|Both|A|The)\b.*"
                               r"\b(?:those|these|them|this)\b|^(?:It|Its|They|Their|These|Those|This|However|"
                               r"Thus|Therefore|Hence|Instead|Moreover|Furthermore|But)\b")


@dataclass
class Fact:
    aspect: str
    stage: str
    sentence: str
    source: Source


_PLUS = re.compile(r"mimo-unet\s*(?:\+|plus\b)")
_PLAIN = re.compile(r"mimo-unet(?!\s*(?:\+|plus\b))")


def about_other_variant(sentence: str, networks: tuple[str, ...]) -> bool:
    """True when the sentence names only a MIMO-UNet variant the card does not recommend (its size is not ours)."""
    if not networks:
        return False
    lowered = sentence.lower()
    named = {"MIMO-UNet+"} if _PLUS.search(lowered) else set()
    if _PLAIN.search(lowered):
        named.add("MIMO-UNet")
    return bool(named) and not named & set(networks)


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with "..." when longer."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
