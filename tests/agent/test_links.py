from agent.links import REMOVED, find_urls, scrub, scrub_answer
from agent.schemas import Workflow, WorkflowStep

OK = "https://github.com/chosj95/MIMO-UNet"


def test_find_urls_catches_every_scheme_and_bare_hosts():
    text = f"see {OK}, javascript:alert(1) and www.evil.example/x. Also data:text/html;base64,AAA."
    assert find_urls(text) == [OK, "javascript:alert", "www.evil.example/x", "data:text/html;base64,AAA"]


def test_scrub_keeps_allowed_and_removes_the_rest():
    text = f"Use {OK} not https://evil.example.com/a?b=c."
    assert scrub(text, {OK}) == f"Use {OK} not {REMOVED}."


def test_scrub_answer_walks_nested_models():
    flow = Workflow(steps=[WorkflowStep(stage="input", text="go to http://x.example")], text=f"{OK} ok")
    removed = scrub_answer(flow, {OK})
    assert removed == ["http://x.example"]
    assert flow.steps[0].text == f"go to {REMOVED}" and flow.text == f"{OK} ok"


def test_plain_words_with_colons_are_not_links():
    assert find_urls("Note: the scale is 4x. Ratio 1:2 and time 10:30.") == []
