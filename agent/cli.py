"""The `cnaps` command line. It parses arguments and prints; the modules it calls decide everything.

Every `CnapsError` becomes one line on stderr and a non-zero exit; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from agent import __version__
from agent.errors import CnapsError

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
