"""Errors that carry their fix, for the tools (restoration, files, weights, devices, training) and the base every
cnaps error shares.

Core code raises a `CnapsError` subclass whose message says what went wrong and what to do next, in one line.
Only the edges translate them: the CLI prints the message and exits with `exit_code`, the web app answers with
`http_status`. `knowledge.errors` and `agent.errors` add the store's and the agent's own.
"""

from __future__ import annotations


class CnapsError(Exception):
    """Base class: a one-line message that includes the fix."""

    exit_code: int = 1
    http_status: int = 400

    def __init__(self, message: str, web: str | None = None) -> None:
        # One line, always: a multi-line message would break the CLI's one-line contract.
        super().__init__(" ".join(str(message).split()))
        self.web = " ".join(web.split()) if web else None

    @property
    def message(self) -> str:
        return str(self)

    @property
    def web_message(self) -> str:
        """The message the web app shows: its fix names a form field where the CLI's names an option."""
        return self.web or self.message


class UsageError(CnapsError):
    """The command or request was called wrong (bad option value, missing argument)."""

    exit_code = 2


class InputFileError(CnapsError):
    """An input file is missing, unreadable or not what it claims to be."""

    exit_code = 3


class ImageError(InputFileError):
    """An image cannot be decoded, is too large, or has an unsupported layout."""

    http_status = 422


class OutputError(CnapsError):
    """An output cannot be written (exists, same as input, folder not writable, disk full)."""

    exit_code = 4
    http_status = 500


class WeightsError(CnapsError):
    """Weights are missing, unsafe or do not match the network."""

    exit_code = 5
    http_status = 503


class DeviceError(CnapsError):
    """The requested compute device is missing or ran out of memory."""

    exit_code = 9
    http_status = 503


class TrainingError(CnapsError):
    """A training run cannot go on (its loss diverged); its last good checkpoint is kept."""

    exit_code = 10
    http_status = 500
