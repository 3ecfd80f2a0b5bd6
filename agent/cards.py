"""Cards: the user's question plus the recommended models and related papers (format: shared/cards/README.md).

Only `Paper:` and `GitHub:` fields are links; text inside a question or a summary is data, never a source.

How the parser reads a card (`parse_card`):
- Line endings: CRLF and lone CR become LF; a UTF-8 byte-order mark is dropped; blank lines are free.
- The question is the text after "A user has asked the following question:" up to the next blank line or heading,
  with one pair of surrounding quotes removed. A card without that sentence may give a `Question:` line instead.
- `### Recommended AI Models:` and `### Related Papers:` headings (any number of '#', colon optional, any case)
  open sections. A section that appears twice is merged with the first, in order; a block repeated with the same
  name keeps its first occurrence (a note records the duplicate).
- A block starts at a `Model:` line and collects `Paper:`, `GitHub:` and `Summary:` fields (keys in any case,
  an optional leading '-' or '*' bullet). A summary continues over following lines until a blank line or field.
  A repeated field in one block keeps its first value. Any other text is ignored.
- Links must be absolute http(s) URLs (a markdown link `[text](url)` or `<url>` gives its URL). Anything else (`javascript:`, `file:`, a bare word) is dropped and the
  drop is recorded in `Card.notes`; the card still parses.
- A card with no question or no recommended model raises `CardError` naming what is missing and how to fix it.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit


from agent.errors import CardError
from knowledge.cards import Card, RecommendedModel, RelatedPaper

__all__ = ["Card", "RecommendedModel", "RelatedPaper", "bundled_card", "bundled_cards", "format_card", "load_card",
           "parse_card"]

MAX_CARD_BYTES = 1_000_000
DEFAULT_CARD = "mimo-unet"
CARDS_DIR = Path(__file__).resolve().parent / "data" / "cards"

_QUESTION_MARKER = re.compile(r"a\s+user\s+has\s+asked\s+the\s+following\s+question\s*:", re.IGNORECASE)
_QUESTION_FIELD = re.compile(r"^\s*question\s*:\s*(.*)$", re.IGNORECASE)
_HEADING = re.compile(
    r"^\s*#{0,6}\s*(?P<kind>recommended(?:\s+ai)?\s+models?|related\s+papers?)\s*:?\s*$", re.IGNORECASE
)
_ANY_HEADING = re.compile(r"^\s*#{1,6}\s")
_FIELD = re.compile(r"^\s*(?:[-*\u2022]\s*)?\**(?P<key>model|paper|github|summary)\**\s*:\**\s*(?P<value>.*)$",
                    re.IGNORECASE)
_FIELD_NAMES = {"paper": "Paper", "github": "GitHub", "summary": "Summary"}
_ANSWER_LINE = re.compile(r"^\s*answer\s*:\s*$", re.IGNORECASE)
_MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(\s*(\S+?)\s*\)")  # "[paper](https://...)" -> its target
_QUOTES = {'"': '"', "\u201c": "\u201d", "'": "'", "\u2018": "\u2019", "\u00ab": "\u00bb"}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _unquote(text: str) -> str:
    """Remove one pair of surrounding quotes, if the text has a matching pair; inside a quoted question, an escaped
    quote (\\" as a JSON-minded card writes it) is a plain quote."""
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        return text[1:-1].strip().replace('\\"', '"').replace("\\'", "'")
    return text


def _is_web_url(value: str) -> bool:
    """Whether `value` is an absolute http(s) URL that parses, port included."""
    if any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:  # a malformed host such as 'http://[::1' or 'https://[zz]/'
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _link(value: str, field: str, owner: str, notes: list[str]) -> str | None:
    """An absolute http(s) URL, or None with a note saying why the value was dropped."""
    value = value.strip()
    markdown = _MARKDOWN_LINK.fullmatch(value)
    value = (markdown.group(1) if markdown else value).strip("<>")
    if not value:
        return None
    if not _is_web_url(value):
        notes.append(f"dropped {field} link of '{owner}': not an absolute http(s) URL ({value[:60]!r})")
        return None
    return value


def _question(lines: list[str]) -> tuple[str, int]:
    """The question and the index of the first line after it; ('', 0) when the card has none."""
    for i, line in enumerate(lines):
        marker = _QUESTION_MARKER.search(line)
        field = None if marker else _QUESTION_FIELD.match(line)
        if not marker and not field:
            continue
        parts = [line[marker.end():] if marker else field.group(1)]
        j = i + 1
        # The question may start on the marker line or on the next non-blank line.
        if not parts[0].strip():
            while j < len(lines) and not lines[j].strip():
                j += 1
        while j < len(lines) and lines[j].strip() and not (_HEADING.match(lines[j]) or _FIELD.match(lines[j])):
            parts.append(lines[j])
            j += 1
        return _unquote(_one_line(" ".join(parts))), j
    return "", 0


def _blocks(lines: list[str]) -> dict[str, list[dict]]:
    """Field blocks by section ('models' or 'papers'); blocks outside a section are ignored."""
    sections: dict[str, list[dict]] = {"models": [], "papers": []}
    section: str | None = None
    block: dict | None = None
    in_summary = False
    for line in lines:
        heading = _HEADING.match(line)
        if heading:
            section = "models" if heading.group("kind").lower().startswith("recommended") else "papers"
            block, in_summary = None, False
            continue
        if _ANSWER_LINE.match(line) or (_ANY_HEADING.match(line) and not _FIELD.match(line)):
            section, block, in_summary = None, None, False
            continue
        if section is None:
            continue
        field = _FIELD.match(line)
        in_summary = in_summary and not field and bool(line.strip())
        if in_summary:
            block.setdefault("_more", []).append(line.strip())  # joined once at the end: linear in the card
        elif field and field.group("key").lower() == "model":
            block = {"model": field.group("value").strip()}
            sections[section].append(block)
        elif field and block is not None:
            key = field.group("key").lower()
            if key in block:
                block.setdefault("_repeated", _FIELD_NAMES[key])  # the first value stays
            else:
                block[key] = field.group("value").strip()
                in_summary = key == "summary"
    return sections


CARD_EXAMPLES = "the cards bundled in agent/data/cards"


def parse_card(text: str, source: str | None = None) -> Card:
    """Parse card text (see the module docstring for the rules); raise CardError when a required part is missing."""
    if len(text) > MAX_CARD_BYTES:
        raise CardError(f"card is larger than {MAX_CARD_BYTES // 1_000_000} MB: pass the card text alone")
    if "\x00" in text:
        raise CardError(f"card looks like a binary file: pass a plain-text card (examples: {CARD_EXAMPLES})")
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    question, after = _question(lines)
    where = f" in {source}" if source else ""
    if not question:
        raise CardError(
            f"card has no question{where}: add the line 'A user has asked the following question:' "
            "followed by the question in quotes"
        )
    notes: list[str] = []
    sections = _blocks(lines[after:])
    models: list[RecommendedModel] = []
    for block in _unique(sections["models"], "recommended model", notes):
        models.append(RecommendedModel(
            name=block["model"],
            paper=_link(block.get("paper", ""), "Paper", block["model"], notes),
            github=_link(block.get("github", ""), "GitHub", block["model"], notes),
        ))
    if not models:
        raise CardError(
            f"card has no recommended model{where}: add a '### Recommended AI Models:' section with a "
            "'Model: <name>' line (and its Paper: and GitHub: links)"
        )
    papers = [
        RelatedPaper(
            title=block["model"],
            paper=_link(block.get("paper", ""), "Paper", block["model"], notes),
            github=_link(block.get("github", ""), "GitHub", block["model"], notes),
            summary=_one_line(" ".join([block.get("summary", ""), *block.get("_more", [])])),
        )
        for block in _unique(sections["papers"], "related paper", notes)
    ]
    return Card(question=question, models=models, papers=papers, source=source, notes=notes)


def _unique(blocks: list[dict], kind: str, notes: list[str]) -> list[dict]:
    """Named blocks, first occurrence of each name kept; nameless and repeated blocks are noted."""
    kept: dict[str, dict] = {}
    for block in blocks:
        block["model"] = _one_line(block["model"])
        if not block["model"]:
            notes.append(f"ignored a {kind} block with an empty Model: line")
        elif block["model"].lower() in kept:
            notes.append(f"ignored a repeated {kind} block '{block['model']}' (the first one is used)")
        else:
            kept[block["model"].lower()] = block
        if "_repeated" in block:
            notes.append(f"'{block['model']}' gives {block['_repeated']} twice: the first value is used")
    return list(kept.values())


def load_card(path: str | Path) -> Card:
    """Read and parse a card file; CardError for a missing, binary, non-UTF-8, empty or oversized file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise CardError(f"card {path} is {size:,} bytes, over the 1 MB limit: pass the card text alone")
        data = path.read_bytes()
    except IsADirectoryError:
        raise CardError(f"card {path} is a folder: pass a card file (.txt)") from None
    except FileNotFoundError:
        raise CardError(f"card {path} does not exist: check the path") from None
    except OSError as error:
        raise CardError(f"card {path} cannot be read ({error.strerror}): check its permissions") from None
    if not data.strip():
        raise CardError(f"card {path} is empty: write the question and a recommended model into it")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its byte-order mark (Windows Notepad's "Unicode")
        try:
            return parse_card(data.decode("utf-16"), source=str(path))
        except UnicodeDecodeError:
            raise CardError(f"card {path} is damaged UTF-16 text: save it as UTF-8 text") from None
    if b"\x00" in data:
        raise CardError(f"card {path} is a binary file (or UTF-16 without a byte-order mark): save it as UTF-8 text "
                        f"in the card format (examples: {CARD_EXAMPLES})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CardError(
            f"card {path} is not UTF-8 (bad byte at offset {error.start}): save it as UTF-8 text"
        ) from None
    return parse_card(text, source=str(path))


def format_card(card: Card) -> str:
    """Card text in the shared format; `parse_card(format_card(c))` gives back c's question, models and papers."""
    # Parsing reads \" as a plain quote; a backslash the question itself has before a quote is doubled to survive.
    question = card.question.replace('\\"', '\\\\"').replace("\\'", "\\\\'")
    out = ["You are an AI scientist.", "", "A user has asked the following question:", f'"{question}"', "",
           "### Recommended AI Models:"]
    for model in card.models:
        out.append(f"Model: {model.name}")
        out += [f"Paper: {model.paper}"] if model.paper else []
        out += [f"GitHub: {model.github}"] if model.github else []
        out.append("")
    out.append("### Related Papers:")
    for paper in card.papers:
        out.append(f"Model: {paper.title}")
        out += [f"Paper: {paper.paper}"] if paper.paper else []
        out += [f"GitHub: {paper.github}"] if paper.github else []
        out += [f"Summary: {paper.summary}"] if paper.summary else []
        out.append("")
    return "\n".join(out) + "\n"


def bundled_cards() -> dict[str, Path]:
    """Cards shipped with cnaps, by name (file stem): the default 'mimo-unet' card and the shared examples."""
    return {path.stem: path for path in sorted(CARDS_DIR.glob("*.txt"))}


def bundled_card(name: str = DEFAULT_CARD) -> Card:
    """A bundled card by name; CardError listing the names when it does not exist."""
    cards = bundled_cards()
    if name not in cards:
        raise CardError(f"no bundled card named '{name}': use one of {', '.join(cards) or '(none installed)'}")
    card = load_card(cards[name])
    return card.model_copy(update={"source": f"bundled:{name}"})
