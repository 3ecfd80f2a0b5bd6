"""`cnaps chat`: session logic (history budget, commands) and the command itself, with a stand-in for ask()."""

from __future__ import annotations

import pytest
from PIL import Image
from typer.testing import CliRunner

from agent.chat import ChatSession, estimate_tokens, remembered, trim_history
from agent.cli import app
from agent.errors import UsageError


class RecordingAsk:
    def __init__(self, answer):
        self.answer = answer
        self.calls: list[dict] = []

    def __call__(self, card, **kwargs):
        self.calls.append(kwargs)
        return self.answer.model_copy(deep=True)


def test_trim_history_keeps_the_latest_turns_within_budget():
    history = [("user", "q" * 40), ("assistant", "a" * 400), ("user", "r" * 40), ("assistant", "b" * 200)]
    kept = trim_history(history, budget=70)
    assert kept == history[2:]
    assert sum(estimate_tokens(t) for _, t in kept) <= 70
    assert trim_history(history, budget=10_000) == history
    clipped = trim_history(history, budget=20)
    assert len(clipped) == 1 and len(clipped[0][1]) == 80 and clipped[0][1].endswith("b")


def test_trim_history_starts_with_a_question():
    history = [("user", "q" * 40), ("assistant", "a" * 40), ("user", "r" * 40), ("assistant", "b" * 40)]
    assert trim_history(history, budget=30)[0] == ("user", "r" * 40)


def test_follow_ups_carry_trimmed_history(ctx, fallback):
    ask = RecordingAsk(fallback)
    session = ChatSession(ctx.card, llm="none", history_tokens=10_000, ask=ask)
    first = session.handle("How does MIMO-UNet read signs?")
    assert first.kind == "answer" and "## Task" in first.text
    session.handle("And at 2x?")
    assert ask.calls[0]["history"] == []
    assert ask.calls[1]["history"] == [("user", "How does MIMO-UNet read signs?"), ("assistant", remembered(fallback))]
    assert ask.calls[1]["question"] == "And at 2x?" and ask.calls[1]["llm"] == "none"
    small = ChatSession(ctx.card, history_tokens=50, ask=ask)
    for _ in range(3):
        small.handle("again?")
    assert sum(estimate_tokens(t) for _, t in small.history) <= 50


def test_empty_line_asks_the_card_question_once(ctx, fallback):
    ask = RecordingAsk(fallback)
    session = ChatSession(ctx.card, ask=ask)
    assert session.handle("").kind == "answer" and ask.calls[0]["question"] == ctx.card.question
    assert session.handle("   ").kind == "info" and len(ask.calls) == 1


def test_an_attached_image_stays_and_its_restoration_is_offered_for_reuse(ctx, fallback, tmp_path):
    ask = RecordingAsk(fallback)
    session = ChatSession(ctx.card, ask=ask)
    missing = session.handle(f"/image {tmp_path / 'nope.png'}")
    assert missing.kind == "error" and "no image at" in missing.text
    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 6)).save(photo)
    assert session.handle(f"/image {photo}").kind == "info"
    session.handle("restore it")
    session.handle("and now?")
    assert ask.calls[0]["image"] == photo and ask.calls[0]["previous"] is None
    assert ask.calls[1]["image"] == photo and ask.calls[1]["previous"] is session.run
    assert session.handle("/image").kind == "info"  # detached: no image, nothing to reuse
    session.handle("and without it?")
    assert ask.calls[2]["image"] is None and ask.calls[2]["previous"] is None


def test_a_file_that_is_not_an_image_is_refused_on_attach_and_questions_still_answer(ctx, fallback, tmp_path):
    ask = RecordingAsk(fallback)
    session = ChatSession(ctx.card, ask=ask)
    (tmp_path / "notimage.png").write_text("hello")
    refused = session.handle(f"/image {tmp_path / 'notimage.png'}")
    assert refused.kind == "error" and "cannot read" in refused.text and "\n" not in refused.text
    assert session.image is None
    assert session.handle("Please deblur it").kind == "answer" and ask.calls[0]["image"] is None


@pytest.mark.parametrize("typed", ['"{folder}/my photo.png"', "'{folder}/my photo.png'", "{folder}/my\\ photo.png",
                                   "{folder}/my photo.png"])
def test_image_paths_may_be_quoted_as_drag_and_drop_writes_them(ctx, fallback, tmp_path, typed):
    photo = tmp_path / "my photo.png"
    Image.new("RGB", (8, 6)).save(photo)
    session = ChatSession(ctx.card, ask=RecordingAsk(fallback))
    assert session.handle("/image " + typed.format(folder=tmp_path)).kind == "info"
    assert session.image == photo


def test_report_overwrite_replaces_an_existing_report(ctx, fallback, tmp_path):
    session = ChatSession(ctx.card, ask=RecordingAsk(fallback))
    session.handle("What is the task?")
    target = tmp_path / "my answer.html"
    target.write_text("old")
    assert "--overwrite" in session.handle(f"/report '{target}'").text and target.read_text() == "old"
    turn = session.handle(f"/report '{target}' --overwrite")
    assert turn.kind == "info" and "<html" in target.read_text()
    unknown = session.handle(f"/report '{target}' --force")
    assert unknown.kind == "error" and "--force" in unknown.text and "--overwrite" in unknown.text
    assert "--overwrite" in session.handle("/help").text


def test_report_and_other_commands(ctx, fallback, tmp_path):
    session = ChatSession(ctx.card, ask=RecordingAsk(fallback))
    assert session.handle("/report out.md").kind == "error"  # nothing asked yet
    assert session.handle("/help").text.startswith("Ask a question")
    assert session.handle("/frobnicate").kind == "error"
    assert session.handle("/quit").kind == "quit"
    session.handle("What is the task?")
    target = tmp_path / "answer.md"
    turn = session.handle(f"/report {target}")
    assert turn.kind == "info" and target.exists() and "References" in target.read_text()
    again = session.handle(f"/report {target}")
    assert again.kind == "error" and "already exists" in again.text
    assert session.handle(f"/report {tmp_path / 'x.docx'}").kind == "error"


def test_ask_errors_become_error_turns(ctx):
    def failing(card, **kwargs):
        raise UsageError("scale 9 is out of range: use an integer from 1 to 8")

    turn = ChatSession(ctx.card, ask=failing).handle("upscale by 9")
    assert turn.kind == "error" and "out of range" in turn.text


def test_chat_command(ctx, fallback, tmp_path, monkeypatch):
    ask = RecordingAsk(fallback)
    monkeypatch.setattr("agent.ask.ask", ask)
    report = tmp_path / "r.md"
    result = CliRunner().invoke(app, ["chat", "--llm", "none"],
                                input=f"What is MIMO-UNet?\n/report {report}\n/nonsense\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "## Task" in result.stdout and f"wrote {report}" in result.stdout
    assert "unknown command /nonsense" in result.stderr
    assert report.exists() and ask.calls[0]["llm"] == "none"


def test_chat_refuses_an_unknown_llm_choice():
    result = CliRunner().invoke(app, ["chat", "--llm", "gpt"])
    assert isinstance(result.exception, UsageError)


@pytest.mark.parametrize("line", ["/quit", "/exit"])
def test_chat_ends(line, monkeypatch):
    result = CliRunner().invoke(app, ["chat"], input=line + "\n")
    assert result.exit_code == 0 and "cnaps chat about" in result.stdout


def test_chat_prints_each_reference_on_its_own_line(ctx, fallback):
    import io

    from rich.console import Console
    from rich.markdown import Markdown

    assert len(fallback.references) >= 2
    session = ChatSession(ctx.card, llm="none", history_tokens=500, ask=RecordingAsk(fallback))
    turn = session.handle("How does it deblur?")
    console = Console(file=io.StringIO(), width=300, color_system=None)
    console.print(Markdown(turn.text))  # what `cnaps chat` shows in a terminal
    lines = console.file.getvalue().splitlines()
    starts = [next((i for i, line in enumerate(lines) if line.lstrip(" •-*").startswith(f"[{ref.n}]")), None)
              for ref in fallback.references]
    assert None not in starts, lines
    assert len(set(starts)) == len(starts)  # not one run-on paragraph
    for ref, start in zip(fallback.references, starts):
        if not ref.url.startswith("cnaps:"):
            assert ref.url in lines[start]
    assert turn.text.split("## References")[0] == fallback.markdown.split("## References")[0]  # the rest as composed
