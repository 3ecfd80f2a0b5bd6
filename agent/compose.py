"""The deterministic grounded composer: an `AnswerContext` in, a three-part `Answer` out, no language model.

Two kinds of sentence make an answer:
- sentences about the user's own request (the task, the scale, what cnaps ran on their image), built from the
  classification, the capability check and the restoration record; they state no outside fact;
- factual sentences about the model, taken verbatim from passages retrieved from the store for this card, each
  carrying the citation marker of the reference its passage came from. A fact the store does not hold for this
  card is left out rather than written from memory.

A yes/no question gets its verdict first (from the capability check); an open question about the model ("what is
the FAM module?") gets, in the task part, the retrieved sentences that best cover its words, then the workflow.
"""

from __future__ import annotations

import re

from agent import answers
from agent.capability import CapabilityCheck, measured_gain_words, need_words, project_weights_words
from agent.cards import Card
from agent.focus import INTRODUCES, focus_facts, voiced
from agent.links import scrub, scrub_answer
from agent.plan import select_facts
from agent.reading import read
from agent.reading.asks import Wants
from agent.reading.model import Reading
from agent.schemas import (
    NOTES_PREFIX,
    Answer,
    AnswerContext,
    Reference,
    Source,
    Task,
    TaskLabel,
    Workflow,
    WorkflowStep,
)
from agent.reading.signals import COMPLAINT
from agent.sentences import SENTENCE_END, Fact
from prompts import render
from tools.restoration.zoo import find, install_command, official_weights

# --- references --------------------------------------------------------------------------------------------

# Stems found in a title or summary, and how the relevance line names them.
_RESTORATION_WORDS = {
    "deblur": "deblurring", "super-resolution": "super-resolution", "super resolution": "super-resolution",
    "upsampl": "upsampling", "upscal": "upscaling", "restor": "restoration", "denois": "denoising",
    "sharp": "sharpness", "high resolution": "high resolution", "high-resolution": "high resolution",
    "fine-grained detail": "fine detail", "resolution": "image resolution",
}


def _what_it_does(summary: str) -> str:
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
    does = _what_it_does(summary) or "No summary was provided."
    if not topic:
        verdict = "Only loosely related: it does not restore or enlarge images."
    elif any(w in text for w in ("deblur", "super-resolution", "super resolution", "restor", "denois")):
        verdict = "Related: it works on image restoration."
    else:
        verdict = (f"Loosely related: it touches {' and '.join(topic[:2])}, but it is not a tool for deblurring or "
                   "enlarging photos.")
    return f"{verdict} In the authors' summary: {does}"


_QUOTED_TITLE = re.compile(r"\bpaper\s+[\"“]([^\"”]{10,200})[\"”]")


def _quoted_paper_title(text: str) -> str | None:
    """A paper title as the store's documents quote it ('the ICCV 2021 paper "..."'), if they do."""
    match = _QUOTED_TITLE.search(text)
    return match.group(1) if match else None


def build_references(ctx: AnswerContext, brief: bool = False) -> list[Reference]:
    """Recommended models' paper and GitHub links first, then related papers by relevance to the question."""
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
            "The recommended model's official implementation; the repository links the GoPro weights of MIMO-UNet "
            "and MIMO-UNet+." if mimo else "The recommended model's official implementation.")

    named = _named_papers(ctx)
    best = {}
    for source in ctx.passages:
        best[source.url] = max(best.get(source.url, 0.0), source.score)
    ranked = sorted(card.papers, key=lambda p: best.get(p.paper or p.github or "", 0.0), reverse=True)
    for paper in ranked:
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
                "Background cnaps wrote itself (general facts and its own measurements), not a quotation of the "
                "papers above; it has no outside link.")
    return references


def _cited_only_notes(references: list[Reference], facts: list[Fact]) -> list[Reference]:
    """`references` without the cnaps notes no fact cites, renumbered."""
    used = {f.source.url for f in facts}
    kept = [r for r in references if r.role != "cnaps-notes" or r.url in used]
    return [r.model_copy(update={"n": n}) for n, r in enumerate(kept, 1)]


# --- the answer --------------------------------------------------------------------------------------------

_CUE_WORDS = {"text/signs": "text", "faces": "faces", "edges": "edges", "texture": "fine texture"}



def _cue_phrase(cues: list[str], text_words: str = "text") -> str:
    words = [text_words if c == "text/signs" else _CUE_WORDS[c] for c in _CUE_WORDS if c in cues]
    if not words:
        return "fine detail"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]




def _cited(fact: Fact, number: dict[str, int]) -> str:
    sentence = voiced(fact.sentence, fact.source)
    return f"{sentence[:-1]} [{number[fact.source.url]}]{sentence[-1]}"


_CHECKPOINT_NAMES = {"realblur": "Deblur-MIMO-UNet-RealBlur", "gopro": "MIMO-UNet", "plus": "MIMO-UNet+"}


def _zoo_answer(wants: Wants) -> str | None:
    """What cnaps can run, from its model zoo: "Is MIMO-UNet++ available in cnaps?", "Is Real-ESRGAN available?",
    "Can I use the RealBlur checkpoint in cnaps?", "Which models can cnaps run?"."""
    from tools.restoration.zoo import user_models

    known = ", ".join(entry.id for entry in user_models())
    if wants.which_models:
        return f"cnaps runs the MIMO-UNet models of its zoo: {known}; `cnaps restore --model ID` picks one."
    name = wants.zoo_model
    if name is None:
        return None
    entry = find(_CHECKPOINT_NAMES.get(name.lower(), name))
    if entry is not None and not entry.test_only:
        return _availability(entry)
    if not wants.zoo_model_like:
        return None  # "is PNG supported?", "can I use Windows?", "is CUDA supported?": not a model
    if wants.zoo_model_paper:
        return None  # a related paper of the card: the "cannot run" verdict answers it
    return f"No: cnaps runs only the MIMO-UNet models of its zoo ({known}); {name} is not one of them."


def _availability(entry) -> str:
    """Whether cnaps can run a zoo model here, and with which weights (`cnaps restore --model`)."""
    from agent.settings import get_settings
    from tools.restoration.zoo import official_weights, project_weights_path

    official = official_weights(entry, get_settings().weights_dir)
    files = " or ".join(entry.official_files)
    how = f"cnaps restore --model {entry.id}"
    if official is not None:
        return f"Yes: `{how}` runs it with the official weights installed here ({official.name})."
    if project_weights_path(entry).is_file():
        return (f"Yes: `{how}` runs it with {project_weights_words(entry.network)}; the official {files} is not "
                "installed here (put it in CNAPS_WEIGHTS_DIR to use it).")
    return (f"Only with its official weights: cnaps knows {entry.id}, but {files} is not installed here and cnaps has "
            f"no project weights for {entry.network}; put {files} in CNAPS_WEIGHTS_DIR, then `{how}` runs it.")




def verdict(ctx: AnswerContext) -> str | None:
    """A yes/no question's short answer, from the capability check; None for other questions."""
    c = ctx.classification
    wants = ctx.reading.wants
    zoo = _zoo_answer(wants) if not c.needs else None
    if zoo:
        return zoo
    if wants.kind_of_network:  # "a GAN or a CNN?" is no yes/no question: the reading leaves it None
        return "Yes." if wants.kind_of_network == "cnn" else "No."  # "is it a GAN?", "is it a CNN?": the notes' sentence follows
    if wants.needs_a_gpu or wants.expects_a_score:
        return "No."  # "does it need a GPU (to upscale 2x)?", "will I get 32.45 dB?": the notes' sentence follows
    if wants.runs_without_a_gpu or wants.gpu_is_faster:
        return "Yes."
    if named_in_request(ctx) and _known_entries(ctx.capability):
        return _cannot_run(ctx, _named_papers(ctx))  # "Can FeatSharp upscale my photo?"
    if wants.medical and (c.needs or not c.about_model):
        return ("Not for diagnosis: MIMO-UNet learned from photographs and was never validated on medical images, "
                "and a restored image is an estimate, not a measurement.")
    if wants.training:
        return None  # "can I fine-tune it on my blurry pairs?" asks about training, not about restoring
    named = _named_papers(ctx)
    if named and (wants.run_it or wants.paper_asked_to_act) \
            and _known_entries(ctx.capability):
        return _cannot_run(ctx, named)
    if wants.comparison and _known_entries(ctx.capability) and not named:
        return (f"cnaps cannot say which is {wants.comparison}: the documents indexed for this card report the recommended "
                "model's own results and do not compare it with the models or tools you name.")
    if not c.needs or not wants.yes_no or not _known_entries(ctx.capability):
        return None
    missing = set(ctx.capability.missing)
    deblur = "deblur" in c.needs
    if set(c.needs) == {"downscale"}:
        return "No model is needed for that: making an image smaller is plain resizing."
    if deblur and missing == {"downscale"}:
        return ("Yes for the blur, which the recommended model removes; making the image smaller afterwards is plain "
                "resizing and needs no model.")
    if "deblur" in c.needs and wants.region:
        return ("Only for the whole image: cnaps restores every pixel and has no mask to limit the restoration to "
                "one area.")
    if not missing and "focus" in c.cues and "motion" not in c.cues:
        return ("Partly: the official weights learned from motion blur (GoPro, RealBlur), not from out-of-focus "
                "blur, so expect a smaller gain on a defocused photo.")
    if not missing:
        why = ("removing blur is what the recommended model was trained for; how much comes back depends on how strong "
               "the blur is and on which weights run.")
        # A need read from weak words ("unreadable", "soft") may have another cause than blur.
        return f"Yes: {why}" if c.confidence >= 0.8 else f"If the cause is blur, yes: {why}"
    if missing == {"upscale"}:
        return ("Partly: the recommended model removes the blur but does not enlarge; cnaps enlarges by "
                "interpolation first." if deblur else
                "Not by itself: the recommended model does not enlarge images; cnaps enlarges by interpolation "
                "and the model then sharpens the result.")
    if "upscale" in c.needs and not deblur and missing - {"upscale"}:
        rest = [need for need in c.needs if need in missing and need != "upscale"]
        return (f"Partly: cnaps enlarges by interpolation and the recommended model sharpens the result; "
                f"{need_words(rest)} {'is' if len(rest) == 1 else 'are'} beyond it.")
    if deblur:
        rest = [need for need in c.needs if need in missing and need != "upscale"]
        beyond = need_words(rest) if rest else "the other problems you name"
        return f"Only the blur: the recommended model removes blur; {beyond} {'is' if len(rest) <= 1 else 'are'} beyond it."
    return "No, not with this model."


def _run_time(ctx: AnswerContext) -> str | None:
    """"How long did that take?" after a restoration: the record's own time, not the authors' table."""
    run = ctx.restoration
    if not ctx.reading.wants.run_time:
        return None
    if run is None:
        return ("Nothing has been restored in this conversation yet: attach an image (--image, or /image in chat) "
                "and cnaps reports how long its run took.")
    (w, h), (ow, oh) = run.input_size, run.output_size
    seconds = f"{run.seconds:.2f}" if run.seconds < 1 else f"{run.seconds:.1f}"
    return (f"Your restoration took {seconds} s on {run.device} ({run.precision}): {run.network}, "
            f"{w}x{h} in, {ow}x{oh} out.")


def _recommended_code(ctx: AnswerContext, number: dict[str, int]) -> str | None:
    """"Is there code?", "where is the GitHub repo?": the card's link to the recommended model's code."""
    links = [(model.name, model.github) for model in ctx.card.models if model.github and model.github in number]
    if not links:
        return None
    return " ".join(f"The card links the official code of {name}: its GitHub repository [{number[url]}]."
                    for name, url in links)



def _bears_on(paper, reading: Reading) -> str:
    """"FeatSharp is loosely related: it touches upsampling ..." from the paper's relevance verdict."""
    verdict = paper_relevance(paper.title, paper.summary or "", 0.0).split(" In the authors' summary:")[0]
    return f"{reading.name_of(paper)} is {verdict[:1].lower()}{verdict[1:]}"


def _cannot_run(ctx: AnswerContext, named: list) -> str:
    """cnaps runs only the recommended model; how each named paper bears on restoration says why that matters."""
    names = ctx.reading.names_of(named)
    one = len(named) == 1
    how = " ".join(_bears_on(paper, ctx.reading) for paper in named)
    return (f"cnaps cannot run {names}: it runs only the card's recommended model ({ctx.card.models[0].name}); "
            f"{names} {'is listed as a related paper' if one else 'are listed as related papers'}, not as "
            f"{'a model' if one else 'models'} to run. {how}")


def named_in_request(ctx: AnswerContext) -> bool:
    """A related paper named inside a restoration request ("Can FeatSharp upscale my photo 4x?", "is Elastic-DETR
    useful for enlarging my photo?"), not beside the recommended model."""
    return bool(ctx.classification.needs and _named_papers(ctx) and not ctx.reading.wants.mentions_model)


def task_text(ctx: AnswerContext, cite: dict[str, int], focus: list[Fact] = (),
              number: dict[str, int] | None = None) -> str:
    c = ctx.classification
    scale = f" {c.scale}x" if c.scale else ""
    wants = ctx.reading.wants
    detail = _cue_phrase(c.cues, wants.text_words)
    plural = detail.endswith("s") and detail != "fine texture" or " and " in detail
    asks_how = wants.how
    complaint = ctx.reading.asks("complaint")
    if complaint:
        text = "You are asking why a restored or enlarged result looks wrong, not how to get one."
    elif c.label is TaskLabel.both:
        text = (f"You are doing two things at once: enlarging a blurry image{scale} (super-resolution) and removing "
                f"its blur (deblurring), and you want to know how {detail} stayed readable." if asks_how else
                f"You want a blurry image enlarged{scale} (super-resolution) and its blur removed (deblurring).")
    elif c.label is TaskLabel.super_resolution:
        blur = " without blur" if wants.blur_word else ""
        text = (f"You are enlarging an image{scale} (super-resolution) and want to know how {detail} "
                f"{'stay' if plural else 'stays'} sharp{blur}." if asks_how else
                f"You want an image enlarged{scale} (super-resolution).")
    elif c.label is TaskLabel.deblurring:
        kind = "motion or camera-shake blur" if "motion" in c.cues else "out-of-focus blur" if "focus" in c.cues \
            else "blur"
        text = (f"You are removing {kind} from a photo (deblurring) so that {detail} "
                f"{'become' if plural else 'becomes'} clear again.")
    elif not c.needs:
        # An open question: answer it first, from the store, then say what cnaps would run.
        about = c.about_model
        named = _named_papers(ctx)
        text = (f"Your question is about {ctx.reading.names_of(named)}, "
                f"{'one of the card' if len(named) == 1 else 'the card'}'s related papers" if named else
                "Your question is about the recommended model itself" if about else
                "Your question names no task cnaps recognises (deblurring or enlarging)")
        card_says = _what_the_card_gives(ctx, named, number or {}) if named else None
        if card_says:
            focus = [fact for fact in focus if fact.source.url in {p.paper or p.github for p in named}]
        own = wants.own  # "what PSNR can I expect on my photo?"
        text += ("; your image was restored too (see the output step)." if ctx.restoration is not None else
                 " rather than a restoration of your own." if about and not own and not named else ".")
        run_time = _run_time(ctx)
        code = _recommended_code(ctx, number or {}) if not named and wants.where_code else None
        if code:
            text += " " + code  # the link is the answer: no passage is quoted beside it
        elif card_says:
            text += " " + card_says
            if focus and number and not wants.summarize:  # "does FeatSharp upscale images?"
                text += " From its summary: " + " ".join(_cited(fact, number) for fact in focus)
        elif run_time:
            text += " " + run_time
        elif ctx.reading.primary == "summarize-paper" and not named:
            text += " " + answers.summary(ctx, number or {})
        elif ctx.reading.asks("explain-simply") and not named:
            text += " " + answers.plain(ctx, number or {})
        elif ctx.reading.primary == "related-papers" and not named:
            text += " " + answers.papers_that_matter(ctx, number or {})
        elif focus and number:
            text += " In short: " + " ".join(_cited(fact, number) for fact in focus)
        elif ((wants.comparison and not named) or _zoo_answer(wants)
              or (named and (wants.run_it or wants.paper_asked_to_act))):
            pass  # the verdict has said it: the documents do not compare them, what cnaps can run, or cannot
        elif wants.how_it_works:
            text += " The workflow below answers it, stage by stage, from the documents indexed for this card."
        else:
            text += " " + answers.general(ctx, number or {})
    else:
        needs = [n for n in c.needs if n not in ("deblur", "upscale")]
        text = (f"Your question is not about deblurring or enlarging: it asks for "
                f"{need_words(needs) if needs else 'another task'}.")
    check = ctx.capability
    plan = check.plan
    if "upscale" in check.missing and "same-resolution" in cite:
        # The plan's first sentence states the model's limit; the store's same-resolution passage backs it.
        first, _, rest = plan.partition(". ")
        plan = f"{first} [{cite['same-resolution']}]." + (f" {rest}" if rest else "")
    if focus and number and (c.needs or complaint):
        text += " On your question: " + " ".join(_cited(fact, number) for fact in focus)
    if complaint:
        text += " " + answers.complaint(ctx)
    if ctx.reading.asks("batch"):
        text += " " + answers.folder()
    # "who wrote FeatSharp?" is not told what cnaps would run, nor a question whose image already ran (see output)
    if plan and not (not c.needs and (_named_papers(ctx) or ctx.restoration is not None)):
        text += f" {plan}"
    if c.scale_note:
        text += f" {c.scale_note}"
    if wants.video and {"deblur", "upscale"} & set(c.needs):
        text += (" cnaps restores single images: a video has to be split into frames, each restored on its own, "
                 "with nothing that keeps neighbouring frames consistent.")
    short = verdict(ctx)
    if short is None and "deblur" in c.needs and "focus" in c.cues and "motion" not in c.cues:
        # "sharpen this out of focus portrait" asks nothing, but deserves the caveat a yes/no question gets
        text += (" The official weights learned from motion blur (GoPro, RealBlur), not from out-of-focus blur, so "
                 "expect a smaller gain on a defocused photo.")
    return f"{short} {text}" if short else text


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
        return (f"On your image, cnaps enlarged {w}x{h} to {ow}x{oh} by Lanczos alone and did not run {run.network}"
                f", in {run.seconds:.1f} s. Weights: {which}.")
    name = run.network if run.model_id == run.network else f"{run.network} ({run.model_id})"
    return (f"On your image, cnaps ran {name} on {run.device} in {run.precision}{tiles}: "
            f"{w}x{h} in, {ow}x{oh} out{resize}, {run.seconds:.1f} s. Weights: {which}.")


def compose(ctx: AnswerContext) -> Answer:
    """Compose the grounded three-part answer for `ctx` without a language model."""
    if ctx.reading is None:  # a context built by hand (tests, the LLM loop) is read here, with its own task
        ctx = ctx.model_copy(update={"reading": read(ctx.question, ctx.card, ctx.history, ctx.classification)})
    needs_upscale = "upscale" in ctx.classification.needs or bool(ctx.classification.scale and ctx.classification.scale > 1)
    references = build_references(ctx, brief=ctx.detail != "full")
    number = {r.url: r.n for r in references}
    wants = ctx.reading.wants
    open_question = (not ctx.classification.needs or wants.which_weights or ctx.reading.asks("complaint")
                     or wants.practical or wants.later_question is not None or wants.kind_of_network_words
                     or wants.needs_a_gpu_words or wants.asks_a_score)
    # The recommended model's paper and code, cnaps's own notes about it, and a related paper the question names
    # answer before the other related papers.
    named = [paper.paper or paper.github for paper in _named_papers(ctx)]
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
    focus = [f for f in focus_facts(pool, asked, _networks(ctx), preferred=recommended, datasets=_datasets(ctx))
             if f.source.url in number] if open_question else []
    if (wants.comparison and not named) or (not ctx.classification.needs and _zoo_answer(wants)):
        focus = []  # "better than photoshop?", "is Real-ESRGAN available?": the verdict is the whole answer
    facts = [f for f in select_facts(ctx.passages, needs_upscale, wants.light, _datasets(ctx), _networks(ctx),
                                     exclude=tuple(f.sentence for f in focus))
             if f.source.url in number]
    references = _cited_only_notes(references, facts + focus)
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
                mismatch=ctx.capability.mismatch, text=task_text(ctx, cite, focus, number),
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
# design, the multi-scale output, and what an enlargement gains; the task part has stated the output size and the
# weights' training data, and the parts (SCM, FAM, AFF, loss, size) are answered when asked.
BRIEF_ASPECTS = frozenset({"three-scale-input", "interpolation", "coarse-to-fine", "decoder", "upscale-gain",
                           "no-invention"})


def _stage_facts(facts: list[Fact], stage: str, detail: str) -> list[Fact]:
    """The facts one workflow stage states: all ('full'), the brief aspects ('brief'), or one line ('short', a chat's
    later turn: the input's own sentence alone); a stage is never left without a fact it has."""
    own = [f for f in facts if f.stage == stage]
    if detail == "full":
        return own
    if detail == "short":
        return [] if stage == "input" else own[:1]
    return [f for f in own if f.aspect in BRIEF_ASPECTS] or own[:1]







def _named_papers(ctx: AnswerContext) -> list:
    """The card's related papers the question (or, when it points back, the turn before) names."""
    return ctx.reading.papers




def _what_the_card_gives(ctx: AnswerContext, papers: list, number: dict[str, int]) -> str | None:
    """Who wrote a related paper, or where its code is, answered from what the card gives for it (title, summary,
    links); None for other questions."""
    sentences = []
    for paper in papers:
        name = ctx.reading.name_of(paper)
        wants = ctx.reading.wants
        paper_ref = f" [{number[paper.paper]}]" if paper.paper in number else ""
        if wants.who_wrote:
            sentences.append(f"The card gives {name}'s title, summary and paper link{paper_ref}, but not its authors.")
        elif wants.code:
            if paper.github and paper.github in number:
                sentences.append(f"The card links code for {name}: its GitHub repository [{number[paper.github]}]; "
                                 "cnaps has not indexed that repository's contents.")
            else:
                sentences.append(f"The card links no code for {name}, only its paper{paper_ref}.")
        if wants.relevance:
            verdict = paper_relevance(paper.title, paper.summary or "", 0.0).split(" In the authors' summary:")[0]
            sentences.append(f"{name} is on the card as a related paper{paper_ref}. {verdict}")
        elif wants.summarize and paper.summary:
            sentences.append(f"In the card's summary{paper_ref}, the authors' own words: "
                             f"\"{_what_it_does(paper.summary).rstrip('.')}\".")
    return " ".join(sentences) or None


def _datasets(ctx: AnswerContext) -> tuple[str, ...]:
    return training_datasets(ctx.capability)


def _networks(ctx: AnswerContext) -> tuple[str, ...]:
    """The networks of the card's known, real models ('MIMO-UNet', 'MIMO-UNet+')."""
    return tuple(dict.fromkeys(entry.network for entry in _known_entries(ctx.capability)))


def _known_entries(capability: CapabilityCheck) -> list:
    """The zoo entries of the card's recommended models that cnaps knows, test-only networks left out."""
    return [entry for _, entry in capability.models if entry is not None and not entry.test_only]


def training_datasets(capability: CapabilityCheck) -> tuple[str, ...]:
    """The training data of the card's known models, as lower-case words ('realblur', 'gopro')."""
    return tuple(dict.fromkeys(entry.trained_on.split()[0].lower() for entry in _known_entries(capability)))


def _input_intro(ctx: AnswerContext, needs_upscale: bool, brief: bool = False) -> str:
    scale = ctx.classification.scale
    run = ctx.restoration
    if brief and needs_upscale and scale and (run is None or run.scale == scale):
        return f"Your low-resolution image, enlarged {scale}x by Lanczos interpolation."  # the task part said why
    if run is not None and run.scale != (scale or 1):
        # The run's scale (--scale) overrides the question's: describe what really happened.
        if run.scale > 1:
            return (f"Your image, enlarged {run.scale}x by Lanczos interpolation for this run, because the "
                    "recommended model keeps the size of what it is given.")
        return "Your image at its own size: this run was asked not to enlarge it (scale 1)."
    if needs_upscale and scale:
        return (f"Your low-resolution image, first enlarged {scale}x by Lanczos interpolation, because the "
                f"recommended model keeps the size of what it is given.")
    if needs_upscale:
        return ("Your image, first enlarged to the size you want by Lanczos interpolation, because the "
                "recommended model keeps the size of what it is given.")
    if "deblur" not in ctx.classification.needs and ctx.classification.needs:
        return "Your photo, at its own size."  # a noisy or hazy photo is not necessarily a blurred one
    return "Your blurred photo, at its own size."


def _why_text(ctx: AnswerContext, needs_upscale: bool, brief: bool = False) -> str:
    detail = _cue_phrase(ctx.classification.cues, ctx.reading.wants.text_words)
    if ctx.reading.asks("complaint"):
        # "the signs are still blurry, what did I do wrong?" asks why detail did not come back, not how it does
        return ("Why a result can still look soft: MIMO-UNet removes blur of the kinds it learned from (motion and "
                "camera shake); it cannot bring back detail the image never held, and blur of another kind (focus, "
                "compression, noise) is only partly undone."
                + (" In an enlargement every new pixel comes from interpolation, so the larger the factor, the more "
                   "of the result is interpolated softness the network cannot sharpen into real detail."
                   if needs_upscale else ""))
    parts = [f"Why {detail} can come back sharp: MIMO-UNet learned, from pairs of blurred and sharp images, how blur "
             "spreads each point of a scene; it undoes that spreading, so detail that the camera recorded but "
             "smeared is pulled back together. Detail the image never held cannot be recovered this way."]
    if needs_upscale and not brief:  # brief: the input step has said what interpolation adds
        parts.append("For an enlargement the two steps share the work: interpolation only makes the image bigger "
                     "and leaves it soft, and MIMO-UNet then sharpens the enlarged image; it does not add "
                     "resolution that the small image lacked.")
    return " ".join(parts)


def _notes(ctx: AnswerContext, facts: list[Fact]):
    yield from getattr(ctx.card, "notes", [])
    if ctx.reading.language != "en":
        yield ("cnaps answers in English: its documents are in English, and the composer writes only what they say. "
               "Your question was read for its words for blur, enlarging and the scale.")
    if not facts:
        yield ("The knowledge store returned no passage about the recommended model for this card, so the workflow "
               "states no facts about it; run `cnaps index --rebuild` and check the card's links.")
    for model, entry in ctx.capability.models:
        if entry is None:
            name = getattr(model, "name", model)
            yield f"cnaps does not know the model '{name}', so it cannot run it or state its capabilities."
    run = ctx.restoration
    from agent.settings import get_settings

    installs = [(entry, command) for entry in _known_entries(ctx.capability)
                if (command := install_command(entry.id)) and official_weights(entry, get_settings().weights_dir) is None]
    for entry, command in installs[:1]:
        yield (f"The official {entry.id} checkpoint is not installed here: `{command}` downloads it from the authors' "
               "links, or `cnaps weights import FILE` installs one you downloaded.")
    if run is not None:
        if run.weights.provenance != "official":
            yield (f"Your image was restored with {run.weights.provenance} weights, not the official checkpoint of "
                   f"{run.model_id}; expect less than the paper's results. The paper's figures describe the "
                   "official weights only.")
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
    return re.sub(r"\n{3,}", "\n\n", render("answer.md.j2", answer=answer, question=question))  # one blank line
