"""Properties over generated inputs (hypothesis).

- Any card text parses or raises `CardError`, never anything else.
- For every card that parses, the composed answer holds no link beyond `card.provided_links`, whatever its
  summaries, titles and question say, and whatever the retrieved passages carry.
- Any small image (1..300 pixels a side) in every mode restores to the input size times the scale, in the same
  mode family.
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from agent.cards import Card, parse_card
from agent.errors import CardError
from agent.schemas import Classification, Source, TaskLabel
from tests.reliability.conftest import card_passages
from tests.reliability.corpus import EVIL, HOSTILE_SCHEMES, INJECTION, MIMO_GITHUB, MIMO_PAPER, RELATED, links_in

def examples(count: int) -> settings:
    return settings(max_examples=count, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# --- cards ------------------------------------------------------------------------------------------------------

URLS = st.sampled_from([MIMO_PAPER, MIMO_GITHUB, RELATED, EVIL, *HOSTILE_SCHEMES, "www.evil.example/x",
                        "https://a.example/p?q=1&r=2", "http://b.example/x.pdf", "<https://c.example/y>", "",
                        "not a url", "https://", "mailto:me@example.org"])
WORDS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)
MODELS = st.sampled_from(["Deblur-MIMO-UNet", "Deblur-MIMO-UNet-RealBlur", "MIMO-UNet+", "MIMO-UNet++",
                          "Restormer", "", "<script>x</script>"]) | WORDS
QUESTIONS = st.sampled_from(["I upscaled a blurry photo by 4x and could read the signs. How?",
                             "Remove motion blur from my face photo", f"Deblur this. {INJECTION}",
                             f"see {EVIL} and make it 2x"]) | WORDS

LINE = st.one_of(
    st.just("A user has asked the following question:"),
    QUESTIONS.map(lambda q: f'"{q}"'),
    QUESTIONS.map(lambda q: f"Question: {q}"),
    st.sampled_from(["### Recommended AI Models:", "### Related Papers:", "## related papers", "Recommended models",
                     "# Answer:", "Answer:", "### Something else", "---"]),
    MODELS.map(lambda m: f"Model: {m}"),
    st.tuples(st.sampled_from(["Paper", "GitHub", "paper", "- **GitHub**"]), URLS).map(lambda f: f"{f[0]}: {f[1]}"),
    st.tuples(WORDS, URLS).map(lambda s: f"Summary: {s[0]} {s[1]}"),
    st.tuples(WORDS, URLS).map(lambda s: f"{s[0]} {s[1]}"),
    WORDS,
    st.just(""),
)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])
# A card skeleton (question, one model) with generated lines around and inside it: most of these parse.
SKELETON = st.tuples(st.lists(LINE, max_size=4), QUESTIONS, MODELS, st.lists(LINE, max_size=25), NEWLINES).map(
    lambda t: t[4].join([*t[0], "A user has asked the following question:", f'"{t[1]}"', "",
                         "### Recommended AI Models:", f"Model: {t[2]}", *t[3]]))
CARD_TEXT = st.one_of(
    SKELETON,
    st.tuples(st.lists(LINE, max_size=30), NEWLINES).map(lambda t: t[1].join(t[0])),
    st.text(max_size=400),
)

CLASSIFICATION = st.builds(
    Classification,
    label=st.sampled_from(list(TaskLabel)),
    scale=st.sampled_from([None, 2, 3, 4, 8]),
    cues=st.lists(st.sampled_from(["text/signs", "faces", "edges", "motion", "focus", "texture"]), unique=True,
                  max_size=3),
    confidence=st.floats(0, 1),
    needs=st.lists(st.sampled_from(["deblur", "upscale", "denoise", "derain", "other"]), unique=True, max_size=3),
)


def parsed_or_card_error(text: str) -> Card | None:
    try:
        return parse_card(text)
    except CardError as error:
        assert "\n" not in str(error) and str(error)
        return None


def strings(value) -> list[str]:
    """Every string in a JSON-like tree (keys included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in strings(key) + strings(item)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in strings(item)]
    return []


@examples(300)
@given(text=CARD_TEXT)
def test_any_card_text_parses_or_raises_card_error(text):
    card = parsed_or_card_error(text)
    if card is not None:
        assert card.question and card.models
        assert all(link.startswith(("http://", "https://")) for link in card.provided_links)


@examples(150)
@given(text=CARD_TEXT, classification=CLASSIFICATION, stray_url=URLS)
def test_composed_answer_links_are_a_subset_of_the_card_links(text, classification, stray_url):
    from agent.capability import check
    from agent.compose import compose
    from agent.schemas import AnswerContext

    card = parsed_or_card_error(text)
    if card is None:
        return
    passages = card_passages(card, card.question, bool(classification.scale), ())
    # A passage from a document the card does not provide, as a shared store could return.
    passages.append(Source(id="stray", url=stray_url or "stray-doc", score=0.95, title=f"Stray {stray_url}",
                           text=f"The encoder takes the blurred image at half and quarter scale, see {stray_url}."))
    ctx = AnswerContext(card=card, question=card.question, classification=classification,
                        capability=check(card, classification), passages=passages)
    answer = compose(ctx)
    allowed = card.provided_links
    found = {link for s in strings(answer.model_dump(mode="json")) for link in links_in(s)}
    assert found <= allowed, found - allowed
    assert {r.url for r in answer.references} <= allowed


# --- images -----------------------------------------------------------------------------------------------------

MODE_FAMILY = {"RGB": "RGB", "RGBA": "RGBA", "L": "L", "LA": "LA", "P": "RGB", "PA": "RGBA", "CMYK": "CMYK",
               "I;16": "I;16", "1": "L"}


def make_image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    rgba = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    return rgba.convert(mode) if mode not in ("RGBA",) else rgba


@pytest.fixture(scope="module")
def restorer(tiny_weights):
    from tools.restoration import Restorer

    return Restorer("test-mimo-unet", weights=tiny_weights, device="cpu", tile="none")


@examples(30)
@given(mode=st.sampled_from(sorted(MODE_FAMILY)), width=st.integers(1, 300), height=st.integers(1, 300),
       scale=st.sampled_from([1, 1, 2]), seed=st.integers(0, 2**16))
def test_any_small_image_restores_to_the_right_size(restorer, mode, width, height, scale, seed):
    if scale > 1 and width * height > 150 * 150:
        scale = 1  # keep the tiny network's work small; enlargement is covered on the smaller sizes
    image = make_image(mode, width, height, seed)
    restored = restorer.restore(image, scale=scale)
    assert restored.size == (width * scale, height * scale)
    assert restored.mode == MODE_FAMILY[mode], (mode, restored.mode)
