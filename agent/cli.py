"""The `cnaps` command line. It parses arguments and prints; the modules it calls decide everything.

Every `CnapsError` becomes one line on stderr and a non-zero exit; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from agent import __version__
from agent.errors import CnapsError, UsageError

app = typer.Typer(
    name="cnaps",
    help="Explains image-restoration results and performs them (MIMO-UNet, ICCV 2021).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"cnaps {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug


# --- answer engine: ask, classify (issue 2) ---


class OutputFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


@app.command()
def ask(
    card: Optional[Path] = typer.Argument(None, help="Card file (default: the bundled MIMO-UNet card)."),
    question: Optional[str] = typer.Option(None, "--question", "-q", help="Replace the card's question."),
    image: Optional[Path] = typer.Option(None, "--image", "-i", help="Restore this image and report what ran."),
    scale: Optional[int] = typer.Option(None, "--scale", help="Enlargement 1-8 (default: the question's, else 1)."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o", help="Where the restored image goes."),
    model: Optional[str] = typer.Option(None, "--model", help="Run this zoo model instead of the card's."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights file for the restoration."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    llm: Optional[str] = typer.Option(None, "--llm", help="none or openai (default: openai when configured)."),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text, markdown or json."),
) -> None:
    """Answer a card's question in three parts: task, workflow, references."""
    from agent.ask import ask as run_ask
    from agent.cards import bundled_card, load_card

    if llm not in (None, "none", "openai", "auto"):
        raise UsageError(f"--llm {llm} is not a choice: use none or openai")
    the_card = load_card(card) if card else bundled_card()
    stream = _token_printer() if output_format is OutputFormat.text else None
    answer = run_ask(the_card, question=question, image=image, scale=scale, llm=llm, output_dir=output_dir,
                     on_token=stream, model=model, weights=weights, device=device)
    _print_answer(answer, output_format)


@app.command()
def classify(
    text: str = typer.Argument(..., help="The question to classify."),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Classify a question: deblurring, super-resolution, both or other, with scale and cues."""
    from agent.classify import classify as run_classify

    result = run_classify(text)
    if output_format is OutputFormat.json:
        print(result.model_dump_json(indent=2))
        return
    scale = f", scale {result.scale}x" if result.scale else ""
    print(f"{result.label.value}{scale} (confidence {result.confidence:.2f})")
    if result.cues:
        print(f"cues: {', '.join(result.cues)}")
    if result.needs:
        print(f"needs: {', '.join(result.needs)}")
    if result.evidence:
        print(f"evidence: {'; '.join(result.evidence)}")


def _token_printer():
    if not sys.stderr.isatty():
        return None

    def write(token: str) -> None:
        sys.stderr.write(token)
        sys.stderr.flush()

    return write


def _print_answer(answer, output_format: "OutputFormat") -> None:
    if output_format is OutputFormat.json:
        print(answer.model_dump_json(indent=2))
    elif output_format is OutputFormat.text and sys.stdout.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(answer.markdown))
    else:
        print(answer.markdown)

# --- knowledge: index (issue 2) ---

# --- restoration: restore (issue 3), train (issue 4) ---

# --- llm agent: chat (issue 5) ---

# --- web and reports: serve, report (issue 6) ---


def main() -> None:
    """Entry point: run the app and turn CnapsError into one line plus an exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        app(standalone_mode=False)
    except CnapsError as error:
        if debug:
            raise
        print(f"cnaps: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("cnaps: interrupted", file=sys.stderr)
        sys.exit(130)
    except (typer.Exit, SystemExit) as stop:
        code = getattr(stop, "exit_code", None)
        sys.exit(stop.code if isinstance(stop, SystemExit) else code)
    except typer.Abort:
        print("cnaps: aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # click usage errors arrive here in standalone_mode=False
        import click

        if isinstance(error, click.exceptions.ClickException):
            print(f"cnaps: error: {error.format_message()}", file=sys.stderr)
            sys.exit(2)
        if debug:
            raise
        print(f"cnaps: internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)",
              file=sys.stderr)
        sys.exit(70)


if __name__ == "__main__":
    main()
