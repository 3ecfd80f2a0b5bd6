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


def test_links_without_a_scheme_are_links_too_and_mentions_of_allowed_ones_stay():
    text = ("see [the paper](//evil.example.xyz/p.pdf), evil-weights.xyz/mimo.pth, visit evil.example.com. "
            '<a href="https&#58;//evil.example.org/x">x</a>; the code is at github.com/chosj95/MIMO-UNet.')
    cleaned = scrub(text, {OK})
    for bad in ("evil.example.xyz", "evil-weights.xyz", "evil.example.com", "evil.example.org"):
        assert bad not in cleaned, cleaned
    assert "github.com/chosj95/MIMO-UNet" in cleaned
    harmless = "MIMO-UNet.pkl, torch.save, e.g. this, 1280x720, cnaps:notes/x and agent/data/example_blurry.png"
    assert find_urls(harmless) == [] and scrub(harmless, {OK}) == harmless


def test_a_mention_of_a_card_link_must_match_its_host_and_path_from_the_start():
    from agent.links import is_allowed

    allowed = {OK, "http://arxiv.org/pdf/2502.16025v1.pdf"}
    assert is_allowed("github.com/chosj95/MIMO-UNet", allowed) and is_allowed("arxiv.org/pdf/2502.16025v1.pdf", allowed)
    for lookalike in ("hub.com/chosj95/MIMO-UNet", "hub.com", "xiv.org/pdf/2502.16025v1.pdf"):
        assert not is_allowed(lookalike, allowed), lookalike
    assert find_urls("train.py/test.py, torch.hub/checkpoints, tools.restore/, ASP.NET, Socket.IO, output.co") == []
    assert "javascript" not in scrub("javascript&#58alert(1)", allowed)
