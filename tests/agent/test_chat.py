"""The terminal chat's turns, with the real offline composer."""

from __future__ import annotations

import re

from agent.cards import bundled_card
from agent.chat import ChatSession

URL = re.compile(r"https?://\S+")


def test_a_later_turn_does_not_list_the_references_of_an_earlier_one_again(home):
    chat = ChatSession(bundled_card(), llm="none")
    first = chat.handle("How does MIMO-UNet deblur a photo?")
    second = chat.handle("And what is the FAM module?")
    assert first.kind == second.kind == "answer"
    first_urls = set(URL.findall(first.text))
    references = second.text.split("## References", 1)[1]
    assert not first_urls & set(URL.findall(references))  # each link is given once in the chat
    before = {ref.url for ref in first.answer.references}
    listed = [ref for ref in second.answer.references if ref.url in before]
    assert listed and all(f"[{ref.n}]" in references for ref in listed)  # their numbers still resolve
    assert references.count("listed above") == len(listed)
