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
# Top-level domains a scheme-less link is recognised by; file extensions (.py, .md, .pth, .sh) are not among them.
_TLDS = ("com|org|net|io|ai|xyz|info|biz|dev|app|co|me|top|ru|cn|tk|link|site|online|edu|gov|uk|de|fr|jp|us|ca|au|"
         "in|br|it|nl|es|ch|se|pl|kr|tv|cc|ly|gg|pw|ws|club|live|store|tech|space|cloud|page|blog|news|pro|icu|vip|"
         "shop|work|one|fun|website|host|download|lol|email|eu|xxx")
# Links without a scheme that a reader (or a markdown renderer) still follows: "//host/path", "host.tld/path", and a
# bare lower-case "host.com" of the commonest domains.
_SCHEMELESS = re.compile(
    r"(?<![\w:/])//(?:[a-z0-9-]+\.)+[a-z]{2,24}\b" + _TAIL
    + r"|\b(?:[a-z0-9-]+\.)+(?:" + _TLDS + r")/" + _TAIL
    + r"|\b(?:[a-z0-9-]+\.)+(?:com|org|net|xyz|ru|cn|tk|top|site|online|link|biz)\b(?![\w-]|\.\w)")
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


def _without_scheme(link: str) -> str:
    return re.sub(r"^(?:https?:)?//(?:www\.)?|^www\.", "", link.strip(), flags=re.IGNORECASE).lower()


def is_allowed(url: str, allowed: set[str]) -> bool:
    """Whether `url` is an allowed link, or a scheme-less mention of one: "github.com/chosj95/MIMO-UNet" (the host and
    the start of the path must match: "hub.com/chosj95/MIMO-UNet" is not allowed)."""
    if url in allowed:
        return True
    if url.lower().startswith(_LINK_SCHEMES) or url.startswith("//"):
        return False
    bare = _without_scheme(url).rstrip("/")
    return any(_without_scheme(link).startswith(bare) for link in allowed)


def scrub(text: str, allowed: set[str]) -> str:
    """`text` with every link not in `allowed` replaced by a marker; HTML character references are decoded first
    ("https&#58;//...")."""
    if "&" in text:  # "&#58" needs no ";" to be read as ":"
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
