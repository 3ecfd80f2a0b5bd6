"""What a question asks, as registered intents: a restoration, how the model works, one component, a summary ...

Intents are records in one registry, as timm registers models: each has a name, a description, example questions
that are it and near misses that are not, a priority, the retrieval queries its answer needs, and the phrases that
decide it. The examples serve twice: `tests/agent/test_intents.py` reads every one through `detect`, and the
embedding router (MiniLM, nearest examples) uses them for the questions no phrase decides.

Adding a kind of question is one `register(Intent(...))` here, one answer function in `agent/answers.py` and one
template in `prompts/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, Field

from agent.reading.needs import PICTURE_NOUNS
from agent.reading.signals import OTHER_TOOLS


class IntentMatch(BaseModel):
    """One intent read in a question, with how sure the reading is and what decided it."""

    name: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: str = Field(description="The phrase that decided it, or the nearest example question.")


@dataclass(frozen=True)
class Intent:
    """A kind of question. `rule` is read on the normalised question (lower case, plain quotes); `unless` vetoes it."""

    name: str
    description: str
    examples: tuple[str, ...]
    negatives: tuple[str, ...] = ()
    priority: int = 50
    queries: tuple[str, ...] = ()
    rule: re.Pattern | None = None
    unless: re.Pattern | None = None
    # Routed by the embedding router only when no rule decides; an intent without a rule must be reachable this way.
    routed: bool = True
    domain: bool = True  # False only for off-topic: its examples are not about images, the card or cnaps
    # The heading of the section of cnaps's notes that answers it, when one section does ("Avoiding blur when you
    # shoot"); its answer then quotes that section only.
    notes_section: str | None = None


REGISTRY: dict[str, Intent] = {}


def register(intent: Intent) -> Intent:
    if intent.name in REGISTRY:
        raise ValueError(f"intent {intent.name!r} is registered twice")
    REGISTRY[intent.name] = intent
    return intent


def _words(pattern: str) -> re.Pattern:
    return re.compile(pattern)


# Words that tie a question to images, to the card's model and papers, or to cnaps itself. A question with none of
# them, no task and no named paper is off-topic.
DOMAIN = _words(
    r"\b(?:image|images|photo\w*|picture\w*|pics?|selfies?|screenshots?|scans?|footage|x-?rays?|mri|radiograph\w*|"
    r"video(?!\s+(?:games?|calls?|chats?|conferenc))\w*|"
    r"blur\w*|sharp\w*|crisp\w*|shak\w*|upscal\w*|up-?sampl\w*|enlarg\w*|resolution|pixel\w*|zoom\w*|restor\w*|"
    r"deblur\w*|denois\w*|grain\w*|artifacts?|artefacts?|ringing|halos?|"
    r"mimo\S*|unet|u-net|neural|paper\w*|cnaps|checkpoints?|gpu\w*|cpu\w*|"
    r"cuda|dataset\w*|gopro|realblur|psnr|ssim|fam|scm|aff|encoder|decoder|loss|architecture|"
    r"github|repo\w*|jpe?g|png|tiff?|webp|heic|megapixels?|dpi|4k|8k|1080p|720p|workflow|"
    r"interpolat\w*|bicubic|lanczos|bilinear|super-?res\w*|esrgan|photoshop|lightroom|topaz|"
    r"convolution\w*|cnns?|restormer|nafnet|swinir|coarse[- ]to[- ]fine|multi[- ]?scale|"
    r"shutter|tripods?|apertures?|stabili[sz]\w*|gimbals?)\b|\b\d+(?:\.\d+)?\s?x\b|\bx\d|"  # "not 4x please" is a scale
    # whether this product comes as an app, asked of nothing else: "is there an iPhone app?", "an app for Android?"
    r"^(?:is\s+there|are\s+there|do\s+you\s+(?:have|offer)|does\s+it\s+(?:have|come\s+as))\s+(?:an?\s+)?(?:(?:phone|"
    r"mobile|ios|android|iphone|ipad)\s+(?:app|version)s?|(?:apps?|versions?)\s+(?:for|on)\s+(?:my\s+|the\s+|an?\s+)?"
    r"(?:(?:smart)?phones?|mobile|ios|android|iphone|ipad|tablet))(?:\s+(?:of|for)\s+(?:it|this|cnaps))?\s*[?.!]*$")

# Words that are about images or the card only in this context: "the model", "it", "the card", "a camera", "the
# code", "faces", "noise", "training". A question whose only tie is one of them is declined when its nearest example
# questions are off-topic ones ("what is the best credit card?", "what time is it in Tokyo?") and read as usual
# otherwise ("is it free?", "which model should I use?").
EVERYDAY_DOMAIN = _words(
    r"\b(?:shots?|portraits?|frames?|camera\w*|lens\w*|focus\w*|motion|noise|models?|networks?|authors?|card|"
    r"weights|train\w*|layers?|code|folder|batch\w*|formats?|detail\w*|texture|edges?|faces?|signs?|text|plates?|"
    r"print\w*|poster|mp|hd|tool\w*|result\w*|output|input|sr|gan|diffusion|transformer\w*|attention|ai|"
    r"variants?|plus|related|web\s?app|terminal|commands?|it|its|this|that|they|them)\b")

_RESULT_WORDS = (r"(?:result|results|output|outputs|restored|restoration|enlarged|upscaled|deblurred|sharpened|"
                 r"processed|fixed|cleaned|came\s+out|it\s+made|made\s+(?:it|my)|got|looks?|turned\s+out)")
ARTIFACTS = {
    "ringing": r"ringing|ripples?|echo(?:es)?\s+(?:of|around|along)|ghost\s+edges?|double\s+edges?",
    "halos": r"halos?|glow\w*\s+(?:around|along)|bright\s+outlines?|white\s+outlines?",
    "waxy": r"waxy|plastic\w*|smooth(?:ed)?\s+(?:out\s+)?skin|painted|painterly|airbrushed|smeary|smeared|smudg\w*|"
            r"over-?smooth\w*|mushy|lost\s+(?:the\s+|all\s+)?texture",
    "oversharpened": r"over-?sharpen\w*|too\s+sharp|crunchy|harsh\s+edges?|jagged",
    "colour": r"colou?rs?\s+(?:shift\w*|changed|look\s+off|are\s+off|went\s+off)|tint\w*|paler|washed|(?:colou?r|tone)\s+shift\w*",
    "noise": r"(?:more|extra|added|amplified)\s+(?:noise|grain)|nois(?:y|ier)|speckl\w*",
    "blocks": r"blocky|blocks|checker\w*|grid\s+pattern",
    "soft": r"still\s+(?:\w+\s+)?(?:looks?\s+)?(?:blurry|blurred|soft|fuzzy)|not\s+sharp(?:er)?\s+enough|barely\s+(?:changed|sharper)|"
            r"no\s+(?:real\s+)?(?:difference|improvement)|nothing\s+changed",
    "worse": r"worse|ugly|weird|fake|wrong|broken|ruined|disappoint\w*|artifacts?|artefacts?",
}


def artifact_kinds(text: str) -> list[str]:
    """The artifacts a complaint names, in ARTIFACTS order ('ringing', 'waxy', ...)."""
    return [kind for kind, pattern in ARTIFACTS.items() if re.search(r"\b(?:" + pattern + r")", text)]


register(Intent(
    name="complaint",
    description="A result the user already has looks wrong: ringing, halos, waxy skin, still blurry, worse.",
    examples=("Why did my deblurred photo get ringing around the edges?",
              "The restored image has halos around every building, what went wrong?",
              "My upscaled portrait came out waxy, the skin looks plastic. Why?",
              "It made my photo worse. Why?",
              "The output still looks blurry, what did I do wrong?",
              "Why are there weird ripples next to the lines after restoring?",
              "After deblurring, the faces look painted and fake."),
    negatives=("Why is my photo blurry?", "Can it remove the halos in my photo?", "Does it cause ringing?"),
    priority=90,
    queries=("when the result looks wrong: over-smoothed, plastic, ringing next to strong edges",),
    rule=_words(r"\b" + _RESULT_WORDS + r"\b[^.!?]{0,80}?\b(?:" + "|".join(ARTIFACTS.values()) + r")|"
                r"\b(?:" + "|".join(ARTIFACTS.values()) + r")\b[^.!?]{0,60}?\b(?:after|when)\s+(?:i\s+)?"
                r"(?:restor|deblur|upscal|enlarg|sharpen|process|run)\w*|"
                r"\b(?:after|since|when)\s+(?:i\s+|it\s+)?(?:restor|deblur|upscal|enlarg|sharpen|process|ran|run)\w*"
                r"[^.!?]{0,60}?\b(?:" + "|".join(ARTIFACTS.values()) + r")"),
    # Asked in advance or how to avoid it ("will I get ringing?", "how do I avoid halos?"), not about a result.
    unless=_words(r"^(?:can|could|will|would|does|do|is)\s+(?:it|this|the\s+model|mimo\S*|cnaps|you)\s+"
                  r"(?:\w+\s+){0,2}?(?:remove|fix|reduce|get\s+rid|clean|cause|add|introduce|make)\b|"
                  r"^(?:will|would)\s+(?:i|it|the\s+\w+)\b|\b(?:avoid|prevent|get\s+rid\s+of|always)\b"),
))

register(Intent(
    name="off-topic",
    description="Nothing about images, the card's model or papers, or cnaps: declined in one or two sentences.",
    examples=("What is the capital of France?", "Write a haiku about autumn leaves.",
              "Who will win the next football world cup?", "What's the weather like tomorrow in Berlin?",
              "Give me a recipe for banana bread.", "Tell me a joke.", "How do I file my taxes?",
              # advice and shopping that borrow this product's everyday words (card, model, camera, code, it)
              "Which credit card gives the best cashback?", "What laptop should I buy for university?",
              "Which camera should a beginner buy?", "What car model is the most reliable?",
              "Should I switch my phone contract to another provider?", "Can you help me debug my JavaScript code?",
              "What time is it in New York right now?", "What should I pack for a week in Lisbon?",
              "What is a good birthday present for my dad?", "How do I reset my router password?",
              "Write a Python script that renames files in a folder.",
              # life advice in the words of "is it worth trying?"
              "Is it worth buying an iPhone?", "Is it a good idea to quit my job?",
              "What's the best iPhone app for budgeting?",
              "Should I bother learning the piano?",
              # blur that is no picture's: eyesight, a screen, a sound
              "Should I see an eye doctor about my blurry vision?", "Is blurred vision after eye surgery normal?",
              # creative writing, whatever its subject
              "Tell me a joke about blurry photos.", "Write a poem about sharp images."),
    negatives=("What is the capital idea of this paper?", "Write a short summary of the paper.",
               "Can it restore a photo of autumn leaves?"),
    priority=85,
    # a joke, a poem or a song is asked for whatever its subject: "tell me a joke about blurry photos"
    rule=_words(r"^(?:(?:please|hey|ok(?:ay)?|now|can\s+you|could\s+you)[,\s]+)*(?:tell|write|compose|sing|make\s+up|"
                r"give)\s+(?:me\s+|us\s+)?(?:a|an|some|another|one)\s+(?:\w+\s+)?(?:jokes?|poems?|haikus?|songs?|"
                r"limericks?|riddles?|raps?|puns?|sonnets?|lyrics)\b"),
    routed=True,
    domain=False,
))

register(Intent(
    name="summarize-paper",
    description="A summary of the recommended paper or of a related paper, optionally in a given number of sentences.",
    examples=("Summarise the recommended paper in three sentences.", "Give me a summary of the MIMO-UNet paper.",
              "What is the paper about?", "TL;DR of the paper please.", "Can you give an overview of the paper?",
              "Summarize FeatSharp in two sentences."),
    negatives=("Who wrote the paper?", "Is there code for the paper?"),
    priority=80,
    unless=_words(r"\b(?:related|other|listed|these|those)\s+papers\b"),  # "summarise the related papers"
    queries=("the problem MIMO-UNet addresses: coarse-to-fine deblurring in one network",
             "multi-input single encoder, multi-output single decoder, asymmetric feature fusion",
             "reported results on GoPro: PSNR and runtime"),
    rule=_words(r"\b(?:summar\w*|overview|tl;?dr|gist|sum\s+(?:it\s+|this\s+|(?:the|this)\s+\w+\s+)?up|in\s+(?:one|two|three|four|five|\d)\s+sentences?|"
                r"what\s+(?:is|was)\s+(?:the|this|that)\s+(?:recommended\s+|main\s+)?paper\s+about|"
                r"what\s+(?:does|did)\s+(?:the|this)\s+(?:[\w-]+\s+)?paper\s+(?:say|propose|do|find|show|conclude|"
                r"contribute))\b"),
))

register(Intent(
    name="explain-simply",
    description="The model explained in plain words, for a newcomer or a child.",
    examples=("Explain in plain words, like to a ten-year-old, what this network does.",
              "Explain it like I'm five.", "In simple terms, what does MIMO-UNet do?",
              "Can you explain this model without jargon?", "I'm not technical: what does this thing actually do?",
              "Explain MIMO-UNet to my grandmother."),
    negatives=("Explain the FAM module.", "Explain the loss function."),
    priority=78,
    queries=("the problem MIMO-UNet addresses: coarse-to-fine deblurring in one network",
             "the blurred image enters the encoder at full, half and quarter resolution",
             "the output has the same size as the input"),
    rule=_words(r"\b(?:plain\s+(?:words|english|language|terms)|simple\s+(?:words|terms|language)|layman\w*|"
                r"explain\w*\s+(?:\w+\s+){0,3}?simply|"
                r"like\s+(?:i'?m|i\s+am|to|for)\s+(?:a\s+)?(?:five|5|child|kid|ten|\d+[- ]year[- ]old|beginner|"
                r"non-?expert|grandm\w*)|(?:ten|five|\d+)[- ]year[- ]old|eli5|without\s+(?:the\s+)?jargon|"
                r"non-?technical|not\s+(?:very\s+)?technical|for\s+(?:a\s+)?(?:beginner|newcomer|dummies)|"
                r"explain\w*\s+(?:[\w-]+\s+){0,3}?(?:to|for)\s+(?:my\s+)?grand(?:m|p|f)\w*)\b"),  # not "my grandma's photo"
    unless=_words(r"\b(?:fam|scm|aff|loss|encoder|decoder)\b"),
))

register(Intent(
    name="related-papers",
    description="The card's related papers: which matters most, how they relate, their authors or code.",
    examples=("Which of the related papers matters most for my question, and why?",
              "How are the other papers on the card related?", "Which related paper should I read first?",
              "Are any of the related papers useful for upscaling?", "Tell me about the related papers.",
              "Why are these papers listed on the card?", "What should I read to understand this?"),
    negatives=("Summarise the recommended paper.", "Who wrote MIMO-UNet?"),
    priority=75,
    rule=_words(r"\b(?:related|other|listed|these|those|the\s+card'?s)\s+(?:\w+\s+)?(?:papers?|works?|studies)\b|"
                r"\bwhich\s+(?:of\s+the\s+)?(?:\w+\s+)?papers?\b|\bpapers?\s+(?:on|in)\s+the\s+card\b|"
                # "what should I read to understand this?", "any reading recommendations?": what to read
                r"\bwhat\s+(?:should|do|can|would)\s+(?:i|we|you)\s+(?:\w+\s+)?read\b|\breading\s+(?:list|"
                r"recommendations?|suggestions?|material)\b|\b(?:recommend|suggest)\s+(?:a\s+|some\s+)?(?:papers?|reading)\b"),
))

register(Intent(
    name="compare-other",
    description="The model compared with a model or tool the card does not document (Photoshop, Real-ESRGAN, ...).",
    examples=("Is it better than Restormer?", "MIMO-UNet vs Real-ESRGAN: which should I use?",
              "How does it compare with Photoshop's shake reduction?", "Is this better than Topaz Gigapixel?",
              "Would NAFNet be sharper than this?", "Would you recommend it over Topaz?"),
    negatives=("Is MIMO-UNet+ better than MIMO-UNet?", "Is it better than the original photo?"),
    priority=72,
    queries=("other tools compared with MIMO-UNet: what kind of tool Real-ESRGAN, Topaz, Photoshop Shake Reduction, "
             "an unsharp mask and Restormer are",),
    rule=_words(r"\b(?:" + OTHER_TOOLS + r")\b[^.!?]{0,60}?\b(?:better|worse|faster|slower|sharper|or|vs\.?|versus|"
                r"instead|compar\w*|differ\w*)\b|\b(?:better|worse|faster|slower|sharper|or|vs\.?|versus|instead\s+of|"
                r"compar\w*\s+(?:\S+\s+)?(?:to|with)|differ\w*\s+from|"
                # "the difference between this and Real-ESRGAN", "compare MIMO-UNet with Photoshop's Shake Reduction"
                r"differ\w*\s+between\s+(?:\S+\s+){0,3}?(?:and|&)|"
                # "would you pick this over Lightroom?", not "writing over my Photoshop layers"
                r"(?:recommend\w*|pick\w*|choos\w*|chose|prefer\w*|use|using|go\s+with|take|select\w*)\s+(?:\S+\s+){0,2}?over)"
                r"\s+(?:\w+\s+){0,2}?(?:" + OTHER_TOOLS + r")\b"),
))

register(Intent(
    name="compare-variants",
    description="The card's own variants and checkpoints compared: MIMO-UNet, MIMO-UNet+, MIMO-UNet++, GoPro, RealBlur.",
    examples=("Is MIMO-UNet+ better than MIMO-UNet?", "What is the difference between MIMO-UNet and MIMO-UNet++?",
              "Which variant should I use?", "GoPro or RealBlur weights for my phone photos?",
              "How much bigger is the plus model?"),
    negatives=("Is it better than Restormer?",),
    priority=70,
    queries=("MIMO-UNet variants: residual blocks and million parameters of MIMO-UNet and MIMO-UNet+",
             "reported results on the GoPro test set: PSNR and SSIM of MIMO-UNet, MIMO-UNet+ and MIMO-UNet++"),
    rule=_words(r"\bmimo-?unet\s*\+[^.!?]{0,60}\bmimo-?unet\b|\bmimo-?unet\b[^.!?]{0,60}\bmimo-?unet\s*\+|"
                r"\bwhich\s+(?:variant|version|checkpoint|weights)\b|\bplus\s+(?:model|variant|version)\b|\bvariants?\b|"
                # the two checkpoints set side by side however it is worded: "RealBlur ... better than the GoPro one",
                # "GoPro or RealBlur weights", "difference between the GoPro and RealBlur checkpoints"
                r"\b(?:gopro|realblur)\b[^.!?]{0,40}?\b(?:than|or|vs\.?|versus|and|over|compared?\s+(?:to|with)|"
                r"against)\s+(?:the\s+)?(?:\w+\s+){0,2}?(?:gopro|realblur)\b"),
))

register(Intent(
    name="weights",
    description="Which weights are available or installed, and how to get the official checkpoints.",
    examples=("Are the official weights available?", "Where can I download the checkpoints?",
              "Is MIMO-UNet+ available in cnaps?", "Which models can cnaps run?",
              "Do you ship the pretrained weights?"),
    priority=65,
    queries=("official checkpoints: GoPro weights of MIMO-UNet and MIMO-UNet+, RealBlur weights",),
    rule=_words(r"\b(?:weights|checkpoints?|pre-?trained)\b|\b(?:is|are)\s+\S+\s+(?:available|supported|included)\b|"
                r"\bwhich\s+models\s+(?:can|does|do)\b"),
))

register(Intent(
    name="licence",
    description="Under what terms the model, its weights, cnaps or the restored photos may be used: licence, "
                "commercial use, cost.",
    examples=("What's the license?", "Can I use it commercially?", "Is it free?", "What licence are the weights under?",
              "Can I use the restored photos in a commercial ad?", "Is MIMO-UNet open source?",
              "can i use it for comercial", "Can I use it for my business?", "Can we deploy it in our company's app?",
              "Am I allowed to sell the restored photos?"),
    negatives=("Can it read my licence plate?", "Can I use it for my business photos?", "Is the output free of artifacts?",
               "Is it free to run on a CPU?",
               "Can it remove the blur from a photo of a commercial truck?",
               "Can it deblur a photo of my driver's license?", "Can it remove the copyright watermark from my photo?"),
    priority=67,
    queries=("the licence of the official MIMO-UNet code and checkpoints",),
    # "commercial" only as a use ("use it commercially", "for commercial work"), not "a photo of a commercial truck"
    rule=_words(r"(?<!driver's\s)(?<!drivers\s)(?<!driving\s)\b(?:licen[cs]e[sd]?|licen[cs]ing)\b(?!\s+(?:plates?|photos?|"
                r"cards?)\b)|\bcom+er[cs]ial+l?y\b|\bcom+er[cs]ial\s+(?:use|purposes?|licen\w+)\b|\b(?:use|using|sell|selling)\s+(?:\w+\s+){0,4}?(?:for|in)\s+(?:a\s+)?com+er[cs]ial\w*|"
                r"\bfor\s+com+er[cs]ial\b|\bopen[- ]source\b|"
                # "can I sell the restored photos?", not "sell my old camera"
                r"\b(?:sell|selling|resell\w*|licen[cs]e\s+out)\s+(?:the\s+|my\s+|our\s+)?(?:restored|enhanced|upscaled|enlarged|"
                r"deblurred|sharpened|output|resulting)\s+(?:images?|photos?|pictures?|results?|files?|prints?)\b|"
                r"\b(?:is|are)\s+(?:it|this|they|mimo\S*|cnaps|(?:this|the)\s+(?:model|tool|weights|code))\s+"
                r"(?:really\s+)?(?:free|paid)(?:\s+(?:to\s+use|of\s+charge))?(?=\s*(?:[?.!,;]|$|(?:and|or)\s+(?:open|paid|free|how|what|where|when|can|could|does|do|is|are|will|who|which|"
                r"commercial)\b|for\s+(?:me|us|"
                r"business|work)))|\b(?:how\s+much\s+does\s+(?:it|cnaps|this)\s+cost|terms\s+of\s+use|copyright\s+(?:of|on|for|to|"
                r"holder)|who\s+owns)\b|"
                # "can I use it for my business?", "in our company's app", not "for my business photos"
                r"\b(?:use|using|run|running|deploy\w*)\s+(?:it|this|cnaps|mimo\S*|(?:this|the)\s+(?:model|tool|weights|code))\s+"
                r"(?:for|in|at|inside|within)\s+(?:my|our|a|an)\s+(?:own\s+)?(?:business|company|startup|firm|agency|"
                r"(?:paid\s+)?(?:product|app|service|saas))(?:'s)?\b(?!\s+(?:photos?|images?|pictures?|shots?|scans?))"),
))

register(Intent(
    name="setup",
    description="How to install cnaps and get it running: pip, PyTorch, the first command.",
    examples=("How do I install it?", "How do I set it up on Windows?", "What do I need to install?",
              "How do I get started with cnaps?", "Is there a pip package?", "Tell me how to get started.",
              "Where should I begin?"),
    negatives=("Where can I download the checkpoints?", "How do I run it on a folder?",
               "My photo of the installation at the museum is blurry."),
    priority=61,
    queries=("installing cnaps with pip and PyTorch, and the first command to run",),
    # installing cnaps, not "my photo of the installation" or "how do I set up the camera?"
    rule=_words(r"\b(?:(?:how|where)\s+(?:do|can|would|should|to)\s+(?:i\s+|we\s+|you\s+)?(?:\w+\s+)?(?:install|set\s*up|"
                r"setup)\b(?!\s+(?:the\s+|my\s+|a\s+)?(?:camera|phone|tripod|lens|lighting|shot|scene|flash))|"
                r"install(?:ing|ation)?\s+(?:it|this|cnaps|mimo\S*|the\s+(?:model|tool|package|software|app))\b|"
                r"installation\s+(?:steps?|instructions?|guide|process)|(?:what|which)\s+(?:\w+\s+){0,4}?(?:install|"
                r"dependenc\w+|requirements?)\b|set\s*(?:it|cnaps|this)\s+up|setup\s+(?:steps?|instructions?|guide)|"
                r"\bpip\b|get\s+(?:it|cnaps)\s+(?:started|running|working)|getting\s+started|requirements\.txt|"
                r"(?:how|where)\s+(?:(?:do|can|should|would|shall)\s+(?:i|we)\s+|to\s+)?(?:get\s+)?(?:start(?:ed)?|begin|going)"
                r"(?:\s+with\s+(?:it|this|cnaps)\b|\s*(?:$|[,.?!])|\s+and\b)|"
                r"dependenc\w+)"),
    unless=_words(r"\b(?:weights|checkpoints?)\b"),
))

register(Intent(
    name="batch",
    description="Many photos at once: a folder, an album, hundreds of files.",
    examples=("I have 500 shaky wedding photos, how do I batch them?", "Can it do a whole folder at once?",
              "How do I restore all the pictures in a directory?", "Can I process my whole album in one go?",
              "Is there a bulk mode for thousands of scans?"),
    negatives=("How long does one photo take?",),
    priority=62,
    rule=_words(r"\b(?:batch\w*|folders?|director(?:y|ies)|bulk|in\s+one\s+go|all\s+(?:the|my|of\s+my)\s+"
                r"(?:photos|images|pictures|files|scans)|(?:hundreds|thousands|dozens)\s+of|"
                # "300 old photos", not "30 dB on my photos": the number counts the photos
                # (not a photo's size: "7000 x 5000 photos")
                r"(?<!\d[x\u00d7]\s)(?<!\d\s[x\u00d7]\s)(?<!\d[x\u00d7])\d{2,}\s+(?:(?!(?:db|on|in|for|at|per|from|with|to|px|pixels?|mp|megapixels?|dpi|bits?|x|k|mb|percent)\b)\w+\s+){0,3}?"
                r"(?:photos|images|pictures|files|scans)|whole\s+(?:album|library|collection))\b"),
))

register(Intent(
    name="practical",
    description="Running it: time, memory, GPU or CPU, image size limits, file formats.",
    examples=("How long does it take on my laptop?", "Does it need a GPU?", "How much memory does it use?",
              "Which file formats can I give it?", "What is the largest image it can handle?",
              "Will it run on a CPU?", "My photo is 12000x9000 pixels, will it work?", "Does it work on a phone?",
              "Can I run it on Windows?"),
    priority=60,
    queries=("running MIMO-UNet with cnaps on a CPU or GPU: seconds and minutes per photo, memory, tiles, "
             "the largest image size in pixels",),
    rule=_words(r"\b(?:(?:run|runs|work|works|use|install)\s+(?:it\s+|cnaps\s+|this\s+)?(?:on|with|under)\s+(?:a\s+|an\s+|my\s+|the\s+)?"
                r"(?:(?:smart)?phones?|iphone|android|mac\w*|windows|linux|ubuntu|raspberry\s+pi|tablet|ipad|chromebook)\b"
                r"(?!\s+(?:photos?|pictures?|images?|shots?|pics?|videos?|camera|screenshots?))|"
                # "is there an iPhone app?", "an app for Android?", "a mobile version?", not "the best iPhone app for budgeting"
                # or "which Android app is best?" (a choice among apps)
                r"(?<!best\s)(?<!good\s)(?<!which\s)(?<!what\s)(?:phone|mobile|ios|android|iphone|ipad)\s+(?:app|version)s?\b(?!\s+(?:for|to|that)\s+(?!(?:it|this|cnaps)\b))|"
                r"(?:apps?|versions?)\s+(?:for|on)\s+(?:my\s+|the\s+|an?\s+)?(?:(?:smart)?phones?|mobile|ios|android|iphone|"
                r"ipad|tablet)\b|"
                r"how\s+long|how\s+much\s+(?:time|memory|ram|vram)|how\s+fast|gpus?|cpus?|cuda|laptop|memory|"
                r"ram|vram|largest|biggest|maximum|megapixels?|file\s+formats?|formats?|jpe?gs?|pngs?|tiffs?|heic|raw\s+files?|"
                r"real[- ]?time|"
                # "my photo is 12000x9000, will it work?", "can it take an 8000x6000 image?": a size in pixels asked
                # about, not "upscale my 500x300 photo to 2000x1200" (a request)
                r"\d{3,5}\s*[x\u00d7]\s*\d{3,5}\b[^.!?]{0,40}?[.!?,]?\s*(?:will|would|can|does|is)\s+(?:it|mimo\S*|this|"
                r"the\s+(?:model|network))\s+(?:\w+\s+)?(?:work|handle|cope|take|manage|support|run|ok|okay|fine|too\s+"
                r"(?:big|large))|"
                r"(?:handle|take|cope\s+with|support|process|manage)\s+(?:an?\s+|my\s+)?(?:\w+\s+)?\d{3,5}\s*[x\u00d7]"
                r"\s*\d{3,5}\b|\d{3,5}\s*[x\u00d7]\s*\d{3,5}\s*(?:px|pixels?)?\s+(?:is\s+)?too\s+(?:big|large)|"
                # "can it run quickly?", "is it slow?", not "does it work on fast motion blur?" or "is this
                # slow-shutter photo fixable?"
                r"(?:runs?|running|works?|process\w*)\s+(?:fast|quick(?:ly)?|slow(?:ly)?)(?:\s+enough)?"
                r"(?=\s*(?:[?.!,]|$|on\b|for\b))|"
                r"(?:is|are)\s+(?:it|mimo\S*|(?:this|the)\s+(?:model|network))\s+(?:too\s+|very\s+|really\s+)?"
                r"(?:slow|fast|quick)(?:\s+enough)?(?=\s*(?:[?.!,]|$|on\b|for\b)))\b"),
))

register(Intent(
    name="model-size",
    description="How big the model is: its parameters and blocks, whether it is a small or lightweight network.",
    examples=("How many parameters does MIMO-UNet have?", "How big is this network?",
              "Is it a lightweight model?", "How can such a small model restore so much detail?",
              "What is the model size of MIMO-UNet+?", "How small is the MIMO-UNet network?"),
    negatives=("How big an image can it take?", "What is the largest photo it handles?"),
    priority=58,
    queries=("MIMO-UNet variants: residual blocks and million parameters of MIMO-UNet and MIMO-UNet+",),
    rule=_words(r"\b(?:how\s+(?:big|large|heavy|small|light)\s+(?:is|are)\s+(?:it|this|that|the|mimo\S*)\b"
                r"(?!\s+(?:image|photo|picture|file))|how\s+many\s+(?:param\w*|weights|layers|blocks)|param(?:eter)?s?|"
                r"(?:model|network)\s+size|size\s+of\s+(?:the\s+)?(?:model|network)|light\s?weight|"
                r"(?:small|tiny|compact)\s+(?:ai\s+)?(?:model|network))\b"),
))

register(Intent(
    name="component",
    description="One part of the model: FAM, SCM, AFF, the multi-input encoder, the multi-output decoder, the loss.",
    examples=("What is the FAM module?", "How does the asymmetric feature fusion work?",
              "What loss does it train with?", "What does the SCM do?", "Why does the decoder output three images?",
              "Explain the multi-output decoder."),
    negatives=("How does the model work?",),
    priority=55,
    queries=("multi-input single encoder: shallow convolutional module and feature attention module",
             "multi-output single decoder emits a restored image at each of the three scales",
             "asymmetric feature fusion merges encoder features of every scale",
             "training loss: multi-scale content loss and frequency reconstruction loss"),
    rule=_words(r"\b(?:fam|scm|aff|feature\s+attention|shallow\s+convolution\w*|asymmetric\s+feature\s+fusion|"
                r"feature\s+fusion|multi-?output|multi-?input|decoder|encoder|loss(?:es)?|loss\s+function|msfr|"
                r"frequency\s+(?:loss|reconstruction)|residual\s+blocks?|skip\s+connections?)\b"),
))

# "Is it worth trying?", "should I bother with it?", "is it a good fit for me?": whether the model suits the user.
# The task reading counts it as a question about the model, as it counts "will it work?".
_SUBJECT = r"(?:it|this|that|mimo\S*|(?:this|the)\s+(?:model|network|tool))"
WORTH_TRYING = _words(
    r"\b(?:(?:is|was)\s+" + _SUBJECT + r"\s+(?:\w+\s+)?worth\s+(?:it|(?:the\s+)?(?:time|effort|bother|trouble|"
    r"a\s+(?:try|shot|go))|my\s+time|trying|using|bothering)|"
    r"worth\s+(?:trying|using|a\s+(?:try|shot|go)|bothering\s+with)\s+(?:it|this|that|the\s+(?:model|network)|"
    r"mimo\S*)?|"
    r"worth\s+\w+ing\b[^.!?]{0,40}?\bwith\s+(?:it|this|that|mimo\S*|the\s+(?:model|network))\b|"
    # "should I use this model?", not "should I use MIMO-UNet+ or MIMO-UNet?" (a comparison of variants or tools)
    r"should\s+i\s+(?:even\s+)?(?:bother|use|try|pick|choose|go\s+with)\s+(?:with\s+)?(?:it|this|that|"
    r"the\s+(?:recommended\s+)?(?:model|network|tool)|mimo-?unet)(?!\s*\+)\b"
    r"(?![^.!?]*\b(?:or|vs\.?|versus|instead\s+of)\s+(?:the\s+)?(?:mimo\S*|plus\b|another|other|a\s+different|"
    + OTHER_TOOLS + r"))|"
    # "would it actually help me?", "will it help with my blurry photos?", not "can it help me deblur my photo?"
    # (a request) or "would it help me with my job interview?"
    r"(?:would|will|does|can)\s+" + _SUBJECT + r"\s+(?:actually\s+|really\s+|even\s+)?help"
    r"(?:\s+(?:me|us))?(?=\s*(?:[?.!,]|$|at\s+all|here|with\s+(?:my|our|these|this|that|the)\s+(?:[\w-]+\s+){0,2}?"
    + PICTURE_NOUNS + r"))|"
    # "is it a good fit for me?", "is it any use for old photos?", not "is it a good idea to quit my job?"
    r"(?:is|would)\s+" + _SUBJECT + r"\s+(?:be\s+)?(?:(?:a|the)\s+)?(?:(?:good|right|sensible|best)\s+"
    r"(?:fit|choice|pick|model|tool)|any\s+(?:good|use)|suitable|(?:right|good)\s+for\s+(?:me|us|my|our))|"
    r"(?:would|will|does|can)\s+" + _SUBJECT + r"\s+(?:actually\s+|really\s+)?(?:make\s+(?:a|any)\s+(?:real\s+)?"
    r"difference|do\s+(?:anything|much|something|any\s+good)\s+for|work\s+for\s+(?:me|us|my|our))|"
    # "would you recommend it for my scans?", "is MIMO-UNet recommended?", not "would you recommend MIMO-UNet or
    # Restormer?" (a comparison) or "can you recommend a camera?" (not the model)
    r"(?:(?:would|do|can)\s+you\s+(?:still\s+)?(?:recommend|suggest|advise)\s+(?:using\s+|trying\s+)?" + _SUBJECT
    + r"|(?:is|would)\s+" + _SUBJECT + r"\s+(?:be\s+)?recommended)\b"
    r"(?![^.!?]*\b(?:or|vs\.?|versus|instead\s+of|over)\s+(?:the\s+)?(?:mimo\S*|plus\b|another|other|a\s+different|"
    + OTHER_TOOLS + r")))")

# "is it worth it to learn photography?" weighs something else than the model
WORTH_SOMETHING_ELSE = _words(r"\bworth\s+(?:it\s+)?to\s+(?!(?:use|try|run|restore|deblur|sharpen|fix|upscale|"
                              r"enlarge)\b)\w+")


# How to take a sharp photo in the first place ("how do I avoid blurry photos?", "what shutter speed stops motion
# blur?"), not a photo to restore: prevention verbs before a blur word, sharper photos to take, camera technique.
SHOOTING = _words(
    r"\b(?:avoid\w*|prevent\w*)\b[^.?!]{0,40}?\b(?:blur\w*|shak\w*|motion|out\s+of\s+focus)|"
    r"\b(?:stop|keep)\s+(?:my\s+|the\s+)?(?:photos?|pictures?|shots?|images?|camera|hands?)\s+(?:from\s+)?"
    r"(?:getting\s+|being\s+|coming\s+out\s+|turning\s+out\s+)?(?:blur\w*|shak\w*)|"
    r"\b(?:take|shoot|get)\s+(?:sharper|clearer|crisper|less\s+blurry|non-?blurry|sharp|clear|crisp)\s+(?:\w+\s+)?"
    r"(?:photos?|pictures?|shots?|images?|pics?|selfies?)|"
    # camera technique asked about ("what shutter speed ...?"), not told ("I forgot my tripod")
    r"\b(?:what|which|how|best|right|should|good|ideal)\s+(?:\w+\s+){0,3}?(?:shutter\s+speeds?|tripods?|"
    r"image\s+stabili[sz]\w*|camera\s+settings?|apertures?|iso)\b|"
    r"\b(?:does|do|is|are|would|will)\s+(?:a\s+|an\s+|the\s+)?(?:tripods?|(?:image\s+)?stabili[sz]\w*|gimbals?)\s+"
    r"(?:really\s+)?(?:help|worth|work|useful|needed|necessary)|"
    r"\bset\s*up\s+(?:the\s+|my\s+)?camera\b|\bhold\s+(?:the\s+|my\s+)?(?:camera|phone)\s+(?:still|steady)\b")


def asks_how_to_shoot(text: str) -> bool:
    """Whether a normalised question asks how to take a sharp photo rather than how to restore one: the shooting
    intent's own rule, which the task reading also heeds (no deblurring need is read from it)."""
    return bool(SHOOTING.search(text))


def asks_if_worth_trying(text: str) -> bool:
    """Whether a normalised question asks if the model is worth trying: the suitability intent's own rule."""
    return bool(WORTH_TRYING.search(text)) and not WORTH_SOMETHING_ELSE.search(text)


register(Intent(
    name="shooting",
    description="How to take a sharp photo in the first place, not how to restore one: shutter speed, steadiness, "
                "focus.",
    examples=("How should I set up the camera to avoid blur?", "How do I avoid blurry photos?",
              "What shutter speed stops motion blur?", "How can I take sharper pictures with my phone?",
              "How do I keep my photos from getting blurry?", "Tips to prevent camera shake at night?"),
    negatives=("My photo is blurry because I used a slow shutter speed, can you fix it?",
               "Deblur this photo I took without a tripod.", "How do I deblur without creating halos?"),
    priority=57,
    queries=("avoiding blur when shooting: shutter speed, tripod, stabilisation, focus on the subject",),
    rule=SHOOTING,
    notes_section="Avoiding blur when you shoot",
))

# Where a restored image is written and whether the original is kept: "will it overwrite my original?", "where does
# the result go?", "writing over my layers", not "replace the sky"
OUTPUT_FILES = _words(r"\b(?:overwrit\w*|(?:writ\w*|sav\w*|paint\w*)\s+over|"
    r"replac\w*\s+(?:my\s+|the\s+)?(?:original|input|source)(?:\s+(?:file|photo|image|picture))?|"
    r"(?:keep|keeps|kept|preserv\w*|leave|leaves|touch\w*|chang\w*|modif\w*)\s+(?:my\s+|the\s+)?original|"
    r"output\s+(?:files?|folders?|director(?:y|ies)|path|names?|location)|file\s*names?\s+of\s+the\s+"
    r"(?:result|output)|(?:as|into|to)\s+a\s+(?:new|separate|different)\s+file|"
    r"where\s+(?:does|do|will|is|are|did)\s+(?:it|cnaps|the\s+(?:\S+\s+){0,2}?(?:result|output|image|photo|picture|file|"
    r"version|copy)s?)\s+"
    r"(?:\w+\s+){0,2}?(?:saved?|saves|go|goes|stored?|stores|written|writes?|put|puts|end\s+up|land)|"
    r"where\s+(?:can|do|will|would)\s+i\s+(?:find|get|see)\s+(?:the\s+|my\s+)?(?:result|output|restored|"
    r"new|fixed|sharpened|enlarged|upscaled))\b")


def asks_about_output_files(text: str) -> bool:
    """Whether a normalised question asks where the restored image goes or whether the original is kept: the
    output-files intent's own rule, which the task reading also heeds ("the restored image" is no request)."""
    return bool(OUTPUT_FILES.search(text))


register(Intent(
    name="output-files",
    description="Where the restored image is saved, under what name, and whether the original photo is kept.",
    examples=("Where does it save the restored image?", "Will it overwrite my original photo?",
              "What is the output file called?", "Does it keep my original file?",
              "Where do I find the result after it runs?", "Does it save the result as a new file?"),
    negatives=("Which file formats can I give it?", "Why does the output look waxy?",
               "Can it replace the sky in my photo?"),
    priority=59,
    queries=("where cnaps saves the restored image: a new file in the output folder, the original never replaced",),
    rule=OUTPUT_FILES,
    notes_section="Where the restored image goes",
))

register(Intent(
    name="suitability",
    description="Whether the model is worth trying on the user's photos: what it is for, what it is not, and what "
                "the weights that would run measured on real photographs.",
    examples=("Should I bother with it?", "Is this model worth trying?", "Should I use MIMO-UNet for my photos?",
              "Is it the right model for me?", "Would this be a good fit for my pictures?", "Is it any good?",
              "Is it worth my time?", "Will it actually make a difference to my pictures?",
              "Would you recommend it for my photos?"),
    negatives=("Should I use MIMO-UNet+ or MIMO-UNet?", "Is it better than Restormer?",
               "Is it worth buying a better camera?", "Which variant should I use?",
               "Would you recommend MIMO-UNet or Restormer?", "Can you recommend a good camera?"),
    priority=52,
    queries=("what MIMO-UNet can and cannot do for a photo: the blur it removes, the size it returns",),
    rule=WORTH_TRYING,
    unless=WORTH_SOMETHING_ELSE,
))

register(Intent(
    name="invented-detail",
    description="Whether the detail in a result is real or made up: does it invent or hallucinate, can the text it "
                "brings back be trusted, how it recreates detail from a blurred input.",
    examples=("Does it invent details?", "Will it hallucinate fake text on the sign?",
              "Are the letters real or made up by the AI?", "Can I trust the details it recovers?",
              "Is the recovered detail real?", "Does it make things up?",
              "How does this model recreate such detailed scenes from minimal input?"),
    negatives=("Is it a GAN?", "Make up a story about a blurry photo.", "Which details matter most in a portrait?"),
    priority=56,
    queries=("where readable detail comes from: letters already present in a smeared form, no content invented, "
             "sharp detail an estimate of what the photo held",),
    rule=_words(r"\b(?:invent\w*|hallucinat\w*|fabricat\w*|recreat\w*|made\s+up|mak\w*\s+(?:things|stuff|details?|it|them)\s+up|"
                r"mak\w*\s+up\s+(?:the\s+)?(?:details?|text|letters|words|numbers|things|stuff|faces?)|"
                r"fake\s+(?:details?|text|letters|texture|faces?|information)|"
                r"(?:real|genuine|true|accurate|authentic)\s+or\s+(?:fake|made|invented|ai|generated|not|imagined|guessed)|"
                r"(?:trust|rely\s+on|believe)\s+(?:the\s+|what\s+|its\s+)?(?:\w+\s+){0,2}?(?:details?|text|letters|"
                r"numbers?|(?:number|licen[cs]e)\s+plates?|plates?|faces?|it\s+shows)|"
                r"(?:is|are)\s+(?:the\s+)?(?:recovered|restored|new|sharpened|enhanced)\s+(?:\w+\s+)?(?:real|genuine|"
                r"accurate|trustworthy))\b"),
    notes_section="Where readable detail comes from",
))

register(Intent(
    name="how-it-works",
    description="How the model works or recovers detail, as a whole.",
    examples=("How does it work?",
              "How does MIMO-UNet deblur an image?", "Explain the architecture.", "What happens inside the network?",
              "What does this model do?", "Why coarse to fine?"),
    negatives=("What is the FAM module?", "How long does it take?"),
    priority=50,
    queries=("coarse-to-fine deblurring inside one U-shaped network instead of stacked sub-networks",),
    rule=_words(r"\bhow\s+(?:does|do|did|can|could|is)\s+(?:it|this|that|the|mimo\S*)\b[^.!?]{0,60}?\b(?:work\w*|recreat\w*|"
                r"recover\w*|restor\w*|deblur\w*|preserv\w*|keep\w*|manag\w*|rebuil\w*|bring\w*|reconstruct\w*|"
                r"produc\w*|do\s+(?:it|this|that))\b|\bhow\s+(?:it|this\s+model|the\s+model)\s+works\b|"
                r"\bexplain\s+(?:the\s+)?(?:architecture|model|network|mimo\S*|how)\b|\bwhat\s+happens\s+inside\b|"
                r"\barchitecture\b|"
                # "what does this model do?", not "what does it do to a photo taken while walking?" (a task)
                r"\bwhat\s+(?:does|can)\s+(?:this|the|that)\s+(?:model|network|mimo\S*)\s+(?:actually\s+|really\s+)?"
                r"do\b(?!\s+(?:to|for|with|on|about)\b)|\b(?:why|what(?:'s|\s+is)\s+the\s+(?:point|reason|purpose|idea)\s+(?:of|behind))"
                r"\s+(?:[\w-]+\s+){0,5}?(?:coarse[- ]to[- ]fine|(?:several|three|multiple|different)\s+"
                r"(?:scales|sizes|resolutions))\b"),
    unless=_words(r"\bhow\s+(?:long|much|fast|big|many)\b"),
))

register(Intent(
    name="restore",
    description="A restoration of the user's own image: deblur it, enlarge it, or both.",
    examples=("Deblur my photo.", "Upscale this picture 4x.", "Can you sharpen my shaky photo of the band?",
              "Make my thumbnail bigger and clearer.", "Fix the motion blur in this shot."),
    priority=40,
    routed=False,  # read from the classification's needs, not from phrases
))

register(Intent(
    name="general",
    description="Anything else about the card, its model or cnaps: answered from the best retrieved sentences.",
    examples=("What does MIMO stand for?", "When was the paper published?", "Is the code written in PyTorch?",
              "Who wrote the paper?", "Is there code for the paper?", "Which conference was it presented at?"),
    priority=0,
))


def ordered(matches: list[IntentMatch]) -> list[IntentMatch]:
    """Highest priority first; one match per intent (the most confident)."""
    best: dict[str, IntentMatch] = {}
    for match in matches:
        if match.name not in best or best[match.name].confidence < match.confidence:
            best[match.name] = match
    return sorted(best.values(), key=lambda m: (-REGISTRY[m.name].priority, -m.confidence))


def rule_matches(text: str) -> list[IntentMatch]:
    """The intents whose phrases appear in `text` (normalised) and are not vetoed."""
    found = []
    for intent in REGISTRY.values():
        if intent.rule is None:
            continue
        match = intent.rule.search(text)
        if match and not (intent.unless and intent.unless.search(text)):
            found.append(IntentMatch(name=intent.name, confidence=0.9, evidence=f"'{match.group(0).strip()}'"))
    return found


@lru_cache(maxsize=1)
def routed_examples() -> tuple[tuple[str, str], ...]:
    """(example question, intent) pairs the embedding router votes with; a near miss votes for no intent ('')."""
    positives = [(example, intent.name) for intent in REGISTRY.values() if intent.routed for example in intent.examples]
    return tuple(positives + [(negative, "") for intent in REGISTRY.values() for negative in intent.negatives])
