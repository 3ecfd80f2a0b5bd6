"""Links in text: find them, and remove every one a card did not provide.

The last line of defence for "no URL the card does not provide may appear anywhere in the output": whatever a
document, a summary or a language model wrote, `scrub_answer` leaves only allowed http(s) links.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

# Scheme-qualified URLs of any scheme, plus bare www. hosts; trailing punctuation is not part of a link.
_URL = re.compile(r"(?:\b[a-zA-Z][a-zA-Z0-9+.-]*:(?://)?|\bwww\.)[^\s<>\"'`()\[\]{}]+", re.IGNORECASE)
_LINK_SCHEMES = ("http:", "https:", "ftp:", "javascript:", "data:", "file:", "mailto:", "vbscript:", "www.")
REMOVED = "[link removed]"


def find_urls(text: str) -> list[str]:
    """Every link-like token in `text` (http(s), other schemes such as javascript:, and bare www. hosts)."""
    found = []
    for match in _URL.finditer(text):
        token = match.group(0).rstrip(".,;:!?")
        if token.lower().startswith(_LINK_SCHEMES):
            found.append(token)
    return found


def scrub(text: str, allowed: set[str]) -> str:
    """`text` with every link not in `allowed` replaced by a marker."""
    for url in sorted(set(find_urls(text)), key=len, reverse=True):
        if url not in allowed:
            text = text.replace(url, REMOVED)
    return text


def scrub_answer(model: BaseModel, allowed: set[str]) -> list[str]:
    """Scrub every string field of a pydantic model tree in place; return the links that were removed."""
    removed: list[str] = []

    def clean(value):
        if isinstance(value, str):
            bad = [u for u in find_urls(value) if u not in allowed]
            removed.extend(bad)
            return scrub(value, allowed) if bad else value
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                setattr(value, name, clean(getattr(value, name)))
            return value
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, tuple):
            return tuple(clean(item) for item in value)
        return value

    clean(model)
    return removed
