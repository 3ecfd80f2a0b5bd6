"""Can the card's recommended models do what the question asks? If not, what cnaps does instead, said plainly.

Capabilities come from the model zoo (tools.restoration.zoo): every MIMO-UNet variant deblurs at the input's
resolution and nothing else. A model the zoo does not hold has unknown capabilities; the check says so and does
not count it as able or unable.
"""

from __future__ import annotations

from agent.cards import Card
from agent.schemas import CapabilityCheck, Classification
from agent.settings import get_settings
from tools.restoration.zoo import MAX_SCALE, Provenance, ZooEntry, find, planned_runner, project_weights_facts

# What each need asks of a model, in words for the plan.
NEED_WORDS = {
    "upscale": "upscaling (making the image larger)",
    "deblur": "deblurring",
    "downscale": "making the image smaller",
    "denoise": "removing noise",
    "derain": "removing rain",
    "dehaze": "removing haze or fog",
    "inpaint": "filling in missing or damaged regions",
    "colorize": "adding colour",
    "enhance-light": "brightening a dark image",
    "tone": "correcting colour or exposure (fading, colour casts, blown highlights)",
    "optics": "correcting lens and sensor faults (distortion, colour fringing, vignetting, rolling shutter, moire)",
    "deartifact": "removing compression artifacts",
    "recognize": "recognising or describing image content",
    "edit": "editing the image (style, background, objects)",
    "other": "a task other than image restoration",
}


# Needs that are not faults in the image: asking for them asks for another kind of model, not a cleaner picture.
NOT_FAULTS = frozenset({"colorize", "recognize", "edit", "other"})


def need_words(needs: list[str]) -> str:
    """'removing noise and brightening a dark image': the needs in words, joined as a sentence joins them."""
    words = [NEED_WORDS.get(need, need) for need in needs]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _scale_words(scale: int | None) -> str:
    if scale and scale > MAX_SCALE:
        return f"x{MAX_SCALE} (the most it enlarges; you asked for {scale}x)"
    return f"x{scale}" if scale else "by the factor you choose (--scale)"


def project_weights_words(network: str) -> str:
    """'project weights trained on <what they learned from>': read from the shipped weights' own record."""
    facts = project_weights_facts(network)
    return f"project weights trained on {facts.trained_on if facts else 'synthetic blur'}"


def nearest_measured_scale(gains: dict[str, float], scale: int) -> int | None:
    """The measured enlargement scale ('x2'..'x4' in `gains`) nearest to `scale`, the larger on a tie; None if none."""
    measured = [int(key[1:]) for key in gains if key[0] == "x" and key[1:].isdigit()]
    return min(measured, key=lambda m: (abs(m - scale), -m)) if measured else None


def measured_gain_words(gains: dict[str, float] | None, scale: int | None) -> str | None:
    """The project weights' measured real-photo gain for this request, in a clause; never the paper's figures."""
    if not gains:
        return None
    if scale and scale > 1:
        nearest = nearest_measured_scale(gains, scale)
        if nearest is None:
            return None
        gain = gains[f"x{nearest}"]
        verdict = "" if gain > 0 else ", so cnaps enlarges by Lanczos alone at that scale"
        return (f"on real photographs (BSD100) they measured {gain:+.2f} dB PSNR against plain Lanczos enlargement "
                f"at {nearest}x{verdict}")
    if "deblur" not in gains:
        return None
    return f"on real photographs (BSD100) blurred by cnaps they measured {gains['deblur']:+.2f} dB PSNR"


def _runner_case(entry: ZooEntry, runner: tuple[ZooEntry, Provenance] | None) -> str:
    """Which weights a restoration of `entry` would use: 'none' installed, its own 'official' ones, 'other-official'
    (another official checkpoint of the zoo), 'project' weights of its network, or 'project-other-network'."""
    if runner is None:
        return "none"
    ran, provenance = runner
    if provenance == "official":
        return "official" if ran.id == entry.id else "other-official"
    return "project" if ran.network == entry.network else "project-other-network"


def _weights_sentence(entry: ZooEntry, runner: tuple[ZooEntry, Provenance] | None) -> str:
    """Which weights a restoration would use: the official ones only when they are installed."""
    ran = runner[0] if runner else entry
    return {
        "none": f"Its official weights learned from {entry.trained_on}; they are not installed here, so cnaps cannot "
                f"restore images until they are installed ({_installs(entry)}).",
        "official": f"cnaps has its official weights, trained on {entry.trained_on}.",
        "other-official": f"Its official weights are not installed here; cnaps runs the official {ran.id} checkpoint "
                          f"instead, trained on {ran.trained_on}.",
        "project-other-network": f"Its official weights ({entry.trained_on.split(' (')[0]}) are not installed here, "
                                 f"and cnaps has none of its own for {entry.network}: it runs {ran.network} instead, "
                                 f"with {project_weights_words(ran.network)}.",
        "project": f"Its official weights learned from {entry.trained_on}, but they are not installed here: cnaps runs "
                   f"its own {project_weights_words(ran.network)}, not the authors' checkpoint.",
    }[_runner_case(entry, runner)]


def _installs(entry: ZooEntry) -> str:
    """How to install a model's official weights: the download command, or CNAPS_WEIGHTS_DIR."""
    from tools.restoration.zoo import install_command

    command = install_command(entry.id)
    return f"`{command}`, or `cnaps weights import FILE`" if command else "put them in CNAPS_WEIGHTS_DIR"


def _would_run(entry: ZooEntry, name: str | None, runner: tuple[ZooEntry, Provenance] | None) -> str:
    """One sentence for a question that asks for no restoration: what an attached image would get, and which
    weights (the answer is about the model, so the full weights story is not repeated)."""
    ran = runner[0] if runner else entry
    case = _runner_case(entry, runner)
    if case == "none":
        return f"cnaps cannot restore images with {name} until its official weights are installed ({_installs(entry)})."
    if case == "official":
        return f"With an image attached, cnaps restores it with {name} and its official weights."
    if case == "other-official":
        return (f"With an image attached, cnaps restores it with the official {ran.id} checkpoint ({name}'s own is "
                "not installed here).")
    return (f"With an image attached, cnaps runs {ran.network} with {project_weights_words(ran.network)}, not "
            f"{name}'s official checkpoint.")


def _unknown_sentence(unknown: list[str], alone: bool) -> str:
    one = len(unknown) == 1
    its, it, fits = ("its", "it", "fits") if one else ("their", "they", "fit")
    sentence = f"cnaps does not know {', '.join(unknown)}: {its} capabilities are unknown to cnaps, so it cannot say "
    if alone:
        return sentence + f"whether {it} {fits} this task, and it cannot run {'it' if one else 'them'}."
    return sentence + f"whether {it} could do what the models it knows cannot."


def _plan(entry: ZooEntry | None, name: str | None, missing: list[str], unknown: list[str], needs: list[str],
          scale: int | None, runner: tuple[ZooEntry, Provenance] | None, refuses_deblur: bool = False) -> str:
    sentences: list[str] = []
    if entry is None:
        return _unknown_sentence(unknown, alone=True)
    trained = _weights_sentence(entry, runner)
    if "upscale" in missing:
        sentences.append(
            f"{name} does not upscale: it deblurs, and its output has the same size as its input. cnaps will enlarge "
            f"the image by interpolation (Lanczos) {_scale_words(scale)}, then restore it with {name} at the "
            f"enlarged size. {trained}"
        )
    elif "deblur" in needs:
        sentences.append(f"cnaps will restore the image with {name} at its own size. {trained}")
    elif not needs:
        sentences.append(_would_run(entry, name, runner))
    else:
        sentences.append(f"cnaps can still run {name}, which only removes blur. {trained}")
    if "upscale" in missing and refuses_deblur:
        sentences.append("You asked for no deblurring: cnaps always runs the network after enlarging, so for a "
                         "plain enlargement a Lanczos resize alone, in any image editor, is what you want.")
    if "downscale" in missing:
        sentences.append("Making an image smaller needs no restoration model: resizing down with antialiasing keeps "
                         "it sharp, and cnaps itself only enlarges.")
    other = [need for need in missing if need not in ("upscale", "downscale")]
    faults = [need for need in other if need not in NOT_FAULTS]
    tasks = [need for need in other if need in NOT_FAULTS]
    if faults:
        sentences.append(f"{name} was not trained for {need_words(faults)}: cnaps has no model for that, so "
                         f"{'that problem remains' if len(faults) == 1 else 'those problems remain'} in the output.")
    if tasks:
        sentences.append(f"{name} only restores images; {need_words(tasks)} "
                         f"{'is' if len(tasks) == 1 else 'are'} beyond it, and cnaps has no model for that.")
    if unknown:
        sentences.append(_unknown_sentence(unknown, alone=False))
    return " ".join(sentences)


def check(card: Card, classification: Classification) -> CapabilityCheck:
    """Compare what the question needs with what the card's models can do (from the zoo)."""
    models = [(model.name, find(model.name)) for model in card.models]
    known = [(name, entry) for name, entry in models if entry is not None]
    unknown = [name for name, entry in models if entry is None]
    capabilities: set[str] = set()
    for _, entry in known:
        capabilities |= entry.capabilities
        if not entry.same_resolution:
            capabilities.add("upscale")
    needs = list(classification.needs)
    missing = [need for need in needs if need not in capabilities] if known else []
    name, entry = known[0] if known else (None, None)
    runner = planned_runner([n for n, _ in known], get_settings().weights_dir) if known else None
    return CapabilityCheck(
        mismatch=bool(missing),
        missing=missing,
        unknown=unknown,
        models=models,
        plan=_plan(entry, name, missing, unknown, needs, classification.scale, runner,
                   refuses_deblur="deblur" in classification.refused),
        runner=runner,
    )
