"""The deterministic grounded composer: an `AnswerContext` in, a three-part `Answer` out, no language model.

Two kinds of sentence make an answer:
- sentences about the user's own request (the task, the scale, what cnaps ran on their image), built from the
  classification, the capability check and the restoration record; they state no outside fact;
- factual sentences about the model, taken verbatim from passages retrieved from the store for this card, each
  carrying the citation marker of the reference its passage came from. A fact the store does not hold for this
  card is left out rather than written from memory.

A yes/no question gets its verdict first (agent.verdicts); an open question about the model ("what is the FAM
module?") gets, in the task part, the retrieved sentences that best cover its words, and an intent with its own
answer (a summary, a plain explanation, a complaint...) gets it from agent.answers; then the workflow. What the
question asks is read once, in agent.reading: this module takes the Reading and never reads the question itself.
"""

from __future__ import annotations

from agent import answers
from agent.capability import measured_gain_words, need_words, project_weights_words
from agent.focus import focus_facts, voiced
from agent.links import scrub, scrub_answer
from agent.plan import select_facts
from agent.reading import read
from agent.reading.asks import RUNNING
from agent.reading.intents import REGISTRY
from agent.schemas import NOTES_PREFIX, Answer, AnswerContext, Source, Task, TaskLabel, Workflow, WorkflowStep
from agent.references import build_references, cited_only_notes
from agent.sentences import Fact
from agent.verdicts import (datasets_of, known_entries, networks_of, recommended_code, run_time, verdict,
                            what_the_card_gives, zoo_answer)
from prompts import render, sentence
from tools.restoration.zoo import MAX_SCALE, install_command, official_weights


# --- the answer --------------------------------------------------------------------------------------------

_CUE_WORDS = {"text/signs": "text", "faces": "faces", "edges": "edges", "texture": "fine texture"}


def _say(macro: str, /, **context: object) -> str:
    """One of the composer's own sentences, from prompts/answers/composer.j2."""
    return sentence("answers/composer.j2", macro, **context)


def _cue_phrase(cues: list[str], text_words: str = "text") -> str:
    words = [text_words if c == "text/signs" else _CUE_WORDS[c] for c in _CUE_WORDS if c in cues]
    if not words:
        return "fine detail"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _cited(fact: Fact, number: dict[str, int]) -> str:
    sentence = voiced(fact.sentence, fact.source)
    return f"{sentence[:-1]} [{number[fact.source.url]}]{sentence[-1]}"


def task_text(ctx: AnswerContext, cite: dict[str, int], focus: list[Fact] = (),
              number: dict[str, int] | None = None, workflow: list[Fact] = ()) -> str:
    """The task part: what the question asks for and what cnaps would run, with the answers to its further parts;
    `workflow`, the facts the workflow states, are not said again here."""
    c = ctx.classification
    scale = f" {c.scale}x" if c.scale else ""
    wants = ctx.reading.wants
    detail = _cue_phrase(c.cues, wants.text_words)
    plural = detail.endswith("s") and detail != "fine texture" or " and " in detail
    asks_how = wants.how
    complaint = ctx.reading.asks("complaint")
    if complaint:
        text = _say("task_complaint")
    elif c.label is TaskLabel.both:
        text = _say("task_both", scale=scale, detail=detail, asks_how=asks_how)
    elif c.label is TaskLabel.super_resolution:
        text = _say("task_enlarge", scale=scale, detail=detail, plural=plural, without_blur=wants.blur_word,
                    asks_how=asks_how)
    elif c.label is TaskLabel.deblurring:
        kind = "motion or camera-shake blur" if "motion" in c.cues else "out-of-focus blur" if "focus" in c.cues \
            else "blur"
        text = _say("task_deblur", kind=kind, detail=detail, plural=plural)
    elif not c.needs:
        # An open question: answer it first, from the store, then say what cnaps would run.
        about = c.about_model or ctx.reading.primary in ("suitability", "invented-detail", "compare-other")
        named = ctx.reading.papers
        card_says = what_the_card_gives(ctx, named, number or {}) if named else None
        if card_says:
            focus = [fact for fact in focus if fact.source.url in {p.paper or p.github for p in named}]
        own = wants.own  # "what PSNR can I expect on my photo?"
        ending = "restored" if ctx.restoration is not None else "model" if about and not own and not named else ""
        text = _say("open_question", papers=ctx.reading.names_of(named) if named else "", one_paper=len(named) == 1,
                    related=ctx.reading.primary == "related-papers", about=about, ending=ending,
                    using=ctx.reading.primary in USING_CNAPS and not named,
                    shooting=ctx.reading.primary == "shooting" and not named)
        took = run_time(ctx)
        shown: list[Fact] = []  # the focus sentences this part states, which a further part does not repeat
        code = recommended_code(ctx, number or {}) if not named and wants.where_code else None
        if code:
            text += " " + code  # the link is the answer: no passage is quoted beside it
        elif card_says:
            text += " " + card_says
            if focus and number and not wants.summarize:  # "does FeatSharp upscale images?"
                text += f" {_say('lead', kind='summary')} " + " ".join(_cited(fact, number) for fact in focus)
                shown = list(focus)
        elif took:
            text += " " + took
        elif ctx.reading.primary == "summarize-paper" and not named:
            text += " " + answers.summary(ctx, number or {})
        elif ctx.reading.asks("explain-simply") and not named:
            text += " " + answers.plain(ctx, number or {})
        elif ctx.reading.primary == "related-papers" and not named:
            text += " " + answers.papers_that_matter(ctx, number or {})
        elif ctx.reading.primary == "model-size" and not named:
            text += " " + answers.model_size(ctx, number or {})
        elif ctx.reading.photo_size and ctx.reading.primary in ("practical", "batch") and not named:
            text += " " + answers.image_size(ctx, number or {})
        elif ctx.reading.primary == "licence" and not named:
            text += " " + answers.licence(ctx, number or {})
        elif ctx.reading.primary == "setup" and not named:
            text += " " + answers.setup(ctx, number or {})
        elif REGISTRY[ctx.reading.primary].notes_section and not named:
            # "how do I avoid blur when I shoot?", "will it overwrite my original?": their section of cnaps's notes
            text += " " + answers.from_notes(ctx, number or {}, ctx.reading.primary, said=workflow)
        elif ctx.reading.primary == "suitability" and not named:
            text += " " + answers.suitability(ctx)
        elif focus and number:
            text += f" {_say('lead', kind='short')} " + " ".join(_cited(fact, number) for fact in focus)
            shown = list(focus)
        elif wants.comparison and not named:
            # the verdict has said that the documents do not compare them; cnaps's notes say what kind of tool it is
            tools = answers.other_tools(ctx, number or {})
            text += f" {tools}" if tools else ""
        elif zoo_answer(wants) or (named and (wants.run_it or wants.paper_asked_to_act)):
            pass  # the verdict has said it: what cnaps can run, or cannot
        elif wants.how_it_works:
            text += " " + _say("how_it_works")
        elif not ctx.reading.asks("batch"):  # a batch question gets the folder command below
            text += " " + answers.general(ctx, number or {})
        if not named:
            text += _further_parts(ctx, number or {}, [*shown, *workflow], answered=ctx.reading.primary, ctx_text=text)
    else:
        needs = [n for n in c.needs if n not in ("deblur", "upscale")]
        text = _say("task_other", needs=need_words(needs) if needs else "")
    check = ctx.capability
    plan = check.plan
    if answers.over_limit(ctx):
        # "upscale my 4000x3000 photo 4x": as the limit stands cnaps refuses that run; the plan is what follows it
        for step in ("cnaps will enlarge the image", "cnaps will restore the image"):
            plan = plan.replace(step, f"With the limit raised, {step}", 1)
    if "upscale" in check.missing and "same-resolution" in cite:
        # The plan's first sentence states the model's limit; the store's same-resolution passage backs it.
        first, _, rest = plan.partition(". ")
        plan = f"{first} [{cite['same-resolution']}]." + (f" {rest}" if rest else "")
    if focus and number and (c.needs or complaint):
        text += f" {_say('lead', kind='asked')} " + " ".join(_cited(fact, number) for fact in focus)
    if c.needs:
        text += _further_parts(ctx, number or {}, [*focus, *workflow] if number else [], answered=None, ctx_text=text)
    if complaint:
        text += " " + answers.complaint(ctx)
    if {"deblur", "upscale"} & set(c.needs) and ctx.reading.asks("suitability"):
        # "is it worth upscaling my scans with it?": what it measured; "is it suitable for noise?" has had its no
        text += " " + answers.suitability(ctx)
    if ctx.reading.asks("batch"):
        text += " " + answers.folder()
    # "who wrote FeatSharp?" is not told what cnaps would run, nor a question whose image already ran (see output)
    if plan and not (not c.needs and (ctx.reading.papers or ctx.restoration is not None)):
        text += f" {plan}"
    if c.scale_note:
        text += f" {c.scale_note}"
    if wants.video and {"deblur", "upscale"} & set(c.needs):
        text += " " + _say("video")
    short = verdict(ctx)
    if short is None and "deblur" in c.needs and "focus" in c.cues and "motion" not in c.cues:
        # "sharpen this out of focus portrait" asks nothing, but deserves the caveat a yes/no question gets
        text += " " + _say("defocus_caveat")
    return f"{short} {text}" if short else text


def _further_parts(ctx: AnswerContext, number: dict[str, int], said: list[Fact], answered: str | None,
                   ctx_text: str = "") -> str:
    """The answers to the parts of a question about using cnaps that its main answer (the `answered` intent's, or a
    restoration request's) has not given: "how do I install it, and is it free?" gets both, in the question's order.

    Each part is one intent with its own answer: how to install (setup), under what terms (licence), the practical
    side (a photo size against the pixel limit, or what cnaps measured for a run) and how big the network is.
    `said`: the focus sentences the answer has stated already; `ctx_text`: the answer so far, whose cited sentences
    are not repeated."""
    said = list(said)
    measured = any("measured" in fact.sentence for fact in said)
    parts: list[str] = []
    for match in ctx.reading.intents:
        name = match.name
        if name == answered:
            continue
        if name == "setup":  # "deblur my photo; what do I need to install?"
            parts.append(answers.setup(ctx, number, said=said))
        elif name == "licence":
            parts.append(answers.licence(ctx, number))
        elif name == "practical" and ctx.reading.photo_size:
            # "how long to upscale a 4000x3000 photo 4x?": that size against the limit, enlarged too
            parts.append(answers.image_size(ctx, number, said=said))
        elif name == "practical" and answered is not None and not measured:
            # "what's the licence, and does it need a GPU?": the practical sentences of cnaps's notes
            parts.append(answers.practical(ctx, number, said=said))
        elif name == "compare-other" and answered is None:  # "real-esrgan vs mimo unet for upscaling 4x"
            parts.append(answers.other_tools(ctx, number, said=said))
        elif REGISTRY[name].notes_section:  # "deblur my photo; will it overwrite the original?"
            parts.append(answers.from_notes(ctx, number, name, said=said))
        elif name == "model-size" and answered is not None:
            # "is it lightweight enough to run on my phone?": no phone app, and how big the network is
            parts.append(answers.model_size(ctx, number, said=said))
    if (answered is None and ctx.reading.photo_size and not ctx.reading.asks("practical")
            and answers.over_limit(ctx)):
        # "enlarge my 8000x6000 photo 2x": the size was not asked about, but as the limit stands cnaps refuses it
        parts.append(answers.image_size(ctx, number, measured=False))
    if (answered is None and RUNNING.search(ctx.reading.text) and not ctx.reading.photo_size and not measured):
        # "... and how long on my laptop?" beside a request: what cnaps measured, if the focus has not said it
        parts.append(answers.running(ctx, number, said=said))
    # two parts can quote the same sentence of the notes ("how do I install it without a GPU?": installing and the
    # GPU both cite 'it does not need a GPU'); the answer says it once
    text = ""
    for part in parts:
        for piece in part.replace("]. ", "].\n").split("\n"):  # after each cited sentence's "[3]."
            if piece and piece not in text and piece not in ctx_text:
                text += f" {piece}"
    return text


def _restoration_step(ctx: AnswerContext) -> str | None:
    run = ctx.restoration
    if run is None:
        return None
    (w, h), (ow, oh) = run.input_size, run.output_size
    resize = f" after {run.resize}" if run.resize else ""
    tiles = f" in {run.tiles} tiles of {run.tile_size} px" if run.tiles > 1 else ""
    weights = run.weights
    # The project weights' full recipe is in the record; the answer names what they are in one clause.
    which = (f"{project_weights_words(run.network)}, not the official checkpoints (sha256 {weights.sha256[:12]})"
             if weights.provenance == "project" else weights.description.rstrip("."))
    measured = measured_gain_words(weights.real_photo_gain_db, run.scale) if weights.provenance == "project" else None
    if measured:
        which += f"; {measured}"
    if not run.network_ran:
        return _say("lanczos_only", size=f"{w}x{h}", out_size=f"{ow}x{oh}", network=run.network,
                    seconds=run.seconds, weights=which)
    name = run.network if run.model_id == run.network else f"{run.network} ({run.model_id})"
    return _say("ran", name=name, device=run.device, precision=run.precision, tiles=tiles, size=f"{w}x{h}",
                out_size=f"{ow}x{oh}", resize=resize, seconds=run.seconds, weights=which)


# Questions about using cnaps rather than about the model or a photo: their answer is the task part; the workflow is
# stated in one line per stage, and the related papers, which are not about them, are left out of the references.
USING_CNAPS = frozenset({"licence", "setup", "practical", "batch", "weights", "output-files"})
# ... and questions on taking a sharp photo in the first place, answered in the same proportions
PROPORTIONED = USING_CNAPS | {"shooting"}


def compose(ctx: AnswerContext) -> Answer:
    """Compose the grounded three-part answer for `ctx` without a language model."""
    if ctx.reading is None:  # a context built by hand (tests, the LLM loop) is read here, with its own task
        ctx = ctx.model_copy(update={"reading": read(ctx.question, ctx.card, ctx.history, ctx.classification)})
    using = (not ctx.classification.needs and ctx.restoration is None and not ctx.reading.papers
             and ctx.reading.primary in PROPORTIONED)
    if using and ctx.detail == "brief":
        ctx = ctx.model_copy(update={"detail": "short"})  # "how do I install it?" needs no tour of the network
    needs_upscale = "upscale" in ctx.classification.needs or bool(ctx.classification.scale and ctx.classification.scale > 1)
    references = build_references(ctx, brief=ctx.detail != "full", related=not using)
    number = {r.url: r.n for r in references}
    wants = ctx.reading.wants
    open_question = (not ctx.classification.needs or wants.which_weights or ctx.reading.asks("complaint")
                     or wants.practical or wants.later_question is not None or wants.kind_of_network_words
                     or wants.needs_a_gpu_words or wants.asks_a_score)
    # The recommended model's paper and code, cnaps's own notes about it, and a related paper the question names
    # answer before the other related papers.
    named = [paper.paper or paper.github for paper in ctx.reading.papers]
    recommended = frozenset([link for model in ctx.card.models for link in (model.paper, model.github) if link]
                            + [s.url for s in ctx.passages if s.url.startswith(NOTES_PREFIX)] + named)
    # A question about a related paper alone ("what data does CoF use?") is answered from that paper or not at all.
    pool = ([s for s in ctx.passages if s.url in named] if named and not wants.mentions_model
            else ctx.passages)
    # read with common misspellings mended ("hw dose it wrok?"), as the classifier reads it
    asked = wants.focus
    if ctx.classification.needs and wants.focus_running:
        # "upscale my photo, how long will it take?" asks about the run cnaps would make here: cnaps's own
        # measurements answer it before the authors' GPU table.
        recommended = frozenset(s.url for s in ctx.passages if s.url.startswith(NOTES_PREFIX)) or recommended
    focus = [f for f in focus_facts(pool, asked, networks_of(ctx), preferred=recommended, datasets=datasets_of(ctx))
             if f.source.url in number] if open_question else []
    if (wants.comparison and not named) or (not ctx.classification.needs and zoo_answer(wants)):
        focus = []  # "better than photoshop?", "is Real-ESRGAN available?": the verdict is the whole answer
    facts = [f for f in select_facts(ctx.passages, needs_upscale, wants.light, datasets_of(ctx), networks_of(ctx),
                                     exclude=tuple(f.sentence for f in focus))
             if f.source.url in number]
    references = cited_only_notes(references, facts + focus)
    number = {r.url: r.n for r in references}
    cite = {f.aspect: number[f.source.url] for f in facts}

    shown = [f for stage in ("input", "model", "output") for f in _stage_facts(facts, stage, ctx.detail)]
    steps = []
    for stage in ("input", "model", "output"):
        sentences = [_cited(f, number) for f in shown if f.stage == stage]
        if stage == "input":
            sentences.insert(0, _input_intro(ctx, needs_upscale, brief=ctx.detail != "full"))
        if stage == "output":
            record = _restoration_step(ctx)
            if record:
                sentences.append(record)
        steps.append(WorkflowStep(stage=stage, text=" ".join(sentences)))

    notes = list(_notes(ctx, facts + focus))
    task = Task(label=ctx.classification.label, scale=ctx.classification.scale,
                mismatch=ctx.capability.mismatch, text=task_text(ctx, cite, focus, number, workflow=shown),
                cues=ctx.classification.cues, confidence=ctx.classification.confidence,
                missing=list(ctx.capability.missing))
    # The "why detail comes back" paragraph answers restoration questions; an open question has had its answer,
    # and a question about noise, rain or colour is told in the task part what the model will not do.
    other = ctx.classification.label is TaskLabel.other
    # A brief answer whose output step says how detail comes back (and what cannot) does not say it again.
    said = (ctx.detail == "brief" and any(f.aspect == "no-invention" for f in shown)
            and not ctx.reading.asks("complaint"))  # a complaint is told why a result can still look soft
    why = "" if other or said or ctx.detail == "short" else _why_text(ctx, needs_upscale, brief=ctx.detail == "brief")
    workflow = Workflow(steps=steps, text=why)
    used_sources = _used_sources(ctx.passages, focus + facts)
    answer = Answer(task=task, workflow=workflow, references=references, notes=notes, sources=used_sources,
                    restoration=ctx.restoration, engine="composer")
    scrub_answer(answer, ctx.card.provided_links)
    answer.markdown = render_markdown(answer, question=scrub(ctx.question, ctx.card.provided_links))
    return answer


# The workflow facts a brief answer states: the input at three scales, what interpolation adds, the coarse-to-fine
# design, the multi-scale output, what an enlargement gains, and the model's size (retrieved only when the question
# asks how light it is); the task part has stated the output size and the weights' training data, and the parts
# (SCM, FAM, AFF, loss) are answered when asked.
BRIEF_ASPECTS = frozenset({"three-scale-input", "interpolation", "coarse-to-fine", "decoder", "upscale-gain",
                           "no-invention", "size"})


def _stage_facts(facts: list[Fact], stage: str, detail: str) -> list[Fact]:
    """The facts one workflow stage states: all ('full'), the brief aspects ('brief'), or one line ('short', a chat's
    later turn: the input's own sentence alone); a stage is never left without a fact it has."""
    own = [f for f in facts if f.stage == stage]
    if detail == "full":
        return own
    if detail == "short":
        return [] if stage == "input" else own[:1]
    brief = BRIEF_ASPECTS
    if any(f.aspect == "no-invention" for f in facts):
        brief = brief - {"interpolation"}  # the output step says that interpolation adds no detail: once is enough
    return [f for f in own if f.aspect in brief] or own[:1]


def _input_intro(ctx: AnswerContext, needs_upscale: bool, brief: bool = False) -> str:
    # "upscale 16x" runs at the most cnaps enlarges, as the plan has said
    scale = min(ctx.classification.scale, MAX_SCALE) if ctx.classification.scale else None
    run = ctx.restoration
    if brief and needs_upscale and scale and (run is None or run.scale == scale):
        return _say("input_intro", case="brief", scale=scale)  # the task part said why
    if run is not None and run.scale != (scale or 1):
        # The run's scale (--scale) overrides the question's: describe what really happened.
        return _say("input_intro", case="run-enlarged" if run.scale > 1 else "run-own-size", scale=run.scale)
    if needs_upscale:
        return _say("input_intro", case="enlarged" if scale else "enlarged-to-size", scale=scale)
    # a noisy or hazy photo is not necessarily a blurred one
    other = "deblur" not in ctx.classification.needs and ctx.classification.needs
    return _say("input_intro", case="photo" if other else "blurred", scale=scale)


def _why_text(ctx: AnswerContext, needs_upscale: bool, brief: bool = False) -> str:
    detail = _cue_phrase(ctx.classification.cues, ctx.reading.wants.text_words)
    if ctx.reading.asks("complaint"):
        # "the signs are still blurry, what did I do wrong?" asks why detail did not come back, not how it does
        return _say("why_soft", enlarged=needs_upscale)
    # brief: the input step has said what interpolation adds
    return _say("why_sharp", detail=detail, enlarged=needs_upscale and not brief)


def _notes(ctx: AnswerContext, facts: list[Fact]):
    yield from getattr(ctx.card, "notes", [])
    if ctx.reading.language != "en":
        yield _say("not_english")
    if not facts:
        yield _say("no_facts")
    for model, entry in ctx.capability.models:
        if entry is None:
            name = getattr(model, "name", model)
            yield _say("unknown_model", name=name)
    run = ctx.restoration
    from agent.settings import get_settings

    installs = [(entry, command) for entry in known_entries(ctx.capability)
                if (command := install_command(entry.id)) and official_weights(entry, get_settings().weights_dir) is None]
    for entry, command in installs[:1]:
        yield _say("install", model=entry.id, command=command)
    if run is not None:
        if run.weights.provenance != "official":
            yield _say("not_official", provenance=run.weights.provenance, model=run.model_id)
        yield from run.notes


def _used_sources(passages: list[Source], facts: list[Fact]) -> list[Source]:
    used_ids = {f.source.id for f in facts}
    first = [s for s in passages if s.id in used_ids]
    rest = [s for s in passages if s.id not in used_ids]
    return first + rest[: max(0, 8 - len(first))]


def render_markdown(answer: Answer, question: str = "") -> str:
    """The answer as Markdown with the headings Task, Workflow and References. The question is quoted on one line:
    a line break in it cannot start a heading ("## References") that passes for part of the answer."""
    question = " ".join(question.split())
    text = render("answer.md.j2", answer=answer, question=question)
    while "\n\n\n" in text:  # one blank line between blocks
        text = text.replace("\n\n\n", "\n\n")
    return text
