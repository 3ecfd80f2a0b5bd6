"""Classifier: the held-out labelled set, scale phrasing, negations, cues, needs, and the embedding fallback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agent.reading.task as classify_module
from agent.cards import load_card
from agent.classify import classify, classify_turns, find_scale
from agent.schemas import TaskLabel

SET = Path(__file__).resolve().parents[1] / "data" / "classify_set.jsonl"
ROWS = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]


def _accuracy() -> tuple[float, float, list[str]]:
    label_hits = scale_hits = 0
    wrong = []
    for row in ROWS:
        result = classify(row["question"])
        label_hits += result.label.value == row["label"]
        scale_hits += result.scale == row["scale"]
        if result.label.value != row["label"] or result.scale != row["scale"]:
            wrong.append(f"{row['question'][:60]!r}: {result.label.value}/{result.scale}, "
                         f"want {row['label']}/{row['scale']}")
    return label_hits / len(ROWS), scale_hits / len(ROWS), wrong


def test_the_set_is_large_varied_and_apart_from_the_prototypes():
    assert len(ROWS) >= 60
    labels = {row["label"] for row in ROWS}
    assert labels == {"deblurring", "super-resolution", "both", "other"}
    prototypes = {json.loads(line)["text"].lower() for line in classify_module.EXAMPLES.read_text().splitlines()
                  if line.strip()}
    assert not prototypes & {row["question"].lower() for row in ROWS}


def test_rules_alone_reach_95_percent(monkeypatch):
    monkeypatch.setattr(classify_module, "_embedder", lambda: None)
    label_accuracy, scale_accuracy, wrong = _accuracy()
    assert label_accuracy >= 0.95, wrong
    assert scale_accuracy >= 0.95, wrong


@pytest.mark.slow
def test_rules_and_embeddings_reach_95_percent():
    pytest.importorskip("knowledge.embed")
    label_accuracy, scale_accuracy, wrong = _accuracy()
    assert label_accuracy >= 0.95, wrong
    assert scale_accuracy >= 0.95, wrong


def test_shared_cards(shared_cards):
    expected = {"000": ({TaskLabel.both, TaskLabel.super_resolution}, 4),
                "001": ({TaskLabel.super_resolution}, 3), "003": ({TaskLabel.super_resolution}, 2)}
    for path in shared_cards:
        if path.name[:3] not in expected:
            continue
        labels, scale = expected[path.name[:3]]
        result = classify(load_card(path).question)
        assert result.label in labels and result.scale == scale
        assert "upscale" in result.needs
    card_001 = next(p for p in shared_cards if p.name.startswith("001"))
    result = classify(load_card(card_001).question)
    assert "deblur" not in result.needs and any("avoided" in e for e in result.evidence)
    assert {"text/signs", "edges"} <= set(result.cues)


@pytest.mark.parametrize("phrase, scale", [
    ("upscaled by 4x", 4), ("upscale x4", 4), ("enlarged it 4X", 4), ("4\u00d7 upscale", 4), ("upscaled by 4", 4),
    ("made it four times larger", 4), ("quadrupled the size", 4), ("doubled the resolution", 2),
    ("a 2-fold enlargement", 2), ("threefold upscaling", 3), ("triple the size", 3), ("resized to 200%", 2),
    ("enlarge by a factor of 3", 3), ("scale factor of 8", 8), ("from 320x240 to 1280x960", 4),
    ("twice as large", 2), ("zoomed in 8 times", 8), ("upscale my 1080p frame to 4K", 2), ("turn 720p into 4k", 3),
    ("not 4x, just 2x please", 2), ("go from 480p to 1080p", 2), ("my 300 dpi scan to 600 dpi", 2),
    ("make it biger 4 tims", 4), ("pouvez-vous l'agrandir 4 fois", 4), ("能放大两倍吗", 2), ("bitte 3-fach vergrößern", 3),
    ("放大12倍", 12),
])
def test_scale_phrasings(phrase, scale):
    assert find_scale(phrase)[0] == scale


@pytest.mark.parametrize("phrase", [
    "I tried 4 times to fix the blurry photo", "it took 4x longer", "shot at 1920x1080", "enlarge it by 1.5x",
    "the photo is 12 megapixels", "double-check the blurry edges", "upscale it 1x", "",
    "a 4 x 6 print of my blurry photo", "taken with a 2x telephoto lens", "from 720p to 1080p", "my 4K drone footage",
    "upscale my picture by 2.5x", "not 4x please", "make the image 2x smaller",
])
def test_no_scale_where_none_is_given(phrase):
    assert find_scale(phrase)[0] is None


@pytest.mark.parametrize("question, label, needs", [
    ("Upscale it without introducing blur.", TaskLabel.super_resolution, ["upscale"]),
    ("I don't want to upscale, just remove the motion blur.", TaskLabel.deblurring, ["deblur"]),
    ("Bicubic upscaling makes my image blurry; how does AI do better?", TaskLabel.super_resolution, ["upscale"]),
    ("Enlarge my blurry photo.", TaskLabel.both, ["upscale", "deblur"]),
    ("My photo is noisy and blurry.", TaskLabel.deblurring, ["deblur", "denoise"]),
    ("Remove rain streaks and upscale 2x.", TaskLabel.super_resolution, ["upscale", "derain"]),
    ("Blur the faces in this crowd photo.", TaskLabel.other, ["edit"]),
    ("The hills look blurry because of fog.", TaskLabel.other, ["dehaze"]),
    ("Colorize this black and white scan.", TaskLabel.other, ["colorize"]),
    ("Denoise it without adding blur.", TaskLabel.other, ["denoise"]),
    # A video resolution names a target only after "to", "as", "for my ... TV" or before "version".
    ("My 4K drone footage has motion blur.", TaskLabel.deblurring, ["deblur"]),
    ("Turn this 720p still into 4K.", TaskLabel.super_resolution, ["upscale"]),
    ("I want a 4K version of this scan.", TaskLabel.super_resolution, ["upscale"]),
    ("Can I show this old photo on my 8K TV?", TaskLabel.super_resolution, ["upscale"]),
    # Shrinking is not enlarging; a face swap is an edit; typos and a few other languages are read.
    ("Can it shrink my image by half while keeping it sharp?", TaskLabel.other, ["downscale"]),
    ("Can I swap my face onto a celebrity in a video?", TaskLabel.other, ["edit"]),
    ("my foto is blury and i wnat to make it biger 4 tims", TaskLabel.both, ["upscale", "deblur"]),
    ("Ma photo est floue, pouvez-vous l'agrandir 4 fois ?", TaskLabel.both, ["upscale", "deblur"]),
    ("我的照片很模糊，能放大两倍吗？", TaskLabel.both, ["upscale", "deblur"]),
    ("Mi foto está borrosa, ¿puedes ampliarla?", TaskLabel.both, ["upscale", "deblur"]),
    ("Amplie a imagem 4 vezes, está borrada", TaskLabel.both, ["upscale", "deblur"]),
    ("Ingrandisci la foto e togli la sfocatura", TaskLabel.both, ["upscale", "deblur"]),
    # What the user has (a grayscale photo) or wants kept (the grain) is not a need.
    ("Can you deblur it but keep the film grain?", TaskLabel.deblurring, ["deblur"]),
    ("Please colorize this grayscale scan.", TaskLabel.other, ["colorize"]),
    ("The photo is in colour but blurry, can you fix it?", TaskLabel.deblurring, ["deblur"]),
    # "keep"/"preserve" refuse only what they keep, never across "and".
    ("Keep the size and deblur it.", TaskLabel.deblurring, ["deblur"]),
    ("I want to preserve old blurry photos by sharpening them.", TaskLabel.deblurring, ["deblur"]),
    ("Make the image 2x smaller.", TaskLabel.other, ["downscale"]),
    ("Can it sharpen pictures taken with a phone?", TaskLabel.deblurring, ["deblur"]),
])
def test_negations_causes_and_other_needs(question, label, needs, monkeypatch):
    monkeypatch.setattr(classify_module, "_embedder", lambda: None)
    result = classify(question)
    assert (result.label, result.needs) == (label, needs)
    assert 0.0 < result.confidence <= 1.0 and result.evidence


def test_cues():
    result = classify("The license plate and the driver's face are smeared by motion; the focus was off too.")
    assert {"text/signs", "faces", "motion", "focus"} <= set(result.cues)


def test_open_question_without_embedder_is_low_confidence(monkeypatch):
    monkeypatch.setattr(classify_module, "_embedder", lambda: None)
    vague = classify("How does this model make my picture crisp?")
    assert vague.label == TaskLabel.deblurring and vague.confidence <= 0.5
    empty = classify("Tell me about this.")
    assert empty.label == TaskLabel.other and empty.needs == [] and empty.confidence <= 0.3


class _FakeEmbedder:
    """Bag-of-words vectors: enough to show the fallback follows the nearest prototypes."""

    name = "fake"
    calls = 0

    def embed(self, texts):
        import numpy as np

        _FakeEmbedder.calls += 1
        vocab = ["large", "detail", "sharp", "photo", "colour"]
        rows = np.array([[t.lower().count(w) for w in vocab] + [1e-3] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_open_question_uses_the_prototypes_and_caches_them(monkeypatch, _isolated_home):
    monkeypatch.setattr(classify_module, "_embedder", lambda: _FakeEmbedder())
    monkeypatch.setattr(classify_module, "_examples", lambda: (
        ("make it large with detail", "super-resolution"), ("large detail please", "super-resolution"),
        ("sharp photo", "deblurring"), ("a sharp photo", "deblurring"), ("colour", "other")))
    result = classify("I want large detail.")
    assert result.label == TaskLabel.super_resolution and result.needs == ["upscale"]
    assert any(e.startswith("similar to:") for e in result.evidence)
    assert len(list(_isolated_home.glob("cache/task_examples-*.npy"))) == 1
    calls = _FakeEmbedder.calls
    assert classify("a sharp photo, please").label == TaskLabel.deblurring
    assert _FakeEmbedder.calls == calls + 1  # only the query: the prototypes came from the cache


def test_classify_does_not_import_torch():
    code = ("import sys; from agent.classify import classify; classify('deblur my photo'); "
            "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules")
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_blank_questions_are_refused():
    from agent.errors import UsageError

    with pytest.raises(UsageError, match="empty"):
        classify(" \n\t")


def test_long_text_is_read_only_up_to_the_limit(monkeypatch):
    import time

    monkeypatch.setattr(classify_module, "_embedder", lambda: None)
    start = time.perf_counter()
    result = classify("I upscaled it and it got blurry when enlarging. " * 2000)
    assert time.perf_counter() - start < 5.0
    assert result.label == TaskLabel.super_resolution


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400) | st.lists(st.sampled_from(
    ["blurry", "upscale", "4x", "x3", "by", "two", "times", "without", "not", "noise", "rain", "because", "tiny",
     "enlarged", "and", "it", "got", "sharp", "focus", ".", ",", "200%", "256x256", "to", "1024x1024", "why",
     "didn't", "bigger", "double", "fold"]), max_size=30).map(" ".join))
def test_any_text_gives_a_consistent_classification(text):
    original = classify_module._embedder
    classify_module._embedder = lambda: None
    try:
        if not text.strip():
            return
        result = classify(text)
    finally:
        classify_module._embedder = original
    assert result.scale is None or 2 <= result.scale <= 64
    expected = {"both": {"upscale", "deblur"}, "super-resolution": {"upscale"}, "deblurring": {"deblur"}}
    wanted = expected.get(result.label.value, set())
    assert wanted <= set(result.needs)
    if result.label is TaskLabel.other:
        assert not {"upscale", "deblur"} & set(result.needs)
    if result.scale:
        assert "upscale" in result.needs


CARD_QUESTION = "I upscaled a blurry photo by 4x and could still read the signs. How does it work?"


@pytest.mark.parametrize("follow_up, label, scale, needs", [
    ("What about 3x instead?", TaskLabel.both, 3, ["upscale", "deblur"]),
    ("And what about without enlarging it?", TaskLabel.deblurring, None, ["deblur"]),
    ("Can it remove the noise as well?", TaskLabel.both, 4, ["upscale", "deblur", "denoise"]),
    ("Why?", TaskLabel.both, 4, ["upscale", "deblur"]),
    ("And what loss does it use?", TaskLabel.other, None, []),  # about the model: stands on its own
    ("My other photo is just out of focus.", TaskLabel.deblurring, None, ["deblur"]),  # a new request
    # Full questions of their own, even short ones or with "instead" inside: not follow-ups.
    ("Why use a single U-Net instead of stacked networks?", TaskLabel.other, None, []),
    ("What does MIMO stand for?", TaskLabel.other, None, []),
    ("Is the code open source?", TaskLabel.other, None, []),
])
def test_follow_ups_carry_the_earlier_task(follow_up, label, scale, needs):
    result = classify_module.classify_turns([CARD_QUESTION, follow_up])
    assert (result.label, result.scale, result.needs) == (label, scale, needs)


def test_follow_ups_chain_and_a_refused_need_is_never_voted_back():
    chained = classify_module.classify_turns([CARD_QUESTION, "What about 3x instead?", "And for faces?"])
    assert (chained.label, chained.scale) == (TaskLabel.both, 3) and "faces" in chained.cues
    alone = classify("And what about without enlarging it?")
    assert "upscale" not in alone.needs


def test_a_question_about_the_model_in_between_does_not_end_the_task():
    turns = [CARD_QUESTION, "And how big is the model?"]
    assert classify_module.classify_turns(turns).label is TaskLabel.other
    after = classify_module.classify_turns([*turns, "And without enlarging it?"])
    assert (after.label, after.needs) == (TaskLabel.deblurring, ["deblur"])
    rescaled = classify_module.classify_turns([*turns, "What about 2x instead?"])
    assert (rescaled.label, rescaled.scale) == (TaskLabel.both, 2)
    # A contentless "why?" still follows the question just before it; so does "why not?".
    assert classify_module.classify_turns([CARD_QUESTION, "What is FAM?", "Why?"]).label is TaskLabel.other
    rain = classify_module.classify_turns(["Can it remove rain streaks from my photo?", "why not?"])
    assert rain.needs == ["derain"]


@pytest.mark.parametrize("question", [
    "What GPU do I need and how much memory?", "Is it lightweight enough to run on my phone?",
    "Does it hallucinate details that were not there?", "Can I fine-tune it on my own data?",
    "Does it work on grayscale images?", "What is the maximum image size?", "My photo is 12000x9000 pixels, will it work?",
    "Will the output have the same size as my photo?", "Does it run in real time on video?",
    "What is the largest photo it can handle?", "How long will this take on my MacBook M1 for 500 photos?",
    "Is the Plus version much slower than the base one?", "Is it a GAN?", "My photo is 48 megapixels. Will it work?",
])
def test_questions_about_running_or_trusting_the_model_are_about_the_model(question):
    result = classify(question)
    assert result.label is TaskLabel.other and result.needs == []
    assert result.about_model and any(item.startswith("about the model") for item in result.evidence)


@pytest.mark.parametrize("question", [
    "Is it worth trying?", "Would this be a good fit for my pictures?", "Should I bother with it?",
    "Will it actually make a difference to my pictures?", "Would this model actually help me?",
])
def test_whether_it_is_worth_trying_is_a_question_about_the_model(question):
    result = classify(question)
    assert result.label is TaskLabel.other and result.needs == [] and result.about_model


@pytest.mark.parametrize("question", [
    "Is it worth buying a better camera?", "Explain this model in simple terms.", "it took 4x longer",
    "How do I run it on a folder of 300 pictures?",
])
def test_a_distant_prototype_decides_no_task(question):
    """The nearest task example decides only when it is about the same thing: these were read as a restoration
    from a prototype 0.35-0.40 away."""
    result = classify(question)
    assert result.needs == [] and not any(item.startswith("similar to:") for item in result.evidence)


def test_a_counted_batch_of_photos_to_fix_is_a_deblurring_request():
    assert classify("I need to fix 2000 images from a shoot, how?").needs == ["deblur"]


def test_keep_refuses_only_what_it_keeps():
    assert "denoise" not in classify("Deblur it but keep the film grain.").needs
    soft = classify("My pictures keep coming out soft when I shoot handheld.")  # "keep" as "again and again"
    assert not any("negated" in item for item in soft.evidence)


def test_refused_needs_are_part_of_the_classification():
    assert classify("Upscale 2x without sharpening it.").refused == ["deblur"]
    assert classify("Deblur it but keep the film grain.").refused == ["denoise"]
    assert classify("Deblur it.").refused == []
    turns = classify_module.classify_turns([CARD_QUESTION, "And without enlarging it?"])
    assert turns.refused == ["upscale"] and "upscale" not in turns.needs


@pytest.mark.parametrize("question, scale, note", [
    ("upscale x2 and x4 both", 2, "You name 2x and 4x"),
    ("should I upscale 2x or 4x?", 2, "ask again about 4x (or pass --scale 4)"),
    ("upscale 2x then 2x again", 4, "2x and 2x again is 4x in all"),
    ("upscale it 1.5x please", None, "enlarge 2x (--scale 2) and resize the result down to 75%"),
    ("go from 720p to 1080p", None, "1.5x is not a whole factor"),
    ("resize 640x480 to 1920x1080", 3, "3x (to 1920x1440); crop that to 1920x1080"),
    ("resize 480x640 to 1080x1920", 3, "the width grows 2.25x and the height 3x"),
    ("from 320x240 to 1280x960", 4, None),
    ("upscale 4x, 4x is what I need", 4, None),
])
def test_scale_notes_say_what_the_factor_leaves_out(question, scale, note):
    c = classify(question)
    assert c.scale == scale
    if note is None:
        assert c.scale_note is None
    else:
        assert note in c.scale_note


def test_a_follow_up_with_its_own_scale_drops_the_earlier_note():
    assert classify_turns(["upscale 2x or 4x?", "what about 3x instead?"]).scale_note is None
    kept = classify_turns(["upscale 2x or 4x?", "and without deblurring?"])
    assert kept.scale == 2 and "4x" in kept.scale_note


@pytest.mark.parametrize("question, needs", [
    ("my old family photo is faded and blurry", ["deblur", "tone"]),
    ("the sky is overexposed, and the street is blurred", ["deblur", "tone"]),
    ("it has a yellow colour cast", ["tone"]),
    ("the photo is washed out", ["tone"]),
    ("the blur is fading towards the edges", ["deblur"]),  # fading blur is not faded colour
])
def test_colour_and_exposure_problems_are_needs_the_model_lacks(question, needs):
    assert classify(question).needs == needs


@pytest.mark.parametrize("question, needs", [
    ("Can it fix chromatic aberration and lens distortion?", ["optics"]),
    ("The web image has JPEG blocks and is blurry.", ["deblur", "deartifact"]),
    ("Can it read a blurry licence plate from a dashcam still?", ["deblur", "recognize"]),
])
def test_faults_and_tasks_beyond_deblurring_are_named(question, needs):
    assert classify(question).needs == needs


@pytest.mark.parametrize("phrase, scale", [
    ("Make it 200% and sharper.", 2), ("Upscale my 1920x1080 photo to 4K.", 2),
    ("Make my 800x600 picture 1600 pixels wide.", 2), ("make my 800x600 scan 1800 pixels tall", 3),
    ("upscale 2x, then 3x", 6), ("it was downscaled by 4x, can you undo that?", 4),
    ("What about making it 4K instead? The original is 960x540.", 4), ("I need 1080p from my 480p clip", 2),
])
def test_more_scale_phrasings(phrase, scale):
    c = classify(phrase)
    assert c.scale == scale and "upscale" in c.needs and "downscale" not in c.needs, c.evidence


def test_two_and_a_half_is_a_fractional_factor_and_hd_is_an_enlargement():
    assert "2.5x is not a whole factor" in classify("Upscale by a factor of two and a half.").scale_note
    assert classify("Make this blurry photo HD.").needs == ["upscale", "deblur"]


def test_deblur_first_then_enlarge_is_told_the_order_is_reversed():
    note = classify("Deblur it first and then make it 2x bigger for printing.").scale_note
    assert note.startswith("You ask to deblur first and enlarge after") and "--scale 1" in note
    assert classify("upscale 2x then deblur it").scale_note is None


def test_just_one_need_in_a_follow_up_drops_the_others():
    turns = ["I upscaled a blurry photo by 4x and could still read the signs.", "What about just deblurring it?"]
    c = classify_turns(turns)
    assert c.needs == ["deblur"] and c.scale is None


def test_a_percentage_increase_says_it_can_be_read_two_ways():
    note = classify("Increase the resolution by 300%").scale_note
    assert note.startswith('"by 300%" can mean 3x or 4x') and "ask for 4x" in note
    assert classify("resize it to 200%").scale_note is None


@pytest.mark.parametrize("question, label, scale, needs", [
    ("I'd like it downscaled to half size", TaskLabel.other, None, ["downscale"]),
    ("Please get it downscaled by 2x", TaskLabel.other, None, ["downscale"]),
    ("It was downscaled by 4x before upload and looks soft; just deblur it at this size", TaskLabel.deblurring, None,
     ["deblur"]),
    ("I downscaled it by 2x for the web and now it looks blurry, just sharpen it", TaskLabel.deblurring, None,
     ["deblur"]),
    ("Restore a batch of my old family photos", TaskLabel.deblurring, None, ["deblur"]),
    ("Restore my photo at the same size", TaskLabel.deblurring, None, ["deblur"]),
    ("Can you fix this picture of a fast car?", TaskLabel.deblurring, None, ["deblur"]),
    ("Make it 300% sharper", TaskLabel.deblurring, None, ["deblur"]),
    ("Make the text 2x sharper", TaskLabel.deblurring, None, ["deblur"]),
    ("The image is twice as blurry as the original", TaskLabel.deblurring, None, ["deblur"]),
    ("Deblur my photo and make the brightness 200%", TaskLabel.deblurring, None, ["deblur"]),
    ("My photo is in HD, please deblur it", TaskLabel.deblurring, None, ["deblur"]),
    ("Make the blurry HD video frame sharper", TaskLabel.deblurring, None, ["deblur"]),
    ("I made it HD already but it's blurry", TaskLabel.deblurring, None, ["deblur"]),
    ("Make it HD and sharper", TaskLabel.both, None, ["upscale", "deblur"]),
    ("Deblur my photo of a yellowish sunset", TaskLabel.deblurring, None, ["deblur"]),
    ("My photo of the faded jeans is blurry", TaskLabel.deblurring, None, ["deblur"]),
    ("The white balance is fine, just deblur it", TaskLabel.deblurring, None, ["deblur"]),
    ("Sharpen my faded photo", TaskLabel.deblurring, None, ["deblur", "tone"]),
    ("Sharpen this photo, it has some vignetting", TaskLabel.deblurring, None, ["deblur", "optics"]),
    ("The GAN-generated image is blurry, can you fix it?", TaskLabel.deblurring, None, ["deblur"]),
    ("Can it read 16-bit TIFFs?", TaskLabel.other, None, []),
    ("What does the speed limit sign in my photo say?", TaskLabel.other, None, ["recognize"]),
    ("Try 2x; then if it looks bad, try 4x", TaskLabel.super_resolution, 2, ["upscale"]),
])
def test_trigger_words_in_another_sense_do_not_change_the_task(question, label, scale, needs):
    c = classify(question)
    assert (c.label, c.scale, c.needs) == (label, scale, needs), c.evidence


@pytest.mark.parametrize("question, note", [
    ("Upscale my blurry photo 4x and then 4x again", "16x in all, more than the 8x cnaps enlarges"),
    ("Upscale it by 8x or 10x", "10x is more than the 8x cnaps enlarges"),
    ("Deblur first, then enlarge, please", "You ask to deblur first"),
    ("I want to deblur and then upscale by 2x", "You ask to deblur first"),
    ("Enlarge it 2x after cropping it", None),
    ("Sharpen the first photo and enlarge it 2x", None),
])
def test_notes_on_chains_limits_and_order(question, note):
    found = classify(question).scale_note
    assert (found is None) if note is None else (note in found), found


def test_just_with_too_adds_a_need_instead_of_replacing_them():
    c = classify_turns(["Deblur my photo and enlarge it 2x", "and can you just remove the noise too?"])
    assert c.needs == ["upscale", "deblur", "denoise"]


def test_a_rounded_size_ratio_says_how_to_get_the_exact_size():
    note = classify("I need 1080p from my 480p clip").scale_note
    assert note.startswith("480p -> 1080p is 2.25x, not a whole factor: cnaps plans 2x") and "--scale 3" in note


@pytest.mark.parametrize("question, label", [
    ("fix my photo, does it need a gpu?", TaskLabel.deblurring), ("fix this picture fast please", TaskLabel.deblurring),
    ("I need it in its original resolution, it was shrunk to a thumbnail", TaskLabel.super_resolution),
    ("I want to keep the resolution high", TaskLabel.super_resolution),
])
def test_a_request_without_an_enlarging_word_is_not_guessed_an_enlargement(question, label):
    assert classify(question).label is label


@pytest.mark.parametrize("question, label, scale, needs", [
    ("make it 2x sharper", TaskLabel.deblurring, None, ["deblur"]),  # no word asks for an enlargement
    ("I shrank it by accident, can you undo that?", TaskLabel.super_resolution, None, ["upscale"]),
    ("I shrank it to 25%, enlarge it back", TaskLabel.super_resolution, 4, ["upscale"]),
    ("it was downscaled by 50%, can you undo that?", TaskLabel.super_resolution, 2, ["upscale"]),
    ("I resized it down to a third, make it bigger again", TaskLabel.super_resolution, 3, ["upscale"]),
    ("enlarge to 1920x1080 from 640x480", TaskLabel.super_resolution, 3, ["upscale"]),
    ("I need 2560x1920 from my 640x480 photo", TaskLabel.super_resolution, 4, ["upscale"]),
    ("How does it compare to DeblurGAN-v2?", TaskLabel.other, None, []),
    ("is it 10x faster than DeblurGAN?", TaskLabel.other, None, []),
    ("how do I train it on my own photos?", TaskLabel.other, None, []),
])
def test_undone_shrinks_sizes_named_target_first_and_model_names(question, label, scale, needs):
    c = classify(question)
    assert (c.label, c.scale, c.needs) == (label, scale, needs), c.evidence


def test_a_size_named_target_first_gets_its_shape_note_the_right_way_round():
    note = classify("enlarge to 1920x1080 from 640x480").scale_note
    assert note.startswith("640x480 to 1920x1080 changes the picture's shape") and "crop that to 1920x1080" in note


def test_an_undone_shrink_to_an_odd_share_says_how_to_get_there():
    note = classify("I shrank it to 30%, enlarge it back").scale_note
    assert note.startswith("3.33x is not a whole factor") and "--scale 4" in note


@pytest.mark.parametrize("question", ["Is MIMO-UNet fast?", "will it be running on my laptop?",
                                      "how do I train it?", "can it run quickly?"])
def test_words_for_speed_and_running_are_not_motion_cues(question):
    assert "motion" not in classify(question).cues


def test_a_new_request_in_a_chat_keeps_the_earlier_scale_and_a_why_keeps_the_task():
    thumbnail = classify_turns(["enlarge my photo 3x", "can it make my thumbnail sharper?"])
    assert (thumbnail.label, thumbnail.scale) == (TaskLabel.both, 3)
    why = classify_turns(["I upscaled a blurry photo by 4x", "what about 3x?", "wait, why does it need interpolation?"])
    assert (why.label, why.scale) == (TaskLabel.both, 3)
    about = classify_turns(["I upscaled a blurry photo by 4x", "Why use a single U-Net instead of stacked networks?"])
    assert about.label is TaskLabel.other  # a why about the model stands on its own


def test_a_target_size_far_beyond_the_limit_and_a_spanish_word_for_blur():
    far = classify("my thumbnail is 64x64, i want 1080p")
    assert far.scale == 17 and far.scale_note == "64x64 -> 1080p is 16.88x."
    spanish = classify("¿puede quitar el desenfoque de mi foto y ampliarla 2x?")
    assert (spanish.label, spanish.scale) == (TaskLabel.both, 2)


@pytest.mark.parametrize("question, phrase", [("remove the camera shake", "camera shake"),
                                              ("this has motion blur", "motion blur")])
def test_the_strong_deblurring_phrases_are_read_as_such(question, phrase):
    c = classify(question)
    assert c.needs == ["deblur"] and any(phrase in item for item in c.evidence if item.startswith("deblur:"))


@pytest.mark.parametrize("question", ["double the size of my photo and make it crisp",
                                      "double the size and make it sharp"])
def test_a_request_to_make_it_sharp_beside_an_enlargement_is_both(question):
    assert classify(question).label is TaskLabel.both


@pytest.mark.parametrize("text, expected", [
    ("can it take an 8000x6000 image?", (48_000_000, "8000x6000")),
    ("12000 x 9000 pixels", (108_000_000, "12000x9000")),
    ("a 50 megapixel photo", (50_000_000, "50-megapixel")),
    ("my 24mp camera", (24_000_000, "24-megapixel")),
    ("a 1.5-megapixel scan", (1_500_000, "1.5-megapixel")),
    ("enlarge it 2x3 times", None),
    ("make it 4x", None),
])
def test_the_photo_size_a_question_names(text, expected):
    from agent.reading.scale import photo_size

    assert photo_size(text) == expected


@pytest.mark.parametrize("question, scale", [
    ("upscale 2x, no wait, 4x", 4), ("enlarge it 2x, actually make it 3x", 3), ("enlarge 3x, I mean 4x", 4),
    ("make it 2x bigger, sorry, 3x", 3), ("upscale by 4x, or rather 2x", 2),
])
def test_a_factor_taken_back_for_another_plans_the_last(question, scale):
    result = classify(question)
    assert result.scale == scale and result.scale_note  # the note says which factor was kept


@pytest.mark.parametrize("question, scale", [
    ("upscale from 512 to 1024", 2), ("enlarge it from 300 to 1200 pixels wide", 4), ("resize from 250 up to 750", 3),
])
def test_two_bare_side_lengths_give_the_factor(question, scale):
    assert classify(question).scale == scale


@pytest.mark.parametrize("question", ["can it upscale 0.5x?", "enlarge my photo 0.25x", "upscale it 0.75x please"])
def test_a_factor_below_one_is_no_enlargement_and_says_so(question):
    result = classify(question)
    assert result.scale is None and result.scale_note and "smaller" in result.scale_note


@pytest.mark.parametrize("question", ["Enlarge from 1000 to 500 pixels", "upscale my photo from 1200 px to 600 px",
                                      "enlarge this 800x600 picture to 400x300", "upscale from 1024 to 512",
                                      "upscale my 1000 px photo to 500 px"])
def test_a_target_size_below_the_source_is_no_enlargement_and_says_so(question):
    result = classify(question)
    assert result.scale is None and result.scale_note and "smaller" in result.scale_note and "->" in result.scale_note


@pytest.mark.parametrize("question", ["I cropped my 4000x3000 photo to 1000x750, can you upscale it?",
                                      "my 4000x3000 photo has a 400x300 face, enlarge it",
                                      "I need 320x240 from my 640x480 photo, and sharper"])
def test_a_smaller_size_the_photo_has_or_had_is_no_target(question):
    note = classify(question).scale_note
    assert not note or "smaller" not in note
