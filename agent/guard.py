"""The grounding guard: every answer a language model writes passes through it before the user sees it.

`check` lists violations (empty: grounded). The rules:
- every URL anywhere in the answer (text fields and markdown) is one the card provides;
- every reference points at a document the card provides (and so the store holds), under a title that names that
  document rather than another one of the card's (a swapped link), and the recommended model's links are cited;
- the three sections are present: a task text, a workflow with input, model and output steps, references;
- every citation marker [n] resolves to a reference, and the workflow cites at least once;
- the task label (and scale) agrees with the classifier, or the answer explains the disagreement; the mismatch
  flag agrees with the capability check (it is a fact about the models, not an opinion);
- every number with a decimal point or of two or more digits appears in the retrieved passages, the restoration
  record, the question or the composer's own grounded draft (a PSNR, parameter count or timing the model made up
  is caught; a small whole number such as "3 ms" is not);
- what ran is said as the record says it: no "official weights" when project weights ran, no GPU or half
  precision when the CPU ran in fp32; and the model is not said to enlarge when the capability check says it
  cannot.

`strip_unprovided_links` and `scrub_text` are the last line of defence: whatever passed or failed, an unprovided link
is replaced before anything is shown, and `LinkFilter` does the same for text streamed token by token.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

from agent.links import REMOVED, find_urls, is_allowed, scrub, scrub_answer
from agent.schemas import NOTES_PREFIX, Answer, AnswerContext
from agent.sentences import split_at_sentence_ends

CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,;\u2013-]\s*\d{1,3})*)\]")  # [1], [1, 2], [1-3]


def cited_numbers(text: str) -> set[int]:
    """Every reference number a text cites, ranges expanded."""
    numbers: set[int] = set()
    for group in CITATION.findall(text or ""):
        for part in re.split(r"\s*[,;]\s*", group):
            ends = [int(x) for x in re.split(r"\s*[\u2013-]\s*", part)]
            numbers.update(range(ends[0], ends[-1] + 1) if len(ends) == 2 and ends[1] - ends[0] < 20 else ends)
    return numbers
_STOP = {
    "the", "and", "for", "with", "from", "your", "via", "using", "code", "paper", "official", "checkpoints",
    "model", "models", "image", "images", "network", "networks", "its", "this", "that", "are", "into",
}
STAGES = ("input", "model", "output")


def unprovided_links(text: str, provided: set[str]) -> list[str]:
    """Links in `text` the card does not provide: any scheme, www. hosts, and hosts without a scheme; HTML character
    references are decoded first."""
    text = html.unescape(text or "")
    return list(dict.fromkeys(url for url in find_urls(text) if not is_allowed(url, provided)))


def scrub_text(text: str, provided: set[str]) -> str:
    """`text` with every link `unprovided_links` finds replaced by a marker."""
    text = scrub(text, provided)
    for bare in unprovided_links(text, provided):
        text = text.replace(bare, REMOVED)
    return text


def strip_unprovided_links(answer: Answer, provided: set[str]) -> tuple[Answer, list[str]]:
    """A copy of `answer` in which no unprovided link survives: such references are dropped, text is scrubbed."""
    answer = answer.model_copy(deep=True)
    kept = [ref for ref in answer.references if ref.url in provided or ref.url.startswith(NOTES_PREFIX)]
    removed = [ref.url for ref in answer.references if ref not in kept]
    answer.references = kept
    removed += scrub_answer(answer, provided)
    return answer, removed


def _texts(answer: Answer) -> Iterator[tuple[str, str]]:
    """(where, text) for every piece of prose in the answer."""
    yield "task", answer.task.text
    for i, step in enumerate(answer.workflow.steps):
        yield f"workflow step {i + 1} ({step.stage})", step.text
    yield "workflow", answer.workflow.text
    for ref in answer.references:
        yield f"reference [{ref.n}]", f"{ref.title} {ref.url} {ref.relevance}"
    for i, note in enumerate(answer.notes):
        yield f"note {i + 1}", note
    yield "markdown", answer.markdown


def _tokens(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 3 and w not in _STOP}


def card_documents(ctx: AnswerContext) -> dict[str, str]:
    """URL -> the name of the card document it belongs to (model name, or paper title)."""
    owners: dict[str, str] = {}
    for model in ctx.card.models:
        for url in (model.paper, model.github):
            if url:
                owners[url] = (owners.get(url, "") + " " + model.name).strip()
    titles = {s.url: s.title for s in ctx.passages if s.title}
    for url, name in list(owners.items()):
        owners[url] = f"{name} {titles.get(url, '')}".strip()
    for paper in ctx.card.papers:
        for url in (paper.paper, paper.github):
            if url:
                owners.setdefault(url, paper.title)
    # A link's own path names its document too: ".../Cho_Rethinking_Coarse-To-Fine_Approach_..._paper.pdf".
    return {url: f"{name} {' '.join(re.split(r'[/_.-]+', url.split('://')[-1].partition('/')[2]))}".strip()
            for url, name in owners.items()}


def check(answer: Answer, ctx: AnswerContext, label_note: str = "", grounded: str = "") -> list[str]:
    """Every way `answer` is not grounded in `ctx`; an empty list means it may be shown. `grounded` is text whose
    numbers are known to be grounded (the composer's own answer for the same context)."""
    provided = ctx.card.provided_links
    problems: list[str] = []
    run = ctx.restoration
    allowed_text = " ".join([ctx.question, grounded, ctx.capability.plan,
                             *(f"{s.title} {s.text}" for s in ctx.passages),
                             run.model_dump_json() if run is not None else ""])

    seen: set[str] = set()
    for where, text in _texts(answer):
        for url in unprovided_links(text, provided):
            if url not in seen:
                seen.add(url)
                problems.append(f"{where} contains the link {url}, which the card does not provide; "
                                "use only the links listed under REFERENCES")

    problems += _reference_problems(answer, ctx)
    problems += _section_problems(answer)

    numbers = {ref.n for ref in answer.references}
    for where, text in _texts(answer):
        if where.startswith("reference") or where == "markdown":
            continue
        for n in sorted(cited_numbers(text) - numbers):
            problems.append(f"{where} cites [{n}], but no reference has that number")
    workflow_text = " ".join(s.text for s in answer.workflow.steps) + " " + answer.workflow.text
    if answer.workflow.steps and not CITATION.search(workflow_text):
        problems.append("the workflow cites no reference: mark each fact with the [n] of its reference")

    problems += _task_problems(answer, ctx, label_note)
    problems += _number_problems(answer, ctx, allowed_text)
    problems += _claim_problems(answer, ctx)
    return problems


# A number, "1,280" as one; a letter may touch it ("1280x720", "x4", "720p"), a digit or a point may not.
_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\d.])\d+(?:\.\d+)?")
# Numbers that are not claims about the model: years, versions, command-line values, common scale fractions.
_NOT_A_CLAIM = re.compile(r"(?:\b(?:19|20)\d\d\b|\b[vV]?\d+\.\d+(?:\.\d+)+\b|(?:python|pytorch|torch|cuda|version|v)\s*"
                          r"\d+(?:\.\d+)*|--[\w-]+[=\s]+\d+(?:\.\d+)?)", re.IGNORECASE)
_COMMON = {0.5, 0.25, 0.125, 0.75, 1.5, 2.5}
_NEGATED = re.compile(r"\b(?:not|no|never|cannot|can't|doesn't|does\s+not|isn't|aren't|wasn't|weren't|didn't|"
                      r"did\s+not|without|instead\s+of|rather\s+than|unlike)\b", re.IGNORECASE)


def _numbers(text: str) -> list[str]:
    text = _NOT_A_CLAIM.sub(" ", CITATION.sub(" ", text or ""))
    return [match.group(0).replace(",", "") for match in _NUMBER.finditer(text)]


def _prose(answer: Answer) -> Iterator[tuple[str, str]]:
    """The answer's own sentences (task and workflow), where they stand."""
    for where, text in _texts(answer):
        if where == "task" or where.startswith("workflow"):
            for sentence in split_at_sentence_ends(text or ""):
                yield where, sentence


def _number_problems(answer: Answer, ctx: AnswerContext, allowed_text: str) -> list[str]:
    # Both readings of "640,480": one number with a thousands separator, and two (a JSON list in the record).
    known = {float(n) for n in _numbers(allowed_text)} | {float(n) for n in re.findall(r"\d+(?:\.\d+)?", allowed_text)}
    # Sizes and counts the enlargement implies: "2560x1920" for a 640x480 photo at 4x, "16x the pixels".
    scale = ctx.classification.scale or (ctx.restoration.scale if ctx.restoration is not None else None)
    if scale:
        known |= {k * scale for k in known} | {k * scale * scale for k in known} | {float(scale * scale)}
    known |= _COMMON
    problems: list[str] = []
    for where, sentence in _prose(answer):
        for number in _numbers(sentence):
            if "." not in number and len(number) < 2:
                continue  # "three scales", "3x3": too common to tell a made-up one apart
            value, decimals = float(number), len(number.partition(".")[2])
            if not any(abs(value - k) <= 0.5 * 10 ** -decimals + 1e-9 for k in known):
                problems.append(f"{where} states {number}, which no passage, the restoration record or the question "
                                f"holds ('{sentence.strip()[:90]}'): quote numbers from the passages only")
    return problems


def _claims(sentence: str, pattern: str) -> bool:
    """Whether `sentence` makes the claim `pattern` describes, not negated within its own clause."""
    for match in re.finditer(pattern, sentence, re.IGNORECASE):
        clause_start = max(sentence.rfind(mark, 0, match.start()) for mark in ",;:()") + 1
        if not _NEGATED.search(sentence[clause_start:match.end()]):
            return True
    return False


_RAN_OFFICIAL = (r"\b(?:ran|used|was\s+run\s+with|restored\s+\w+\s+with)\s+(?:the\s+)?(?:authors'?\s+|official\s+)"
                 r"(?:\w+\s+){0,2}?(?:checkpoint|weights)\b")
_RAN_ON_GPU = r"\b(?:ran|was\s+run|were\s+run|executed|processed)\b[^.,;]*\b(?:GPU|CUDA|H100|A100|RTX)\b"
_RAN_HALF = r"\b(?:ran|was\s+run|were\s+run)\b[^.,;]*\b(?:fp16|bf16|half[- ]precision)\b"
_NETWORK_ENLARGES = (r"\b(?:the\s+network|the\s+model|MIMO-UNet\+?|the\s+recommended\s+model)\s+(?:\w+\s+){0,2}?"
                     r"(?:enlarges|upscales|upsamples|super-resolves|increases\s+the\s+resolution)\b")


def _claim_problems(answer: Answer, ctx: AnswerContext) -> list[str]:
    """Claims about what ran, or about what the model can do, that the record or the capability check contradict."""
    run = ctx.restoration
    cannot_enlarge = "upscale" in ctx.capability.missing
    problems: list[str] = []
    for where, sentence in _prose(answer):
        if run is not None and run.weights.provenance != "official" and _claims(sentence, _RAN_OFFICIAL):
            problems.append(f"{where} says official weights ran, but the record says {run.weights.provenance} "
                            "weights ran: say which weights ran as the record does")
        if run is not None and run.device.startswith("cpu") and _claims(sentence, _RAN_ON_GPU):
            problems.append(f"{where} says the restoration ran on a GPU, but the record says {run.device}")
        if run is not None and run.precision == "fp32" and _claims(sentence, _RAN_HALF):
            problems.append(f"{where} gives a precision other than the record's {run.precision}")
        if cannot_enlarge and "interpolat" not in sentence.lower() and _claims(sentence, _NETWORK_ENLARGES):
            problems.append(f"{where} says the model enlarges the image, but it keeps the input's size; the "
                            "enlargement is interpolation before the network")
    return problems


def _reference_problems(answer: Answer, ctx: AnswerContext) -> list[str]:
    owners = card_documents(ctx)
    problems: list[str] = []
    if not answer.references:
        return ["the References section is empty"]
    numbers = [ref.n for ref in answer.references]
    if len(set(numbers)) != len(numbers):
        problems.append("two references share a number; number them 1, 2, 3...")
    cited = {ref.url for ref in answer.references}
    for model in ctx.card.models:
        for url in (model.paper, model.github):
            if url and url not in cited:
                problems.append(f"the recommended model {model.name}'s link {url} is missing from the references")
    notes = {source.url for source in ctx.passages if source.url.startswith(NOTES_PREFIX)}
    for ref in answer.references:
        owner = owners.get(ref.url)
        if owner is None:
            if ref.url not in notes and ref.url not in ctx.card.provided_links:
                problems.append(f"reference [{ref.n}] ('{ref.title[:60]}') points at '{ref.url[:80]}', which is not a "
                                "link the card provides: cite only the documents listed under REFERENCES")
            continue
        words = _tokens(ref.title)
        score = {url: len(words & _tokens(name)) for url, name in owners.items()}
        best = max(score.values())
        if best > 0 and score[ref.url] < best:
            rival = next(name for url, name in owners.items() if score[url] == best)
            problems.append(f"reference [{ref.n}] is titled '{ref.title}' (that is {rival}) but links to "
                            f"{ref.url}, which belongs to {owner}: pair each title with its own link")
    return problems


def _section_problems(answer: Answer) -> list[str]:
    problems: list[str] = []
    if not answer.task.text.strip():
        problems.append("the Task section is empty: say what the user is trying to do")
    stages = {step.stage for step in answer.workflow.steps if step.text.strip()}
    missing = [s for s in STAGES if s not in stages]
    if missing:
        problems.append(f"the Workflow section lacks the {', '.join(missing)} step(s): give input, model and output")
    for heading in ("Task", "Workflow", "References"):
        if not re.search(rf"^#+\s*{heading}\b", answer.markdown, re.MULTILINE):
            problems.append(f"the rendered answer lacks the {heading} heading")
    return problems


def _task_problems(answer: Answer, ctx: AnswerContext, label_note: str) -> list[str]:
    problems: list[str] = []
    expected = ctx.classification
    explained = len(label_note.split()) >= 6  # a reason, not "because"
    if answer.task.label != expected.label and not explained:
        problems.append(f"the task label '{answer.task.label.value}' disagrees with the classifier's "
                        f"'{expected.label.value}': use it, or explain the disagreement in label_note in a sentence")
    if expected.scale and answer.task.scale != expected.scale:  # a factor the question states is not an opinion
        problems.append(f"the task scale {answer.task.scale} disagrees with the {expected.scale}x the question asks "
                        "for: use it")
    mismatch = ctx.capability.mismatch
    if mismatch is not None and answer.task.mismatch != bool(mismatch):
        missing = ", ".join(ctx.capability.missing) or "nothing"
        problems.append(f"task.mismatch must be {str(bool(mismatch)).lower()}: the capability check found the "
                        f"recommended models lack: {missing}")
    return problems


class LinkFilter:
    """Streams text onward, holding back the last partial word so that no unprovided URL is ever emitted."""

    def __init__(self, provided: set[str], emit: Callable[[str], None]) -> None:
        self.provided = provided
        self.emit = emit
        self._pending = ""
        self.removed: list[str] = []

    def feed(self, text: str) -> None:
        self._pending += text
        cut = max(self._pending.rfind(" "), self._pending.rfind("\n"), self._pending.rfind("\t"))
        if cut >= 0:
            ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1:]
            self._send(ready)

    def flush(self) -> None:
        ready, self._pending = self._pending, ""
        self._send(ready)

    def _send(self, text: str) -> None:
        if text:
            removed = unprovided_links(text, self.provided)
            self.removed += removed
            self.emit(scrub_text(text, self.provided) if removed else text)
