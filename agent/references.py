"""The References part of an answer: the recommended model's paper and code first, then the card's related papers
by relevance to the question, each with one honest line on how it bears on image restoration, and cnaps's own notes
when a sentence cites them. Only links the card provides are ever listed."""

from __future__ import annotations

import re

from agent.focus import INTRODUCES
from agent.schemas import NOTES_PREFIX, AnswerContext, Reference
from agent.sentences import SENTENCE_END, Fact
from tools.restoration.zoo import find


# Stems found in a title or summary, and how the relevance line names them.
_RESTORATION_WORDS = {
    "deblur": "deblurring", "super-resolution": "super-resolution", "super resolution": "super-resolution",
    "upsampl": "upsampling", "upscal": "upscaling", "restor": "restoration", "denois": "denoising",
    "sharp": "sharpness", "high resolution": "high resolution", "high-resolution": "high resolution",
    "fine-grained detail": "fine detail", "resolution": "image resolution",
}


def what_it_does(summary: str) -> str:
    """The sentence of a summary where the authors say what they introduce, shortened; data, never a link."""
    sentences = [s.strip() for s in SENTENCE_END.split(" ".join(summary.split())) if s.strip()]
    for sentence in sentences:
        if INTRODUCES.search(sentence):
            break
    else:
        sentence = sentences[0] if sentences else ""
    sentence = re.sub(r"https?://\S+|www\.\S+", "", sentence).strip()
    words = sentence.split()
    return " ".join(words[:32]) + ("..." if len(words) > 32 else "")


def paper_relevance(title: str, summary: str, score: float) -> str:
    """One honest line on how a related paper bears on an image-restoration question."""
    text = f"{title} {summary}".lower()
    topic = [_RESTORATION_WORDS[w] for w in _RESTORATION_WORDS if w in text]
    topic = list(dict.fromkeys(topic))
    if "high resolution" in topic and "image resolution" in topic:
        topic.remove("image resolution")  # one topic, not "high resolution and image resolution"
    does = what_it_does(summary) or "No summary was provided."
    if not topic:
        verdict = "Only loosely related: it does not restore or enlarge images."
    elif any(w in text for w in ("deblur", "super-resolution", "super resolution", "restor", "denois")):
        verdict = "Related: it works on image restoration."
    else:
        verdict = f"Loosely related: about {' and '.join(topic[:2])}, not a tool for deblurring or enlarging photos."
    return f"{verdict} In the authors' summary: {does}"


_QUOTED_TITLE = re.compile(r"\bpaper\s+[\"“]([^\"”]{10,200})[\"”]")


def _quoted_paper_title(text: str) -> str | None:
    """A paper title as the store's documents quote it ('the ICCV 2021 paper "..."'), if they do."""
    match = _QUOTED_TITLE.search(text)
    return match.group(1) if match else None


def build_references(ctx: AnswerContext, brief: bool = False, related: bool = True) -> list[Reference]:
    """Recommended models' paper and GitHub links first, then related papers by relevance to the question (those the
    question names only, when not `related`: a question about installing cnaps is not about them)."""
    card = ctx.card
    titles = {s.url: title for s in ctx.passages if (title := _quoted_paper_title(s.text))}
    references: list[Reference] = []
    seen: set[str] = set()

    def add(title: str, url: str | None, role: str, kind: str, relevance: str) -> None:
        if url and url not in seen:
            seen.add(url)
            references.append(Reference(n=len(references) + 1, title=title, url=url, role=role, kind=kind,
                                        relevance=relevance))

    for model in card.models:
        names = ", ".join(m.name for m in card.models if m.paper == model.paper)
        paper_title = titles.get(model.paper or "", "")
        add(f"{paper_title} ({names})" if paper_title else f"{names}: paper", model.paper, "recommended-model",
            "paper", "The recommended model's paper: the architecture and training this answer explains.")
        mimo = find(model.name) is not None and not find(model.name).test_only
        add(f"{names}: official code and checkpoints", model.github, "recommended-model", "code",
            "The official implementation, with links to the GoPro weights of MIMO-UNet and MIMO-UNet+." if mimo
            else "The recommended model's official implementation.")

    named = ctx.reading.papers
    best = {}
    for source in ctx.passages:
        best[source.url] = max(best.get(source.url, 0.0), source.score)
    ranked = sorted(card.papers, key=lambda p: best.get(p.paper or p.github or "", 0.0), reverse=True)
    for paper in ranked if related else [paper for paper in ranked if paper in named]:
        score = best.get(paper.paper or paper.github or "", 0.0)
        relevance = paper_relevance(paper.title, paper.summary, score)
        if brief:  # one line: the verdict, not the authors' summary
            relevance = relevance.split(" In the authors' summary:")[0]
        add(paper.title, paper.paper, "related-paper", "paper", relevance)
        if brief and paper not in named:
            continue  # a brief answer lists each related paper once; its code link is given when it is asked about
        add(f"{paper.title}: code", paper.github, "related-paper", "code", "Code released with the paper above.")
    # cnaps's own background documents last: `compose` drops the ones no sentence cites.
    for source in ctx.passages:
        if source.url.startswith(NOTES_PREFIX):
            add(f"cnaps notes: {source.title}", source.url, "cnaps-notes", "notes",
                "cnaps's own notes and measurements, not the papers' words; no outside link.")
    return references


def cited_only_notes(references: list[Reference], facts: list[Fact]) -> list[Reference]:
    """`references` without the cnaps notes no fact cites, renumbered."""
    used = {f.source.url for f in facts}
    kept = [r for r in references if r.role != "cnaps-notes" or r.url in used]
    return [r.model_copy(update={"n": n}) for n, r in enumerate(kept, 1)]
