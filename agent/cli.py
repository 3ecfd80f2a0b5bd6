"""The `cnaps` command line. It parses arguments and prints; the modules it calls decide everything.

Every `CnapsError` becomes one line on stderr and a non-zero exit; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from agent import __version__
from agent.cli_options import Detail, OutputFormat, RecordFormat
from agent.errors import CnapsError, UsageError

app = typer.Typer(
    name="cnaps",
    help="Explains image-restoration results and performs them (MIMO-UNet, ICCV 2021).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        print(f"cnaps {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """`--debug` is read by `main` before typer runs, so that errors while parsing show their traceback too."""


def _check_llm(llm: str | None) -> None:
    if llm not in (None, "none", "openai", "auto"):
        raise UsageError(f"--llm {llm} is not a choice: use none, openai or auto")


def _check_home_is_writable() -> None:
    import tempfile

    from agent.settings import get_settings

    folder = get_settings().output_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(f"CNAPS_HOME is not writable ({folder}: {error.strerror or type(error).__name__}): set "
                         "CNAPS_HOME to a writable folder") from None


def _check_options(llm: str | None, model: str | None, weights: Path | None, device: str | None) -> None:
    """--llm, --model, --weights and --device checked before anything runs, image or not."""
    from tools.restore import check_restore_options

    _check_llm(llm)
    check_restore_options(model, weights, device)


# --- answer engine: ask, classify (issue 2) ---


@app.command()
def ask(
    card: Optional[Path] = typer.Argument(None, help="Card file (default: the bundled MIMO-UNet card)."),
    question: Optional[str] = typer.Option(None, "--question", "-q", help="Replace the card's question."),
    image: Optional[Path] = typer.Option(None, "--image", "-i", help="Restore this image and report what ran."),
    scale: Optional[int] = typer.Option(None, "--scale", help="Enlargement 1-8 (default: the question's, else 1)."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o",
                                              help="Where the restored image and the answer (Markdown) go."),
    model: Optional[str] = typer.Option(None, "--model", help="Run this zoo model instead of the card's."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights file for the restoration."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    llm: Optional[str] = typer.Option(None, "--llm", help="none or openai (default: openai when configured)."),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text, markdown or json."),
    detail: Detail = typer.Option(Detail.brief, "--detail", help="brief (each fact once) or full (every workflow fact)."),
) -> None:
    """Answer a card's question in three parts: task, workflow, references. With --output-dir, the answer is also
    written there as Markdown, beside the restored image."""
    from agent.ask import ask as run_ask
    from agent.cards import bundled_card, load_card
    from agent.report import write_answer_markdown
    from tools.restoration.imageio import folder_kept_only_if_used

    _check_options(llm, model, weights, device)
    _check_image(image)
    the_card = load_card(card) if card else bundled_card()
    stream = _token_printer() if output_format is OutputFormat.text else None
    with folder_kept_only_if_used(output_dir):  # a refused image leaves no empty --output-dir behind
        answer = run_ask(the_card, question=question, image=image, scale=scale, llm=llm, output_dir=output_dir,
                         on_token=stream, model=model, weights=weights, device=device, detail=detail.value)
        written = write_answer_markdown(answer, _make_folder(output_dir)) if output_dir is not None else None
    _print_answer(answer, output_format)
    if written is not None:
        print(f"answer written to {written}", file=sys.stderr)


def _check_image(image: Path | None) -> None:
    """An attached image read from its header before anything is loaded or created (missing, not an image, over
    CNAPS_RESTORE__MAX_PIXELS)."""
    if image is not None:
        from agent.settings import get_settings
        from tools.restoration.imageio import check_image_file

        check_image_file(image, get_settings().restore.max_pixels)


def _make_folder(folder: Path) -> Path:
    from tools.restoration.imageio import make_folder

    return make_folder(folder)


@app.command()
def classify(
    text: str = typer.Argument(..., help="The question to classify."),
    output_format: RecordFormat = typer.Option(RecordFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Classify a question: deblurring, super-resolution, both or other, with scale and cues."""
    from agent.classify import classify as run_classify

    result = run_classify(text)
    if output_format is RecordFormat.json:
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


@app.command()
def index(
    card: Optional[list[Path]] = typer.Option(None, "--card", "-c", help="Index this card's documents (repeatable; "
                                               "default: the bundled cards)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Drop the index and build it again."),
    output_format: RecordFormat = typer.Option(RecordFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Build the knowledge index (project documents plus cards) and describe it."""
    from agent.cards import bundled_cards, load_card
    from agent.settings import get_settings
    from knowledge.store import build_index

    paths = card or list(bundled_cards().values())  # no card: the bundled ones
    info = build_index(get_settings().knowledge_store(), [load_card(path) for path in paths], rebuild=rebuild)
    if output_format is RecordFormat.json:
        print(info.model_dump_json(indent=2))
        return
    roles = ", ".join(f"{count} {role}" for role, count in sorted(info.roles.items()))
    print(f"index: {info.path}")
    print(f"{info.documents} documents, {info.passages} passages ({roles})")
    print(f"embedding model: {info.embedding_model}; content hash: {info.content_hash}")


# --- restoration: restore (issue 3), train (issue 4) ---

# --- llm agent: chat (issue 5) ---


@app.command()
def chat(
    card: Optional[Path] = typer.Argument(None, help="Card file (default: the bundled MIMO-UNet card)."),
    llm: Optional[str] = typer.Option(None, "--llm", help="none or openai (default: openai when configured)."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o", help="Where restored images go."),
) -> None:
    """Chat about a card in the terminal: follow-up questions, /image PATH, /report PATH [--overwrite], /quit."""
    from rich.console import Console
    from rich.markdown import Markdown

    from agent.cards import bundled_card, load_card
    from agent.chat import HELP, ChatSession

    _check_llm(llm)
    the_card = load_card(card) if card else bundled_card()
    console = Console(highlight=False)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()

    def stream(token: str) -> None:  # the draft as it arrives; the checked answer is printed after it
        console.print(token, end="", style="dim", markup=False, soft_wrap=True)

    session = ChatSession(the_card, llm=llm, on_token=stream if interactive else None, output_dir=output_dir)
    print(f"cnaps chat about {the_card.models[0].name}. The card asks: {the_card.question}")
    print(HELP, flush=True)
    while True:
        try:
            line = input("\nyou> " if interactive else "")
        except EOFError:
            break
        try:
            turn = session.handle(line)
        except KeyboardInterrupt:  # Ctrl-C stops this answer, not the chat (Ctrl-C at the prompt leaves)
            print("\n(cancelled)", file=sys.stderr, flush=True)
            continue
        if turn.kind == "quit":
            break
        if turn.kind == "error":
            print(f"cnaps: error: {turn.text}", file=sys.stderr, flush=True)
        elif turn.kind == "answer" and interactive:
            console.print()
            console.print(Markdown(turn.text))
        elif turn.text:
            print(turn.text, flush=True)


# --- web and reports: serve, report (issue 6) ---


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (default: this machine only)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    model: Optional[str] = typer.Option(None, "--model", help="Run this zoo model instead of each card's."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights file for every restoration."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    llm: Optional[str] = typer.Option(None, "--llm", help="none or openai (default: openai when configured)."),
) -> None:
    """Serve the chat page and the JSON API (POST /api/ask, GET /api/cards, /docs)."""
    import socket

    import uvicorn

    from agent.web import create_app

    if not 0 < port < 65536:
        raise UsageError(f"--port {port} is not a TCP port: use 1-65535")
    _check_options(llm, model, weights, device)
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port} ({error.strerror}): pass another --port or --host") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"cnaps: warning: serving on {host}: anyone who can reach this machine can use it", file=sys.stderr)
    _check_home_is_writable()  # every answer writes there: refuse to start rather than fail each request
    options = {key: value for key, value in dict(model=model, weights=weights, device=device, llm=llm).items()
               if value is not None}
    web_app = create_app(ask_options=options)  # a bad setting fails here, before the "open" line
    print(f"cnaps {__version__}: open http://{'[' + host + ']' if ':' in host else host}:{port}/", file=sys.stderr)
    uvicorn.run(web_app, host=host, port=port, log_level="warning")


@app.command()
def report(
    card: Optional[Path] = typer.Argument(None, help="Card file (default: the bundled MIMO-UNet card)."),
    output: Path = typer.Option(..., "--output", "-o", help="report.html, report.md or report.pdf."),
    question: Optional[str] = typer.Option(None, "--question", "-q", help="Replace the card's question."),
    image: Optional[Path] = typer.Option(None, "--image", "-i", help="Restore this image and show it."),
    scale: Optional[int] = typer.Option(None, "--scale", help="Enlargement 1-8 (default: the question's, else 1)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing report."),
    model: Optional[str] = typer.Option(None, "--model", help="Run this zoo model instead of the card's."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights file for the restoration."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    llm: Optional[str] = typer.Option(None, "--llm", help="none or openai (default: openai when configured)."),
) -> None:
    """Write a self-contained CNAPS report (task, workflow with the real run, references) as HTML, Markdown or PDF."""
    from agent.ask import ask as run_ask
    from agent.cards import bundled_card, load_card
    from agent.report import check_output, write_report

    _check_options(llm, model, weights, device)
    check_output(output, overwrite, (card, image))  # before minutes of restoration, not after
    _check_image(image)
    if image is not None:
        _check_home_is_writable()  # the restored image goes there
    the_card = load_card(card) if card else bundled_card()
    answer = run_ask(the_card, question=question, image=image, scale=scale, llm=llm, model=model, weights=weights,
                     device=device)
    try:
        written = write_report(answer, question or the_card.question, output, overwrite=overwrite)
    except BaseException:
        if answer.restoration and answer.restoration.image_path:  # a refused report leaves no restoration behind
            Path(answer.restoration.image_path).unlink(missing_ok=True)
        raise
    if answer.restoration and answer.restoration.image_path:
        print(f"restored image: {answer.restoration.image_path}", file=sys.stderr)
    print(written)


# --- official checkpoints: weights list / download / import (issue 18) ---

from agent.restore_cli import restore, train  # noqa: E402  (typer only: they import their tools lazily)
from agent.weights_cli import weights_app  # noqa: E402  (typer only: the subcommands import their tools lazily)

app.command()(train)
app.command()(restore)
app.add_typer(weights_app, name="weights")


def main() -> None:
    """Entry point: run the app and turn CnapsError into one line plus an exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        result = app(standalone_mode=False, prog_name="cnaps")
        if result == 130:  # typer catches Ctrl-C itself and returns 130 when not in standalone mode
            raise KeyboardInterrupt
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

        # typer >= 0.16 raises its vendored click's exceptions (typer._click), which plain click does not know.
        vendored = getattr(getattr(typer, "_click", None), "exceptions", None)
        usage_errors = (click.exceptions.ClickException,) + ((vendored.ClickException,) if vendored else ())
        if isinstance(error, usage_errors):
            context = getattr(error, "ctx", None)
            usage = f"{context.command_path} --help" if context is not None else "cnaps --help"
            print(f"cnaps: error: {error.format_message().rstrip('.')}: check the usage with `{usage}`",
                  file=sys.stderr)
            sys.exit(2)
        if debug:
            raise
        print(f"cnaps: internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)",
              file=sys.stderr)
        sys.exit(70)


if __name__ == "__main__":
    main()
