"""The open question's own answer: the retrieved sentences that best cover the question's words ("What is the FAM
module?", "Explain AFF and SCM", "How does MIMO-UNet differ from FeatSharp?"), each part of the question answered
once, the recommended model's sources first."""

from __future__ import annotations

import math
import re

from agent.schemas import NOTES_PREFIX, Source
from agent.sentences import LEANS_ON_PREVIOUS, Fact, about_other_variant, split_sentences

# Words that say nothing about what a question asks for ("what is the ... of this model?").
_FILLER = frozenset("""
a an the is are was were be been being do does did done how what whats which who why when where can could would should
will may might must this that these those it its of in on at to for from by with about into as and or but not no
so than then there their they them i me my we our you your he she his her model models network networks net
image images photo photos picture pictures explain tell describe mean means please just also use used uses using
work works working get gets got make makes made variant variants version versions one mimo-unet mimo unet kind
thing things exactly really actually much many some any more most part parts inside role job purpose
function method approach technique mechanism idea concept way type between stand stands called name named
instead need needs enough reach reaches achieve achieves own run runs running able possible have has had having
give gives expect expected handle handles cope base based like question questions ok okay lol kinda sorta pretty
quite very still other others hi hello hey thanks thank test testing
""".split())
# A question word is also answered by these words ("how big" by a parameter count, "fast" by a runtime).
_RELATED_GROUPS: tuple[tuple[str, str], ...] = (
    ("big large size heavy small light lightweight compact param params parameter parameters",
     "parameter million lightweight block"),
    ("fast faster fastest speed slow slower slowest quick quicker runtime latency realtime",
     "runtime second speed faster timed"),
    ("long time timing take takes", "runtime second minute timed measured"),
    ("laptop laptops macbook mac desktop pc computer m1 m2 m3 m4 intel amd", "cpu core"),
    ("gpu gpus hardware", "gpu rtx cuda nvidia"),
    ("gan gans adversarial discriminator generative", "loss l1 frequency"),
    ("transformer transformers self-attention", "attention convolution"),
    ("batch batches bulk", "photo second minute"),
    ("data dataset datasets", "gopro realblur data dataset pairs coco imagenet benchmark"),
    ("train trained training learn learned learnt", "train learn"),
    ("good better best worse accurate accuracy psnr ssim score scores result results perform performance quality "
     "benchmark",
     "psnr ssim result reported benchmark"),
    ("loss losses objective", "loss fourier frequency"),
    ("wrote write written author authors who", "author"),
    ("download downloads available release released", "download offer release repository github"),
    ("code source open implementation", "implementation repository github pytorch"),
    ("optimizer optimiser optimization optimisation", "adam optimise"),
    ("difference differences differ compare compared comparison versus vs", "block parameter million psnr runtime"),
    ("phone phones smartphone mobile handheld", "handheld real shake"),
    ("iphone iphones ios ipad android tablet", "phone app"),  # "is there an iPhone app?" asks about a phone app
    ("hallucinate hallucinates hallucination hallucinating invent invents fabricate", "invent estimate information"),
    ("fine-tune finetune fine-tuning finetuning retrain retraining", "train learning epoch adam schedule"),
    ("plasticky plastic waxy smeary smeared smudged fake worse ringing halo halos artifact artifacts oversharpened wrong",
     "plastic over-smoothed ringing"),
    ("blurry blurred soft fuzzy unsharp", "soft blur"),
    ("maximum max largest biggest limit megapixels pixels", "pixel million limit refuse"),
    ("grayscale greyscale monochrome black-and-white", "grayscale"),
    ("png jpeg jpg tiff tif webp bmp gif heic raw format formats file files", "png jpeg tiff webp format"),
    ("cuda nvidia", "gpu cuda"),
    ("year when published publish conference venue", "iccv 2021 conference"),
    ("ram vram memory", "memory gb"),
    ("upscale upscales upscaling upscaled enlarge enlarges enlarging enlarged", "upsample upsampling upsampler upscale "
     "resolution super-resolution"),
)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ers", "er", "ed", "s")


def _stem(word: str) -> str:
    """A light suffix strip: 'trained', 'training' -> 'train'; 'layers' -> 'lay'; 'standard' stays whole."""
    if word.endswith(("ss", "us", "is")):  # "loss", "plus", "analysis" are not plurals
        return word
    if word.startswith("transformer"):  # a transformer network is not a Fourier transform
        return "transformer"
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[:-len(suffix)]
    return word


_RELATED = {word: tuple(_stem(w) for w in related.split()) for words, related in _RELATED_GROUPS
            for word in words.split()}
_TOKEN = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*\+*")
# "coarse-to-fine" and "coarse to fine" are one idea: a hyphenated token would match only its own spelling
_COARSE_TO_FINE = re.compile(r"\bcoarse-to-fine\b")


def _variant_marks(token: str) -> set[str]:
    """'plus' for "MIMO-UNet+", both marks for "MIMO-UNet++", 'plain' for "MIMO-UNet" itself: a sentence naming
    the variant answers "the Plus"."""
    if token.endswith("++"):
        return {"plus", "plusplus"}
    if token.endswith("+"):
        return {"plus"}
    return {"plain"} if token == "mimo-unet" else set()


# A figure the question quotes ("3.5%p", "32.45 dB", "224px"): a sentence holding it answers that part.
_FIGURE = re.compile(r"(?<![\w.])(\d+\.\d+|\d{2,})(?![\d.]*x\b)")
_QUOTED_FIGURE = re.compile(r"(?<![\w.])(\d+\.\d+|\d{2,}(?=\s*(?:%|db\b|px\b|pixels?\b|mp\b|gb\b|ms\b)))(?![\d.]*x\b)")


def _sentence_stems(sentence: str) -> set[str]:
    stems = {f"#{figure}" for figure in _FIGURE.findall(sentence)}
    # "24 million pixels" counts pixels: its "million" is no answer to "how many parameters?"
    lowered = _COARSE_TO_FINE.sub("coarse to fine", re.sub(r"\bmillion\s+(?=pixels?\b)", "", sentence.lower()))
    for token in _TOKEN.findall(lowered):
        stems |= _variant_marks(token) | {_stem(token.rstrip("+"))}
    return stems


def _question_groups(question: str) -> list[tuple[str, set[str]]]:
    """(stem, set of stems) per content word of the question; a sentence answers a word if it holds any of its set,
    and answers it in the question's own word if it holds the stem itself."""
    groups: dict[str, set[str]] = {}
    question = re.sub(r"\bma(?:ke|kes|de|king)\s+up\b", "invent", question.lower())  # "make up letters"
    question = re.sub(r"\breal[- ]?time\b", "realtime", question)
    question = _COARSE_TO_FINE.sub("coarse to fine", question)
    # "can I run it on my phone?" asks about hardware and apps, not about photos taken with a phone
    question = re.sub(r"\b(?:run\w*|use|install|works?)\s+(?:\w+\s+){0,3}?on\s+(?:my|a|an|the)\s+(?:\w+\s+)?"
                      r"(?:phone|iphone|android|smartphone|mobile)\b", "run as a phone app on a cpu", question)
    # "how was it trained, and for how long?" asks for epochs, not for a runtime
    if re.search(r"\btrain", question):
        question = re.sub(r"\bhow\s+long\b", "how many epochs", question)
    for figure in _QUOTED_FIGURE.findall(question):  # "3.5%p", "224px"; not the 12 of "iPhone 12"
        groups.setdefault(f"#{figure}", {f"#{figure}"})
    tokens = _TOKEN.findall(question)
    # The plain variant is a part of the question only beside another one ("MIMO-UNet and MIMO-UNet+").
    both = "mimo-unet" in tokens and any(token.startswith("mimo-unet+") for token in tokens)
    for token in tokens:
        word = token.rstrip("+")
        for mark in _variant_marks(token):
            if mark != "plain" or both:
                groups.setdefault(mark, {mark})
        if word in _FILLER or len(word) < 2 or word.isdigit() or re.fullmatch(r"\d+(?:\.\d+)?x|x\d+", word):
            continue  # a scale ("4x") says how much, not what about
        if re.fullmatch(r"\d+x\d+", word):  # "12000x9000": a question about image size, or that very size
            groups.setdefault("pixel", {"pixel", "million", "limit", word})
            continue
        groups.setdefault(_stem(word), {_stem(word), *_RELATED.get(word, ())})
    return list(groups.items())


def voiced(sentence: str, source: Source) -> str:
    """A summary's first-person sentence ("We introduce ...") as the authors' words, so that it is not read as
    cnaps speaking."""
    if not re.search(r"\b(?:We|Our|we|our)\b", sentence):  # "To address these limitations, we introduce ..."
        return sentence
    name = source.title.split(":")[0].strip() if ":" in source.title else "this paper"
    return f'The authors of {name} write: "{sentence[:-1]}".'


# The sentence of a paper's summary that says what the paper brings ("We introduce ...").
INTRODUCES = re.compile(r"\b(?:we|this\s+(?:work|paper))\s+(?:introduce|propose|present|break|take|enhance|"
                         r"demonstrate)", re.IGNORECASE)
# A why-question is answered by a sentence that gives a reason: "the reason ... is that", "because", "so that".
_ASKS_WHY = re.compile(r"\bwhy\b|\bwhat\s+for\b|\bwhat(?:'s|\s+is)\s+the\s+(?:point|reason|purpose)\b", re.IGNORECASE)
_GIVES_REASON = re.compile(r"\b(?:because|the\s+reason|so\s+that|which\s+is\s+why|that\s+is\s+why|in\s+order\s+to|"
                           r"makes?\s+(?:it|them)\s+(?:easier|harder|possible))\b", re.IGNORECASE)
_CONNECTIVE = re.compile(r"^(?:However|Thus|Therefore|Hence|Moreover|Furthermore|Instead|But|Yet|Also),?\s+")
# A question of several parts: "X and Y", "X? Y?", "X, Y and Z", "X vs Y", "how does X differ from Y".
_SEVERAL_PARTS = re.compile(r"\b(?:and|vs\.?|versus|between|as\s+well\s+as|also|differ\w*|compar\w*)\b|&|\?.*\?|"
                            r"(?:^|\s)\(?\d[).]\s",  # a numbered list: "1) what is SCM 2) what is FAM"
                            re.IGNORECASE)


def focus_facts(passages: list[Source], question: str, networks: tuple[str, ...] = (), limit: int = 3,
                min_cover: float = 0.5, preferred: frozenset[str] = frozenset(),
                datasets: tuple[str, ...] = ()) -> list[Fact]:
    """The sentences of the retrieved passages that best answer the question itself, at most `limit`.

    Each content word of the question counts by its rarity among the candidate sentences; a sentence must answer
    at least `min_cover` of that weight. When a sentence from the `preferred` urls (the recommended model's paper,
    code and cnaps's notes, and any related paper the question names) comes within a fifth of that, the other
    related papers' sentences are not used. A sentence with figures (size, speed, scores) about a variant the card
    does not recommend is skipped unless the question names that variant; one naming the recommended weights'
    training data (`datasets`) ranks higher. After the best sentence, further sentences are added only for the
    parts of the question still unanswered ("... and how many parameters?", "AFF and SCM").
    """
    own_words = _question_groups(question)
    if not own_words:
        return []
    groups = [group for _, group in own_words]
    asks_plus = any("plus" in group for group in groups)
    candidates: list[tuple[str, Source, set[str]]] = []
    for source in passages:
        sentences = split_sentences(source.text)
        # A related paper's short name ("FeatSharp: ...") names each of its summary's sentences.
        short_name = source.title.split(":")[0] if ":" in source.title else ""
        named = _sentence_stems(short_name) if len(short_name.split()) == 1 else set()
        for i, sentence in enumerate(sentences):
            if LEANS_ON_PREVIOUS.match(sentence) and i > 0:
                sentence = f"{sentences[i - 1]} {sentence}"
            if _CONNECTIVE.match(sentence):
                # Quoted without what it answers: "However, manual selection..." reads as "Manual selection..."
                rest = _CONNECTIVE.sub("", sentence, count=1)
                sentence = rest[:1].upper() + rest[1:]
            candidates.append((sentence, source, _sentence_stems(sentence) | named))
    if not candidates:
        return []
    count = len(candidates)
    found = [sum(1 for *_, stems in candidates if stems & group) for group in groups]
    # A word no sentence holds ("MacBook", "M1") cannot tell sentences apart; it counts at half the weight it would
    # have, so that what the documents can answer ("how long") still gets an answer, and a question mostly about
    # what they do not hold gets none.
    weights = [math.log(1 + count / (1 + n)) * (1.0 if n else 0.5) for n in found]
    total = sum(weights)
    data = set(datasets)
    asks_why = bool(_ASKS_WHY.search(question))
    scored = []
    for sentence, source, stems in candidates:
        covers = frozenset(i for i, group in enumerate(groups) if stems & group)
        if not covers:
            continue
        if (not asks_plus and re.search(r"\d", re.sub(r"\b(?:19|20)\d\d\b", "", sentence))  # figures, not a year
                and about_other_variant(sentence, networks)
                and not source.url.startswith(NOTES_PREFIX)):
            continue  # another variant's figures (size, speed, scores) are not the recommended model's; cnaps's
            # own measurements name the network they ran, which may stand in for the recommended one
        cover = sum(weights[i] for i in covers) / total
        hits = sum(len(stems & group) for group in groups)  # "6.8 million parameters" beats "a common size"
        exact = sum(1 for word, _ in own_words if word in stems)  # "is it a GAN?": "not a GAN" beats "L1 loss"
        rank = (cover + (0.1 if stems & data else 0.0) + (0.05 if INTRODUCES.search(sentence) else 0.0)
                + (0.05 if asks_why and _GIVES_REASON.search(sentence) else 0.0))
        scored.append((round(rank, 6), hits, source.score, sentence, source, covers, exact))
    # The model's own sources answer whenever they come close; a related paper only when they have nothing.
    floor = 0.8 * min_cover
    if any(item[0] >= floor and item[4].url in preferred for item in scored):
        scored = [item for item in scored if item[4].url in preferred]
    else:
        floor = min_cover
    scored.sort(key=lambda item: (item[0], item[1], item[6], item[2]), reverse=True)
    if not scored or scored[0][0] < floor:
        return []
    best = scored[0]
    facts = [Fact("question", "task", best[3], best[4])]
    used, answered = set(split_sentences(best[3])), set(best[5])
    for rank, hits, _, sentence, source, covers, _ in scored[1:]:
        # A second sentence that answers the same parts as the first (two facts of one answer).
        if covers >= best[5] and hits >= best[1] - 1 and not used & set(split_sentences(sentence)):
            facts.append(Fact("question", "task", sentence, source))
            used.update(split_sentences(sentence))
            answered |= covers
            break
    while len(facts) < limit and _SEVERAL_PARTS.search(question):
        # Then one sentence per part of the question still unanswered ("... and how many parameters?").
        def fresh(item) -> float:
            return sum(weights[i] for i in item[5] - answered)
        options = [item for item in scored if fresh(item) >= 0.2 * total and not used & set(split_sentences(item[3]))]
        if not options:
            break
        item = max(options, key=lambda option: (fresh(option), option[1], option[0]))
        facts.append(Fact("question", "task", item[3], item[4]))
        used.update(split_sentences(item[3]))
        answered |= item[5]
    return facts
