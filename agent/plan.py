"""The retrieval plan: what an answer looks up in the card's documents, per workflow stage, and which retrieved
sentences support each stage.

`retrieval_queries` is what `ask` retrieves for a question; `select_facts` picks, from the passages it got back, the
sentence that supports each aspect of the workflow (input, model, output). The composer (`agent.compose`) writes
the answer from those facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.reading.intents import REGISTRY
from agent.reading.model import Reading
from agent.schemas import Source
from agent.sentences import LEANS_ON_PREVIOUS, Fact, about_other_variant, split_sentences



@dataclass(frozen=True)
class Aspect:
    """One fact the workflow wants, the query that finds it, and the words a supporting sentence must contain.

    `require` is a tuple of alternatives groups: a sentence qualifies when it contains at least one word of every
    group (case-insensitive).
    """

    key: str
    stage: str
    query: str
    require: tuple[tuple[str, ...], ...]
    when: str = "always"  # 'always', 'upscale' (the task needs enlargement), 'light' (question asks about size/speed)
    sentences: int = 1


ASPECTS: tuple[Aspect, ...] = (
    Aspect("three-scale-input", "input",
           "the blurred image enters the encoder at full, half and quarter resolution",
           (("1/2", "half"), ("1/4", "quarter"), ("encoder", "enters", "input"))),
    Aspect("interpolation", "input",
           "interpolation enlarges the image: it adds pixels but no new detail",
           (("interpolat", "bicubic", "lanczos"), ("detail", "information", "pixel")), when="upscale"),
    Aspect("coarse-to-fine", "model",
           "coarse-to-fine deblurring inside one U-shaped network instead of stacked sub-networks",
           (("coarse-to-fine", "cascade"), ("u-shaped", "single", "one network"))),
    Aspect("encoder", "model",
           "multi-input single encoder: shallow convolutional module and feature attention module merge the "
           "smaller inputs",
           (("encoder",), ("scm", "shallow convolutional", "fam", "feature attention"))),
    Aspect("decoder", "model",
           "multi-output single decoder emits a restored image at each of the three scales as a residual",
           (("decoder",), ("output", "emits", "produces", "restored image"))),
    Aspect("fusion", "model",
           "asymmetric feature fusion combines encoder features from every scale for each decoder level",
           (("asymmetric", "aff"),)),
    Aspect("training", "model",
           "the weights were trained on pairs of blurred and sharp images",
           (("gopro", "realblur"), ("pair", "trained", "training"))),
    Aspect("loss", "model",
           "training loss: multi-scale content loss plus a frequency reconstruction loss on the FFT",
           (("frequency", "fft", "fourier"),)),
    Aspect("size", "model",
           "MIMO-UNet variants: number of parameters and runtime, a lightweight network",
           (("parameters", "residual blocks"),), when="light"),  # not "60 million pixels"
    Aspect("same-resolution", "output",
           "the restored output has the same resolution as the input: the network does not upscale",
           (("same resolution", "same size", "does not upscale", "not upscale", "no upscaling", "same height"),)),
    Aspect("upscale-gain", "output",
           "the gain of deblurring on an upscaled image is limited and varies from photo to photo",
           (("limited",), ("upscaled", "interpolation", "enlarged")), when="upscale"),
    Aspect("no-invention", "output",
           "the network removes blur it learned to model; it cannot invent detail the image never held",
           (("invent", "hallucinat", "never", "not present", "no new", "cannot create", "not recover"),)),
)

RESULTS_QUERIES = ("reported results on the GoPro test set: PSNR and SSIM of MIMO-UNet, MIMO-UNet+ and MIMO-UNet++, "
                   "runtime per image",
                   "MIMO-UNet variants: residual blocks and million parameters of MIMO-UNet and MIMO-UNet+")
KIND_QUERY = "what kind of network MIMO-UNet is: a convolutional network, not a GAN, a diffusion model or a transformer"
RUNNING_QUERY = ("running MIMO-UNet with cnaps on a CPU or GPU: seconds and minutes per photo, memory, tiles, "
                 "the largest image size in pixels")


def retrieval_queries(reading: Reading, needs_upscale: bool, datasets: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The (aspect key, query) pairs `ask` retrieves for, plus the question itself (and, for a question about
    running the model here, cnaps's notes on time, memory and size)."""
    wants = reading.wants
    light = wants.light
    queries = [(a.key, f"{a.query} {' '.join(datasets)}" if a.key == "training" else a.query)
               for a in ASPECTS if _wanted(a, needs_upscale, light)]
    running = [("running", RUNNING_QUERY)] if wants.running else []
    results = [("results", query) for query in RESULTS_QUERIES] if wants.results else []
    kind = [("kind", KIND_QUERY)] if wants.kind_of_network_words else []
    intents = [(match.name, query) for match in reading.intents for query in REGISTRY[match.name].queries]
    return [("question", reading.question), *queries, *running, *results, *kind, *intents]


def _wanted(aspect: Aspect, needs_upscale: bool, light: bool) -> bool:
    return aspect.when == "always" or (aspect.when == "upscale" and needs_upscale) or (aspect.when == "light" and light)


def supports(sentence: str, aspect: Aspect) -> bool:
    """Whether the sentence holds a word of every group, each matched at the start of a word ("parameter", not
    "hyperparameter")."""
    lowered = f" {sentence.lower()} "
    return all(any(re.search(r"(?<![a-z])" + re.escape(word), lowered) for word in group) for group in aspect.require)


def _overlap(sentence: str, query: str) -> float:
    words = {w for w in re.findall(r"[a-z0-9/+-]{3,}", query.lower())}
    found = {w for w in re.findall(r"[a-z0-9/+-]{3,}", sentence.lower())}
    return len(words & found) / max(len(words), 1)


def select_facts(passages: list[Source], needs_upscale: bool, light: bool,
                 datasets: tuple[str, ...] = (), networks: tuple[str, ...] = (),
                 exclude: tuple[str, ...] = ()) -> list[Fact]:
    """For each wanted aspect, the best supporting sentences from the passages, each used once.

    `datasets` names what the recommended weights learned from ('realblur', 'gopro'): the training fact must be
    about that data, not about another checkpoint's. `networks` ('MIMO-UNet', 'MIMO-UNet+') are the recommended
    variants: a size fact must not quote another variant's parameter count. Sentences in `exclude` (already
    stated elsewhere in the answer) are not used again.
    """
    used: set[str] = {part for sentence in exclude for part in split_sentences(sentence)}
    facts: list[Fact] = []
    for aspect in ASPECTS:
        if not _wanted(aspect, needs_upscale, light):
            continue
        if aspect.key == "training" and datasets:
            aspect = Aspect(aspect.key, aspect.stage, aspect.query, (datasets, *aspect.require[1:]))
        candidates = []
        for source in passages:
            sentences = split_sentences(source.text)
            for i, sentence in enumerate(sentences):
                if sentence in used or not supports(sentence, aspect):
                    continue
                if aspect.key == "size" and about_other_variant(sentence, networks):
                    continue
                if aspect.key == "same-resolution" and not needs_upscale and "upscal" in sentence.lower():
                    continue  # a question that asks for no enlargement is not told what the model cannot enlarge
                # A sentence that leans on the one before it ("It multiplies...") brings that one along.
                if LEANS_ON_PREVIOUS.match(sentence) and i > 0 and sentences[i - 1] not in used:
                    sentence = f"{sentences[i - 1]} {sentence}"
                candidates.append((_overlap(sentence, aspect.query) + 0.5 * source.score, sentence, source))
        candidates.sort(key=lambda item: item[0], reverse=True)
        for _, sentence, source in candidates[: aspect.sentences]:
            used.update(split_sentences(sentence))
            facts.append(Fact(aspect.key, aspect.stage, sentence, source))
    return facts
