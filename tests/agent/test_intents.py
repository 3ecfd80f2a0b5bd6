"""The intent registry and the Reading: every example and near miss of every intent, each kind asked five more
ways, and the answers' shapes per kind (a decline has no workflow or references; a summary cites the paper)."""

from __future__ import annotations

import re

import pytest

from agent.ask import ask
from agent.cards import load_card
from agent.reading import read
from agent.reading.intents import REGISTRY, Intent, register


@pytest.fixture
def card(shared_cards):
    return load_card(shared_cards[0])


EXAMPLES = [(intent.name, example) for intent in REGISTRY.values() for example in intent.examples]
NEGATIVES = [(intent.name, example) for intent in REGISTRY.values() for example in intent.negatives]

# Each kind asked in five ways that are not its registered examples.
PARAPHRASES = {
    "off-topic": ["What's 17 times 23?", "Recommend a good movie for tonight.", "Who won the 2018 election?",
                  "Translate 'good morning' into Spanish.", "What should I cook for dinner?"],
    "summarize-paper": ["Could you sum up the paper for me?", "Give me the gist of the MIMO-UNet paper.",
                        "Summarize the main paper in two sentences.", "What did the paper propose, in short? tl;dr",
                        "A quick overview of the recommended paper, please."],
    "explain-simply": ["Explain this model in simple terms.", "How would you explain MIMO-UNet to a 12-year-old?",
                       "Describe what it does in plain English.", "ELI5: what does this network do?",
                       "I'm a beginner, explain it without the jargon."],
    "related-papers": ["Which paper on the card is most relevant to me?", "What do the listed papers have to do with this?",
                       "Are the other papers useful for my task?", "Rank the related papers for my question.",
                       "Which of these papers should I read?"],
    "complaint": ["Why does my restored photo have ringing near the edges?",
                  "The output looks waxy and fake, what went wrong?",
                  "After sharpening, there are halos around the trees. Why?",
                  "Why did the upscaled image come out smeared?", "My deblurred picture looks worse than before, why?"],
    "batch": ["How do I run it on a folder of 300 pictures?", "Can I restore all my photos in one go?",
              "Is there a way to process hundreds of scans?", "How do I deblur a whole album?",
              "I need to fix 2000 images from a shoot, how?"],
    "compare-other": ["Is MIMO-UNet better than Real-ESRGAN?", "How does it compare to Photoshop?",
                      "MIMO-UNet or NAFNet for my photos?", "Would Topaz do a better job?",
                      "Is this sharper than Restormer?", "Would you pick this over Lightroom for my photos?"],
    "suitability": ["Is it worth a try for my blurry concert photos?", "Should I go with this model?",
                    "Is MIMO-UNet the right choice for old family photos?", "Is this worth bothering with?",
                    "Would this model actually help me?", "Do you recommend this for my holiday snaps?",
                    "Would you suggest using this model on my wedding pictures?",
                    "Is this model recommended for old family photos?", "Would it do much for my old scans?"],
    "licence": ["Under what license is MIMO-UNet released?", "Am I allowed to use it in a commercial product?",
                "Is this model free to use?", "Who owns the copyright of the code?",
                "can we use the restored images commercialy?"],
    "shooting": ["How do I stop my pictures from coming out blurry?", "Any tips to avoid shaky photos?",
                 "What camera settings give sharp photos of sports?", "How do I hold my phone steady for a sharp shot?",
                 "Should I use a tripod for night shots?"],
    "setup": ["How do I get it running on my Mac?", "What are the installation steps?", "How do I pip install cnaps?",
              "Which dependencies does it need?", "How can I set up cnaps on Ubuntu?", "How do I get going with this?",
              "How should we begin?", "Where do I start?"],
    "invented-detail": ["Is the text it brings back genuine or guessed?", "Does the AI make up the letters?",
                        "Could it fabricate a face that wasn't there?", "Can I rely on the numbers it sharpens?",
                        "Will it add fake details to my photo?", "Does it hallucinate details that were not there?"],
    "output-files": ["Does it write over the photo I give it?", "Where does the deblurred photo end up?",
                     "Will the enlarged file replace my original?", "Is my original picture left untouched?",
                     "I don't want to end up writing over my Photoshop layers, does it save a new file?"],
    # apps and platforms: "is there a phone app?" asks about cnaps, "the best iPhone app for X" does not (below)
    "practical": ["Is there an app for Android?", "Do you have a mobile version?", "Can I get it as an app on my phone?",
                  "Is there an iPad app for it?", "Does it work on my iPhone?"],
}


@pytest.mark.parametrize("name, question", EXAMPLES)
def test_every_registered_example_reads_as_its_intent(home, card, name, question):
    reading = read(question, card)
    if name == "restore":
        assert reading.asks("restore") and reading.classification.needs
    else:
        assert reading.primary == name, reading.intents


@pytest.mark.parametrize("name, question", NEGATIVES)
def test_no_near_miss_reads_as_the_intent_it_resembles(home, card, name, question):
    assert read(question, card).primary != name


@pytest.mark.parametrize("name, question", [(name, q) for name, qs in PARAPHRASES.items() for q in qs])
def test_each_kind_asked_five_other_ways(home, card, name, question):
    assert read(question, card).asks(name), read(question, card).intents


@pytest.mark.parametrize("question, parts", [
    ("Who owns the copyright, and what is the biggest image it accepts?",
     {"licence": "who owns the copyright", "practical": "what is the biggest image it accepts"}),
    ("What license is it under and can it run on a Mac without a GPU?",
     {"licence": "what license is it under", "practical": "can it run on a mac without a gpu"}),
    ("Is it free? How long does it take on a laptop?",
     {"licence": "is it free", "practical": "how long does it take on a laptop"}),
    ("Is it free to use commercially; what do I need to install?",
     {"licence": "is it free to use commercially", "setup": "what do i need to install"}),
    ("Can I use it for my business, plus does it need a GPU?",
     {"licence": "can i use it for my business", "practical": "does it need a gpu"}),
])
def test_each_intent_of_a_question_of_several_parts_has_its_own_part(home, card, question, parts):
    reading = read(question, card)
    assert {name: reading.part_asking(name) for name in parts} == parts


def test_an_intent_read_from_the_whole_question_asks_with_the_whole_question(home, card):
    reading = read("What is MIMO-UNet?", card)
    assert reading.part_asking(reading.primary) == reading.text
    assert reading.part_asking("licence") == reading.text  # not asked at all


@pytest.mark.parametrize("question, batch", [
    ("Can I expect more than 30 dB on my photos?", False), ("Is 20 px on my pictures too much blur?", False),
    ("Restore 40 of my old scans.", True), ("I have 120 blurry holiday pictures.", True),
])
def test_a_number_is_a_batch_only_when_it_counts_the_photos(home, card, question, batch):
    assert read(question, card).asks("batch") is batch


@pytest.mark.parametrize("question", ["can it run quickly?", "Is it slow?", "Does it run fast on a phone?"])
def test_speed_asked_in_everyday_words_is_practical(home, card, question):
    assert read(question, card).primary == "practical"


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError):
        register(Intent(name="complaint", description="again", examples=("x",)))


def test_every_intent_has_examples_and_a_way_to_be_read():
    for intent in REGISTRY.values():
        assert len(intent.examples) >= 3, intent.name
        assert intent.rule is not None or intent.routed or intent.name == "restore", intent.name


def test_the_reading_names_papers_artifacts_and_a_sentence_count(home, card):
    reading = read("Why did my deblurred photo get ringing and halos around the edges?", card)
    assert reading.primary == "complaint" and reading.artifacts[:2] == ["ringing", "halos"]
    assert read("Summarise the recommended paper in two sentences.", card).sentences == 2
    named = read("Who wrote FeatSharp?", card)
    assert [paper.title.split(":")[0] for paper in named.papers] == ["FeatSharp"]
    assert read("¿Puedo mejorar esta foto borrosa?", card).language == "other"


@pytest.mark.parametrize("question", PARAPHRASES["off-topic"][:3] + ["What is the capital of France?"])
def test_an_off_topic_question_is_declined_in_two_sentences(home, card, question):
    answer = ask(card, question=question, llm="none")
    assert not answer.references and not answer.workflow.steps and not answer.notes
    assert len(re.findall(r"[.!?](?:\s|$)", answer.task.text)) <= 2 and len(answer.markdown.split()) <= 80
    assert card.models[0].name in answer.task.text  # it says what cnaps can answer instead


def _cited(text: str, answer) -> set[int]:
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    assert numbers <= {ref.n for ref in answer.references}  # every marker resolves
    return numbers


def test_a_summary_gives_the_asked_number_of_cited_sentences_from_the_paper(home, card):
    answer = ask(card, question="Summarise the recommended paper in three sentences.", llm="none")
    own = {ref.n for ref in answer.references if ref.role == "recommended-model"}  # its paper and code
    summary = answer.task.text.split(", in 3 sentences: ")[1] if ", in 3 sentences: " in answer.task.text else ""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", summary) if re.search(r"\[\d+\]", s)]
    assert len(sentences) >= 3 and _cited(summary, answer) <= own


def test_a_plain_explanation_is_backed_by_cited_sentences(home, card):
    answer = ask(card, question="Explain in plain words, like to a ten-year-old, what this network does.",
                 llm="none")
    assert len(_cited(answer.task.text, answer)) >= 1 and "no passage" not in answer.task.text


def test_which_related_paper_matters_names_each_related_paper_once(home, card):
    answer = ask(card, question="Which of the related papers matters most for my question, and why?", llm="none")
    related = [ref for ref in answer.references if ref.role == "related-paper" and ref.kind == "paper"]
    for ref in related:
        assert answer.task.text.count(f"[{ref.n}]") == 1
    _cited(answer.task.text, answer)


def test_a_complaint_about_ringing_is_answered_as_a_complaint_not_as_a_request(home, card):
    answer = ask(card, question="Why did my deblurred photo get ringing around the edges?", llm="none")
    reading = read("Why did my deblurred photo get ringing around the edges?", card)
    assert reading.primary == "complaint" and "ringing" in reading.artifacts
    assert "ringing" in answer.task.text.lower()  # the artifact the user named is the subject of the answer
    assert "--compare" in answer.task.text  # and what to try


def test_a_batch_question_is_told_the_folder_command(home, card):
    answer = ask(card, question="I have 500 shaky wedding photos, how do I batch them?", llm="none")
    assert re.search(r"`cnaps restore \S+/ \S+/`", answer.task.text)


def test_every_answer_template_renders_and_refuses_a_missing_variable():
    import jinja2

    from prompts import TEMPLATE_DIR, render

    names = sorted(path.name for path in (TEMPLATE_DIR / "answers").glob("*.j2"))
    assert names == ["complaint.j2", "composer.j2", "decline.j2", "decline.md.j2", "folder.j2", "image_size.j2",
                     "licence.j2", "plain.j2", "suitability.j2"]
    replies = {greeting: render("answers/decline.j2", model="Model-X", papers=2, greeting=greeting)
               for greeting in ("hello", "thanks", None)}
    assert all("Model-X" in text for text in replies.values()) and len(set(replies.values())) == 3
    from agent.reading.intents import ARTIFACTS

    for kind in ARTIFACTS:
        assert "What to try" in render("answers/complaint.j2", kinds=[kind], upscaled=True)
    assert "Model-X" in render("answers/plain.j2", model="Model-X", enlarges=False)
    assert "`cnaps restore" in render("answers/folder.j2")
    for project, deblur, enlarge, restored in ((True, 0.35, None, False), (True, None, -0.2, True),
                                               (False, None, None, False)):
        text = render("answers/suitability.j2", model="Model-X", learned_from="GoPro", task_named=False, earlier=None,
                      enlarges=False, project=project, deblur=deblur, scale=4 if enlarge is not None else None,
                      asked_scale=8 if enlarge is not None else None, enlarge=enlarge, restored=restored)
        assert "Model-X" in text and ("--image" in text) != restored
        assert all(f"{value:+.2f} dB" in text for value in (deblur, enlarge) if value is not None)
    for millions, scale, enlarged, fits in ((48.0, None, None, None), (108.0, None, None, None), (12.0, 4, 192.0, 2),
                                            (1.0, 2, 4.0, 7), (48.0, 2, 192.0, None), (72.0, 2, 288.0, None)):
        text = render("answers/image_size.j2", article="a", size="1x1", millions=millions, limit=60.0,
                      over=millions > 60, pixels=int(millions * 1e6), scale=scale, enlarged_millions=enlarged,
                      enlarged_over=bool(enlarged and enlarged > 60), fits=fits,
                      fits_millions=millions * (fits or 1) ** 2, enlarged_pixels=int(enlarged * 1e6) if enlarged else None)
        assert f"{millions:g} million" in text and "60 million" in text
        assert ("CNAPS_RESTORE__MAX_PIXELS" in text) == (millions > 60 or bool(enlarged and enlarged > 60))
        if millions > 60 or (enlarged and enlarged > 60):  # the value given admits the run asked for
            assert f"MAX_PIXELS={int((enlarged or millions) * 1e6)}" in text
            assert (fits is not None and f"{fits}x" in text) or millions > 60 or "shrink" in text
    for code_url, own in (("https://example.org/code", "MIT"), (None, None)):
        text = render("answers/licence.j2", model="Model-X", code_url=code_url, code_ref=2 if code_url else None,
                      cnaps_licence=own)
        assert "Model-X" in text and (code_url is None or f"{code_url} [2]" in text) and ((own or "MIT") in text) == bool(own)
    assert "quoted" in render("answers/decline.md.j2", question="quoted", text="t")
    for name in names:
        if name not in ("folder.j2", "composer.j2"):  # composer.j2 holds macros: see the test below
            with pytest.raises(jinja2.UndefinedError):
                render(f"answers/{name}")


def test_every_composer_sentence_renders_with_its_arguments_and_refuses_a_missing_one():
    """Each macro of prompts/answers/composer.j2 (the composer's own sentences) gives one non-empty line for every
    argument filled, and an UndefinedError when one is left out."""
    import jinja2

    from prompts import macros, sentence

    module = macros("answers/composer.j2")
    names = sorted(name for name in dir(module) if not name.startswith("_"))
    assert len(names) >= 20
    fills = {"kind": "summary", "case": "brief", "ending": "", "seconds": 1.25, "scale": 4}
    for name in names:
        arguments = getattr(module, name).arguments
        text = sentence("answers/composer.j2", name, **{a: fills.get(a, f"<{a}>") for a in arguments})
        assert text and "\n" not in text and "  " not in text, name
        for left_out in arguments:
            with pytest.raises(jinja2.UndefinedError):
                sentence("answers/composer.j2", name, **{a: fills.get(a, "x") for a in arguments if a != left_out})


@pytest.mark.parametrize("question, comparison", [("Is Topaz better?", "better"), ("MIMO-UNet or NAFNet?", "better"),
                                                  ("Is it faster than Restormer?", "faster"),
                                                  ("Is MIMO-UNet+ better than MIMO-UNet?", None)])
def test_a_comparison_with_an_undocumented_tool_is_read_however_it_is_worded(home, card, question, comparison):
    assert read(question, card).wants.comparison == comparison


@pytest.mark.parametrize("question, greeting", [("thanks!", True), ("hi", True), ("Hello there", True),
                                                ("hi, how does it work?", False), ("Tell me a joke.", False)])
def test_a_greeting_is_told_what_cnaps_does(home, card, question, greeting):
    assert read(question, card).greeting is greeting


# Questions whose only tie to this product is an everyday word it also uses ("card", "model", "camera", "code", "it").
EVERYDAY_OFF_TOPIC = ["Which credit card has no annual fee?", "What's the newest iPhone model?",
                      "Should I get a mirrorless camera or a DSLR for travelling?",
                      "Can you write Python code to sort a list?",
                      "Is it going to snow this weekend?", "What is the best laptop for video games?",
                      "Which Android app is best for podcasts?", "Is there an app for tracking my runs?",
                      "What's a good iPhone app for learning French?"]
# Questions tied by the same words that are about the card's model or cnaps.
EVERYDAY_ON_TOPIC = ["Is it free to use?", "Which model should I pick?", "Where can I get the code?",
                     "Does it work on faces?", "Can it run on my laptop?", "Who are the authors?"]


@pytest.mark.parametrize("question", EVERYDAY_OFF_TOPIC)
def test_an_everyday_word_alone_does_not_make_a_question_on_topic(home, card, question):
    assert read(question, card).primary == "off-topic"


@pytest.mark.parametrize("question", EVERYDAY_ON_TOPIC)
def test_an_everyday_word_about_the_model_keeps_the_question(home, card, question):
    assert read(question, card).primary != "off-topic"


@pytest.mark.parametrize("question, need", [
    ("Will it rain in Berlin tomorrow?", None), ("My neighbours are so noisy at night.", None),
    ("It was a foggy morning on the way to work.", None), ("The wall has cracks and holes.", None),
    ("Remove the rain streaks from my photo.", "derain"), ("This picture is too noisy, fix it.", "denoise"),
    ("The shot is hazy, can you clear it?", "dehaze"), ("Please derain it.", "derain"),
    ("Denoise this for me.", "denoise")])
def test_an_everyday_need_word_needs_a_picture_in_the_question(home, card, question, need):
    from agent.reading.task import classify

    needs = classify(question).needs
    assert (need in needs) if need else not needs, needs


@pytest.mark.parametrize("question", [
    "Is the RealBlur checkpoint better than the GoPro one?",
    "Should I use the GoPro weights or the RealBlur ones for night shots?",
    "What's the difference between the GoPro and RealBlur checkpoints?",
    "RealBlur vs GoPro checkpoint: which is sharper?",
    "How does the RealBlur model compare with the GoPro model?"])
def test_the_two_checkpoints_side_by_side_are_a_comparison_of_variants(home, card, question):
    assert read(question, card).primary == "compare-variants"


@pytest.mark.parametrize("question", ["Where do I download the GoPro weights?", "Is the RealBlur checkpoint available?"])
def test_one_checkpoint_asked_for_is_still_about_weights(home, card, question):
    assert read(question, card).primary == "weights"


@pytest.mark.parametrize("question, off_topic", [
    ("Is that any good?", False), ("Should I bother with it?", False), ("Is it worth it?", False),
    ("What time is it in Tokyo?", True), ("Which credit card is best?", True), ("Is it going to snow this weekend?", True)])
def test_in_a_chat_a_vague_question_refers_back_and_a_foreign_one_is_still_declined(home, card, question, off_topic):
    history = [("user", "Deblur my photo, please."), ("assistant", "Done: the restored photo is attached.")]
    assert (read(question, card, history=history).primary == "off-topic") is off_topic


def test_one_read_embeds_the_question_once(home, card, monkeypatch):
    """The task prototypes, the off-topic check and the intent router all compare the same text: one embedding."""
    from cachetools import LRUCache

    from agent.reading import router

    model = router.embedder()
    monkeypatch.setattr(router, "_QUERIES", LRUCache(maxsize=64))  # earlier tests may have embedded the text
    asked = []
    embed = model.embed
    monkeypatch.setattr(model, "embed", lambda texts: (asked.extend(texts), embed(texts))[1])
    reading = read("Is it free to use?", card)
    assert reading.primary != "off-topic" and asked.count("is it free to use?") == 1  # besides the examples' vectors


@pytest.mark.parametrize("question", [
    "blurry vision, should i see an eye doctor?", "My eyes get blurry when I read, why?",
    "My glasses make everything blurry", "the sound is muffled and blurry", "Why are my eyes blurry in the morning?",
    "tell me a joke about blurry photos", "Can you write a funny limerick about MIMO-UNet?",
])
def test_blur_that_is_no_pictures_and_creative_writing_are_declined(home, card, question):
    reading = read(question, card)
    assert reading.off_topic


@pytest.mark.parametrize("question, needs", [
    ("The photo I took through my glasses is blurry", ["deblur"]),
    ("The eyes in my portrait are blurry, can you fix them?", ["deblur"]),
    ("The text on the screen is blurry in my photo", ["deblur"]),
    ("My memories of that trip are blurry, but the photos are too", ["deblur"]),
    ("can i use it on medical xrays to see a fracture better", []),
    ("His head moved and it came out blurry, can you fix it?", ["deblur"]),
    ("Her eyes are blurry because she blinked", ["deblur"]),
    ("Why is the screen in the background blurry?", ["deblur"]),
])
def test_a_pictures_blur_beside_those_words_is_still_read(home, card, question, needs):
    reading = read(question, card)
    assert not reading.off_topic and [n for n in reading.classification.needs if n == "deblur"] == needs


@pytest.mark.parametrize("question", [
    "why coarse to fine?", "Why does MIMO-UNet work coarse-to-fine?", "What's the point of the coarse-to-fine design?",
    "why use a coarse to fine strategy", "Why process the photo at several scales?",
])
def test_why_coarse_to_fine_is_answered_with_a_reason(home, card, question):
    reading = read(question, card)
    assert reading.primary == "how-it-works" and not reading.classification.needs
    text = ask(card, question=question, llm="none").task.text
    assert re.search(r"\breason\b|\bbecause\b|\beasier\b", text) and re.search(r"\[\d+\]", text)
