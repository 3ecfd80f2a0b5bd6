"""Jinja2 templates, checked up front: a missing variable is an error, never an empty string."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(__file__).resolve().parent


def markdown_text(value: object) -> str:
    """Text that Markdown shows literally: no raw HTML tag or inline link can start inside it.

    Backslashes are doubled first so that a `\\<` written by a user cannot undo the escape that follows.
    """
    text = str(value).replace("\\", "\\\\").replace("<", "\\<")
    return text.replace("](", "]\\(")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_text
    return env


def template_names() -> list[str]:
    return sorted(p.name for p in TEMPLATE_DIR.glob("*.j2"))


def render(name: str, **context: object) -> str:
    """Render `prompts/<name>` with `context`; raises jinja2.UndefinedError when a variable is missing."""
    return environment().get_template(name).render(**context)


def macros(name: str):
    """The macros of `prompts/<name>` as callables (the template's module), for code that says fixed sentences."""
    return environment().get_template(name).module


def sentence(name: str, macro: str, /, **context: object) -> str:
    """The text of one macro of `prompts/<name>`, its whitespace collapsed to single spaces: a macro may span lines.

    Every argument must be given, even one the branch taken does not use: a missing one raises
    jinja2.UndefinedError, as a missing variable does in `render`."""
    say = getattr(macros(name), macro)
    missing = [argument for argument in say.arguments if argument not in context]
    if missing:
        raise jinja2.UndefinedError(f"{name}: {macro}() was not given {', '.join(missing)}")
    return " ".join(str(say(**context)).split())
