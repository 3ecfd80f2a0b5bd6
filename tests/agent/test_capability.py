"""Capability check: what the question needs against what the zoo says the card's models can do."""

from __future__ import annotations

import pytest

from agent.capability import check
from agent.cards import RecommendedModel, bundled_card, load_card
from agent.classify import classify
from agent.schemas import Classification, TaskLabel


def _card(*names: str):
    base = bundled_card()
    return base.model_copy(update={"models": [RecommendedModel(name=name) for name in names]})


def test_shared_cards_are_mismatched_and_the_plan_says_so(shared_cards):
    for path in shared_cards:
        card = load_card(path)
        result = check(card, classify(card.question))
        assert result.mismatch and result.missing == ["upscale"]
        assert result.models[0][1].id == card.models[0].name and result.unknown == []
        assert "does not upscale" in result.plan and "Lanczos" in result.plan
        assert f"x{classify(card.question).scale}" in result.plan
        assert "at the enlarged size" in result.plan


def test_deblurring_question_on_the_bundled_card_matches():
    card = bundled_card()
    result = check(card, classify(card.question))
    assert not result.mismatch and result.missing == []
    assert [entry.id for _, entry in result.models] == [m.name for m in card.models]
    assert "GoPro" in result.plan and "upscal" not in result.plan


def test_training_data_follows_the_model():
    deblur = Classification(label=TaskLabel.deblurring, confidence=0.9, needs=["deblur"])
    assert "RealBlur" in check(_card("Deblur-MIMO-UNet-RealBlur"), deblur).plan
    assert "GoPro" in check(_card("MIMO-UNet+"), deblur).plan


@pytest.mark.parametrize("needs, missing, phrase", [
    (["deblur", "denoise"], ["denoise"], "not trained for removing noise: cnaps has no model for that, so that "
                                         "problem remains in the output"),
    (["derain"], ["derain"], "removing rain"),
    (["upscale", "dehaze", "enhance-light"], ["upscale", "dehaze", "enhance-light"],
     "removing haze or fog and brightening a dark image: cnaps has no model for that, so those problems remain"),
    (["colorize"], ["colorize"], "only restores images; adding colour is beyond it"),
    (["deblur", "recognize"], ["recognize"], "recognising or describing image content is beyond it"),
])
def test_other_needs_are_missing_and_named(needs, missing, phrase):
    label = TaskLabel.other if "deblur" not in needs and "upscale" not in needs else TaskLabel.deblurring
    result = check(_card("Deblur-MIMO-UNet"), Classification(label=label, confidence=0.9, needs=needs))
    assert result.mismatch and result.missing == missing
    assert phrase in result.plan


def test_upscaling_without_a_scale_asks_for_one():
    result = check(_card("MIMO-UNet"), Classification(label=TaskLabel.super_resolution, confidence=0.9,
                                                       needs=["upscale"]))
    assert "--scale" in result.plan and "does not upscale" in result.plan


def test_unknown_models_are_unknown_not_able_or_unable():
    sr = Classification(label=TaskLabel.super_resolution, scale=4, confidence=0.9, needs=["upscale"])
    alone = check(_card("Real-ESRGAN"), sr)
    assert not alone.mismatch and alone.missing == [] and alone.unknown == ["Real-ESRGAN"]
    assert alone.models == [("Real-ESRGAN", None)]
    assert "unknown" in alone.plan and "cannot run it" in alone.plan
    mixed = check(_card("Real-ESRGAN", "Deblur-MIMO-UNet-Plus"), sr)
    assert mixed.mismatch and [entry.id for _, entry in mixed.models if entry] == ["Deblur-MIMO-UNet-Plus"]
    assert "Real-ESRGAN" in mixed.plan and "does not upscale" in mixed.plan


def test_a_question_with_no_need_is_no_mismatch():
    result = check(_card("MIMO-UNet"), Classification(label=TaskLabel.other, confidence=0.3, needs=[]))
    assert not result.mismatch and result.plan.startswith("With an image attached")
    from tools.restoration.zoo import project_weights_facts

    learned = project_weights_facts("MIMO-UNet").trained_on  # what the shipped weights' own record says
    assert f"project weights trained on {learned}, not MIMO-UNet's official checkpoint" in result.plan
    assert result.plan.count(". ") == 0  # one sentence: the answer is about the model, not about a run


def test_the_plan_names_the_weights_that_would_run(tmp_path, monkeypatch):
    from agent.settings import get_settings

    deblur = Classification(label=TaskLabel.deblurring, confidence=0.9, needs=["deblur"])
    # No official checkpoint installed: the Plus-based RealBlur model falls back to MIMO-UNet's project weights.
    plan = check(_card("Deblur-MIMO-UNet-RealBlur"), deblur).plan
    assert "not installed" in plan and "runs MIMO-UNet instead" in plan and "project weights" in plan
    plan = check(_card("Deblur-MIMO-UNet"), deblur).plan
    assert "not installed" in plan and "project weights" in plan and "instead" not in plan
    # The official file in CNAPS_WEIGHTS_DIR is what runs, and the plan says so.
    (tmp_path / "MIMO-UNetPlus.pkl").write_bytes(b"not read by the check")
    monkeypatch.setenv("CNAPS_WEIGHTS_DIR", str(tmp_path))
    get_settings.cache_clear()
    assert "has its official weights" in check(_card("Deblur-MIMO-UNet-Plus"), deblur).plan
    # The GoPro MIMO-UNet+ checkpoint stands in for the missing RealBlur one (same network), and says so.
    plan = check(_card("Deblur-MIMO-UNet-RealBlur"), deblur).plan
    assert "official MIMO-UNet+ checkpoint instead, trained on GoPro" in plan


def test_a_scale_beyond_the_limit_is_capped_in_the_plan():
    sr = Classification(label=TaskLabel.super_resolution, scale=16, confidence=0.9, needs=["upscale"])
    plan = check(_card("MIMO-UNet"), sr).plan
    assert "x8 (the most it enlarges; you asked for 16x)" in plan


def test_an_enlargement_without_deblurring_is_told_cnaps_always_runs_the_network():
    question = "Upscale x3 but no deblurring, just enlarge."
    plan = check(_card("MIMO-UNet"), classify(question)).plan
    assert "You asked for no deblurring" in plan and "Lanczos resize alone" in plan
    assert "You asked for no deblurring" not in check(_card("MIMO-UNet"), classify("Upscale x3, please.")).plan
    plan = check(_card("MIMO-UNet"), classify("Upscale 2x without sharpening it.")).plan
    assert "You asked for no deblurring" in plan


def test_project_weights_are_described_from_their_own_record(tmp_path, monkeypatch):
    import json

    from agent.capability import measured_gain_words, project_weights_words
    from tools.restoration import zoo

    monkeypatch.setattr(zoo, "PROJECT_WEIGHTS_DIR", tmp_path)
    assert zoo.project_weights_facts("MIMO-UNet") is None  # nothing ships: nothing is claimed
    (tmp_path / "mimo-unet.safetensors").write_bytes(b"")
    (tmp_path / "mimo-unet.json").write_text(json.dumps({"weights_metadata": {
        "trained_on": "real photographs (bsd100, urban100) blurred and reduced by cnaps",
        "real_photo_gain_db": json.dumps({"x2": 0.61, "x3": -0.05, "deblur": 1.4})}}))
    assert "real photographs (bsd100, urban100)" in project_weights_words("MIMO-UNet")
    gains = zoo.project_weights_facts("MIMO-UNet").real_photo_gain_db
    assert "+0.61 dB" in measured_gain_words(gains, 2)
    assert "-0.05 dB" in measured_gain_words(gains, 3) and "Lanczos alone" in measured_gain_words(gains, 3)
    assert "+1.40 dB" in measured_gain_words(gains, 1)
    assert measured_gain_words(None, 2) is None
