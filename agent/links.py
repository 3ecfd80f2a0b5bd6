"""Links in text: find them, and remove every one a card did not provide.

The last line of defence for "no URL the card does not provide may appear anywhere in the output": whatever a
document, a summary or a language model wrote, `scrub_answer` leaves only allowed http(s) links.
"""

from __future__ import annotations

import html
import re

from pydantic import BaseModel

# Scheme-qualified URLs of any scheme, plus bare www. hosts; trailing punctuation is not part of a link.
_URL = re.compile(r"(?:\b[a-zA-Z][a-zA-Z0-9+.-]*:(?://)?|\bwww\.)[^\s<>\"'`()\[\]{}]+", re.IGNORECASE)
_LINK_SCHEMES = ("http:", "https:", "ftp:", "javascript:", "data:", "file:", "mailto:", "vbscript:", "www.")
_TAIL = r"[^\s<>\"'`()\[\]{}]*"
# Links without a scheme that a reader (or a markdown renderer) still follows: "//host/path", "host.tld/path" with
# any top-level domain, and a bare "host.com" of a common one.
_SCHEMELESS = re.compile(
    r"(?<![\w:/])//(?:[a-z0-9-]+\.)+[a-z]{2,24}\b" + _TAIL
    + r"|\b(?:[a-z0-9-]+\.)+[a-z]{2,24}/" + _TAIL
    + r"|\b(?:[a-z0-9-]+\.)+(?:com|org|net|io|ai|xyz|info|biz|dev|app|co|me|top|ru|cn|tk|link|site|online)\b(?![\w-]|\.\w)",
    re.IGNORECASE)
REMOVED = "[link removed]"


def find_urls(text: str) -> list[str]:
    """Every link-like token in `text`: http(s) and other schemes such as javascript:, bare www. hosts, and links
    without a scheme ("//host/path", "host.xyz/path", "host.com")."""
    found, spans = [], []
    for match in _URL.finditer(text):
        token = match.group(0).rstrip(".,;:!?")
        if token.lower().startswith(_LINK_SCHEMES):
            found.append(token)
            spans.append((match.start(), match.end()))
    for match in _SCHEMELESS.finditer(text):
        if not any(start <= match.start() < end for start, end in spans):  # not a piece of a full URL
            found.append(match.group(0).rstrip(".,;:!?"))
    return found


def is_allowed(url: str, allowed: set[str]) -> bool:
    """Whether `url` is an allowed link, or a scheme-less mention of one ("github.com/chosj95/MIMO-UNet")."""
    if url in allowed:
        return True
    bare = not url.lower().startswith(_LINK_SCHEMES) and not url.startswith("//")
    return bare and any(url in link for link in allowed)


def scrub(text: str, allowed: set[str]) -> str:
    """`text` with every link not in `allowed` replaced by a marker; HTML character references are decoded first
    ("https&#58;//...")."""
    if "&" in text and re.search(r"&#?\w+;", text):
        text = html.unescape(text)
    for url in sorted(set(find_urls(text)), key=len, reverse=True):
        if not is_allowed(url, allowed):
            text = text.replace(url, REMOVED)
    return text


def scrub_answer(model: BaseModel, allowed: set[str]) -> list[str]:
    """Scrub every string field of a pydantic model tree in place; return the links that were removed."""
    removed: list[str] = []

    def clean(value):
        if isinstance(value, str):
            decoded = html.unescape(value) if "&" in value else value
            bad = [u for u in find_urls(decoded) if not is_allowed(u, allowed)]
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
