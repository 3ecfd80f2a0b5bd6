"""A scripted stand-in for the answer engine, shared by the web and report tests."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from agent.cards import Card
from agent.schemas import Answer, Reference, Task, TaskLabel, Workflow, WorkflowStep
from prompts import render
from tools.restoration.record import ToolRun, WeightsRecord


def blurry_png(size: tuple[int, int] = (96, 64)) -> bytes:
    """A small blurred image with text-like stripes: the kind of upload the page gets."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for x in range(4, size[0] - 4, 12):
        draw.rectangle([x, 10, x + 5, size[1] - 10], fill=(30, 60, 180))
    buffer = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(2)).save(buffer, format="PNG")
    return buffer.getvalue()


class ScriptedAsk:
    """Stands in for `agent.ask.ask`: records each call, 'restores' by sharpening and enlarging, answers from the
    card's own links. `gate`, when set, makes every call with an image wait for it (to hold the restoration
    pool busy)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.gate: threading.Event | None = None
        self.started = threading.Semaphore(0)

    def __call__(self, card: Card, question=None, image=None, scale=None, output_dir=None, on_token=None,
                 history=None, progress=None, **options) -> Answer:
        self.calls.append(dict(card=card, question=question, image=image, scale=scale, output_dir=output_dir,
                               history=list(history or []), options=options))
        self.started.release()
        if self.gate is not None and image is not None:
            assert self.gate.wait(timeout=30), "test gate never opened"
        restoration = None
        if image is not None:
            factor = scale or 1
            with Image.open(image) as source:
                out = source.convert("RGB").resize((source.width * factor, source.height * factor))
            out = out.filter(ImageFilter.UnsharpMask(radius=3, percent=250))
            target = Path(output_dir or Path(image).parent) / f"{Path(image).stem}-restored.png"
            out.save(target)
            if progress:
                progress(1, 2)
                progress(2, 2)
            restoration = ToolRun(
                model_id=card.models[0].name, network="test-mimo-unet",
                weights=WeightsRecord(file="/secret/server/weights/tiny.safetensors", sha256="0" * 64,
                                      provenance="user", description="random tiny weights for tests"),
                device="cpu", precision="fp32", input_size=(out.width // factor, out.height // factor),
                output_size=out.size, scale=factor, seconds=0.01, input_path=str(image), image_path=str(target))
        question = question or card.question
        for token in ("The task ", "is deblurring."):
            if on_token:
                on_token(token)
        references = [Reference(n=1, title=card.models[0].name, url=card.models[0].paper or "https://example.org/x",
                                role="recommended-model", relevance="the recommended model")]
        references += [Reference(n=i, title=paper.title, url=paper.paper, role="related-paper",
                                 relevance="loosely related") for i, paper in enumerate(card.papers, start=2)
                       if paper.paper]
        answer = Answer(
            task=Task(label=TaskLabel.deblurring, mismatch=False, text=f"You asked: {question} [1]"),
            workflow=Workflow(steps=[WorkflowStep(stage="input", text="a blurred photo [1]"),
                                     WorkflowStep(stage="model", text="MIMO-UNet restores it [1]"),
                                     WorkflowStep(stage="output", text="a sharper photo")],
                              text="Coarse to fine inside one U-Net [1]."),
            references=references, restoration=restoration, markdown="", engine="scripted")
        answer.markdown = render("answer.md.j2", answer=answer, question=question)  # as the composer renders it
        return answer
