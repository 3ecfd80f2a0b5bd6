"""Choices the `cnaps` commands share (output formats, answer detail)."""

from __future__ import annotations

from enum import Enum


class OutputFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


class Detail(str, Enum):
    brief = "brief"
    full = "full"


class RecordFormat(str, Enum):
    """For commands that print a record rather than an answer: no markdown form."""

    text = "text"
    json = "json"
