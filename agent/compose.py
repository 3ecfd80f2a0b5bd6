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
from agent.classify import ABOUT_MODEL, normalise
from agent.cards import Card
from agent.focus import INTRODUCES, focus_facts, voiced
from agent.links import scrub, scrub_answer
from agent.plan import KIND_OF_NETWORK, PRACTICAL, RUNNING, select_facts
from agent.reading import read
from agent.reading.papers import aliases, named_papers, paper_name, paper_names, papers_named_in
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


def _text_words(question: str) -> str:
    """The user's own word for the text in the picture: signs, number plates or text."""
    lowered = question.lower()
    words = [word for word, pattern in (("text", r"\b(?:text|letters?|writing|words?|handwriting|document)\b"),
                                         ("signs", r"\bsign(?:s|age)?\b"), ("number plates", r"\bplates?\b"))
             if re.search(pattern, lowered)]
    return " and ".join(words) if words else "text"


def _cue_phrase(cues: list[str], question: str = "") -> str:
    words = [_text_words(question) if c == "text/signs" else _CUE_WORDS[c] for c in _CUE_WORDS if c in cues]
    if not words:
        return "fine detail"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# A restoration request that also asks which weights or data suit it ("which checkpoint for handheld shake?").
_ASKS_WHICH = re.compile(r"\b(?:which|what)\s+(?:\w+\s+)?(?:checkpoint|weights|version|variant|dataset|data)\b",
                         re.IGNORECASE)
# A question that asks how or why (rather than only asking for a result).
_ASKS_HOW = re.compile(r"\b(?:how|why|what\s+makes|explain)\b", re.IGNORECASE)


def _cited(fact: Fact, number: dict[str, int]) -> str:
    sentence = voiced(fact.sentence, fact.source)
    return f"{sentence[:-1]} [{number[fact.source.url]}]{sentence[-1]}"


# "Can it fix my photo?", "Will this work on ...?": a question that wants a yes or a no first.
_YES_NO = re.compile(r"(?:^|[.!?,;:]\s+|\s[-\u2013\u2014]\s+)(?:(?:and|but|so|also|then|now|ok(?:ay)?)[,\s]+)?"
                     r"(?:(?:can|could|will|would|does|do|is|are|should)\s+(?:it|this|that|the|these|"
                     r"i|you|cnaps|mimo\S*)\b|(?:fix|restore|remove|repair|sharpen|enlarge|upscale)\b|"
                     r"(?:will|would|can|could|does|do)\s+(?:\S+\s+){1,4}?(?:fix|remove|repair|help|improve|get\s+rid)\b)"
                     r"[^.!?]*\?",  # the last: "will 3x upscaling with this fix the blockiness?"
                     re.IGNORECASE)
# A clause after a comma that asks for a fix: "..., can you fix it?", "... - will it work?".
_ASKS_FOR_A_FIX = re.compile(r"\b(?:fix|restore|remove|repair|sharpen|enlarge|upscale|deblur|unblur|improve|enhance|"
                             r"clean|help|work|save)\w*|\bbe\s+\w+ed\b", re.IGNORECASE)
# "..., can you explain how it works?", "is that because of camera shake?": a question, not a request for a fix.
_ASKS_TO_EXPLAIN = re.compile(r"\b(?:explain|tell|describe|what|how|why|because|mean|cause[sd]?|difference|real[- ]?time|"
                              r"how\s+long|fast|speed)\b", re.IGNORECASE)
# "Is it better than Restormer?", "MIMO-UNet vs NAFNet": a comparison the card's documents cannot settle.
# The other side must be named like a model (capitalised or with digits: "Restormer", "NAFNet", "ESRGAN-x4"), not
# "compared to the original" or "worse than the others".
_COMPARISON = re.compile(r"\b(?:better|worse|faster|slower|sharper|stronger|weaker|more\s+accurate)\s+than\s+|"
                         r"\bcompar\w*\s+(?:\w+\s+)?(?:to|with)\s+|\bvs\.?\s+|\bversus\s+")
_MODEL_NAME = re.compile(r"(?:the\s+)?(?:[A-Z][\w-]*[A-Z0-9][\w-]*|[A-Z][a-z]+(?:Net|GAN|former|SR)\w*|[A-Z][\w-]{2,})")
_MEDICAL = re.compile(r"\b(?:x-?rays?|mri|ct\s+scans?|ultrasound|medical|diagnos\w*|radiolog\w*|patholog\w*|"
                      r"clinical|microscop\w*|histolog\w*|biops\w*)\b", re.IGNORECASE)
_TRAINING = re.compile(r"\b(?:fine-?tun\w*|re-?train\w*|train\s+(?:it|the\s+model|mimo\S*|my\s+own))\b", re.IGNORECASE)
# "Can it fix only the runner?": a restoration limited to one area.
_REGION = re.compile(r"\b(?:only|just)\s+(?:the\s+|my\s+|that\s+|this\s+)?(?:\w+\s+)?(?:runner|person|people|"
                     r"face|faces|background|foreground|sky|car|plate|sign|subject|area|region|part|corner)\b",
                     re.IGNORECASE)
# "Can it run without a GPU?", "does it work on a CPU?"
_RUNS_WITHOUT_A_GPU = re.compile(r"\b(?:can|does|will|would)\s+(?:it|this|mimo-?unet\S*|(?:this|the)\s+model|cnaps|i|you)\s+"
                                 r"(?:run|work|use)\s+(?:it\s+|this\s+|the\s+model\s+)?(?:without\s+(?:a\s+)?(?:gpu|graphics\s+card|cuda)|on\s+(?:a\s+|my\s+|the\s+)?"
                                 r"(?:cpu|laptop)|cpu[- ]only)", re.IGNORECASE)
# "Is a GPU faster?", "will it be faster with a GPU?", "can I run it on my Nvidia GPU?", "is CUDA available?"
_GPU_IS_FASTER = re.compile(r"\b(?:is|are)\s+(?:a\s+|the\s+)?gpus?\s+(?:much\s+)?faster|\bfaster\s+(?:on|with)\s+(?:a\s+|the\s+)?"
                            r"gpu|\b(?:can|could|will|does)\s+(?:i|it|cnaps|you)\s+(?:run|use)\s+(?:it\s+)?(?:on|with)\s+"
                            r"(?:a\s+|an\s+|my\s+|the\s+)?(?:nvidia\s+)?(?:gpu|cuda|graphics\s+card)|\bis\s+cuda\s+"
                            r"(?:available|supported)|\b(?:does|will|can)\s+(?:it|cnaps)\s+(?:use|support)\s+(?:a\s+|the\s+)?"
                            r"(?:gpu|cuda)", re.IGNORECASE)
# "How long did that take?" after a restoration: the record answers it.
_ASKS_RUN_TIME = re.compile(r"\bhow\s+(?:long|much\s+time)\s+did\s+(?:it|that|this|the\s+\w+)\s+take|"
                            r"\bhow\s+fast\s+was\s+(?:it|that)|\bhow\s+many\s+seconds\s+did", re.IGNORECASE)
# "How does it work?": the workflow is the answer.
_HOW_IT_WORKS = re.compile(r"^\W*(?:so\s+|and\s+|ok(?:ay)?,?\s+)?(?:how\s+does\s+(?:it|this|mimo\S*|(?:this|the)\s+"
                           r"(?:model|network))\s+(?:work|deblur|do\s+it)|explain\s+(?:it|how\s+it\s+works|the\s+model|mimo\S*))"
                           r"\W*$", re.IGNORECASE)
# "Is MIMO-UNet++ available in cnaps?", "can cnaps run MIMO-UNet+?", "does cnaps support the RealBlur model?"
_AVAILABLE = re.compile(
    r"\b(?:is|are)\s+(?:the\s+)?(?P<model>[\w.+-]+?)(?:\s+(?:checkpoint|model|weights))?\s+(?:available|supported|included)"
    r"(?:\s+in\s+cnaps)?\b|"
    r"\b(?:can|could|does|do)\s+(?:cnaps|you|i)\s+(?:run|use|support|try)\s+(?:the\s+)?"
    r"(?P<model2>[\w.+-]+?)(?:\s+(?:checkpoint|model|weights))?(?:\s+(?:in|with)\s+cnaps)?(?=[\s?.!,]|$)",
    re.IGNORECASE)
# "Which models can cnaps run?", "what models does cnaps support?"
_WHICH_MODELS = re.compile(r"\b(?:which|what)\s+(?:other\s+)?(?:models|networks|checkpoints)\s+(?:can|does|do)\s+"
                           r"(?:cnaps|you|it|i)\s+(?:run|support|use|offer|have)", re.IGNORECASE)
# A model's name, not a file format, an OS or a device: "Real-ESRGAN", "NAFNet", "Restormer", "SwinIR", "DeblurGAN-v2".
_LOOKS_LIKE_A_MODEL = re.compile(r"net\b|nets?-|gan|former|esr|swin|\bsr|sr\b|mimo|deblur|diffusion|unet|"
                                 r"[a-z][A-Z].*(?:Net|GAN|SR|IR|former)", re.IGNORECASE)
_CHECKPOINT_NAMES = {"realblur": "Deblur-MIMO-UNet-RealBlur", "gopro": "MIMO-UNet", "plus": "MIMO-UNet+"}


def _zoo_answer(question: str, card: Card | None = None) -> str | None:
    """What cnaps can run, from its model zoo: "Is MIMO-UNet++ available in cnaps?", "Is Real-ESRGAN available?",
    "Can I use the RealBlur checkpoint in cnaps?", "Which models can cnaps run?"."""
    from tools.restoration.zoo import user_models

    known = ", ".join(entry.id for entry in user_models())
    if _WHICH_MODELS.search(question):
        return f"cnaps runs the MIMO-UNet models of its zoo: {known}; `cnaps restore --model ID` picks one."
    asked = _AVAILABLE.search(question)
    if asked is None:
        return None
    name = asked.group("model") or asked.group("model2")
    entry = find(_CHECKPOINT_NAMES.get(name.lower(), name))
    if entry is not None and not entry.test_only:
        return _availability(entry)
    if not _LOOKS_LIKE_A_MODEL.search(name):
        return None  # "is PNG supported?", "can I use Windows?", "is CUDA supported?": not a model
    if card is not None and papers_named_in(card, name):
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


# "Does it need a GPU?", "will I need an NVIDIA card?"
_NEEDS_A_GPU = re.compile(r"^\W*(?:does|do|will|would)\s+(?:it|this|mimo-?unet\S*|(?:this|the)\s+(?:model|network)|i|you|"
                          r"cnaps)\s+(?:really\s+|still\s+)?(?:need|require)\s+(?:a\s+|an\s+)?(?:gpu|graphics\s+card|cuda|"
                          r"nvidia(?:\s+card)?)\b", re.IGNORECASE)
# "So if I run this, will I get 32.45 dB?": a paper's score is not what one photo gets.
_EXPECTS_A_SCORE = re.compile(r"\b(?:will|would|do|can|could|should)\s+i\s+(?:also\s+)?(?:get|expect|see|reach|achieve)\b"
                              r"[^.!?]{0,40}?(?:\d+(?:\.\d+)?\s*db\b|psnr|ssim)", re.IGNORECASE)
# "What PSNR did I get?", "what's my PSNR?": the same notes answer, without a yes or no.
_ASKS_A_SCORE = re.compile(_EXPECTS_A_SCORE.pattern + r"|\b(?:what|which)\s+(?:psnr|ssim|score)\s+(?:did|will|would|do|"
                           r"can|could)\s+(?:i|it|my)\b|\bwhat(?:'s|\s+is)\s+(?:my|the)\s+(?:psnr|ssim)\b", re.IGNORECASE)
_VIDEO = re.compile(r"\b(?:video|videos|footage)\b", re.IGNORECASE)


def verdict(ctx: AnswerContext) -> str | None:
    """A yes/no question's short answer, from the capability check; None for other questions."""
    c = ctx.classification
    zoo = _zoo_answer(ctx.question, ctx.card) if not c.needs else None
    if zoo:
        return zoo
    kind = KIND_OF_NETWORK.search(ctx.question)
    if kind and not re.search(r"\bor\b", ctx.question[kind.start():], re.IGNORECASE):  # "a GAN or a CNN?" is no yes/no
        return "Yes." if kind.group("cnn") else "No."  # "is it a GAN?", "is it a CNN?": the notes' sentence follows
    if (_NEEDS_A_GPU.search(ctx.question) and not re.search(r"\btrain", ctx.question, re.IGNORECASE)) \
            or _EXPECTS_A_SCORE.search(ctx.question):
        return "No."  # "does it need a GPU (to upscale 2x)?", "will I get 32.45 dB?": the notes' sentence follows
    if _RUNS_WITHOUT_A_GPU.search(ctx.question) or _GPU_IS_FASTER.search(ctx.question):
        return "Yes."
    if named_in_request(ctx) and _known_entries(ctx.capability):
        return _cannot_run(ctx, _named_papers(ctx))  # "Can FeatSharp upscale my photo?"
    if _MEDICAL.search(ctx.question) and (c.needs or not c.about_model):
        return ("Not for diagnosis: MIMO-UNet learned from photographs and was never validated on medical images, "
                "and a restored image is an estimate, not a measurement.")
    if _TRAINING.search(ctx.question):
        return None  # "can I fine-tune it on my blurry pairs?" asks about training, not about restoring
    named = _named_papers(ctx)
    if named and (_RUN_IT.search(ctx.question) or _asks_the_paper_to_do(ctx.question, named)) \
            and _known_entries(ctx.capability):
        return _cannot_run(ctx, named)
    if _compares_models(ctx.question) and _known_entries(ctx.capability) and not named:
        word = _COMPARISON.search(ctx.question).group(0).split()[0].lower()
        word = word if word in ("faster", "slower", "sharper", "worse") else "better"
        return (f"cnaps cannot say which is {word}: the documents indexed for this card report the recommended "
                "model's own results and do not compare it with the models or tools you name.")
    asked = _YES_NO.search(ctx.question)
    if not c.needs or not asked or not _known_entries(ctx.capability):
        return None
    if asked.start() > 0 and (_ASKS_TO_EXPLAIN.search(asked.group(0)) or not _ASKS_FOR_A_FIX.search(asked.group(0))):
        return None  # "my photo is blurry, can you explain how it works?", "deblur it, does it use attention?"
    tail = asked.group(0).partition(",")[2]
    if asked.start() == 0 and tail and _ASKS_TO_EXPLAIN.search(tail) and not _ASKS_FOR_A_FIX.search(tail):
        return None  # "upscale my photo, how long will it take?" asks how long, not whether
    missing = set(ctx.capability.missing)
    deblur = "deblur" in c.needs
    if set(c.needs) == {"downscale"}:
        return "No model is needed for that: making an image smaller is plain resizing."
    if deblur and missing == {"downscale"}:
        return ("Yes for the blur, which the recommended model removes; making the image smaller afterwards is plain "
                "resizing and needs no model.")
    if "deblur" in c.needs and _REGION.search(ctx.question):
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
    if not _ASKS_RUN_TIME.search(ctx.question):
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


def _asks_the_paper_to_do(question: str, named: list) -> bool:
    """"Can Mask2Alpha cut out the face?", "will CoF fix it?": a related paper asked to do something itself (not
    "does FeatSharp upscale images?", which asks what the paper does)."""
    return any(re.match(rf"^\W*(?:can|could|will|would)\s+(?:the\s+)?{re.escape(alias)}\b(?!\s+(?:paper|authors?))",
                        question, re.IGNORECASE) for paper in named for alias in aliases(paper))


def _bears_on(paper, question: str) -> str:
    """"FeatSharp is loosely related: it touches upsampling ..." from the paper's relevance verdict."""
    verdict = paper_relevance(paper.title, paper.summary or "", 0.0).split(" In the authors' summary:")[0]
    return f"{paper_name(paper, question)} is {verdict[:1].lower()}{verdict[1:]}"


def _cannot_run(ctx: AnswerContext, named: list) -> str:
    """cnaps runs only the recommended model; how each named paper bears on restoration says why that matters."""
    names = paper_names(named, ctx.question)
    one = len(named) == 1
    how = " ".join(_bears_on(paper, ctx.question) for paper in named)
    return (f"cnaps cannot run {names}: it runs only the card's recommended model ({ctx.card.models[0].name}); "
            f"{names} {'is listed as a related paper' if one else 'are listed as related papers'}, not as "
            f"{'a model' if one else 'models'} to run. {how}")


def named_in_request(ctx: AnswerContext) -> bool:
    """A related paper named inside a restoration request ("Can FeatSharp upscale my photo 4x?", "is Elastic-DETR
    useful for enlarging my photo?"), not beside the recommended model."""
    return bool(ctx.classification.needs and _named_papers(ctx) and not _MENTIONS_MODEL.search(ctx.question))


def task_text(ctx: AnswerContext, cite: dict[str, int], focus: list[Fact] = (),
              number: dict[str, int] | None = None) -> str:
    c = ctx.classification
    scale = f" {c.scale}x" if c.scale else ""
    detail = _cue_phrase(c.cues, ctx.question)
    plural = detail.endswith("s") and detail != "fine texture" or " and " in detail
    asks_how = bool(_ASKS_HOW.search(ctx.question))
    complaint = ctx.reading.asks("complaint")
    if complaint:
        text = "You are asking why a restored or enlarged result looks wrong, not how to get one."
    elif c.label is TaskLabel.both:
        text = (f"You are doing two things at once: enlarging a blurry image{scale} (super-resolution) and removing "
                f"its blur (deblurring), and you want to know how {detail} stayed readable." if asks_how else
                f"You want a blurry image enlarged{scale} (super-resolution) and its blur removed (deblurring).")
    elif c.label is TaskLabel.super_resolution:
        blur = " without blur" if re.search(r"blur", ctx.question, re.IGNORECASE) else ""
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
        text = (f"Your question is about {paper_names(named, ctx.question)}, "
                f"{'one of the card' if len(named) == 1 else 'the card'}'s related papers" if named else
                "Your question is about the recommended model itself" if about else
                "Your question names no task cnaps recognises (deblurring or enlarging)")
        card_says = _what_the_card_gives(ctx, named, number or {}) if named else None
        if card_says:
            focus = [fact for fact in focus if fact.source.url in {p.paper or p.github for p in named}]
        own = re.search(r"\b(?:my|our)\b", ctx.question, re.IGNORECASE)  # "what PSNR can I expect on my photo?"
        text += ("; your image was restored too (see the output step)." if ctx.restoration is not None else
                 " rather than a restoration of your own." if about and not own and not named else ".")
        run_time = _run_time(ctx)
        code = _recommended_code(ctx, number or {}) if not named and _WHERE_CODE.search(ctx.question) else None
        if code:
            text += " " + code  # the link is the answer: no passage is quoted beside it
        elif card_says:
            text += " " + card_says
            if focus and number and not _SUMMARIZE.search(ctx.question):  # "does FeatSharp upscale images?"
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
        elif ((_compares_models(ctx.question) and not named) or _zoo_answer(ctx.question, ctx.card)
              or (named and (_RUN_IT.search(ctx.question) or _asks_the_paper_to_do(ctx.question, named)))):
            pass  # the verdict has said it: the documents do not compare them, what cnaps can run, or cannot
        elif _HOW_IT_WORKS.search(normalise(ctx.question)):
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
    if _VIDEO.search(ctx.question) and {"deblur", "upscale"} & set(c.needs):
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
    open_question = (not ctx.classification.needs or bool(_ASKS_WHICH.search(ctx.question))
                     or ctx.reading.asks("complaint") or bool(PRACTICAL.search(ctx.question))
                     or _model_question_after_request(ctx.question) is not None
                     or bool(KIND_OF_NETWORK.search(ctx.question) or _NEEDS_A_GPU.search(ctx.question)
                             or _ASKS_A_SCORE.search(ctx.question)))
    # The recommended model's paper and code, cnaps's own notes about it, and a related paper the question names
    # answer before the other related papers.
    named = [paper.paper or paper.github for paper in _named_papers(ctx)]
    recommended = frozenset([link for model in ctx.card.models for link in (model.paper, model.github) if link]
                            + [s.url for s in ctx.passages if s.url.startswith(NOTES_PREFIX)] + named)
    # A question about a related paper alone ("what data does CoF use?") is answered from that paper or not at all.
    pool = ([s for s in ctx.passages if s.url in named] if named and not _MENTIONS_MODEL.search(ctx.question)
            else ctx.passages)
    # read with common misspellings mended ("hw dose it wrok?"), as the classifier reads it
    asked = _focus_question(normalise(ctx.question), request=bool(ctx.classification.needs),
                            complaint=ctx.reading.asks("complaint"))
    if ctx.classification.needs and RUNNING.search(asked):
        # "upscale my photo, how long will it take?" asks about the run cnaps would make here: cnaps's own
        # measurements answer it before the authors' GPU table.
        recommended = frozenset(s.url for s in ctx.passages if s.url.startswith(NOTES_PREFIX)) or recommended
    focus = [f for f in focus_facts(pool, asked, _networks(ctx), preferred=recommended, datasets=_datasets(ctx))
             if f.source.url in number] if open_question else []
    if (_compares_models(ctx.question) and not named) or (
            not ctx.classification.needs and _zoo_answer(ctx.question, ctx.card)):
        focus = []  # "better than photoshop?", "is Real-ESRGAN available?": the verdict is the whole answer
    facts = [f for f in select_facts(ctx.passages, needs_upscale, ctx.question, _datasets(ctx), _networks(ctx),
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


# A later clause that asks about the model: "my photo is blurry, what is FAM?", "deblur it. How many parameters?"
_LATER_QUESTION = re.compile(r"^(?:so\s+|and\s+|also\s+|but\s+)?(?:what|which|who|how\s+(?:many|big|much|does|is|are)|"
                             r"does\s+it|is\s+it|are\s+they|explain)\b", re.IGNORECASE)


def _model_question_after_request(question: str) -> str | None:
    """The clause after a request that asks about the model itself, if there is one."""
    parts = [part.strip() for part in re.split(r"[,.;!?]\s+|\s+-\s+", question.strip()) if part.strip()]
    for part in parts[1:]:
        if _LATER_QUESTION.match(part) and ABOUT_MODEL.search(normalise(part)):
            return part
    return None


def _focus_question(question: str, request: bool = False, complaint: bool = False) -> str:
    """What the focus answer should answer: for a complaint, the sentence that complains ("Why does the result look
    plasticky?"), not the story before it; for a `request` followed by a question about the model or a practical
    question, that question."""
    if complaint:
        return next((part for part in re.split(r"(?<=[.!?])\s+", question) if COMPLAINT.search(part)), question)
    if _ASKS_A_SCORE.search(question):  # the notes on what PSNR says about one photo answer it
        return "PSNR and SSIM of your own photo need a sharp reference: what PSNR to expect, reported figures"
    if _NEEDS_A_GPU.search(question) or (_RUNS_WITHOUT_A_GPU.search(question)
                                         and re.search(r"gpu|cuda|graphics|cpu", question, re.IGNORECASE)):
        return "does it need a GPU, or can cnaps run it on a CPU"  # it also runs on a CPU
    if _GPU_IS_FASTER.search(question):
        return "does cnaps use a CUDA GPU when it finds one, and is it faster"
    kind = KIND_OF_NETWORK.search(question)
    if kind and not re.search(r"transformer|attention|vit\b", kind.group(0), re.IGNORECASE):
        # "is it diffusion-based?", "my photo is blurry. Is it a GAN?" (a transformer question keeps its words: the
        # FAM is an attention module, and the answer says how it differs from self-attention)
        return "what kind of network is MIMO-UNet: a convolutional network, a GAN, a diffusion model or a transformer"
    later = _model_question_after_request(question) if request else None
    if later:
        return later
    # "upscale my photo, how long will it take?": the practical clause is the question; the request is the task's
    parts = re.split(r"(?<=[.!?,;])\s+", question)
    practical = next((part for part in parts if PRACTICAL.search(part)), None) if request and len(parts) > 1 else None
    if practical:
        return practical
    return question


# Tools people compare with, however they write them ("better than photoshop's shake reduction?").
_TOOL_NAME = re.compile(r"(?:the\s+|plain\s+|just\s+(?:using\s+)?|using\s+)?(?:photoshop|lightroom|topaz|gigapixel|"
                        r"remini|waifu2x|real-?esrgan|esrgan|gfpgan|codeformer|bicubic|bilinear|lanczos|unsharp|"
                        r"smart\s+sharpen|shake\s+reduction|gimp|snapseed|midjourney|stable\s+diffusion|dall-?e|"
                        r"chatgpt|an?\s+iphone|google\s+photos)\b", re.IGNORECASE)
# The card's own variants are compared in its documents ("Is MIMO-UNet+ better than MIMO-UNet?").
_OWN_VARIANT = re.compile(r"(?:the\s+)?(?:mimo[- ]?unet\S*|plus\b|base\b|plain\s+(?:one|model|version|variant)\b|"
                          r"realblur|gopro)", re.IGNORECASE)


def _compares_models(question: str) -> bool:
    """Whether the question compares the model with another model or tool it names ("better than Restormer", "vs
    NAFNet", "better than photoshop"), not with one of the recommended model's own variants."""
    return any((_MODEL_NAME.match(question, match.end()) or _TOOL_NAME.match(question, match.end()))
               and not _OWN_VARIANT.match(question, match.end()) for match in _COMPARISON.finditer(question))


def _named_papers(ctx: AnswerContext) -> list:
    """The card's related papers the question (or, when it points back, the turn before) names."""
    if ctx.reading is not None:
        return ctx.reading.papers
    return named_papers(ctx.card, ctx.question, ctx.history)


# The recommended model named in a question: "MIMO-UNet", "this model", "the recommended model".
_MENTIONS_MODEL = re.compile(r"\bmimo|\b(?:this|the|your|recommended)\s+(?:recommended\s+)?(?:model|network)\b",
                             re.IGNORECASE)
# "Can I use CoF to deblur?", "could I run it instead?": a request to run a related paper's method.
_RUN_IT = re.compile(r"\b(?:can|could|should|may|shall)\s+(?:i|we|you|cnaps)\s+(?:use|run|try|apply|switch\s+to)\b|"
                     r"\b(?:use|run|try|apply)\s+(?:it|them|this|that|\S+)\s+(?:to|for)\s+(?:de-?blur|restor|enlarg|"
                     r"upscal|sharpen|fix|super)|\binstead\b", re.IGNORECASE)
# "Is the brain paper relevant to upscaling?", "why is it on the card?", "does FeatSharp upscale images?".
_RELEVANCE = re.compile(r"\b(?:relevan\w*|related|relates?|relation\w*|connect\w*|useful|"
                        r"why\s+(?:is|was|are)\s+.{1,60}?\s+(?:on|in)\s+(?:the|this)\s+card|listed|"
                        r"what\s+does\s+it\s+have\s+to\s+do|have\s+to\s+do\s+with|"
                        r"does\s+(?:it|\S+)\s+(?:also\s+)?(?:de-?blur|upscale|enlarge|restore|sharpen|super-?resolve|help|"
                        r"work\s+on\s+(?:photos|images)))\b", re.IGNORECASE)
# "Summarize the LLaVAR paper", "what is LLaVAR about?", "give me an overview of CoF".
_SUMMARIZE = re.compile(r"\b(?:summar\w*|overview|tl;?dr|gist|what\s+is\s+\S+(?:\s+\S+)?\s+about|"
                        r"what\s+(?:is|are)\s+(?:it|they|this\s+paper)\s+about)\b", re.IGNORECASE)
_WHO_WROTE = re.compile(r"\bwho\s+(?:wrote|writes|made|created|authored|developed|published|proposed)\b|"
                        r"\bauthors?\b|\bwritten\s+by\b", re.IGNORECASE)
# "Is there code?", "where is the GitHub repo?", "is the code available?" (not "which licence is the code under?").
_WHERE_CODE = re.compile(r"\b(?:is|are)\s+there\s+(?:any\s+)?(?:code|an?\s+implementation|a\s+repo\w*)|"
                         r"\bwhere\s+(?:is|are|can\s+i\s+(?:find|get))\s+(?:the\s+)?(?:code|github|repo\w*|implementation)|"
                         r"\b(?:is|was)\s+(?:the\s+)?code\s+(?:available|released|public|open)|"
                         r"\blink\s+to\s+(?:the\s+)?(?:code|github|repo\w*)|\bgithub\s+(?:repo\w*|link|page)\b",
                         re.IGNORECASE)
_CODE = re.compile(r"\b(?:code|github|repo|repository|implementation|open[- ]source)\b", re.IGNORECASE)


def _what_the_card_gives(ctx: AnswerContext, papers: list, number: dict[str, int]) -> str | None:
    """Who wrote a related paper, or where its code is, answered from what the card gives for it (title, summary,
    links); None for other questions."""
    sentences = []
    for paper in papers:
        name = paper_name(paper, ctx.question)
        paper_ref = f" [{number[paper.paper]}]" if paper.paper in number else ""
        if _WHO_WROTE.search(ctx.question):
            sentences.append(f"The card gives {name}'s title, summary and paper link{paper_ref}, but not its authors.")
        elif _CODE.search(ctx.question):
            if paper.github and paper.github in number:
                sentences.append(f"The card links code for {name}: its GitHub repository [{number[paper.github]}]; "
                                 "cnaps has not indexed that repository's contents.")
            else:
                sentences.append(f"The card links no code for {name}, only its paper{paper_ref}.")
        if _RELEVANCE.search(ctx.question):
            verdict = paper_relevance(paper.title, paper.summary or "", 0.0).split(" In the authors' summary:")[0]
            sentences.append(f"{name} is on the card as a related paper{paper_ref}. {verdict}")
        elif _SUMMARIZE.search(ctx.question) and paper.summary:
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
    detail = _cue_phrase(ctx.classification.cues, ctx.question)
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
