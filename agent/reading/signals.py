"""Readings of a question that are not a task or an intent of their own: a complaint about a result, the
language it is written in."""

from __future__ import annotations

import re

# Models and tools the card does not document, that people compare with (one list: the compare-other intent's rule
# and the comparison reading both use it).
OTHER_TOOLS = (r"restormer|nafnet|swinir|real-?esrgan|esrgan|hinet|mprnet|deblurgan\S*|stripformer|uformer|"
               r"fftformer|topaz|gigapixel|photoshop|lightroom|gimp|snapseed|remini|gfpgan|codeformer|waifu2x|"
               r"midjourney|stable\s+diffusion|dall-?e|chatgpt|google\s+photos|unsharp(?:\s+mask)?|bicubic|bilinear|"
               r"lanczos|shake\s+reduction|smart\s+sharpen|an?\s+iphone")
_TOOL = re.compile(r"\b(?:" + OTHER_TOOLS + r")\b", re.IGNORECASE)


def tool_keys(text: str) -> set[str]:
    """The models and tools of OTHER_TOOLS that `text` names, each by a key that its spellings share ("Real-ESRGAN",
    "realesrgan"; "unsharp mask", "unsharp")."""
    return {"".join(ch for ch in match.group(0).lower() if ch.isalnum())[:7] for match in _TOOL.finditer(text)}

# "Why does the result look plasticky?", "It made my photo worse. Why?": a complaint about a result.
_STILL = re.compile(r"\bstill\s+(?:\w+\s+)?(?:looks?\s+)?(?:blurry|blurred|soft|fuzzy)\b", re.IGNORECASE)
_WHY = re.compile(r"\bwhy\b|\bwhat\s+(?:did\s+i\s+do|went|is|'?s)\s+wrong\b", re.IGNORECASE)
COMPLAINT = re.compile(r"\b(?:worse|plastic\w*|ringing|halos?|artifacts?|weird|fake|over-?sharpen\w*|"
                       r"over-?smooth\w*|smear\w*|smudg\w*|wrong|ugly|disappoint\w*|waxy|painted)\b|" + _STILL.pattern,
                       re.IGNORECASE)
_A_RESULT = re.compile(r"\b(?:result|results|output|restored|restoration|enlarged|upscaled|deblurred|sharpened|"
                       r"processed|it\s+made|made\s+(?:it|my)|came\s+out|looks?)\b", re.IGNORECASE)


def is_complaint(question: str) -> bool:
    """A "why" about a result that looks wrong ("why does the result look plasticky?", "the signs are still blurry,
    what did I do wrong?"), not "why is my photo blurry?"."""
    still = _STILL.search(question)
    return bool(COMPLAINT.search(question) and _WHY.search(question) and (still or _A_RESULT.search(question)))


# Function words of the other languages the classifier reads (French, Spanish, Italian, Portuguese, German).
_FOREIGN_WORDS = frozenset("""
le la les des est une pour avec mon ma mes pas comment pourquoi je peux vous cette
el los las una para con mi cómo qué por puedo esta foto
il gli per mio come che della questa posso
os uma meu minha não posso esta isso
der die das und ist ein eine mit mein meine wie nicht ich kann dieses bild
""".split())
_ENGLISH_WORDS = frozenset("the a an is are and my how to of it this can you what why does do with for".split())


def asked_in_another_language(question: str) -> bool:
    """Whether the question is mostly in a language other than English (CJK script, or more function words of
    French, Spanish, Italian, Portuguese or German than of English)."""
    if re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", question):
        return True
    words = re.findall(r"[^\W\d_]+", question.lower())
    foreign = sum(word in _FOREIGN_WORDS for word in words)
    return foreign >= 2 and foreign > sum(word in _ENGLISH_WORDS for word in words)


# "in three sentences", "in 2 sentences": how long the user wants a summary.
_SENTENCES = re.compile(r"\bin\s+(one|two|three|four|five|\d)\s+(?:short\s+)?sentences?\b")
_COUNTS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def sentences_asked(text: str) -> int | None:
    """How many sentences a normalised question asks for ("summarise it in three sentences" -> 3), at most 5."""
    match = _SENTENCES.search(text)
    if not match:
        return None
    return min(5, max(1, _COUNTS.get(match.group(1)) or int(match.group(1))))


# "hi", "thanks!", "ok": a greeting or thanks, not a question; declined without calling it off-topic.
_GREETING = re.compile(r"^\W*(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|thanks?|thank\s+you|thx|cheers|"
                       r"ok(?:ay)?|bye|goodbye)\b[\w\s!,.']{0,24}$")


def is_greeting(text: str) -> bool:
    """Whether a normalised turn is only a greeting or thanks."""
    return bool(_GREETING.match(text))


_THANKS = re.compile(r"^\W*(?:thanks?|thank\s+you|thx|cheers|ok(?:ay)?|bye|goodbye)\b")


def is_thanks(text: str) -> bool:
    """Whether a normalised greeting thanks or takes leave ("thanks!", "ok, bye") rather than says hello."""
    return is_greeting(text) and bool(_THANKS.match(text))
