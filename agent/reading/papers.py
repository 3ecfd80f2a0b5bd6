"""The card's related papers a question names: by the short name before a colon in a title, by the full title, by
a name the summary introduces ("we introduce Mask2Alpha"), by "the <word> paper" for a word only one title holds,
or, for a question that points back ("could I use it instead?"), by the turn before."""

from __future__ import annotations

import re

from agent.cards import Card

# "it", "its", "this paper", "they": a question that leans on the thing the turn before named.
POINTS_BACK = re.compile(r"\b(?:it|its|this\s+(?:one|paper|model|method)|that\s+(?:one|paper|model|method)|they|"
                         r"them|their)\b", re.IGNORECASE)
# "the saliency paper", "the brain one": a related paper named by a word of its title.
_BY_TITLE_WORD = re.compile(r"\b([a-z][\w-]{3,})\s+(?:paper|one|work|study|article)\b")
_GENERIC_TITLE_WORDS = frozenset("""this that other first second third last related recommended deblurring deblur
image images model models network networks visual vision neural learning deep mimo-unet mimo same which""".split())


def aliases(paper) -> list[str]:
    """The names a paper goes by: the part of its title before a colon, and what its summary introduces
    ("we introduce Mask2Alpha")."""
    return [paper.title.split(":")[0].strip(), *re.findall(r"\bwe\s+(?:introduce|propose|present)\s+([A-Z][\w-]+)",
                                                          paper.summary or "")]


def paper_name(paper, question: str = "") -> str:
    """The name the user gave the paper, else its short title, else (for a long title) the name it introduces."""
    names = aliases(paper)
    said = [name for name in names if re.search(rf"\b{re.escape(name)}\b", question, re.IGNORECASE)]
    if said:
        return said[0]
    return names[1] if len(names[0].split()) > 4 and len(names) > 1 else names[0]


def paper_names(papers: list, question: str = "") -> str:
    names = [paper_name(paper, question) for paper in papers]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def papers_named_in(card: Card, question: str) -> list:
    """The card's related papers (with a link) that `question` names: by alias, full title, or "the <word> paper"
    for a word of one related title only."""
    question = question.lower()
    named = []
    for paper in card.papers:
        names = {name.lower() for name in aliases(paper)} | {paper.title.strip().lower()}
        if any(len(name) >= 3 and re.search(rf"\b{re.escape(name)}\b", question) for name in names):
            named.append(paper)
    if not named:
        for match in _BY_TITLE_WORD.finditer(question):
            word = match.group(1)
            if word in _GENERIC_TITLE_WORDS:
                continue
            holders = [paper for paper in card.papers
                       if re.search(rf"\b{re.escape(word)}", paper.title.lower())]
            if len(holders) == 1 and holders[0] not in named:  # a word only one related title holds
                named.append(holders[0])
    return [paper for paper in named if paper.paper or paper.github]


def named_papers(card: Card, question: str, history: list[tuple[str, str]]) -> list:
    """The card's related papers the question names; one that names none but points back ("could I use it
    instead?", "what is in its repository?") takes those the user's previous turn named."""
    from agent.sentences import split_at_sentence_ends  # here: sentences -> schemas -> reading would be a cycle

    named = papers_named_in(card, question)
    if named or not POINTS_BACK.search(question):
        return named
    for role, earlier in reversed([(role, text) for role, text in history if text.strip()]):
        if role != "user":
            # An answer's first sentence says what it was about ("Your question is about FeatSharp, ..."); the
            # user turn that named the paper may have been trimmed from a long chat's history.
            named = papers_named_in(card, split_at_sentence_ends(earlier.strip())[0])
            if named:
                return named
            continue
        named = papers_named_in(card, earlier)
        if named or not POINTS_BACK.search(earlier):  # a chain of "it"s goes back to the turn that named one
            return named
    return []
