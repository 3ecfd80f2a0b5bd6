"""A question read once, into a typed `Reading`: the task, the scale, the intents, the papers it names, whether it
is about the user's own image, its language, and what it leans on. Every interface (ask, chat, web, reports, the
LLM loop) answers from the Reading.

`read(question, card, history)` is the one entry point; `agent.reading.intents` holds the intent registry.
"""

from __future__ import annotations

from agent.schemas import Classification, TaskLabel  # first: it imports agent.reading.model
from agent.cards import Card
from agent.reading.asks import comparative, compares_models, read_wants
from agent.reading.intents import (DOMAIN, EVERYDAY_DOMAIN, REGISTRY, IntentMatch, artifact_kinds, ordered,
                                   routed_examples, rule_matches)
from agent.reading.model import Reading
from agent.reading.needs import _BLUR_WORD, MY_IMAGE
from agent.reading.papers import named_papers, papers_named_in
from agent.reading.signals import asked_in_another_language, is_complaint, is_greeting, sentences_asked


def about_a_related_paper(card: Card, question: str, classification: Classification) -> Classification:
    """A question that names one of the card's related papers and no picture of the user's ("does FeatSharp upscale
    images?", "is the brain paper relevant to upscaling?") asks about that paper: its words for deblurring or
    enlarging describe the paper, not a task to run."""
    from agent.reading.task import classify

    named = papers_named_in(card, question)
    if not classification.needs or not named:
        return classification
    own = classify(question)
    if MY_IMAGE.search(question) and own.needs and not any(item.startswith("similar to:") for item in own.evidence):
        # "Can FeatSharp upscale my photo?" asks for a task in words; "what does X have to do with my photo?" does not
        return classification
    names = ", ".join(paper.title.split(":")[0] for paper in named)
    return classification.model_copy(update={
        "label": TaskLabel.other, "needs": [], "scale": None, "scale_note": None, "refused": [],
        "evidence": [*classification.evidence, f"about a related paper: {names}"]})


def user_turns(history: list[tuple[str, str]]) -> list[str]:
    """The user's own non-empty turns of a chat's (role, text) history, in order."""
    return [text for role, text in history if role == "user" and text.strip()]


def classify_question(card: Card, question: str, history: list[tuple[str, str]]) -> Classification:
    """The task of `question`, a follow-up read against the card's question and the user's earlier turns."""
    from agent.reading.task import classify_turns

    earlier = [card.question] if card.question.strip() and card.question.strip() != question else []
    earlier += user_turns(history)
    # A complaint asked in place of the card's question ("why does my output have halos?") is about a result the
    # user already has, not a follow-up of the card's request: it takes no scale from it.
    turns = [question] if not history and is_complaint(question) else [*earlier, question]
    classification = about_a_related_paper(card, question, classify_turns(turns))
    if not history and any(item.endswith("from the earlier turn") for item in classification.evidence):
        # `ask -q "make it bigger"` replaced the card's question: its scale is not the user's (--scale is, else 1)
        classification = classification.model_copy(update={"scale": None, "scale_note": None, "evidence": [
            item for item in classification.evidence if not item.endswith("from the earlier turn")]})
    return classification


# The router decides only when most of the nearest examples' similarity goes to one intent.
ROUTER_MIN_SHARE = 0.6


def _routed(text: str) -> IntentMatch | None:
    """The intent of the nearest example questions, for a question no phrase decides."""
    from agent.reading.router import nearest, vote_confidence
    from agent.settings import get_settings

    # A near miss votes for no intent: "can it remove the halos?" is close to a complaint and is not one.
    found = nearest(text, routed_examples(), "intent_examples", get_settings().home, decisive=0.9)
    if found is None or not found[0] or found[1] < ROUTER_MIN_SHARE:
        return None  # no close example, a near miss, or neighbours that disagree: the rules' silence stands
    name, share, example, similarity = found
    return IntentMatch(name=name, confidence=vote_confidence(share, similarity), evidence=f"similar to: '{example}' ({similarity:.2f})")


# In a chat, "is that any good?" refers to the turns before it: it is declined only when an off-topic example is
# clearly nearer than any example about images.
CHAT_OFF_TOPIC_MARGIN = 0.1


def _nearer_off_topic(text: str, margin: float = 0.0) -> bool:
    """Whether the nearest off-topic example is closer to `text`, by `margin`, than every example of an intent about
    images."""
    from agent.reading.router import closest_by_label
    from agent.settings import get_settings

    best = closest_by_label(text, routed_examples(), "intent_examples", get_settings().home)
    if not best or "off-topic" not in best:
        return False  # no embedder: the everyday word keeps the question, as the rules alone would
    about_images = [similarity for label, similarity in best.items() if label and REGISTRY[label].domain]
    return best["off-topic"] > max(about_images, default=-1.0) + margin


def detect(text: str, classification: Classification, papers: list, follow_up: bool = False,
           complaint: bool = False, compares: bool = False, in_chat: bool = False) -> list[IntentMatch]:
    """The intents of a normalised question, highest priority first; 'general' when none is read. `compares`: the
    question as typed names another model to compare with ("better than Restormer", by its capitalised name)."""
    if is_greeting(text) and not classification.needs:
        return [IntentMatch(name="off-topic", confidence=0.9, evidence="a greeting or thanks")]
    matches = rule_matches(text)
    if classification.needs:  # "avoid making it blurry when you upscale 2x" asks for an enlargement, not photo tips
        matches = [match for match in matches if match.name != "shooting"]
    if compares and not any(m.name == "compare-other" for m in matches):
        matches.append(IntentMatch(name="compare-other", confidence=0.9, evidence="compares with a named model"))
    if complaint and not any(m.name == "complaint" for m in matches):
        matches.append(IntentMatch(name="complaint", confidence=0.9, evidence="a why about a result that looks wrong"))
    if classification.needs:
        matches.append(IntentMatch(name="restore", confidence=classification.confidence,
                                   evidence="needs: " + ", ".join(classification.needs)))
    if papers:
        matches.append(IntentMatch(name="related-papers", confidence=0.9,
                                   evidence="names " + ", ".join(p.title.split(":")[0] for p in papers)))
    tied = bool(DOMAIN.search(text)) or follow_up or bool(classification.needs) or bool(papers)
    if not tied and not matches and not EVERYDAY_DOMAIN.search(text):
        return [IntentMatch(name="off-topic", confidence=0.9,
                            evidence="no word about images, the card's model or papers, or cnaps")]
    # "The best laptop for gaming?" is not "will it run on my laptop?": only everyday words tie it.
    if not tied and _nearer_off_topic(text, CHAT_OFF_TOPIC_MARGIN if in_chat else 0.0):
        return [IntentMatch(name="off-topic", confidence=0.7,
                            evidence="only everyday words, and nearer the off-topic examples")]
    if not matches:
        routed = _routed(text)
        if routed is not None and REGISTRY[routed.name].domain:
            matches.append(routed)
    return ordered(matches) or [IntentMatch(name="general", confidence=0.5, evidence="no intent read")]


def _wants(question: str, text: str, classification: Classification, papers: list, intents: list[IntentMatch],
           card: Card, compares: bool):
    wants = read_wants(question, text, classification.needs, papers,
                       complaint=any(match.name == "complaint" for match in intents), compares=compares)
    if wants.comparison is None and any(match.name == "compare-other" for match in intents):
        wants.comparison = comparative(text)  # "Is Topaz better?", "MIMO-UNet or NAFNet?": the tool comes first
    if wants.zoo_model and papers_named_in(card, wants.zoo_model):
        wants.zoo_model_paper = True  # "is FeatSharp available?": a related paper, which cnaps cannot run
    return wants


def read(question: str, card: Card, history: list[tuple[str, str]] | None = None,
         classification: Classification | None = None) -> Reading:
    """Read `question` (asked about `card`, after `history`'s (role, text) turns) once; a `classification` made
    elsewhere (a test's, the LLM loop's) is taken as the task instead of reading it again."""
    from agent.reading.needs import MAX_CHARS, normalise
    from agent.reading.task import is_follow_up_text, only_no_pictures_blur

    history = list(history or [])
    text = normalise(question)[:MAX_CHARS]
    classification = classification or classify_question(card, question, history)
    papers = named_papers(card, question, history)
    asked = text
    if only_no_pictures_blur(classification.evidence, text):
        asked = _BLUR_WORD.sub("", text)  # "blurry vision, should I see a doctor?" has no word about images left
    complaint = is_complaint(question if asked == text else asked)
    compares = compares_models(question)
    intents = detect(asked, classification, papers, follow_up=bool(history) and is_follow_up_text(text),
                     complaint=complaint, compares=compares, in_chat=bool(history))
    earlier = user_turns(history)
    earlier_task = None
    if earlier and not classification.needs and any(match.name == "suitability" for match in intents):
        from agent.reading.task import classify_turns

        earlier_task = classify_turns(earlier)  # "should I bother with it?" weighs the photo described before
    from agent.reading.scale import photo_size

    # "can it take an 8000x6000 image?" is answered for that size, and so is "enlarge my 8000x6000 photo 2x" when it
    # or its output is over the pixel limit
    sized = (any(match.name in ("practical", "batch") for match in intents)
             or bool({"deblur", "upscale"} & set(classification.needs)))
    size = photo_size(text) if sized else None
    return Reading(
        question=question, text=text, classification=classification, intents=intents, papers=papers,
        own_image=bool(MY_IMAGE.search(question)),
        language="other" if asked_in_another_language(question) else "en",
        artifacts=artifact_kinds(text) if any(m.name == "complaint" for m in intents) else [],
        sentences=sentences_asked(text), greeting=is_greeting(text),
        wants=_wants(question, text, classification, papers, intents, card, compares), earlier_task=earlier_task,
        photo_size=size)
