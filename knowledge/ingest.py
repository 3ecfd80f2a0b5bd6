"""From cards and project documents to passages the store indexes.

Documents:
- one per project document in `knowledge/docs/` (role 'project-doc'; its front matter gives title, url, role, and
  optionally `attach:`, the card links it belongs to when its url is not one of them). A document that states
  cnaps's own background rather than a source's facts has a `cnaps:notes/<name>` url: answers cite it as cnaps's
  notes, never as the paper;
- one per recommended model (role 'recommended-model'): a short passage naming the model and its links, joined with
  the project documents attached to one of the model's links. The joined passages keep their project-doc identity,
  so two cards (or two models) citing the same paper share them instead of indexing copies;
- one per related paper (role 'related-paper'): title plus summary, url = its Paper: link (GitHub: when the paper
  has no Paper: link), the GitHub: link kept in metadata.

Ids derive from the url and a hash of the content, so a card that repeats a paper reuses its passages and a changed
summary gets new ones. Summaries are data: their text is indexed as written and no link is ever read out of it.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from knowledge.cards import Card, RecommendedModel, RelatedPaper
from knowledge.errors import KnowledgeError
from knowledge.sentences import split_at_sentence_ends

DOCS_DIR = Path(__file__).resolve().parent / "docs"
# Bump when chunking or document text layout changes: it is part of the store's content hash.
INGEST_VERSION = "2"  # 2: chunks are no longer cut after "e.g." or "et al."
MIN_WORDS = 80
MAX_WORDS = 200
# A summary longer than this is indexed only up to here: embedding costs ~0.1 s per passage on 2 cores, and a
# 1 MB card would otherwise take minutes to index. Real abstracts are 150-300 words.
MAX_SUMMARY_WORDS = 2000

Role = Literal["recommended-model", "related-paper", "project-doc"]


class Document(BaseModel):
    doc_id: str = Field(description="Stable id: a hash of url and content; project docs use their file stem.")
    url: str = Field(description="The one link this document is cited by.")
    title: str
    role: Role
    github: str = Field("", description="GitHub link of a related paper or model, '' when none.")
    text: str
    includes: list[str] = Field(
        default_factory=list, description="doc_ids of project documents joined into this one (recommended models)."
    )
    attach: list[str] = Field(
        default_factory=list, description="Card links a project document joins; empty: the one its url names.")


class Chunk(BaseModel):
    """One indexed passage with the metadata chromadb stores beside it."""

    id: str
    doc_id: str
    url: str
    title: str
    role: Role
    github: str = ""
    text: str

    def metadata(self) -> dict[str, str]:
        return {"doc_id": self.doc_id, "url": self.url, "title": self.title, "role": self.role,
                "github": self.github}


def _digest(*parts: str, size: int = 16) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:size]


# --- project documents -----------------------------------------------------------------------------------


def _front_matter(text: str, path: Path) -> tuple[dict[str, str], str]:
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        raise KnowledgeError(f"{path} has no front matter: start it with '---', title:, url:, role:, '---'")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise KnowledgeError(f"{path}: front matter is not closed: add a '---' line after it") from None
    fields = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    missing = [key for key in ("title", "url", "role") if not fields.get(key)]
    if missing:
        raise KnowledgeError(f"{path}: front matter lacks {', '.join(missing)}: add them as 'key: value' lines")
    return fields, "\n".join(lines[end + 1:]).strip()


def load_project_docs(folder: Path = DOCS_DIR) -> list[Document]:
    """The project's own documents, sorted by file name."""
    docs = []
    for path in sorted(folder.glob("*.md")):
        fields, body = _front_matter(path.read_text(encoding="utf-8"), path)
        attach = [link.strip() for link in fields.get("attach", "").split(",") if link.strip()]
        docs.append(Document(doc_id=f"doc-{path.stem}", url=fields["url"], title=fields["title"],
                             role="project-doc", text=body, attach=attach))
    return docs


@lru_cache(maxsize=1)
def _bundled_docs() -> tuple[Document, ...]:
    return tuple(load_project_docs())


def project_docs() -> list[Document]:
    """The bundled project documents (read once per process)."""
    return list(_bundled_docs())


def docs_hash(docs: list[Document]) -> str:
    """Content hash of the project documents and of the chunking rules."""
    return _digest(INGEST_VERSION, *(f"{d.doc_id}\x1e{d.url}\x1e{d.title}\x1e{','.join(d.attach)}\x1e{d.text}"
                                     for d in docs), size=32)


# --- card documents --------------------------------------------------------------------------------------


def _model_document(model: RecommendedModel, docs: list[Document]) -> Document | None:
    links = [link for link in (model.paper, model.github) if link]
    if not links:
        return None
    joined = [d for d in docs if any(link in links for link in d.attach or [d.url])]
    lines = [f"{model.name} is the recommended model for this question."]
    if model.paper:
        lines.append(f"Paper: {model.paper}")
    if model.github:
        lines.append(f"GitHub: {model.github}")
    if joined:
        lines.append("Documents about it: " + "; ".join(d.title for d in joined) + ".")
    text = "\n".join(lines)
    return Document(doc_id="model-" + _digest(links[0], model.name, text), url=links[0], title=model.name,
                    role="recommended-model", github=model.github or "", text=text,
                    includes=[d.doc_id for d in joined])


def _paper_document(paper: RelatedPaper) -> Document | None:
    url = paper.paper or paper.github
    if not url:
        return None  # nothing the answer could cite it by
    summary = paper.summary.strip()
    if len(summary.split()) > MAX_SUMMARY_WORDS:
        summary = " ".join(summary.split()[:MAX_SUMMARY_WORDS])
    # The title as a heading: every passage of a long summary then names its paper.
    text = f"# {paper.title}\n\n{summary or paper.title}"
    return Document(doc_id="paper-" + _digest(url, paper.title, text), url=url, title=paper.title,
                    role="related-paper", github=paper.github or "", text=text)


def card_documents(card: Card, docs: list[Document] | None = None) -> list[Document]:
    """The card's own documents plus the project documents its models' links point to, without repeats."""
    docs = project_docs() if docs is None else docs
    by_id = {d.doc_id: d for d in docs}
    out: dict[str, Document] = {}
    for model in card.models:
        document = _model_document(model, docs)
        if document is None:
            continue
        out.setdefault(document.doc_id, document)
        for doc_id in document.includes:
            out.setdefault(doc_id, by_id[doc_id])
    for paper in card.papers:
        document = _paper_document(paper)
        if document is not None:
            out.setdefault(document.doc_id, document)
    return list(out.values())


def paper_doc_id(paper: RelatedPaper) -> str | None:
    """The doc_id a related paper is indexed under, or None when it has no link."""
    document = _paper_document(paper)
    return document.doc_id if document else None


# --- chunking --------------------------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


def _words(text: str) -> int:
    return len(text.split())


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) pairs; text before the first heading has heading ''."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for block in re.split(r"\n\s*\n", text.strip()):
        block = block.strip()
        if not block:
            continue
        first, _, rest = block.partition("\n")
        if first.startswith("#"):
            sections.append((first.lstrip("#").strip(), []))
            block = rest.strip()
            if not block:
                continue
        sections[-1][1].append(" ".join(block.split()))
    return [(heading, paras) for heading, paras in sections if paras]


def _split_long(paragraph: str) -> list[str]:
    """Cut a paragraph longer than MAX_WORDS at sentence ends (or, failing that, at word counts)."""
    if _words(paragraph) <= MAX_WORDS:
        return [paragraph]
    pieces, current = [], []
    for sentence in split_at_sentence_ends(paragraph, _SENTENCE):
        for start in range(0, _words(sentence), MAX_WORDS):
            part = " ".join(sentence.split()[start:start + MAX_WORDS])
            if current and _words(" ".join(current)) + _words(part) > MAX_WORDS:
                pieces.append(" ".join(current))
                current = []
            current.append(part)
    if current:
        pieces.append(" ".join(current))
    return pieces


def chunk_text(text: str) -> list[str]:
    """Passages of about MIN_WORDS..MAX_WORDS words, cut at headings and paragraphs; each starts with its heading.

    Paragraphs under one heading merge until a passage reaches MIN_WORDS; a short section stays one passage rather
    than borrowing from the next heading, so a passage never mixes two topics.
    """
    passages = []
    for heading, paragraphs in _sections(text):
        prefix = f"# {heading}\n\n" if heading else ""
        current: list[str] = []
        for paragraph in paragraphs:
            for piece in _split_long(paragraph):
                if current and (_words(" ".join(current)) >= MIN_WORDS
                                or _words(" ".join(current)) + _words(piece) > MAX_WORDS):
                    passages.append(prefix + "\n\n".join(current))
                    current = []
                current.append(piece)
        if current:
            passages.append(prefix + "\n\n".join(current))
    return passages


def chunk_document(document: Document) -> list[Chunk]:
    """The document's passages; ids hash the url and the passage text, so equal passages share an id."""
    return [
        Chunk(id=f"{document.doc_id}:{_digest(document.url, text)}", doc_id=document.doc_id, url=document.url,
              title=document.title, role=document.role, github=document.github, text=text)
        for text in chunk_text(document.text)
    ]
