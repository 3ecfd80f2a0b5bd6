"""The API's answer payload: the answer contract plus what a web client needs (file URLs, session and run ids),
with every server path replaced by what a browser may see instead."""

from __future__ import annotations

import json
from pathlib import Path

from agent.schemas import Answer
from agent.settings import Settings
from agent.web.ask_requests import AskRequest
from agent.web.runs import REPORT_FILES, RunStore
from prompts import markdown_text


def answer_payload(run_id: str, req: AskRequest, answer: Answer, crops: list[dict], runs: RunStore,
                   settings: Settings) -> dict:
    """The answer contract plus what a web client needs: file URLs (never server paths), session and run ids."""
    data = _without_paths(answer.model_dump(mode="json"), public_names(run_id, answer, runs, settings))
    if answer.restoration is not None:
        original, run = answer.restoration, data["restoration"]
        run["input_path"] = Path(original.input_path).name if original.input_path else None
        run["image_path"] = Path(original.image_path).name if original.image_path else None
        run["weights"]["file"] = Path(original.weights.file).name
        run["image_url"] = runs.url(run_id, "restored")
        run["input_url"] = runs.url(run_id, "input")
        run["crops"] = crops
    data["report_url"] = runs.url(run_id, "report.html")
    from agent.report import pdf_unavailable

    data["report_urls"] = {fmt: runs.url(run_id, name) for fmt, name in REPORT_FILES.items()
                           if fmt != "pdf" or pdf_unavailable() is None}  # no link that would answer 500
    data["question"] = req.question
    data["session_id"] = req.session.id
    data["run_id"] = run_id
    data["card"] = {"label": req.card_label, "question": req.card.question,
                    "models": [m.name for m in req.card.models]}
    return data


def public_names(run_id: str, answer: Answer, runs: RunStore, settings: Settings) -> dict[str, str]:
    """Server path -> what a browser may see instead: the restored image's URL, file names, setting names."""
    run = answer.restoration
    names = {str(settings.home.expanduser().resolve()): "$CNAPS_HOME"}
    if settings.weights_dir:
        names[str(settings.weights_dir.expanduser().resolve())] = "$CNAPS_WEIGHTS_DIR"
    names = {path: name for path, name in names.items() if len(Path(path).parts) > 1}  # never '/' itself
    if run is not None:
        names[run.weights.file] = Path(run.weights.file).name
        if run.input_path:
            names[run.input_path] = Path(run.input_path).name
        if run.image_path:
            names[run.image_path] = runs.url(run_id, "restored")
    return names


def _without_paths(data: dict, names: dict[str, str]) -> dict:
    """`data` with every server path in `names` replaced, in every string (the markdown's "what ran" table, notes),
    as written or as the Markdown escape writes it; longest paths first, so a file goes before its folder."""
    text = json.dumps(data, ensure_ascii=False)
    for path in sorted(names, key=len, reverse=True):
        for written in {path, markdown_text(path)}:
            text = text.replace(json.dumps(written, ensure_ascii=False)[1:-1],
                                json.dumps(names[path], ensure_ascii=False)[1:-1])
    return json.loads(text)
