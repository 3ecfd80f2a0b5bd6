"""The chat web app (`cnaps serve`): a FastAPI app over the same answer engine as the CLI.

`create_app()` builds it; importing this package does not import FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> "FastAPI":
    from agent.web.app import create_app as build

    return build(*args, **kwargs)
