"""The frozen question set (tests/data/questions.jsonl, written by scripts/freeze_questions.py): every question the
tests ask, the labelled classification set, and each intent's examples and paraphrases, with the reading each had
when it was frozen. Moving a family of rules must keep these readings; a deliberate change refreezes the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cards import load_card
from agent.reading import read

ROWS = [json.loads(line) for line in (Path(__file__).resolve().parents[1] / "data" / "questions.jsonl")
        .read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def readings(shared_cards, shared_home):
    import os

    from agent.settings import get_settings

    old = os.environ.get("CNAPS_HOME")
    os.environ["CNAPS_HOME"] = str(shared_home)
    get_settings.cache_clear()
    try:
        card = load_card(shared_cards[0])
        yield [read(row["question"], card) for row in ROWS]
    finally:
        if old is None:
            os.environ.pop("CNAPS_HOME", None)
        else:
            os.environ["CNAPS_HOME"] = old
        get_settings.cache_clear()


def test_the_set_is_large_and_covers_every_intent():
    from agent.reading.intents import REGISTRY

    assert len(ROWS) >= 300
    assert {row["intent"] for row in ROWS} >= set(REGISTRY) - {"general"}


def test_the_task_reading_of_every_frozen_question_is_kept(readings):
    changed = [(row["question"], (row["label"], row["scale"], row["needs"]),
                (r.classification.label.value, r.classification.scale, r.classification.needs))
               for row, r in zip(ROWS, readings)
               if (row["label"], row["scale"], row["needs"]) != (r.classification.label.value, r.classification.scale,
                                                                   r.classification.needs)]
    assert not changed, changed[:10]


def test_intents_stay_as_frozen(readings):
    same = sum(row["intent"] == r.primary for row, r in zip(ROWS, readings))
    assert same / len(ROWS) >= 0.97, [(row["question"], row["intent"], r.primary)
                                      for row, r in zip(ROWS, readings) if row["intent"] != r.primary][:10]


def test_labels_agree_with_the_human_labels_at_95_percent(readings):
    labelled = [(row, r) for row, r in zip(ROWS, readings) if "label_truth" in row]
    right = sum(row["label_truth"] == r.classification.label.value for row, r in labelled)
    assert len(labelled) >= 150 and right / len(labelled) >= 0.95
    scaled = [(row, r) for row, r in labelled if row.get("scale_truth")]
    assert sum(row["scale_truth"] == r.classification.scale for row, r in scaled) / len(scaled) >= 0.95


def test_each_paraphrase_group_reads_as_its_intent(readings):
    grouped = [(row, r) for row, r in zip(ROWS, readings) if row.get("group")]
    assert sum(r.asks(row["group"]) for row, r in grouped) / len(grouped) >= 0.95
