"""What task a question asks for: deblurring, super-resolution, both, or other; the scale; content cues; needs.

Rules decide first. Each need (deblur, upscale, denoise, ...) has phrases that signal it; a phrase is ignored when a
negation governs it ("without introducing blur", "I don't want to upscale"), and blur is not a deblurring need when
the question says the blur came from enlarging ("it got blurry when I enlarged it": that asks for better upscaling).
Blur blamed on haze, rain or noise, or on the image being tiny, is not a deblurring need either.
A blurred input that is also enlarged is "both". Needs that are neither deblurring nor upscaling (noise, rain,
haze, ...) make the label "other" unless blur or upscaling is asked for too; they stay in `needs`.

Questions the rules leave open (no need named, or only vague words such as "crisp") go to embedding similarity
with the labelled prototypes in agent/data/task_examples.jsonl, when `knowledge.embed` is importable; prototype
embeddings are cached under `Settings.home`. Without the embedder the rules' weak cues decide, at low confidence.
This module never imports torch or sentence-transformers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from agent.errors import UsageError
from agent.schemas import Classification, TaskLabel
from agent.reading.needs import (_BLUR_AS_EDIT, _BLUR_FROM_OTHER, _BLUR_FROM_RESIZE_AFTER, _BLUR_FROM_RESIZE_BEFORE,
                                 _BLUR_FROM_SMALLNESS, _BLUR_WORD, _A_PICTURE, _NOT_A_PICTURE, _COMPILED, _CUES_COMPILED, _DIRTY_LENS,
                                 _MIN_SIMILARITY, _OWN_IMAGE, _PICTURE_CONTEXT, _REQUEST, _RESIZE_BLUR,
                                 _TECHNICAL_NEED_WORD, ABOUT_MODEL, PIXEL_SIZE, EVERYDAY_NEEDS, EXAMPLES, MAX_CHARS,
                                 _clause, _is_negated, normalise)
from agent.reading.intents import asks_about_output_files, asks_how_to_shoot, asks_if_worth_trying
from agent.reading.scale import _UNDO, _order_note, read_scale

# --- needs --------------------------------------------------------------------------------------------------------


@dataclass
class _Reading:
    strong: dict[str, list[str]]
    weak: dict[str, list[str]]
    ignored: list[str]
    refused: set[str] = field(default_factory=set)  # needs the question negates ("without upscaling")


# Why a blur word was ignored when it named no picture's blur ("blurry vision"): the reading and the intents ask it.
NOT_A_PICTURE = "not a picture's blur"


def only_no_pictures_blur(notes: list[str], text: str) -> bool:
    """Whether a blur word of `text` was ignored as no picture's (its `notes`: the reading's ignored words or a
    classification's evidence) and `text` names no picture: "blurry vision, should I see a doctor?"."""
    return any(note.endswith(f"({NOT_A_PICTURE})") for note in notes) and not _A_PICTURE.search(text)


def _blur_is_a_need(text: str, match: re.Match) -> str | None:
    """Why a blur word is not a deblurring need (avoided, caused by enlarging, an edit), or None when it is one."""
    if _is_negated(text, match.start()):
        return "avoided"
    sentence_start = max(text.rfind(mark, 0, match.start()) for mark in ".;!?") + 1
    before = text[sentence_start:match.start()]
    sentence_end = min([i for i in (text.find(m, match.end()) for m in ".;!?") if i >= 0] or [len(text)])
    after = text[match.start():sentence_end]
    if _BLUR_FROM_RESIZE_BEFORE.search(before) or _BLUR_FROM_RESIZE_AFTER.search(after):
        return "caused by enlarging"
    if _RESIZE_BLUR.search(text[max(0, match.start() - 20):match.end()]):
        return "caused by enlarging"
    if _BLUR_FROM_OTHER.search(after):
        return "caused by another degradation"
    if _BLUR_FROM_SMALLNESS.search(after):
        return "caused by low resolution"
    sentence = text[sentence_start:sentence_end]
    if match.group(0).startswith("smudg") and _DIRTY_LENS.search(sentence):
        return "dirt on the lens"
    if _BLUR_AS_EDIT.match(text, match.start()):
        return "an edit to apply"
    if _NOT_A_PICTURE.search(sentence) and not _A_PICTURE.search(sentence):
        return NOT_A_PICTURE
    return None


_KEEP_SIZE = re.compile(r"\b(?:at|keep|keeping|kept)\s+(?:the\s+|its\s+|this\s+|my\s+)?(?:same|current|own)?\s*"
                        r"(?:size|dimensions)\b(?!\s+(?:of|as|high|large|big)\b)|\bat\s+this\s+size\b")
_WAS_SHRUNK = re.compile(r"\b(?:(?:was|were|got|been)\s+(?:\w+\s+)?|(?:i|we|they|someone|you)\s+(?:already\s+|had\s+|have\s+)?)"
                         r"(?:down-?scaled|down-?sized|down-?sampled|shrunk|shrank|reduced)\b")


def _read(text: str) -> _Reading:
    reading = _Reading(strong={}, weak={}, ignored=[])
    for match in _BLUR_WORD.finditer(text):
        why = _blur_is_a_need(text, match)
        if why:
            reading.ignored.append(f"'{match.group(0)}' ({why})")
            if why == "an edit to apply":
                reading.strong.setdefault("edit", []).append(match.group(0))
            elif why == "caused by low resolution":
                reading.strong.setdefault("upscale", []).append(f"{match.group(0)} (low resolution)")
        else:
            reading.strong.setdefault("deblur", []).append(match.group(0))
    for need, (strong, weak) in _COMPILED.items():
        for kind, patterns in (("strong", strong), ("weak", weak)):
            for pattern in patterns:
                for match in pattern.finditer(text):
                    # "Why didn't it get bigger?" expects an enlargement; it does not refuse one.
                    expected = need == "upscale" and re.search(r"\bwhy\b", _clause(text, match.start()))
                    if _is_negated(text, match.start()) and not expected:
                        reading.ignored.append(f"'{match.group(0)}' (negated)")
                        reading.refused.add(need)
                        continue
                    getattr(reading, kind).setdefault(need, []).append(match.group(0))
    # "It was downscaled by 4x, can you undo that?": a shrink that already happened is history, not a need; undoing
    # it is an enlargement.
    if "downscale" in reading.strong and _WAS_SHRUNK.search(text):
        del reading.strong["downscale"]
        if _UNDO.search(text):
            reading.ignored.append("'downscale' (already done: undo it)")
            reading.strong.setdefault("upscale", []).append("undo a downscale")
        else:
            reading.ignored.append("'downscale' (already done)")
    if _KEEP_SIZE.search(text):  # "restore my photo at the same size", "just deblur it at this size"
        reading.refused.add("upscale")
    if not (_PICTURE_CONTEXT.search(text) or "deblur" in reading.strong or "upscale" in reading.strong):
        for need in EVERYDAY_NEEDS:
            for kind in (reading.strong, reading.weak):
                words = kind.get(need, [])
                if words and not any(_TECHNICAL_NEED_WORD.match(word) for word in words):
                    reading.ignored += [f"'{word}' (no picture in the question)" for word in words]
                    del kind[need]
    # Rain streaks are rain, not motion; "streak" alone stays a motion cue.
    if "derain" in reading.strong and "deblur" in reading.strong:
        reading.strong["deblur"] = [e for e in reading.strong["deblur"] if not e.startswith("streak")]
        if not reading.strong["deblur"]:
            del reading.strong["deblur"]
    return reading


# --- embedding fallback --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _examples() -> tuple[tuple[str, str], ...]:
    rows = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tuple((row["text"], row["label"]) for row in rows)


@lru_cache(maxsize=1)
def _embedder():
    try:
        from knowledge.embed import shared_embedder
    except ImportError:
        return None
    return shared_embedder()


def _nearest_label(question: str) -> tuple[str, float, str] | None:
    """(label, confidence, evidence) from the nearest prototypes; None without an embedder or a close prototype."""
    from agent.reading.router import nearest, vote_confidence
    from agent.settings import get_settings

    embedder = _embedder()
    if embedder is None:
        return None
    found = nearest(question, _examples(), "task_examples", get_settings().home, _MIN_SIMILARITY, model=embedder)
    if found is None:
        return None
    label, share, example, similarity = found
    return label, vote_confidence(share, similarity), f"similar to: '{example}' ({similarity:.2f})"


# --- classify ------------------------------------------------------------------------------------------------------

_NEED_ORDER = ["upscale", "deblur", "downscale", "denoise", "derain", "dehaze", "inpaint", "colorize", "enhance-light",
               "tone", "optics", "deartifact", "recognize", "edit"]


def _ordered(needs: set[str]) -> list[str]:
    return [need for need in _NEED_ORDER if need in needs] + sorted(needs - set(_NEED_ORDER))


_NEEDS_OF = {"both": frozenset({"upscale", "deblur"}), "super-resolution": frozenset({"upscale"}),
             "deblurring": frozenset({"deblur"}), "other": frozenset()}


def _label_for(needs: set[str]) -> TaskLabel:
    if {"upscale", "deblur"} <= needs:
        return TaskLabel.both
    if "upscale" in needs:
        return TaskLabel.super_resolution
    if "deblur" in needs:
        return TaskLabel.deblurring
    return TaskLabel.other


def classify(question: str) -> Classification:
    """Classify a question: label, scale, cues, needs, confidence and the phrases that decided it."""
    text = normalise(question)[:MAX_CHARS]
    if not text:
        raise UsageError("the question is empty: pass the question text to classify")
    scale, scale_evidence, scale_note = read_scale(text)
    reading = _read(text)
    # Two kinds of question are no restoration unless they also ask for one ("... can you fix this one?", "deblur it,
    # but keep the original"): how to shoot a sharp photo ("how do I avoid blurry photos?"), whose blur words are no
    # deblurring need, and where the restored image goes ("will the enlarged file replace my original?"), whose
    # words of a restoration name its output. No neighbour guesses a task for either.
    unasked = not scale and not _REQUEST.search(text)
    shooting, files = unasked and asks_how_to_shoot(text), unasked and asks_about_output_files(text)
    for applies, dropped, why in ((shooting, {"deblur"}, "avoided when shooting"),
                                  (files, None, "said of the output file")):
        for kind in (reading.strong, reading.weak) if applies else ():
            for need in [need for need in kind if dropped is None or need in dropped]:
                reading.ignored += [f"'{word}' ({why})" for word in kind.pop(need)]
    no_restoration = shooting or files
    evidence: list[str] = []
    needs = set(reading.strong)
    if scale:
        needs.add("upscale")
        evidence.append(f"scale: {scale_evidence}")
    for need in _NEED_ORDER:
        if need in reading.strong:
            evidence.append(f"{need}: " + ", ".join(dict.fromkeys(reading.strong[need])))
    evidence += [f"ignored {item}" for item in dict.fromkeys(reading.ignored)]

    # A weak restoration word still counts beside needs that are not restorations ("sharpen my faded photo"), and
    # a request to sharpen beside an enlargement makes it both ("make it HD and sharper").
    restoring = {"upscale", "deblur"} & needs
    if needs and not restoring:
        for need in ("deblur", "upscale"):
            if need in reading.weak and need not in reading.refused:
                needs.add(need)
                evidence.append(f"{need} (weak, beside the others): " + ", ".join(dict.fromkeys(reading.weak[need])))
    elif needs == {"upscale"} and "deblur" not in reading.refused and any(
            re.match(r"(?:sharpen|sharper|crisp|clearer|make\s)", cue) for cue in reading.weak.get("deblur", [])):
        needs.add("deblur")
        evidence.append("deblur: " + ", ".join(dict.fromkeys(reading.weak["deblur"])) + " (asked beside the enlargement)")
    if scale_note is None and {"deblur", "upscale"} <= needs:
        scale_note = _order_note(text)

    about: list[str] = []
    if needs:
        label = _label_for(needs)
        restoration = {"upscale", "deblur"} & needs
        confidence = 0.9 if restoration or len(needs) == 1 else 0.8
    else:
        about = ABOUT_MODEL.findall(text)  # "will it work?"
        if not reading.weak:
            about += PIXEL_SIZE.findall(text)  # "can it take an 8000x6000 image?", not "a 320x240 thumbnail"
        if asks_if_worth_trying(text):
            about.append("worth trying")
        own = _OWN_IMAGE.search(text)
        requested = _REQUEST.search(text) if own else None  # the request verb ("fix"), said of the user's picture
        if (reading.weak or requested) and own:
            about = []  # "can MIMO-UNet make my text crisper?", "restore a batch of my photos" ask for a restoration
        if requested and not reading.weak:
            # "fix my photo, does it need a gpu?": a request with no word for enlarging is a deblurring request, not
            # whatever the nearest example guesses.
            reading.weak["deblur"] = [requested.group(0)]
        # "blurry vision, should I see a doctor?": its only word for a task was no picture's; no neighbour guesses one
        not_a_picture = only_no_pictures_blur(reading.ignored, text)
        nearest = None if about or requested or not_a_picture or no_restoration else _nearest_label(text)
        weak = {need for need in reading.weak}
        if about:
            # No task is asked for, and the question names a part or property of the model: it asks about the model.
            label, confidence = TaskLabel.other, 0.8
            evidence.append("about the model: " + ", ".join(dict.fromkeys(about)))
        elif nearest is not None:
            label, confidence, why = TaskLabel(nearest[0]), nearest[1], nearest[2]
            evidence.append(why)
            kept = _NEEDS_OF[label.value] & weak
            if kept and kept != _NEEDS_OF[label.value]:
                # "make it 2x sharper": the neighbour may guess both, but no word asks for the other need
                label = _label_for(kept)
                evidence.append(f"kept only what the question has a word for: {', '.join(_ordered(kept))}")
        elif weak:
            label, confidence = _label_for(weak), 0.5
        else:
            label, confidence = TaskLabel.other, 0.3
        for need in _NEED_ORDER:
            if need in reading.weak:
                evidence.append(f"weak {need}: " + ", ".join(dict.fromkeys(reading.weak[need])))
        # An open question labelled "other" names no need: it asks about the model, not for a task.
        needs = set(_NEEDS_OF[label.value])
        if needs & reading.refused:
            # A neighbour's label never brings back what the question refuses ("without enlarging it").
            needs -= reading.refused
            label = _label_for(needs)
    cues = [cue for cue, pattern in _CUES_COMPILED.items() if pattern.search(text)]
    return Classification(label=label, scale=scale, cues=cues, confidence=confidence, needs=_ordered(needs),
                          evidence=evidence, refused=_ordered(reading.refused - needs),
                          about_model=not needs and bool(about), scale_note=scale_note)


# --- follow-ups ----------------------------------------------------------------------------------------------------

# A turn that leans on the one before: "what about 3x instead?", "and for faces?", "can it remove noise as well?".
_FOLLOW_UP = re.compile(r"^(?:and|but|also|then|now|what\s+about|how\s+about|what\s+if|same)\b|"
                        r"\b(?:instead|as\s+well|too|the\s+same)\W*$")
# A turn with nothing of its own: it asks to go on about the turn before.
_CONTENTLESS = re.compile(r"^(?:why(?:\s+not)?|how|really|so|and|ok(?:ay)?|go\s+on|more|tell\s+me\s+more|"
                          r"what\s+do\s+you\s+mean|"
                          r"(?:can\s+you\s+|please\s+)?(?:explain|elaborate)(?:\s+(?:more|further|that|it|this))?"
                          r"(?:\s+please)?)\W*$")


# "what about just deblurring it?": only that need, the others dropped; not "just remove the noise too".
_ONLY = re.compile(r"\b(?:just|only|simply|merely)\s+(?:\w+\s+)?(?:de-?blur|sharpen|unblur|enlarg|upscal|denois|remov|"
                   r"fix|restor|brighten|clean)\w*")
_TOO = re.compile(r"\b(?:too|also|as\s+well|in\s+addition)\b")


# "wait, why does it need interpolation?": a why-question about what the answer before said.
_WHY_ABOUT_THAT = re.compile(r"^(?:(?:wait|hmm+|ok(?:ay)?|so|and|but|sorry)[,.!\s]+)*why\b")


def is_follow_up_text(text: str) -> bool:
    """Whether a normalised turn says it leans on the one before ("what about 3x?", "why?", "tell me more")."""
    return bool(_CONTENTLESS.match(text) or _FOLLOW_UP.search(text) or _WHY_ABOUT_THAT.match(text))


def _is_follow_up(text: str, own: Classification, reading: _Reading) -> bool:
    """Whether a turn leans on the one before: it says so ("what about ...", "... instead") and changes the task
    (a scale, a need, a refusal) or is only a few words; it has no content of its own ("why?"); or it asks why,
    naming no task of its own ("wait, why does it need interpolation?")."""
    if _CONTENTLESS.match(text):
        return True
    if (_WHY_ABOUT_THAT.match(text) and not reading.strong and not own.scale and not own.about_model
            and not only_no_pictures_blur(own.evidence, text)):
        return True  # not "why are my eyes blurry?", which asks about no picture
    if own.about_model or not _FOLLOW_UP.search(text):
        return False  # "and how big is it?" asks about the model; a full question stands on its own
    return bool(own.scale or reading.strong or reading.refused or len(text.split()) <= 4)


def classify_turns(questions: list[str]) -> Classification:
    """Classify the last of a chat's questions, reading an elliptical follow-up against the turns before it.

    "What about 3x instead?" after "I upscaled a blurry photo by 4x" keeps the deblurring need and takes the new
    scale; needs the follow-up refuses ("what about without enlarging?") are dropped. Each earlier turn is read the
    same way, so a chain of follow-ups accumulates.
    """
    current: Classification | None = None
    previous = ""
    # The last turn that asked for a task: a question about the model in between ("and how big is it?") does not
    # end it, so "and without enlarging it?" afterwards still refers to the photo.
    task: tuple[Classification, str] | None = None
    for question in questions:
        own = classify(question)
        text = normalise(question)[:MAX_CHARS]
        reading = _read(text)
        if current is None or not _is_follow_up(text, own, reading):
            if (own.needs and "upscale" in own.needs and not own.scale and not own.scale_note and task is not None
                    and task[0].scale):  # not over a scale the turn states itself ("1.5x", "720p to 1080p")
                # "can it make my thumbnail sharper?" after "enlarge my photo 3x": the enlargement is still 3x
                own = own.model_copy(update={
                    "scale": task[0].scale, "scale_note": task[0].scale_note,
                    "evidence": own.evidence + [f"scale {task[0].scale}x from the earlier turn"]})
            current, previous = own, question
            if own.needs:
                task = (own, question)
            continue
        if not current.needs and task is not None and (reading.refused or own.needs or own.scale):
            current, previous = task  # it changes the task, not the question about the model ("why?" stays)
        needs = (set(current.needs) - reading.refused) | set(own.needs)  # "and why?" adds nothing: the task stays
        if _WHY_ABOUT_THAT.match(text) and not reading.strong:
            needs = set(current.needs)  # "wait, why is it not bigger?" asks about the task; it does not change it
        if own.needs and _ONLY.search(text) and not _TOO.search(text):
            needs = set(own.needs)  # "what about just deblurring it?": only that, the enlargement is dropped
        scale = own.scale or (current.scale if "upscale" in needs else None)
        scale_note = own.scale_note if own.scale or own.scale_note else (
            current.scale_note if "upscale" in needs else None)
        current = Classification(
            label=_label_for(needs), scale=scale, cues=list(dict.fromkeys(current.cues + own.cues)),
            confidence=max(own.confidence, min(current.confidence, 0.8)), needs=_ordered(needs),
            evidence=own.evidence + [f"follow-up of: '{' '.join(previous.split())[:80]}'"],
            refused=_ordered((set(current.refused) | reading.refused) - needs), scale_note=scale_note)
        if needs:
            task = (current, previous)
    if current is None:
        raise UsageError("the question is empty: pass the question text to classify")
    return current

