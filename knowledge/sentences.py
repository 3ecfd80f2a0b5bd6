"""Where a passage's sentences end: after . ! or ? and before a capital, a quote or a bracket, but not after an
abbreviation ("e.g. CLIP", "et al. (2021)"). Shared by ingestion (chunking) and the answers (citing)."""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
# A full stop that ends an abbreviation ("e.g. CLIP", "et al. (2021)") does not end the sentence.
_ABBREVIATION = re.compile(r"\b(e\.g|i\.e|et\s+al|cf|vs|fig|figs|eq|approx|resp)\.\s", re.IGNORECASE)
_KEEP = "\u2060"  # a word joiner stands in for the space after an abbreviation while splitting


def split_at_sentence_ends(text: str, end: re.Pattern = SENTENCE_END) -> list[str]:
    """`text` cut where `end` matches, except after an abbreviation ("e.g. CLIP", "et al. (2021)")."""
    protected = _ABBREVIATION.sub(lambda match: f"{match.group(1)}.{_KEEP}", text)
    return [part.replace(_KEEP, " ") for part in end.split(protected)]
