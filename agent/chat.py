"""A terminal chat about one card: follow-up questions with history, commands for images and reports.

`ChatSession.handle(line)` takes one line the user typed and returns a `Turn` for the CLI to print; it never
prints itself. History is kept as (role, text) turns and trimmed, oldest first, to `llm.history_tokens`; an
assistant turn is remembered as its task and workflow text, not its references.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.cards import Card
from agent.errors import CnapsError, InputFileError, UsageError
from agent.schemas import Answer
from agent.settings import get_settings
from tools.restoration.record import ToolRun

HELP = """Ask a question about the card, or a follow-up. Commands (quote a PATH that has spaces):
  /image PATH    attach an image: the next question restores it; later ones reuse that unless they ask another scale
  /image         detach the image
  /report PATH   write the last answer as a report (.html, .md or .pdf); add --overwrite to replace a file
  /help          this help
  /quit          leave (Ctrl-D works too)
An empty line asks the card's own question when nothing has been asked yet."""

CHARS_PER_TOKEN = 4  # a rough English average for BPE tokenizers; no tokenizer download needed


@dataclass
class Turn:
    """What one line produced: an answer, a message, an error, or the end of the chat."""

    kind: Literal["answer", "info", "error", "quit"]
    text: str
    answer: Answer | None = None


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def trim_history(history: list[tuple[str, str]], budget: int) -> list[tuple[str, str]]:
    """The most recent turns whose estimated tokens fit `budget`; the latest turn is kept, clipped if it must be."""
    kept: list[tuple[str, str]] = []
    used = 0
    for role, text in reversed(history):
        cost = estimate_tokens(text)
        if used + cost > budget:
            if not kept and budget > 0:
                kept.append((role, "..." + text[-(budget * CHARS_PER_TOKEN - 3):]))
            break
        kept.append((role, text))
        used += cost
    kept.reverse()
    while kept and kept[0][0] != "user" and len(kept) > 1:  # start on a question, not half an exchange
        kept.pop(0)
    return kept


def split_argument(argument: str) -> tuple[str, set[str]]:
    """A command's path and its --flags. Quotes and backslash escapes, as a terminal's drag-and-drop writes them
    ('my photo.png', "my photo.png", my\\ photo.png), are removed; an unquoted path with spaces stays whole."""
    try:
        words = shlex.split(argument)
    except ValueError:  # an unclosed quote: take the text as typed
        words = [argument]
    flags = {word for word in words if word.startswith("--")}
    return " ".join(word for word in words if not word.startswith("--")), flags


def _refuse_flags(command: str, flags: set[str], allowed: set[str]) -> None:
    if flags - allowed:
        usable = f"only {', '.join(sorted(allowed))} is accepted" if allowed else "it takes none"
        raise UsageError(f"{command} does not know {', '.join(sorted(flags - allowed))}: {usable}")


def remembered(answer: Answer) -> str:
    """An answer as history: the task and the workflow, without references or notes."""
    steps = " ".join(f"{step.stage}: {step.text}" for step in answer.workflow.steps)
    return " ".join(part for part in (answer.task.text, steps, answer.workflow.text) if part)


def chat_markdown(answer: Answer, shown: frozenset[str] = frozenset()) -> str:
    """The answer's Markdown with its references as a list, one item each. The composer writes them as lines of
    one block, which a terminal Markdown renderer joins into a single run-on paragraph. A reference an earlier turn
    of the chat has `shown` (by url) keeps its number and title, without its link and relevance again."""
    from agent.report import md_text

    head, found, rest = answer.markdown.partition("\n## References\n")
    if not found or not answer.references:
        return answer.markdown
    after = rest.find("\n## ")
    tail = rest[after:] if after >= 0 else "\n"
    items = []
    for ref in answer.references:
        if ref.url in shown:
            items.append(f"- [{ref.n}] {md_text(ref.title)} (listed above)")
            continue
        link = "" if ref.url.startswith("cnaps:notes/") else f": {ref.url}"
        relevance = f" — {md_text(ref.relevance)}" if ref.relevance else ""
        items.append(f"- [{ref.n}] {md_text(ref.title)} ({md_text(ref.role)}, {md_text(ref.kind)}){link}{relevance}")
    return f"{head}\n## References\n\n" + "\n".join(items) + "\n" + tail


class ChatSession:
    """One conversation about `card`. `ask` defaults to `agent.ask.ask`; tests pass a stand-in."""

    def __init__(
        self,
        card: Card,
        llm: str | None = None,
        on_token: Callable[[str], None] | None = None,
        output_dir: Path | None = None,
        history_tokens: int | None = None,
        ask: Callable[..., Answer] | None = None,
    ) -> None:
        self.card = card
        self.llm = llm
        self.on_token = on_token
        self.output_dir = output_dir
        self.budget = history_tokens if history_tokens is not None else get_settings().llm.history_tokens
        self._ask = ask
        self.history: list[tuple[str, str]] = []
        self.image: Path | None = None
        self.run: ToolRun | None = None  # the attached image's latest restoration, reused at the same scale
        self.last: Answer | None = None
        self.last_question = ""
        self.shown: set[str] = set()  # the urls of the references an earlier turn listed in full

    def handle(self, line: str) -> Turn:
        line = line.strip()
        if line.startswith("/"):
            return self.command(line)
        if not line:
            if self.last is None:
                return self.ask(self.card.question)
            return Turn("info", "")
        return self.ask(line)

    def command(self, line: str) -> Turn:
        name, _, argument = line.partition(" ")
        argument = argument.strip()
        try:
            if name in ("/quit", "/exit", "/q"):
                return Turn("quit", "bye")
            if name in ("/help", "/?"):
                return Turn("info", HELP)
            if name == "/image":
                return self.attach(argument)
            if name == "/report":
                return self.report(argument)
        except CnapsError as error:
            return Turn("error", str(error))
        return Turn("error", f"unknown command {name}: type /help for the commands")

    def attach(self, argument: str) -> Turn:
        from tools.restoration.imageio import check_image_file

        argument, flags = split_argument(argument)
        _refuse_flags("/image", flags, set())
        if not argument:
            self.image, self.run = None, None
            return Turn("info", "no image attached")
        path = Path(argument).expanduser()
        if not path.is_file():
            raise InputFileError(f"no image at {path}: give the path of an image file")
        check_image_file(path, get_settings().restore.max_pixels)  # the header only: a bad file fails here, not later
        self.image, self.run = path, None
        return Turn("info", f"attached {path}; the next question restores it, and later ones reuse that result "
                            "unless they ask for another scale (/image alone detaches it)")

    def report(self, argument: str) -> Turn:
        from agent.report import write_report

        argument, flags = split_argument(argument)
        _refuse_flags("/report", flags, {"--overwrite"})
        if not argument:
            raise UsageError("/report needs a file name ending in .html, .md or .pdf, e.g. /report answer.html")
        if self.last is None:
            raise UsageError("nothing to report yet: ask a question first")
        written = write_report(self.last, self.last_question, Path(argument).expanduser(),
                               overwrite="--overwrite" in flags)
        return Turn("info", f"wrote {written}")

    def ask(self, question: str) -> Turn:
        ask = self._ask
        if ask is None:
            from agent.ask import ask
        try:
            # A later turn answers the follow-up and one line per workflow stage: the first answer gave the rest.
            answer = ask(self.card, question=question, image=self.image, llm=self.llm, on_token=self.on_token,
                         history=list(self.history), output_dir=self.output_dir, previous=self.run,
                         detail="short" if self.history else "brief")
        except CnapsError as error:
            return Turn("error", str(error))
        if self.image is not None:
            self.run = answer.restoration
        self.last, self.last_question = answer, question
        self.history = trim_history(self.history + [("user", question), ("assistant", remembered(answer))],
                                    self.budget)
        markdown = chat_markdown(answer, frozenset(self.shown))
        self.shown |= {ref.url for ref in answer.references}
        return Turn("answer", markdown, answer)
