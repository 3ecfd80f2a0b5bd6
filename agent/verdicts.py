"""Short answers that come first: a yes or no from the capability check ("can it fix my photo?", "does it need a
GPU?"), what cnaps's zoo can run ("is MIMO-UNet+ available?"), what cnaps cannot run (a related paper's method),
a comparison the documents cannot settle, and what the card itself gives for a related paper (authors, code,
relevance, summary). Each reads the question's `Reading`, never the question."""

from __future__ import annotations


from agent.capability import CapabilityCheck, need_words, project_weights_words
from agent.reading.asks import Wants
from agent.reading.model import Reading
from agent.references import paper_relevance, what_it_does
from agent.schemas import AnswerContext
from tools.restoration.zoo import find


_CHECKPOINT_NAMES = {"realblur": "Deblur-MIMO-UNet-RealBlur", "gopro": "MIMO-UNet", "plus": "MIMO-UNet+"}


def zoo_answer(wants: Wants) -> str | None:
    """What cnaps can run, from its model zoo: "Is MIMO-UNet++ available in cnaps?", "Is Real-ESRGAN available?",
    "Can I use the RealBlur checkpoint in cnaps?", "Which models can cnaps run?"."""
    from tools.restoration.zoo import user_models

    known = ", ".join(entry.id for entry in user_models())
    if wants.which_models:
        return f"cnaps runs the MIMO-UNet models of its zoo: {known}; `cnaps restore --model ID` picks one."
    name = wants.zoo_model
    if name is None:
        return None
    entry = find(_CHECKPOINT_NAMES.get(name.lower(), name))
    if entry is not None and not entry.test_only:
        return _availability(entry)
    if not wants.zoo_model_like:
        return None  # "is PNG supported?", "can I use Windows?", "is CUDA supported?": not a model
    if wants.zoo_model_paper:
        return None  # a related paper of the card: the "cannot run" verdict answers it
    return f"No: cnaps runs only the MIMO-UNet models of its zoo ({known}); {name} is not one of them."


def _availability(entry) -> str:
    """Whether cnaps can run a zoo model here, and with which weights (`cnaps restore --model`)."""
    from agent.settings import get_settings
    from tools.restoration.zoo import official_weights, project_weights_path

    official = official_weights(entry, get_settings().weights_dir)
    files = " or ".join(entry.official_files)
    how = f"cnaps restore --model {entry.id}"
    if official is not None:
        return f"Yes: `{how}` runs it with the official weights installed here ({official.name})."
    if project_weights_path(entry).is_file():
        return (f"Yes: `{how}` runs it with {project_weights_words(entry.network)}; the official {files} is not "
                "installed here (put it in CNAPS_WEIGHTS_DIR to use it).")
    return (f"Only with its official weights: cnaps knows {entry.id}, but {files} is not installed here and cnaps has "
            f"no project weights for {entry.network}; put {files} in CNAPS_WEIGHTS_DIR, then `{how}` runs it.")




def verdict(ctx: AnswerContext) -> str | None:
    """A yes/no question's short answer, from the capability check; None for other questions."""
    c = ctx.classification
    wants = ctx.reading.wants
    zoo = zoo_answer(wants) if not c.needs else None
    if zoo:
        return zoo
    if wants.kind_of_network:  # "a GAN or a CNN?" is no yes/no question: the reading leaves it None
        return "Yes." if wants.kind_of_network == "cnn" else "No."  # "is it a GAN?", "is it a CNN?": the notes' sentence follows
    if wants.needs_a_gpu or wants.expects_a_score:
        return "No."  # "does it need a GPU (to upscale 2x)?", "will I get 32.45 dB?": the notes' sentence follows
    if wants.runs_without_a_gpu or wants.gpu_is_faster:
        return "Yes."
    if named_in_request(ctx) and known_entries(ctx.capability):
        return _cannot_run(ctx, ctx.reading.papers)  # "Can FeatSharp upscale my photo?"
    if wants.medical and (c.needs or not c.about_model):
        return ("Not for diagnosis: MIMO-UNet learned from photographs and was never validated on medical images, "
                "and a restored image is an estimate, not a measurement.")
    if wants.training:
        return None  # "can I fine-tune it on my blurry pairs?" asks about training, not about restoring
    named = ctx.reading.papers
    if named and (wants.run_it or wants.paper_asked_to_act) \
            and known_entries(ctx.capability):
        return _cannot_run(ctx, named)
    if wants.comparison and known_entries(ctx.capability) and not named:
        return (f"cnaps cannot say which is {wants.comparison}: the documents indexed for this card report the recommended "
                "model's own results and do not compare it with the models or tools you name.")
    if not c.needs or not wants.yes_no or not known_entries(ctx.capability):
        return None
    missing = set(ctx.capability.missing)
    deblur = "deblur" in c.needs
    if set(c.needs) == {"downscale"}:
        return "No model is needed for that: making an image smaller is plain resizing."
    if deblur and missing == {"downscale"}:
        return ("Yes for the blur, which the recommended model removes; making the image smaller afterwards is plain "
                "resizing and needs no model.")
    if "deblur" in c.needs and wants.region:
        return ("Only for the whole image: cnaps restores every pixel and has no mask to limit the restoration to "
                "one area.")
    if deblur and wants.video and not missing:
        # "can it deblur my video?": the model takes one image at a time (the video sentence says how)
        return "Frame by frame only: the recommended model removes blur from single images, not from a video as such."
    if not missing and "focus" in c.cues and "motion" not in c.cues:
        facts = ctx.capability.project_weights_facts()
        if facts is not None and "defocus" in facts.degradations:
            return ("Yes: cnaps's own weights, which run here, were trained on out-of-focus blur as well as on "
                    "motion blur; how much comes back depends on how strong the blur is.")
        return ("Partly: the official weights learned from motion blur (GoPro, RealBlur), not from out-of-focus "
                "blur, so expect a smaller gain on a defocused photo.")
    if not missing:
        why = ("removing blur is what the recommended model was trained for; how much comes back depends on how strong "
               "the blur is and on which weights run.")
        # A need read from weak words ("unreadable", "soft") may have another cause than blur.
        return f"Yes: {why}" if c.confidence >= 0.8 else f"If the cause is blur, yes: {why}"
    if missing == {"upscale"}:
        return ("Partly: the recommended model removes the blur but does not enlarge; cnaps enlarges by "
                "interpolation first." if deblur else
                "Not by itself: the recommended model does not enlarge images; cnaps enlarges by interpolation "
                "and the model then sharpens the result.")
    if "upscale" in c.needs and not deblur and missing - {"upscale"}:
        rest = [need for need in c.needs if need in missing and need != "upscale"]
        return (f"Partly: cnaps enlarges by interpolation and the recommended model sharpens the result; "
                f"{need_words(rest)} {'is' if len(rest) == 1 else 'are'} beyond it.")
    if deblur:
        rest = [need for need in c.needs if need in missing and need != "upscale"]
        beyond = need_words(rest) if rest else "the other problems you name"
        return f"Only the blur: the recommended model removes blur; {beyond} {'is' if len(rest) <= 1 else 'are'} beyond it."
    return "No, not with this model."


def run_time(ctx: AnswerContext) -> str | None:
    """"How long did that take?" after a restoration: the record's own time, not the authors' table."""
    run = ctx.restoration
    if not ctx.reading.wants.run_time:
        return None
    if run is None:
        return ("Nothing has been restored in this conversation yet: attach an image (--image, or /image in chat) "
                "and cnaps reports how long its run took.")
    (w, h), (ow, oh) = run.input_size, run.output_size
    seconds = f"{run.seconds:.2f}" if run.seconds < 1 else f"{run.seconds:.1f}"
    return (f"Your restoration took {seconds} s on {run.device} ({run.precision}): {run.network}, "
            f"{w}x{h} in, {ow}x{oh} out.")


def recommended_code(ctx: AnswerContext, number: dict[str, int]) -> str | None:
    """"Is there code?", "where is the GitHub repo?": the card's link to the recommended model's code."""
    links = [(model.name, model.github) for model in ctx.card.models if model.github and model.github in number]
    if not links:
        return None
    return " ".join(f"The card links the official code of {name}: its GitHub repository [{number[url]}]."
                    for name, url in links)



def _bears_on(paper, reading: Reading) -> str:
    """"FeatSharp is loosely related: it touches upsampling ..." from the paper's relevance verdict."""
    verdict = paper_relevance(paper.title, paper.summary or "", 0.0).split(" In the authors' summary:")[0]
    return f"{reading.name_of(paper)} is {verdict[:1].lower()}{verdict[1:]}"


def _cannot_run(ctx: AnswerContext, named: list) -> str:
    """cnaps runs only the recommended model; how each named paper bears on restoration says why that matters."""
    names = ctx.reading.names_of(named)
    one = len(named) == 1
    how = " ".join(_bears_on(paper, ctx.reading) for paper in named)
    return (f"cnaps cannot run {names}: it runs only the card's recommended model ({ctx.card.models[0].name}); "
            f"{names} {'is listed as a related paper' if one else 'are listed as related papers'}, not as "
            f"{'a model' if one else 'models'} to run. {how}")


def named_in_request(ctx: AnswerContext) -> bool:
    """A related paper named inside a restoration request ("Can FeatSharp upscale my photo 4x?", "is Elastic-DETR
    useful for enlarging my photo?"), not beside the recommended model."""
    return bool(ctx.classification.needs and ctx.reading.papers and not ctx.reading.wants.mentions_model)


def what_the_card_gives(ctx: AnswerContext, papers: list, number: dict[str, int]) -> str | None:
    """Who wrote a related paper, or where its code is, answered from what the card gives for it (title, summary,
    links); None for other questions."""
    sentences = []
    for paper in papers:
        name = ctx.reading.name_of(paper)
        wants = ctx.reading.wants
        paper_ref = f" [{number[paper.paper]}]" if paper.paper in number else ""
        if wants.who_wrote:
            sentences.append(f"The card gives {name}'s title, summary and paper link{paper_ref}, but not its authors.")
        elif wants.code:
            if paper.github and paper.github in number:
                sentences.append(f"The card links code for {name}: its GitHub repository [{number[paper.github]}]; "
                                 "cnaps has not indexed that repository's contents.")
            else:
                sentences.append(f"The card links no code for {name}, only its paper{paper_ref}.")
        if wants.relevance:
            verdict = paper_relevance(paper.title, paper.summary or "", 0.0).split(" In the authors' summary:")[0]
            sentences.append(f"{name} is on the card as a related paper{paper_ref}. {verdict}")
        elif wants.summarize and paper.summary:
            sentences.append(f"In the card's summary{paper_ref}, the authors' own words: "
                             f"\"{what_it_does(paper.summary).rstrip('.')}\".")
    return " ".join(sentences) or None


def datasets_of(ctx: AnswerContext) -> tuple[str, ...]:
    return training_datasets(ctx.capability)


def networks_of(ctx: AnswerContext) -> tuple[str, ...]:
    """The networks of the card's known, real models ('MIMO-UNet', 'MIMO-UNet+')."""
    return tuple(dict.fromkeys(entry.network for entry in known_entries(ctx.capability)))


def known_entries(capability: CapabilityCheck) -> list:
    """The zoo entries of the card's recommended models that cnaps knows, test-only networks left out."""
    return [entry for _, entry in capability.models if entry is not None and not entry.test_only]


def training_datasets(capability: CapabilityCheck) -> tuple[str, ...]:
    """The training data of the card's known models, as lower-case words ('realblur', 'gopro')."""
    return tuple(dict.fromkeys(entry.trained_on.split()[0].lower() for entry in known_entries(capability)))
