"""The agent wired into the real pipeline: typed tools, templates, and `cnaps ask --llm openai` end to end."""

from __future__ import annotations

import json
import re

import jinja2
import pytest
from fake_openai import Reply
from typer.testing import CliRunner

from agent.cli import app
from agent.llm_tools import agent_tools
from prompts import render
from tools.restoration.record import ToolRun, WeightsRecord


def test_tools_are_typed_and_restore_is_offered_only_with_an_image(ctx):
    from tools.classify import classify_task
    from tools.search import search_knowledge

    tools = {tool.name: tool for tool in agent_tools(ctx)}
    assert sorted(tools) == ["classify_task", "search_knowledge"]
    assert tools["classify_task"].description == classify_task.__doc__
    assert tools["search_knowledge"].description == search_knowledge.__doc__
    assert set(tools["search_knowledge"].args) == {"query", "k"}  # the card is cnaps' to choose, not the model's
    label = json.loads(tools["classify_task"].invoke({"question": "deblur this shaky photo of a sign"}))["label"]
    assert label == "deblurring"

    run = ToolRun(model_id="Deblur-MIMO-UNet-RealBlur", network="MIMO-UNet",
                  weights=WeightsRecord(file="w.pt", sha256="0" * 64, provenance="project", description="test"),
                  device="cpu", precision="fp32", input_size=(8, 8), output_size=(8, 8), seconds=0.1,
                  input_path="/tmp/in.png")
    with_image = {tool.name: tool for tool in agent_tools(ctx.model_copy(update={"restoration": run}))}
    assert "restore_image" in with_image and set(with_image["restore_image"].args) == {"scale", "model_id"}


@pytest.mark.parametrize("name", ["system.j2", "agent_answer.j2", "agent_repair.j2"])
def test_templates_refuse_missing_variables(name):
    with pytest.raises(jinja2.UndefinedError):
        render(name)


def _answer_from_prompt(body: dict) -> Reply:
    """A grounded answer built only from what cnaps put in the system prompt (references, label, mismatch)."""
    system = body["messages"][0]["content"]
    refs = re.findall(r"^\[(\d+)\] (.*?) \| (\S+) \| (recommended-model|related-paper)", system, re.MULTILINE)
    label = re.search(r"task label: ([a-z-]+)", system).group(1)
    scale = re.search(r"scale: (\d+)x", system)
    # the card's question asks how detail comes back: the reading's intents reach the model, most important first
    # (whether the detail is real, then how the model works)
    assert "what it asks, most important first: invented-detail (" in system, system[:800]
    assert "how-it-works (" in system, system[:800]
    model_refs = [int(n) for n, _, _, role in refs if role == "recommended-model"]
    cite = f"[{model_refs[0]}]"
    draft = {
        "task": {"label": label, "scale": int(scale.group(1)) if scale else None,
                 "mismatch": "CANNOT" in system, "text": f"You want to understand your restored photo {cite}."},
        "workflow": {"steps": [{"stage": s, "text": f"The {s} stage, as the paper describes it {cite}."}
                               for s in ("input", "model", "output")], "text": "Blur is undone, not invented."},
        "references": [{"n": int(n), "title": title, "url": url, "relevance": "Cited above."}
                       for n, title, url, role in refs if role == "recommended-model"],
    }
    return Reply.json(draft)


@pytest.mark.slow
def test_cnaps_ask_with_an_llm_end_to_end(endpoint, shared_cards):
    endpoint.add(Reply.tools(("search_knowledge", {"query": "multi-scale input and output"}),
                             ("classify_task", {"question": "I upscaled a blurry photo by 4x"})),
                 Reply.text("I have the facts."),
                 Reply.built_from(_answer_from_prompt))
    result = CliRunner().invoke(app, ["ask", str(shared_cards[0]), "--llm", "openai", "--format", "json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["engine"] == "llm:fake-model", answer["notes"]
    assert answer["task"]["label"] in ("both", "super-resolution") and answer["task"]["scale"] == 4
    assert {r["url"] for r in answer["references"]} == {
        "https://openaccess.thecvf.com/content/ICCV2021/papers/"
        "Cho_Rethinking_Coarse-To-Fine_Approach_in_Single_Image_Deblurring_ICCV_2021_paper.pdf",
        "https://github.com/chosj95/MIMO-UNet"}
    tool_results = [m["content"] for m in endpoint.requests[1]["messages"] if m["role"] == "tool"]
    assert len(tool_results) == 2 and '"passages"' in tool_results[0] and '"label"' in tool_results[1]
    from agent.cards import load_card

    searched = json.loads(tool_results[0])["passages"]
    assert searched and {p["url"] for p in searched} <= load_card(shared_cards[0]).provided_links
