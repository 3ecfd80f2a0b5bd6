"""One question, answered: classify, check capabilities, retrieve, restore an attached image, compose.

This is the orchestration every interface shares (the CLI's `ask` and `chat`, the web API, reports). The
language model, when configured, writes the answer from the same context; the deterministic composer's answer is
always computed first and is what the user gets whenever the model's answer fails the grounding guard.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from agent.cards import Card
from agent.answers import decline
from agent.compose import compose
from agent.verdicts import training_datasets
from agent.reading import Reading, read
from agent.plan import retrieval_queries
from agent.errors import UsageError
from agent.schemas import Answer, AnswerContext, Source
from agent.settings import get_settings
from tools.restoration.record import ToolRun
from tools.restoration.zoo import MAX_SCALE

log = logging.getLogger(__name__)


def ask(
    card: Card,
    question: str | None = None,
    image: Path | str | None = None,
    scale: int | None = None,
    llm: Literal["auto", "none", "openai"] | None = None,
    output_dir: Path | str | None = None,
    on_token: Callable[[str], None] | None = None,
    history: list[tuple[str, str]] | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    device: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    previous: ToolRun | None = None,
    detail: Literal["short", "brief", "full"] = "brief",
) -> Answer:
    """Answer `question` (default: the card's) about `card`; restore `image` when one is attached.

    `detail` is how much of the workflow the answer states: 'brief' (each fact once), 'full', or 'short' (a chat's
    later turn). `previous` is an earlier restoration of the same `image` in this conversation: it is reused, not run again,
    unless this question (or `scale`) asks for another scale.
    """
    from agent.capability import check

    question = (question or card.question).strip()
    if not question:
        raise UsageError("the question is empty: pass --question TEXT or use a card with a question")
    if scale is not None and not 1 <= scale <= MAX_SCALE:
        raise UsageError(f"scale {scale} is out of range: use an integer from 1 to {MAX_SCALE}")

    reading = read(question, card, history or [])
    classification = reading.classification
    capability = check(card, classification)
    if reading.off_topic and image is None:
        # "What is the capital of France?": a short decline, no retrieval, no workflow, no language model
        return decline(AnswerContext(card=card, question=question, reading=reading, classification=classification,
                                     capability=capability, history=list(history or [])))
    needs_upscale = "upscale" in classification.needs or bool(classification.scale and classification.scale > 1)

    # Restore first: a bad image or missing weights fails before the index is touched.
    restoration = None
    if image is not None:
        run_scale = scale if scale is not None else min(classification.scale or 1, MAX_SCALE)
        # "never mind, just deblur" after a 4x run asks for the image at its own size: that is a scale too.
        same_size = (bool(classification.needs) and "upscale" not in classification.needs
                     and not reading.asks("complaint"))  # "still blurry, what did I do wrong?" asks about the run
        asked_scale = scale is not None or classification.scale is not None or same_size
        if previous is not None and (previous.scale == run_scale or not asked_scale):
            note = (f"Your image was restored earlier in this conversation at {previous.scale}x; that result is "
                    "reused here, not run again.")
            restoration = previous if note in previous.notes else previous.model_copy(
                update={"notes": [*previous.notes, note]})
        else:
            restoration = restore_for_card(card, Path(image), run_scale, output_dir, model=model, weights=weights,
                                           device=device, progress=progress)
    passages = gather_passages(card, reading, needs_upscale, training_datasets(capability))

    ctx = AnswerContext(card=card, question=question, reading=reading, classification=classification,
                        capability=capability, passages=passages, detail=detail, restoration=restoration,
                        history=list(history or []))
    answer = compose(ctx)
    if _use_llm(llm):
        from agent.loop import answer_with_llm

        answer = answer_with_llm(ctx, fallback=answer, on_token=on_token)
    else:
        why = ("the language model was turned off for this answer" if llm == "none" or get_settings().llm.mode == "none"
               else "no language model configured")
        answer.notes.append(f"Composed offline by cnaps' deterministic composer ({why}).")
    return answer


def _use_llm(choice: str | None) -> bool:
    settings = get_settings()
    if choice == "none":
        return False
    if choice == "openai":
        return True
    return settings.llm_enabled


def gather_passages(card: Card, reading: Reading, needs_upscale: bool, datasets: tuple[str, ...] = ()) -> list[Source]:
    """Passages for the question and for each fact the workflow wants, from the card's documents only."""
    from knowledge.retrieve import rank_papers, retrieve_many

    store = get_settings().knowledge_store()
    store.ensure(card)
    found: dict[str, Source] = {}
    queries = [query for _, query in retrieval_queries(reading, needs_upscale, datasets)]
    for passages in retrieve_many(store, card, queries, k=4):
        for passage in passages:
            source = Source(id=passage.id, url=passage.url, score=passage.score, title=passage.title,
                            text=passage.text)
            if passage.id not in found or found[passage.id].score < source.score:
                found[passage.id] = source
    for paper, score in rank_papers(store, card, reading.question):
        url = paper.paper or paper.github
        if url:
            key = f"paper:{url}"
            found[key] = Source(id=key, url=url, score=score, title=paper.title, text=paper.summary)
    return sorted(found.values(), key=lambda s: s.score, reverse=True)


def restore_for_card(
    card: Card,
    image: Path,
    scale: int,
    output_dir: Path | str | None,
    model: str | None = None,
    weights: Path | str | None = None,
    device: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ToolRun:
    """Run the card's recommended model on `image`; write the result under `output_dir`.

    When the recommended model has no weights here (official or project), another official checkpoint of the same
    network, or else the plain MIMO-UNet, runs instead (`zoo.runner_candidates`), and the record says so.
    """
    from tools.restoration.imageio import make_folder
    from tools.restoration.zoo import find
    from tools.restore import open_restorer, unused_name

    candidates = [model] if model else [m.name for m in card.models if find(m.name) is not None]
    if not candidates:
        raise UsageError(
            f"none of the card's models ({', '.join(m.name for m in card.models)}) can run here: "
            "pass --model MIMO-UNet to restore with MIMO-UNet")
    restorer, note = open_restorer(candidates, weights=weights, fall_back=not model, device=device)
    out_dir = make_folder(Path(output_dir) if output_dir else get_settings().output_dir)  # only once it can run
    # The process id keeps runs started in the same second (scripts, parallel jobs) apart.
    output = unused_name(out_dir, f"{image.stem}-restored-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")

    run = restorer.run(image, scale=scale, output=output, progress=progress)
    if note:
        run.notes.append(note)
    return run
