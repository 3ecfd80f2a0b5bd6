"""The typed tools the language model may call: `classify_task`, `search_knowledge` and, when an image is attached,
`restore_image` (the same functions in `tools/` the offline path runs), wrapped for langchain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from agent.schemas import AnswerContext
from tools.restoration.zoo import MAX_SCALE


class SearchArgs(BaseModel):
    query: str = Field(description="What to look up in the card's documents, in plain words.")
    k: int = Field(4, ge=1, le=10, description="How many passages to return.")


class RestoreArgs(BaseModel):
    scale: int = Field(1, ge=1, le=MAX_SCALE, description="Enlarge by this factor before restoring (1 keeps the size).")
    model_id: str | None = Field(None, description="A model id from the card; default: the recommended model.")


def agent_tools(ctx: AnswerContext) -> list[BaseTool]:
    """The typed tools offered to the model for this context; `restore_image` only when an image is attached."""
    from tools.classify import ClassifyRequest, classify_task
    from tools.search import SearchRequest, search_knowledge

    def classify(question: str) -> str:
        return classify_task(ClassifyRequest(question=question)).model_dump_json()

    def search(query: str, k: int = 4) -> str:
        result = search_knowledge(SearchRequest(query=query, card=ctx.card, k=k))
        return result.model_dump_json()

    tools: list[BaseTool] = [
        StructuredTool.from_function(classify, name="classify_task", description=classify_task.__doc__,
                                     args_schema=_args_of(classify_task)),
        StructuredTool.from_function(search, name="search_knowledge", description=search_knowledge.__doc__,
                                     args_schema=SearchArgs),
    ]
    image = ctx.restoration.input_path if ctx.restoration else None
    if image:
        from tools.restore import RestoreRequest, restore_image, unused_name
        from tools.restoration.zoo import is_shipped

        def restore(scale: int = 1, model_id: str | None = None) -> str:
            model = model_id or ctx.restoration.model_id
            # Beside the restoration cnaps already ran for the question (the web app's run folder, --output-dir).
            output = None
            if ctx.restoration.image_path:
                output = unused_name(Path(ctx.restoration.image_path).parent, f"{Path(image).stem}-agent-x{scale}")
            # The weights and device cnaps ran with (--weights, --device) run again for the same model.
            ran = ctx.restoration
            # The project's shipped files are found again by task (enlargement has its own), never passed.
            same = model == ran.model_id and Path(ran.weights.file).is_file() and not is_shipped(ran.weights.file)
            request = RestoreRequest(image=image, scale=scale, model_id=model, output=output,
                                     weights=Path(ran.weights.file) if same else None, device=ran.device)
            return restore_image(request).model_dump_json()

        tools.append(StructuredTool.from_function(restore, name="restore_image", description=restore_image.__doc__,
                                                  args_schema=RestoreArgs))
    return tools


def _args_of(function: Callable[..., Any]) -> type[BaseModel]:
    """The pydantic request model a typed tool takes (its single parameter's annotation)."""
    import typing

    hints = typing.get_type_hints(function)
    hints.pop("return", None)
    return next(iter(hints.values()))
