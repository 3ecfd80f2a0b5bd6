"""Errors that carry their fix: the agent's own (cards, the language model, a busy server), and every other cnaps
error re-exported from where it is defined (tools.errors, knowledge.errors), so the edges catch them from one place.

Core code raises a `CnapsError` subclass whose message says what went wrong and what to do next, in one line.
Only the edges translate them: the CLI prints the message and exits with `exit_code`, the web app answers with
`http_status`.
"""

from __future__ import annotations

from knowledge.errors import KnowledgeError
from tools.errors import (
    CnapsError,
    DeviceError,
    ImageError,
    InputFileError,
    OutputError,
    TrainingError,
    UsageError,
    WeightsError,
)

__all__ = ["BusyError", "CardError", "CnapsError", "DeviceError", "ImageError", "InputFileError", "KnowledgeError",
           "LLMError", "OutputError", "TrainingError", "UsageError", "WeightsError"]


class CardError(CnapsError):
    """A card cannot be parsed or lacks a required part."""

    exit_code = 3
    http_status = 422


class LLMError(CnapsError):
    """The language-model endpoint failed; callers fall back to the deterministic composer."""

    exit_code = 7
    http_status = 502


class BusyError(CnapsError):
    """The server is at capacity; retry later."""

    exit_code = 8
    http_status = 429
