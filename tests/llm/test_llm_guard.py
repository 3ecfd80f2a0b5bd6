"""The grounding guard, the lenient parser and the streaming filters, without any endpoint."""

from __future__ import annotations

import json

import pytest
from conftest import COF, COF_CODE, EVIL, FEATSHARP, GITHUB, PAPER, good_draft
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.guard import LinkFilter, check, scrub_text, strip_unprovided_links
from agent.drafts import JsonPreview, parse_draft
from agent.loop import AgentRun


def build(ctx, fallback, draft: dict):
    run = AgentRun(ctx, fallback, chat=None, tools=[], on_token=None, model_name="m")
    parsed = parse_draft(json.dumps(draft))
    return run.complete(parsed), parsed.label_note


def problems(ctx, fallback, draft):
    answer, note = build(ctx, fallback, draft)
    return check(answer, ctx, note)


def test_good_answer_passes(ctx, fallback):
    assert problems(ctx, fallback, good_draft()) == []


def test_composer_answer_passes_the_same_guard(ctx, fallback):
    assert check(fallback, ctx) == []


@pytest.mark.parametrize("where", ["task", "step", "workflow", "note", "relevance"])
def test_unprovided_link_anywhere_is_a_violation(ctx, fallback, where):
    draft = good_draft()
    planted = f" see {EVIL}."
    if where == "task":
        draft["task"]["text"] += planted
    elif where == "step":
        draft["workflow"]["steps"][2]["text"] += planted
    elif where == "workflow":
        draft["workflow"]["text"] += planted
    elif where == "note":
        draft["notes"] = [planted]
    else:
        draft["references"][0]["relevance"] += planted
    found = problems(ctx, fallback, draft)
    assert any(EVIL in p and "does not provide" in p for p in found), found


def test_bare_host_and_other_schemes_are_links_too(ctx, fallback):
    draft = good_draft()
    draft["notes"] = ["code at github.com/someone/else and javascript:alert(1)"]
    found = " ".join(problems(ctx, fallback, draft))
    assert "github.com/someone/else" in found and "javascript:" in found


def test_provided_bare_host_is_fine(ctx, fallback):
    draft = good_draft()
    draft["notes"] = ["The code is at github.com/chosj95/MIMO-UNet [2]."]
    assert problems(ctx, fallback, draft) == []


def test_swapped_title_and_link(ctx, fallback):
    draft = good_draft()
    draft["references"].append({"n": 3, "title": "CoF: Coarse to Fine-Grained Image Understanding", "url": FEATSHARP,
                                "relevance": "x"})
    found = problems(ctx, fallback, draft)
    assert any("pair each title with its own link" in p and "[3]" in p for p in found), found


def test_code_link_under_its_paper_title_is_not_a_swap(ctx, fallback):
    draft = good_draft()
    draft["references"] += [{"n": 3, "title": "CoF code", "url": COF_CODE, "relevance": "x"},
                            {"n": 4, "title": "CoF paper", "url": COF, "relevance": "x"}]
    assert problems(ctx, fallback, draft) == []


def test_recommended_model_links_must_be_cited(ctx, fallback):
    draft = good_draft()
    draft["references"] = draft["references"][:1]
    draft["workflow"]["steps"] = [{**s, "text": s["text"].replace("[2]", "[1]")} for s in draft["workflow"]["steps"]]
    found = problems(ctx, fallback, draft)
    assert found == [f"the recommended model Deblur-MIMO-UNet-RealBlur's link {GITHUB} is missing from the references"]


def test_unresolved_and_missing_citations(ctx, fallback):
    draft = good_draft()
    draft["task"]["text"] += " As shown in [7]."
    found = problems(ctx, fallback, draft)
    assert found == ["task cites [7], but no reference has that number"]
    draft = good_draft()
    for step in draft["workflow"]["steps"]:
        step["text"] = step["text"].replace("[1]", "").replace("[2]", "")
    assert problems(ctx, fallback, draft) == [
        "the workflow cites no reference: mark each fact with the [n] of its reference"]


def test_citation_lists_and_ranges_resolve(ctx, fallback):
    from agent.guard import cited_numbers

    assert cited_numbers("a [1, 2] b [3-5] c [7; 9] d [2]") == {1, 2, 3, 4, 5, 7, 9}
    draft = good_draft()
    draft["workflow"]["steps"][0]["text"] += " See also [1, 2]."
    assert problems(ctx, fallback, draft) == []
    draft["workflow"]["steps"][0]["text"] += " And [2-4]."
    assert problems(ctx, fallback, draft) == ["workflow step 1 (input) cites [3], but no reference has that number",
                                              "workflow step 1 (input) cites [4], but no reference has that number"]


def test_sections(ctx, fallback):
    draft = good_draft()
    draft["workflow"]["steps"] = [draft["workflow"]["steps"][1]]
    draft["references"] = []
    found = " | ".join(problems(ctx, fallback, draft))
    assert "lacks the input, output step(s)" in found and "References section is empty" in found


def test_label_scale_and_mismatch(ctx, fallback):
    draft = good_draft()
    draft["task"].update(label="super-resolution", scale=2, mismatch=False)
    found = " | ".join(problems(ctx, fallback, draft))
    assert "disagrees with the classifier's 'both'" in found
    assert "scale 2 disagrees with the 4x" in found
    assert "task.mismatch must be true" in found and "upscale" in found
    draft["label_note"] = "because"  # not a reason
    draft["task"]["mismatch"] = True
    assert "disagrees with the classifier's" in " ".join(problems(ctx, fallback, draft))
    draft["label_note"] = "The user mostly wants detail back, not a larger picture."
    assert [p for p in problems(ctx, fallback, draft)] == ["the task scale 2 disagrees with the 4x the question asks "
                                                           "for: use it"]  # a stated factor is not open to argument
    draft["task"]["scale"] = 4
    assert problems(ctx, fallback, draft) == []


def test_strip_drops_references_and_scrubs_text(ctx, fallback):
    answer, _ = build(ctx, fallback, good_draft())
    answer.references[0].url = EVIL
    answer.notes = [f"see {EVIL} and {GITHUB}"]
    clean, removed = strip_unprovided_links(answer, ctx.card.provided_links)
    assert EVIL in removed and EVIL not in clean.model_dump_json()
    assert [r.url for r in clean.references] == [GITHUB] and GITHUB in clean.notes[0]
    assert answer.references[0].url == EVIL  # the input is not modified


def test_parse_draft_is_lenient():
    text = json.dumps(good_draft())
    assert parse_draft("Here it is:\n```json\n" + text + "\n```\nHope this helps").task.scale == 4
    assert parse_draft("prose before " + text + " prose after").references[1].url == GITHUB
    data = good_draft()
    data["task"]["label"] = "Super Resolution"
    data["task"]["scale"] = "4x"
    data["workflow"]["steps"] = {"Input": "a [1]", "model": "b [1]", "output": "c"}
    draft = parse_draft(json.dumps(data))
    assert draft.task.label.value == "super-resolution" and draft.task.scale == 4
    assert [s.stage for s in draft.workflow.steps] == ["input", "model", "output"]


@pytest.mark.parametrize("raw, reason", [
    ("no json here", "no JSON object"),
    ('{"task": {"label": "both"}}', "does not have the answer's shape"),
    (json.dumps(good_draft())[:200], "does not have the answer's shape"),
    ('{"task": {"label": "cooking", "mismatch": true, "text": "x"}, "workflow": {"steps": []}, "references": []}',
     "task.label"),
])
def test_parse_draft_rejects_with_a_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        parse_draft(raw)


def test_json_preview_streams_readable_text():
    out: list[str] = []
    preview = JsonPreview(out.append)
    text = json.dumps(good_draft())
    for i in range(0, len(text), 3):
        preview.feed(text[i:i + 3])
    preview.finish()
    streamed = "".join(out)
    assert streamed == JsonPreview.readable(good_draft())
    assert len(out) > 20 and streamed.startswith("Task: You enlarged") and "\nOutput: A sharper" in streamed


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=40))
def test_link_filter_never_emits_an_unprovided_link(cuts):
    text = f"The paper {PAPER} and {EVIL} and www.evil.example.com/x or github.com/evil/x, then {GITHUB}. Done"
    out: list[str] = []
    sink = LinkFilter({PAPER, GITHUB}, out.append)
    position = 0
    for size in cuts:
        sink.feed(text[position:position + size])
        position += size
    sink.feed(text[position:])
    sink.flush()
    streamed = "".join(out)
    assert "evil" not in streamed
    assert PAPER in streamed and GITHUB in streamed and streamed.endswith("Done")
    assert streamed == scrub_text(text, {PAPER, GITHUB})


def test_a_notes_id_the_composer_never_cited_is_dropped_from_the_models_references(ctx, fallback):
    draft = good_draft()
    draft["references"].append({"n": 3, "title": "made up", "url": "cnaps:notes/anything", "relevance": "invented"})
    answer, _ = build(ctx, fallback, draft)
    assert [ref.url for ref in answer.references] == [PAPER, GITHUB]


def test_made_up_numbers_are_violations_and_passage_numbers_are_not(ctx, fallback):
    draft = good_draft()
    draft["workflow"]["steps"][1]["text"] = ("MIMO-UNet+ reaches 41.7 dB PSNR with only 2.3 million parameters and "
                                             "restores a photo in 3 ms [1].")
    found = " ".join(problems(ctx, fallback, draft))
    assert "states 41.7" in found and "states 2.3" in found
    assert "states 3," not in found  # a one-digit whole number is not checked
    draft = good_draft()
    draft["workflow"]["steps"][0]["text"] = "The photo, enlarged 4x, enters at 1/2 and 1/4 scale as well [1]."
    assert problems(ctx, fallback, draft) == []


def test_claims_that_contradict_the_record_or_the_capability_check(ctx, fallback):
    from agent.schemas import ToolRun
    from tools.restoration.record import WeightsRecord

    ctx.restoration = ToolRun(
        model_id="MIMO-UNet", network="MIMO-UNet", device="cpu", precision="fp32", input_size=(32, 32),
        output_size=(128, 128), scale=4, seconds=1.5,
        weights=WeightsRecord(file="w", sha256="0" * 64, provenance="project", description="project weights"))
    draft = good_draft()
    draft["workflow"]["steps"][2]["text"] = ("cnaps ran the authors' official RealBlur checkpoint on a GPU in fp16, "
                                             "and the network enlarges the image 4x itself [2].")
    found = " ".join(problems(ctx, fallback, draft))
    assert "says official weights ran" in found and "ran on a GPU" in found and "precision" in found
    assert "says the model enlarges the image" in found
    draft = good_draft()
    draft["workflow"]["steps"][2]["text"] = ("cnaps ran project weights, not the authors' official checkpoint; the "
                                             "network does not enlarge the image [2].")
    assert problems(ctx, fallback, draft) == []


def test_a_reference_without_a_card_link_is_a_violation(ctx, fallback):
    for url in ("arXiv:2107.10833", ""):
        draft = good_draft()
        draft["references"].append({"n": 3, "title": "Real-ESRGAN", "url": url, "relevance": "better"})
        draft["task"]["text"] += " Real-ESRGAN would do better [3]."
        found = " ".join(problems(ctx, fallback, draft))
        assert "reference [3] ('Real-ESRGAN') points at" in found, url


def test_the_papers_own_title_is_not_mistaken_for_a_related_paper(ctx, fallback):
    ctx.passages[0] = ctx.passages[0].model_copy(update={"title": "What MIMO-UNet learned from: training loss"})
    draft = good_draft()
    draft["references"][0]["title"] = "Rethinking Coarse-to-Fine Approach in Single Image Deblurring"
    assert problems(ctx, fallback, draft) == []


def _with_cpu_record(ctx):
    from agent.schemas import ToolRun
    from tools.restoration.record import WeightsRecord

    ctx.restoration = ToolRun(
        model_id="MIMO-UNet", network="MIMO-UNet", device="cpu", precision="fp32", input_size=(640, 480),
        output_size=(2560, 1920), scale=4, seconds=1.5,
        weights=WeightsRecord(file="w", sha256="0" * 64, provenance="project", description="project weights"))
    return ctx


@pytest.mark.parametrize("sentence", [
    "You can run it on a GPU with --device cuda for speed [2].",
    "To use the authors' official GoPro weights, download them and pass --weights [2].",
    "cnaps ran project weights fine-tuned from the GoPro checkpoint [2].",
    "First, it upscales the photo 4x by interpolation; then MIMO-UNet removes the blur [1].",
    "The 640x480 photo became 2560x1920, 16x the pixels, at 1/2 and 0.5 scale (ICCV 2021, Python 3.10, --tile 512) [1].",
])
def test_correct_sentences_pass_the_claim_and_number_checks(ctx, fallback, sentence):
    _with_cpu_record(ctx)
    draft = good_draft()
    draft["workflow"]["steps"][2]["text"] = sentence
    assert problems(ctx, fallback, draft) == []


def test_a_no_elsewhere_in_the_sentence_does_not_hide_a_claim(ctx, fallback):
    _with_cpu_record(ctx)
    draft = good_draft()
    draft["workflow"]["steps"][2]["text"] = "cnaps ran the official GoPro weights on an RTX GPU, and no blur is left [2]."
    found = " ".join(problems(ctx, fallback, draft))
    assert "says official weights ran" in found and "ran on a GPU" in found


def test_numbers_from_the_models_own_searches_are_grounded(ctx, fallback):
    from agent.loop import AgentRun

    run = AgentRun(ctx, fallback, chat=None, tools=[], on_token=None, model_name="m")
    run._remember("search_knowledge", json.dumps({"passages": [{
        "id": "s", "url": ctx.passages[1].url, "score": 0.5, "title": "results",
        "text": "MIMO-UNet+ reaches 32.45 dB with 16.1 million parameters."}]}))
    draft = good_draft()
    draft["workflow"]["steps"][1]["text"] = "MIMO-UNet+ reaches 32.45 dB with 16.1 million parameters [2]."
    answer, problems_found = run.judge(json.dumps(draft))
    assert problems_found == []
