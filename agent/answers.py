"""Answers for the intents the workflow does not answer by itself: an off-topic decline, a summary of the recommended
paper, a plain-language explanation, which related paper matters most, what an artifact in a result means, a folder
of photos, and the general answer (the best retrieved sentences) for what no intent covers.

Each takes the `AnswerContext` (with its `Reading`) and the citation numbers, and returns text whose outside facts
are sentences of retrieved passages with their citation markers; cnaps's own fixed sentences come from the
templates in `prompts/answers/`.
"""

from __future__ import annotations

import numpy as np

from agent.reading.papers import paper_name
from agent.schemas import NOTES_PREFIX, Answer, AnswerContext, Source, Task, TaskLabel, Workflow
from agent.sentences import Fact, split_sentences
from prompts import render

# Below this cosine similarity a sentence does not answer the question; the answer then says the documents do not.
MIN_SIMILARITY = 0.35
# Maximal marginal relevance: how much a sentence's closeness to those already chosen counts against it.
DIVERSITY = 0.35


_SENTENCES: dict[str, object] = {}


def _embedder():
    """The shared MiniLM behind a cache of sentence vectors: the card's documents hold a few hundred sentences, so
    a warm process embeds only the question."""
    from agent.reading.router import embedder
    from agent.settings import get_settings

    model = embedder()
    if model is None:
        return None
    folder = get_settings().home.expanduser() / "cache"
    if str(folder) not in _SENTENCES:
        from knowledge.embed import QueryCache

        _SENTENCES[str(folder)] = QueryCache(model, folder, capacity=4096, prefix="sentences")
    return _SENTENCES[str(folder)]


def ranked_sentences(query: str, passages: list[Source], k: int = 3, urls: frozenset[str] | None = None,
                     min_similarity: float = MIN_SIMILARITY) -> list[Fact]:
    """The `k` sentences of `passages` (those from `urls` only, when given) closest in meaning to `query`, chosen
    by maximal marginal relevance so that two sentences saying the same thing are not both picked."""
    candidates = [(sentence, source) for source in passages if urls is None or source.url in urls
                  for sentence in split_sentences(source.text)]
    model = _embedder()
    if not candidates or model is None:
        return []
    texts = list(dict.fromkeys(sentence for sentence, _ in candidates))
    first = {sentence: source for sentence, source in reversed(candidates)}
    vectors = np.asarray(model.embed([query, *texts]), dtype=np.float32)
    sims = vectors[1:] @ vectors[0]  # (n,)
    chosen: list[int] = []
    while len(chosen) < k:
        best, best_score = None, -1.0
        for i in range(len(texts)):
            if i in chosen or sims[i] < min_similarity:
                continue
            overlap = max((float(vectors[1 + i] @ vectors[1 + j]) for j in chosen), default=0.0)
            score = (1 - DIVERSITY) * float(sims[i]) - DIVERSITY * overlap
            if score > best_score:
                best, best_score = i, score
        if best is None:
            break
        chosen.append(best)
    return [Fact("answer", "task", texts[i], first[texts[i]]) for i in chosen]


def cite(facts: list[Fact], number: dict[str, int]) -> str:
    """The facts as sentences, each ending with its reference's marker."""
    return " ".join(f"{fact.sentence[:-1]} [{number[fact.source.url]}]{fact.sentence[-1]}" for fact in facts
                    if fact.source.url in number)


def _recommended_urls(ctx: AnswerContext) -> frozenset[str]:
    """The recommended model's paper and code, and cnaps's notes about it."""
    return frozenset([link for model in ctx.card.models for link in (model.paper, model.github) if link]
                     + [s.url for s in ctx.passages if s.url.startswith(NOTES_PREFIX)])


def decline(ctx: AnswerContext) -> Answer:
    """An off-topic question's answer: one or two sentences that say what cnaps answers; no workflow, no references."""
    from agent.links import scrub

    model = ctx.card.models[0].name if ctx.card.models else "the recommended model"
    from agent.reading.signals import is_thanks

    greeting = ("thanks" if is_thanks(ctx.reading.text) else "hello") if ctx.reading.greeting else None
    text = " ".join(render("answers/decline.j2", model=model, papers=len(ctx.card.papers), greeting=greeting).split())
    task = Task(label=TaskLabel.other, mismatch=False, text=text, confidence=ctx.classification.confidence)
    answer = Answer(task=task, workflow=Workflow(steps=[], text=""), references=[], engine="composer")
    answer.markdown = render("answers/decline.md.j2", text=text,
                             question=" ".join(scrub(ctx.question, ctx.card.provided_links).split()))
    return answer


def general(ctx: AnswerContext, number: dict[str, int]) -> str:
    """What no intent covers: the best one to three cited sentences, or one sentence saying the card's documents do
    not cover it."""
    facts = ranked_sentences(ctx.reading.question, [s for s in ctx.passages if s.url in number], k=3)
    if facts:
        return "From the documents: " + cite(facts, number)
    return "The documents indexed for this card do not cover that."


def model_size(ctx: AnswerContext, number: dict[str, int], said: list[Fact] = ()) -> str:
    """How big the model is: the documents' sentences that count the variants' parameters, the card's own network
    first (MMR alone would drop the second count as a near repeat of the first); those `said` already are not
    repeated ('' when all were)."""
    from agent.plan import ASPECTS, supports
    from agent.reading.intents import REGISTRY
    from agent.verdicts import networks_of

    own = networks_of(ctx)
    size = next(aspect for aspect in ASPECTS if aspect.key == "size")  # the workflow's test of a size sentence
    facts = [fact for fact in ranked_sentences(REGISTRY["model-size"].queries[0],
                                               [s for s in ctx.passages if s.url in number], k=8)
             if supports(fact.sentence, size)]
    facts.sort(key=lambda fact: next((i for i, network in enumerate(own) if fact.sentence.startswith(f"{network} ")),
                                     len(own)))
    facts = facts[:2]
    if said and facts:
        return cite(unsaid(facts, said), number)
    return "From the documents: " + cite(facts, number) if facts else general(ctx, number)


# One sentence for each, in this order: the problem, the design, its parts, the results, the training.
SUMMARY_QUERIES = ("older coarse-to-fine deblurring networks stack a sub-network for each input scale",
                   "MIMO-UNet keeps the coarse-to-fine idea in a single U-shaped network",
                   "reported results on the GoPro test set: PSNR and runtime of MIMO-UNet and MIMO-UNet+",
                   "asymmetric feature fusion merges encoder features of every scale",
                   "training loss: multi-scale content loss and frequency reconstruction loss")


def _one_each(queries: tuple[str, ...], passages: list[Source], urls: frozenset[str]) -> list[Fact]:
    """The sentence closest to each query, each used once."""
    facts: list[Fact] = []
    for query in queries:
        for fact in ranked_sentences(query, passages, k=2, urls=urls, min_similarity=0.25):
            if all(fact.sentence != seen.sentence for seen in facts):
                facts.append(fact)
                break
    return facts


def summary(ctx: AnswerContext, number: dict[str, int]) -> str:
    """The recommended paper in the number of sentences asked for (three by default), from its own passages."""
    model = ctx.card.models[0] if ctx.card.models else None
    count = ctx.reading.sentences or 3
    urls = frozenset(link for m in ctx.card.models for link in (m.paper, m.github) if link)
    facts = _one_each(SUMMARY_QUERIES[:count], ctx.passages, urls)
    if not facts:
        return "The documents indexed for this card hold no passage of the recommended paper to summarise."
    count = f"{len(facts)} sentence{'s' if len(facts) != 1 else ''}"
    if model and any(fact.source.url != model.paper for fact in facts):
        return f"The recommended model's paper and code, in {count}: " + cite(facts, number)
    paper = f" [{number[model.paper]}]" if model and model.paper in number else ""
    return f"The recommended paper{paper}, in {count}: " + cite(facts, number)


PLAIN_QUERIES = ("MIMO-UNet keeps the coarse-to-fine idea in a single U-shaped network",
                 "the blurred image enters the encoder at full, half and quarter size",
                 "the decoder produces a restored image at each of the three scales")


def plain(ctx: AnswerContext, number: dict[str, int]) -> str:
    """The model in plain words, then the documents' own sentences that back it."""
    model = ctx.card.models[0].name if ctx.card.models else "The recommended model"
    lead = " ".join(render("answers/plain.j2", model=model,
                           enlarges="upscale" in ctx.classification.needs).split())
    facts = _one_each(PLAIN_QUERIES, ctx.passages, _recommended_urls(ctx))
    return lead + (" In the documents' words: " + cite(facts, number) if facts else "")


def papers_that_matter(ctx: AnswerContext, number: dict[str, int]) -> str:
    """Which of the card's related papers bears most on the user's task, and each one's relevance, said once."""
    from agent.references import paper_relevance

    papers = [paper for paper in ctx.card.papers if paper.paper or paper.github]
    if not papers:
        return "The card lists no related papers."
    model = _embedder()
    task = ctx.card.question or ctx.reading.question
    if model is not None:
        vectors = np.asarray(model.embed([task, *[f"{p.title}. {p.summary}" for p in papers]]), dtype=np.float32)
        order = list(np.argsort(-(vectors[1:] @ vectors[0])))
    else:
        order = list(range(len(papers)))
    ranked = [papers[i] for i in order]

    def verdict(paper) -> str:
        line = paper_relevance(paper.title, paper.summary or "", 0.0).split(" In the authors' summary:")[0]
        marker = f" [{number[paper.paper or paper.github]}]" if (paper.paper or paper.github) in number else ""
        return f"{paper_name(paper)}{marker} is {line[:1].lower()}{line[1:]}"

    best, rest = ranked[0], ranked[1:]
    first = ""
    own = next((model.paper for model in ctx.card.models if model.paper and model.paper in number), None)
    if own and ctx.reading.wants.what_to_read:
        # "which paper should I read first?": the recommended model's own paper, before any related one
        first = f"Read the recommended model's own paper first [{number[own]}]: it explains the network that runs. "
    text = first + (f"Of the card's {len(papers)} related papers, the closest to your task: {verdict(best)} "
            "None of them is a restoration model cnaps can run; the recommended model does the restoration.")
    if rest:
        text += " The others: " + " ".join(verdict(paper) for paper in rest)
    return text


def suitability(ctx: AnswerContext) -> str:
    """Whether the model is worth trying: what it is for (unless the question's task has had its verdict), and what
    the weights that would run measured on real photographs for the task asked, or for the chat's earlier task:
    cnaps's own numbers, never the paper's."""
    from agent.capability import nearest_measured_scale

    known = [(name, entry) for name, entry in ctx.capability.models if entry is not None]
    if not known:
        return ""  # the capability check has said that cnaps does not know the card's models
    name, entry = known[0]
    project = ctx.capability.project_weights
    facts = ctx.capability.project_weights_facts()
    gains = (facts.real_photo_gain_db if facts else None) or {}
    task = ctx.classification if ctx.classification.needs else ctx.reading.earlier_task or ctx.classification
    needs = [need for need in task.needs if need in ("deblur", "upscale")]
    scale = task.scale if task.scale and task.scale > 1 and "upscale" in needs else None
    nearest = nearest_measured_scale(gains, scale) if scale else None
    earlier = None
    if task is not ctx.classification and needs:
        enlarging = f"enlarging {scale}x" if scale else "enlarging"
        earlier = " and ".join(words for need, words in (("deblur", "deblurring"), ("upscale", enlarging))
                               if need in needs)
    return " ".join(render("answers/suitability.j2", model=name, learned_from=entry.trained_on.split(" (")[0],
                           task_named=bool(ctx.classification.needs), earlier=earlier,
                           enlarges="upscale" in needs, project=project,
                           deblur=gains.get("deblur") if "deblur" in needs or not needs else None,
                           scale=nearest, asked_scale=scale,
                           enlarge=gains.get(f"x{nearest}") if nearest else None,
                           restored=ctx.restoration is not None).split())


# The store's sentences that measured time and memory for photos of a given size.
RUNNING_QUERY = "cnaps measured minutes and memory for a photo of millions of pixels on a CPU"
# ... and for an ordinary photo, when the question names no size
TIME_QUERY = "on a 2-core CPU cnaps measured seconds and memory for MIMO-UNet on a 1280x720 photo"


def image_size(ctx: AnswerContext, number: dict[str, int], said: list[Fact] = (), measured: bool = True) -> str:
    """A photo size a practical question names ("can it take an 8000x6000 image?"): its pixels against cnaps's
    limit, the enlarged output's too, and (when `measured`) the documents' measured time and memory for photos of
    such sizes (those not `said` already)."""
    from agent.settings import get_settings

    pixels, size = ctx.reading.photo_size
    limit = get_settings().restore.max_pixels
    scale = _scale_that_runs(ctx)
    enlarged = pixels * scale * scale if scale else None
    digits = size.split("x")[0].split(".")[0].split("-")[0]
    article = "an" if digits.startswith("8") or (digits[:2] in ("11", "18") and len(digits) in (2, 5)) else "a"
    fits = largest_scale_within(pixels, limit)
    text = " ".join(render("answers/image_size.j2", article=article, size=size, millions=pixels / 1e6, limit=limit / 1e6,
                           over=pixels > limit, pixels=pixels, scale=scale,
                           enlarged_millions=enlarged / 1e6 if enlarged else None,
                           enlarged_over=bool(enlarged and enlarged > limit), fits=fits if fits > 1 else None,
                           fits_millions=pixels * fits * fits / 1e6, enlarged_pixels=enlarged).split())
    if not measured:
        return text
    facts = ranked_sentences(RUNNING_QUERY, [s for s in ctx.passages if s.url in number], k=2, min_similarity=0.3)
    facts = in_document_order(unsaid(facts, said))
    return f"{text} {cite(facts, number)}" if facts else text


def _scale_that_runs(ctx: AnswerContext) -> int | None:
    """The enlargement cnaps would run for the question's task: its scale, at most MAX_SCALE ("16x" runs at the most
    cnaps enlarges); None when it asks for no enlargement by a given scale."""
    from tools.restoration.zoo import MAX_SCALE

    asked = ctx.classification.scale if "upscale" in ctx.classification.needs else None
    return min(asked, MAX_SCALE) if asked else None


def largest_scale_within(pixels: int, limit: int) -> int:
    """The largest whole enlargement whose output stays within `limit` pixels (0 when even the photo is over)."""
    from tools.restoration.zoo import MAX_SCALE

    return max((s for s in range(1, MAX_SCALE + 1) if pixels * s * s <= limit), default=0)


def over_limit(ctx: AnswerContext) -> bool:
    """Whether the photo size the question names, enlarged as asked, is over cnaps's pixel limit: as the limit
    stands, cnaps would refuse that run."""
    from agent.settings import get_settings

    if not ctx.reading.photo_size or ctx.restoration is not None:  # an attached image has run, or failed to
        return False
    pixels, _ = ctx.reading.photo_size
    scale = _scale_that_runs(ctx) or 1
    return pixels * scale * scale > get_settings().restore.max_pixels


def licence(ctx: AnswerContext, number: dict[str, int]) -> str:
    """Under what terms the model, cnaps and the restored photos may be used: the card's link to the official code
    (whose repository holds its terms), cnaps's own licence from its package metadata, and the photos."""
    from importlib.metadata import PackageNotFoundError, metadata

    model = ctx.card.models[0] if ctx.card.models else None
    try:
        own = metadata("cnaps").get("License") or None
    except PackageNotFoundError:  # run from a source tree that was never installed
        own = None
    code = model.github if model else None
    return " ".join(render("answers/licence.j2", model=model.name if model else "the recommended model",
                           code_url=code, code_ref=number.get(code) if code else None, cnaps_licence=own).split())


def setup(ctx: AnswerContext, number: dict[str, int], said: list[Fact] = ()) -> str:
    """How to install cnaps: the sentences of cnaps's notes that say it (those not `said` already), in their order."""
    return from_notes(ctx, number, "setup", said)


def from_notes(ctx: AnswerContext, number: dict[str, int], name: str, said: list[Fact] = ()) -> str:
    """The answer to intent `name` that cnaps's notes give: their sentences closest to the intent's query (those not
    `said` already), in the order they were written."""
    from agent.reading.intents import REGISTRY

    notes = frozenset(url for url in number if url.startswith(NOTES_PREFIX))
    # the question's own words first ("without a GPU"), then what any answer of the kind needs; a question for which
    # it is one part of several ("deblur my photo; what do I install?", "is it free, and how do I install it?") is
    # ranked by the kind alone
    intent = REGISTRY[name]
    query = intent.queries[0]
    own = not ctx.classification.needs and ctx.reading.primary == name
    if own:
        query = f"{ctx.reading.part_asking(name)} {query}"
    k = 4 if own else 2 if ctx.classification.needs else 3
    pool = [s for s in ctx.passages if s.url in number]
    if intent.notes_section:  # the one section that answers it, not a sentence of another that shares its words
        pool = notes_section(pool, intent.notes_section) or pool
    # ranked past what was said already, so that a part of a request still gets `k` sentences of its own
    facts = unsaid(ranked_sentences(query, pool, k=k + len(said), urls=notes, min_similarity=0.3), said)[:k]
    if own and intent.notes_section:
        # within its section, the sentences that hold the question's own words come first ("what shutter speed
        # freezes a runner?" is answered by the sentence on moving subjects)
        from agent.focus import focus_facts
        from agent.reading.asks import focus_question

        worded = [f for f in focus_facts(pool, focus_question(ctx.reading.part_asking(name)), limit=2)
                  if f.source.url in notes]
        facts = worded + [f for f in facts if f.sentence not in {w.sentence for w in worded}][:max(k - len(worded), 0)]
    kept: list[Fact] = []
    for fact in unsaid(facts, said):  # "A deblurring network ... strokes. It does not invent ..." holds a second one
        if unsaid([fact], kept):
            kept.append(fact)
    if not kept:
        return "" if said else general(ctx, number)
    return cite(in_document_order(kept), number)


def notes_section(passages: list[Source], heading: str) -> list[Source]:
    """The passages of cnaps's notes that are the section under `heading`."""
    return [s for s in passages if s.url.startswith(NOTES_PREFIX) and s.text.lstrip().startswith(f"# {heading}")]


# The section of cnaps's notes that says what kind of tool each commonly compared model or tool is.
OTHER_TOOLS_SECTION = "Other tools people compare it with"


def other_tools(ctx: AnswerContext, number: dict[str, int], said: list[Fact] = ()) -> str:
    """What kind of tool each model or tool the question weighs against the recommended one is ("is it better than
    Real-ESRGAN?": a super-resolution network trained to make texture up): the sentences of cnaps's notes that name
    it; '' when they name none. The documents compare none of them with the recommended model."""
    from agent.reading.signals import tool_keys

    asked = tool_keys(ctx.reading.text)
    facts = [Fact("question", "task", sentence, source)
             for source in notes_section([s for s in ctx.passages if s.url in number], OTHER_TOOLS_SECTION)
             for sentence in split_sentences(source.text) if asked & tool_keys(sentence)]
    facts = unsaid(list({fact.sentence: fact for fact in facts}.values()), said)
    return cite(facts, number) if facts else ""


def running(ctx: AnswerContext, number: dict[str, int], said: list[Fact] = ()) -> str:
    """What cnaps measured for a run (time, memory), for a request that also asks how long it takes; '' when the
    sentences were `said` already."""
    facts = unsaid(ranked_sentences(TIME_QUERY, [s for s in ctx.passages if s.url in number], k=2, min_similarity=0.3),
                   said)
    return cite(facts[:1], number) if facts else ""


def practical(ctx: AnswerContext, number: dict[str, int], said: list[Fact] = ()) -> str:
    """The practical part of a question whose main answer is another ("is it free, and does it need a GPU?"): the
    sentences of cnaps's notes that best answer the question's words about running it, those not `said` already."""
    from agent.focus import focus_facts
    from agent.reading.asks import focus_question
    from agent.reading.intents import REGISTRY

    notes = frozenset(url for url in number if url.startswith(NOTES_PREFIX))
    pool = [s for s in ctx.passages if s.url in number]
    part = ctx.reading.part_asking("practical")
    # that part read as an open question of its own is ("what is the biggest image it accepts?"), cnaps's notes first
    facts = unsaid(focus_facts(pool, focus_question(part), limit=2, preferred=notes), said)
    if not facts:
        facts = unsaid(ranked_sentences(f"{part} {REGISTRY['practical'].queries[0]}", pool, k=2, urls=notes,
                                        min_similarity=0.3), said)
    return cite(in_document_order(facts), number) if facts else ""


def unsaid(facts: list[Fact], said: list[Fact]) -> list[Fact]:
    """`facts` less those whose sentence is among `said` (an answer quotes a sentence once)."""
    # a fact can hold two sentences ("A deblurring network ... strokes. It does not invent ..."): each counts
    spoken = {one for fact in said for one in split_sentences(fact.sentence)}
    return [fact for fact in facts if not spoken & set(split_sentences(fact.sentence))]


def in_document_order(facts: list[Fact]) -> list[Fact]:
    """`facts` in the order their sentences stand in their passages (a passage's sentences read as they were written)."""
    def place(fact: Fact) -> tuple[str, int]:
        sentences = split_sentences(fact.source.text)
        return fact.source.url, sentences.index(fact.sentence) if fact.sentence in sentences else len(sentences)
    return sorted(facts, key=place)


def complaint(ctx: AnswerContext) -> str:
    """What the artifacts a complaint names usually mean, and what to try."""
    upscaled = "upscale" in ctx.classification.needs or bool(ctx.restoration and ctx.restoration.scale > 1)
    return " ".join(render("answers/complaint.j2", kinds=ctx.reading.artifacts, upscaled=upscaled).split())


def folder() -> str:
    """How to restore many photos at once."""
    return " ".join(render("answers/folder.j2").split())
