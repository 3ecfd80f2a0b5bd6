"""What a question asks beyond its intents: the yes/no it wants, the comparison it makes, the practical clause,
the model or file it asks about, the part of it the focused answer should answer. Read once, into `Wants`; the
composer, the retrieval plan and the verdicts take these fields and never read the question themselves.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from agent.reading.papers import aliases
from agent.reading.signals import COMPLAINT, OTHER_TOOLS


# "Is it a GAN?", "does MIMO-UNet use diffusion?", "is it based on transformers?" (not "does it use attention?": the
# FAM is called an attention module).
KIND_OF_NETWORK = re.compile(
    r"(?:^|[.!?]\s+)\W*(?:is|does|did)\s+(?:it|this|mimo-?unet\S*|(?:this|the)\s+(?:model|network))\s+(?:a\s+|an\s+)?"
    r"(?:(?:use|rely\s+on|based\s+on|work\s+like)\s+(?:a\s+|an\s+)?)?"
    r"(?:gans?|generative\s+adversarial|adversarial|diffusion|transformers?|vision\s+transformers?|vit|self-?attention|"
    r"(?P<cnn>cnns?|convolutional(?:\s+neural)?(?:\s+network)?|conv\s*net|neural\s+net(?:work)?|network|u-?net|"
    r"(?:deep[- ]learning|ai)\s+model))\b", re.IGNORECASE)


# A question about size or speed also wants the variants' parameter counts and runtimes.
_LIGHT = re.compile(r"\b(?:light\w*|small\s+model|tiny\s+model|fast\w*|efficien\w*|speed\w*|real-?time|mobile|"
                    r"phone|compact|how\s+(?:big|large|heavy|many\s+param\w*)|size\s+of\s+(?:the\s+)?"
                    r"(?:model|network)|(?:model|network)\s+size|param(?:eter)?s?|runtime|latency|slow\w*|differ\w*|"
                    r"compar\w*|versus|vs)\b")


# A practical question inside a request ("how long does it take to deblur a 12 MP photo on my laptop?", "does
# deblurring need a GPU?"): it gets its own answer from the documents, beside the task.
PRACTICAL = re.compile(r"\b(?:how\s+long|how\s+much\s+(?:time|memory)|largest|biggest|maximum|need\s+a\s+gpu|gpu|laptop|"
                       r"(?:will|would|can|does)\s+it\s+run|real[- ]?time|same\s+size|megapixels?)\b", re.IGNORECASE)
# A question about running it here: time, hardware, memory, image size, batches ("how long on my laptop?").
RUNNING = re.compile(r"\b(?:how\s+long|how\s+much\s+time|minutes?|hours?|seconds?|laptop|macbook|desktop|pc|cpus?|"
                     r"phone|iphone|android|smartphone|gpus?|memory|ram|vram|megapixels?|mp|largest|biggest|"
                     r"max(?:imum)?|limit|batch\w*|\d+\s+(?:photos|images|pictures|files)|real[- ]?time|fast\w*|slow\w*|"
                     r"speed\w*)\b", re.IGNORECASE)
# A question about how good the variants are ("is MIMO-UNet+ better than MIMO-UNet?", "what PSNR does it get?").
_RESULTS = re.compile(r"\b(?:better|worse|best|psnr|ssim|accura\w*|quality|results?|scores?|benchmarks?|db|differ\w*|"
                      r"compar\w*|vs|versus)\b", re.IGNORECASE)

# A restoration request that also asks which weights or data suit it ("which checkpoint for handheld shake?").
_ASKS_WHICH = re.compile(r"\b(?:which|what)\s+(?:\w+\s+)?(?:checkpoint|weights|version|variant|dataset|data)\b",
                         re.IGNORECASE)

# A question that asks how or why (rather than only asking for a result).
# (not "how long", "how much", "how many": those ask for a figure, not for how detail comes back)
_ASKS_HOW = re.compile(r"\b(?:how(?!\s+(?:long|much|many|fast|big|large|old|often|soon)\b)|why|what\s+makes|explain)\b",
                       re.IGNORECASE)

# "Can it fix my photo?", "Will this work on ...?": a question that wants a yes or a no first.
_YES_NO = re.compile(r"(?:^|[.!?,;:]\s+|\s[-\u2013\u2014]\s+)(?:(?:and|but|so|also|then|now|ok(?:ay)?)[,\s]+)?"
                     r"(?:(?:can|could|will|would|does|do|is|are|should)\s+(?:it|this|that|the|these|"
                     r"i|you|cnaps|mimo\S*)\b|(?:fix|restore|remove|repair|sharpen|enlarge|upscale)\b|"
                     r"(?:will|would|can|could|does|do)\s+(?:\S+\s+){1,4}?(?:fix|remove|repair|help|improve|get\s+rid)\b)"
                     r"[^.!?]*\?",  # the last: "will 3x upscaling with this fix the blockiness?"
                     re.IGNORECASE)

# A clause after a comma that asks for a fix: "..., can you fix it?", "... - will it work?".
_ASKS_FOR_A_FIX = re.compile(r"\b(?:fix|restore|remove|repair|sharpen|enlarge|upscale|deblur|unblur|improve|enhance|"
                             r"clean|help|work|save)\w*|\bbe\s+\w+ed\b", re.IGNORECASE)

# "..., can you explain how it works?", "is that because of camera shake?": a question, not a request for a fix.
_ASKS_TO_EXPLAIN = re.compile(r"\b(?:explain|tell|describe|what|how|why|because|mean|cause[sd]?|difference|real[- ]?time|"
                              r"how\s+long|fast|speed)\b", re.IGNORECASE)

# "Is it better than Restormer?", "MIMO-UNet vs NAFNet": a comparison the card's documents cannot settle.
# The other side must be named like a model (capitalised or with digits: "Restormer", "NAFNet", "ESRGAN-x4"), not
# "compared to the original" or "worse than the others".
_COMPARISON = re.compile(r"\b(?:better|worse|faster|slower|sharper|stronger|weaker|more\s+accurate)\s+than\s+|"
                         r"\bcompar\w*\s+(?:\w+\s+)?(?:to|with)\s+|\bvs\.?\s+|\bversus\s+")

_MODEL_NAME = re.compile(r"(?:the\s+)?(?:[A-Z][\w-]*[A-Z0-9][\w-]*|[A-Z][a-z]+(?:Net|GAN|former|SR)\w*|[A-Z][\w-]{2,})")

_MEDICAL = re.compile(r"\b(?:x-?rays?|mri|ct\s+scans?|ultrasound|medical|diagnos\w*|radiolog\w*|patholog\w*|"
                      r"clinical|microscop\w*|histolog\w*|biops\w*)\b", re.IGNORECASE)

_TRAINING = re.compile(r"\b(?:fine-?tun\w*|re-?train\w*|train\s+(?:it|the\s+model|mimo\S*|my\s+own))\b", re.IGNORECASE)

# "Can it fix only the runner?": a restoration limited to one area.
_REGION = re.compile(r"\b(?:only|just)\s+(?:the\s+|my\s+|that\s+|this\s+)?(?:\w+\s+)?(?:runner|person|people|"
                     r"face|faces|background|foreground|sky|car|plate|sign|subject|area|region|part|corner)\b",
                     re.IGNORECASE)

# "Can it run without a GPU?", "does it work on a CPU?"
_RUNS_WITHOUT_A_GPU = re.compile(r"\b(?:can|does|will|would)\s+(?:it|this|mimo-?unet\S*|(?:this|the)\s+model|cnaps|i|you)\s+"
                                 r"(?:run|work|use)\s+(?:it\s+|this\s+|the\s+model\s+)?(?:without\s+(?:a\s+)?(?:gpu|graphics\s+card|cuda)|on\s+(?:a\s+|my\s+|the\s+)?"
                                 r"(?:cpu|laptop)|cpu[- ]only)", re.IGNORECASE)

# "Is a GPU faster?", "will it be faster with a GPU?", "can I run it on my Nvidia GPU?", "is CUDA available?"
_GPU_IS_FASTER = re.compile(r"\b(?:is|are)\s+(?:a\s+|the\s+)?gpus?\s+(?:much\s+)?faster|\bfaster\s+(?:on|with)\s+(?:a\s+|the\s+)?"
                            r"gpu|\b(?:can|could|will|does)\s+(?:i|it|cnaps|you)\s+(?:run|use)\s+(?:it\s+)?(?:on|with)\s+"
                            r"(?:a\s+|an\s+|my\s+|the\s+)?(?:nvidia\s+)?(?:gpu|cuda|graphics\s+card)|\bis\s+cuda\s+"
                            r"(?:available|supported)|\b(?:does|will|can)\s+(?:it|cnaps)\s+(?:use|support)\s+(?:a\s+|the\s+)?"
                            r"(?:gpu|cuda)", re.IGNORECASE)

# "How long did that take?" after a restoration: the record answers it.
_ASKS_RUN_TIME = re.compile(r"\bhow\s+(?:long|much\s+time)\s+did\s+(?:it|that|this|the\s+\w+)\s+take|"
                            r"\bhow\s+fast\s+was\s+(?:it|that)|\bhow\s+many\s+seconds\s+did", re.IGNORECASE)

# "How does it work?": the workflow is the answer.
_HOW_IT_WORKS = re.compile(r"^\W*(?:so\s+|and\s+|ok(?:ay)?,?\s+)?(?:how\s+does\s+(?:it|this|mimo\S*|(?:this|the)\s+"
                           r"(?:model|network))\s+(?:work|deblur|do\s+it)|explain\s+(?:it|how\s+it\s+works|the\s+model|mimo\S*)|"
                           r"what\s+(?:does|can)\s+(?:it|this|mimo\S*|(?:this|the|that)\s+(?:model|network))\s+"
                           r"(?:actually\s+|really\s+)?do)"
                           r"\W*$", re.IGNORECASE)

# "Is MIMO-UNet++ available in cnaps?", "can cnaps run MIMO-UNet+?", "does cnaps support the RealBlur model?"
_AVAILABLE = re.compile(
    r"\b(?:is|are)\s+(?:the\s+)?(?P<model>[\w.+-]+?)(?:\s+(?:checkpoint|model|weights))?\s+(?:available|supported|included)"
    r"(?:\s+in\s+cnaps)?\b|"
    r"\b(?:can|could|does|do)\s+(?:cnaps|you|i)\s+(?:run|use|support|try)\s+(?:the\s+)?"
    r"(?P<model2>[\w.+-]+?)(?:\s+(?:checkpoint|model|weights))?(?:\s+(?:in|with)\s+cnaps)?(?=[\s?.!,]|$)",
    re.IGNORECASE)

# "Which models can cnaps run?", "what models does cnaps support?"
_WHICH_MODELS = re.compile(r"\b(?:which|what)\s+(?:other\s+)?(?:models|networks|checkpoints)\s+(?:can|does|do)\s+"
                           r"(?:cnaps|you|it|i)\s+(?:run|support|use|offer|have)", re.IGNORECASE)

# A model's name, not a file format, an OS or a device: "Real-ESRGAN", "NAFNet", "Restormer", "SwinIR", "DeblurGAN-v2".
_LOOKS_LIKE_A_MODEL = re.compile(r"net\b|nets?-|gan|former|esr|swin|\bsr|sr\b|mimo|deblur|diffusion|unet|"
                                 r"[a-z][A-Z].*(?:Net|GAN|SR|IR|former)", re.IGNORECASE)

# "Does it need a GPU?", "will I need an NVIDIA card?"
_NEEDS_A_GPU = re.compile(r"^\W*(?:does|do|will|would)\s+(?:it|this|mimo-?unet\S*|(?:this|the)\s+(?:model|network)|i|you|"
                          r"cnaps)\s+(?:really\s+|still\s+)?(?:need|require)\s+(?:a\s+|an\s+)?(?:gpu|graphics\s+card|cuda|"
                          r"nvidia(?:\s+card)?)\b", re.IGNORECASE)

# "So if I run this, will I get 32.45 dB?": a paper's score is not what one photo gets.
_EXPECTS_A_SCORE = re.compile(r"\b(?:will|would|do|can|could|should)\s+i\s+(?:also\s+)?(?:get|expect|see|reach|achieve)\b"
                              r"[^.!?]{0,40}?(?:\d+(?:\.\d+)?\s*db\b|psnr|ssim)", re.IGNORECASE)

# "What PSNR did I get?", "what's my PSNR?": the same notes answer, without a yes or no.
_ASKS_A_SCORE = re.compile(_EXPECTS_A_SCORE.pattern + r"|\b(?:what|which)\s+(?:psnr|ssim|score)\s+(?:did|will|would|do|"
                           r"can|could)\s+(?:i|it|my)\b|\bwhat(?:'s|\s+is)\s+(?:my|the)\s+(?:psnr|ssim)\b", re.IGNORECASE)

# "Which paper should I read first?", "where do I start reading?": a question of what to read.
_WHAT_TO_READ = re.compile(r"\b(?:read|start\s+with|begin\s+with|study|look\s+at\s+first)\b", re.IGNORECASE)
_VIDEO = re.compile(r"\b(?:video|videos|footage)\b", re.IGNORECASE)

# A later clause that asks about the model: "my photo is blurry, what is FAM?", "deblur it. How many parameters?"
_LATER_QUESTION = re.compile(r"^(?:so\s+|and\s+|also\s+|but\s+)?(?:what|which|who|how\s+(?:many|big|much|does|is|are)|"
                             r"does\s+it|is\s+it|are\s+they|explain)\b", re.IGNORECASE)

# Tools people compare with, however they write them ("better than photoshop's shake reduction?").
_TOOL_NAME = re.compile(r"(?:the\s+|plain\s+|just\s+(?:using\s+)?|using\s+)?(?:" + OTHER_TOOLS + r")\b",
                        re.IGNORECASE)

# The card's own variants are compared in its documents ("Is MIMO-UNet+ better than MIMO-UNet?").
_OWN_VARIANT = re.compile(r"(?:the\s+)?(?:mimo[- ]?unet\S*|plus\b|base\b|plain\s+(?:one|model|version|variant)\b|"
                          r"realblur|gopro)", re.IGNORECASE)

# The recommended model named in a question: "MIMO-UNet", "this model", "the recommended model".
_MENTIONS_MODEL = re.compile(r"\bmimo|\b(?:this|the|your|recommended)\s+(?:recommended\s+)?(?:model|network)\b",
                             re.IGNORECASE)

# "Can I use CoF to deblur?", "could I run it instead?": a request to run a related paper's method.
_RUN_IT = re.compile(r"\b(?:can|could|should|may|shall)\s+(?:i|we|you|cnaps)\s+(?:use|run|try|apply|switch\s+to)\b|"
                     r"\b(?:use|run|try|apply)\s+(?:it|them|this|that|\S+)\s+(?:to|for)\s+(?:de-?blur|restor|enlarg|"
                     r"upscal|sharpen|fix|super)|\binstead\b", re.IGNORECASE)

# "Is the brain paper relevant to upscaling?", "why is it on the card?", "does FeatSharp upscale images?".
_RELEVANCE = re.compile(r"\b(?:relevan\w*|related|relates?|relation\w*|connect\w*|useful|"
                        r"why\s+(?:is|was|are)\s+.{1,60}?\s+(?:on|in)\s+(?:the|this)\s+card|listed|"
                        r"what\s+does\s+it\s+have\s+to\s+do|have\s+to\s+do\s+with|"
                        r"does\s+(?:it|\S+)\s+(?:also\s+)?(?:de-?blur|upscale|enlarge|restore|sharpen|super-?resolve|help|"
                        r"work\s+on\s+(?:photos|images)))\b", re.IGNORECASE)

# "Summarize the LLaVAR paper", "what is LLaVAR about?", "give me an overview of CoF".
_SUMMARIZE = re.compile(r"\b(?:summar\w*|overview|tl;?dr|gist|what\s+is\s+\S+(?:\s+\S+)?\s+about|"
                        r"what\s+(?:is|are)\s+(?:it|they|this\s+paper)\s+about)\b", re.IGNORECASE)

_WHO_WROTE = re.compile(r"\bwho\s+(?:wrote|writes|made|created|authored|developed|published|proposed)\b|"
                        r"\bauthors?\b|\bwritten\s+by\b", re.IGNORECASE)

# "Is there code?", "where is the GitHub repo?", "is the code available?" (not "which licence is the code under?").
_WHERE_CODE = re.compile(r"\b(?:is|are)\s+there\s+(?:any\s+)?(?:code|an?\s+implementation|a\s+repo\w*)|"
                         r"\bwhere\s+(?:is|are|can\s+i\s+(?:find|get))\s+(?:the\s+)?(?:code|github|repo\w*|implementation)|"
                         r"\b(?:is|was)\s+(?:the\s+)?code\s+(?:available|released|public|open)|"
                         r"\blink\s+to\s+(?:the\s+)?(?:code|github|repo\w*)|\bgithub\s+(?:repo\w*|link|page)\b",
                         re.IGNORECASE)

_CODE = re.compile(r"\b(?:code|github|repo|repository|implementation|open[- ]source)\b", re.IGNORECASE)


def _model_question_after_request(question: str) -> str | None:
    """The clause after a request that asks about the model itself, if there is one."""
    from agent.reading.needs import ABOUT_MODEL, normalise

    parts = [part.strip() for part in re.split(r"[,.;!?]\s+|\s+-\s+", question.strip()) if part.strip()]
    for part in parts[1:]:
        if _LATER_QUESTION.match(part) and ABOUT_MODEL.search(normalise(part)):
            return part
    return None


def focus_question(question: str, request: bool = False, complaint: bool = False) -> str:
    """What the focus answer should answer: for a complaint, the sentence that complains ("Why does the result look
    plasticky?"), not the story before it; for a `request` followed by a question about the model or a practical
    question, that question."""
    if complaint:
        return next((part for part in re.split(r"(?<=[.!?])\s+", question) if COMPLAINT.search(part)), question)
    if _ASKS_A_SCORE.search(question):  # the notes on what PSNR says about one photo answer it
        return "PSNR and SSIM of your own photo need a sharp reference: what PSNR to expect, reported figures"
    if _NEEDS_A_GPU.search(question) or (_RUNS_WITHOUT_A_GPU.search(question)
                                         and re.search(r"gpu|cuda|graphics|cpu", question, re.IGNORECASE)):
        return "does it need a GPU, or can cnaps run it on a CPU"  # it also runs on a CPU
    if _GPU_IS_FASTER.search(question):
        return "does cnaps use a CUDA GPU when it finds one, and is it faster"
    kind = KIND_OF_NETWORK.search(question)
    if kind and not re.search(r"transformer|attention|vit\b", kind.group(0), re.IGNORECASE):
        # "is it diffusion-based?", "my photo is blurry. Is it a GAN?" (a transformer question keeps its words: the
        # FAM is an attention module, and the answer says how it differs from self-attention)
        return "what kind of network is MIMO-UNet: a convolutional network, a GAN, a diffusion model or a transformer"
    later = _model_question_after_request(question) if request else None
    if later:
        return later
    # "upscale my photo, how long will it take?": the practical clause is the question; the request is the task's
    parts = re.split(r"(?<=[.!?,;])\s+", question)
    practical = next((part for part in parts if PRACTICAL.search(part)), None) if request and len(parts) > 1 else None
    if practical:
        return practical
    return question


def compares_models(question: str) -> bool:
    """Whether the question compares the model with another model or tool it names ("better than Restormer", "vs
    NAFNet", "better than photoshop"), not with one of the recommended model's own variants."""
    return any((_MODEL_NAME.match(question, match.end()) or _TOOL_NAME.match(question, match.end()))
               and not _OWN_VARIANT.match(question, match.end()) for match in _COMPARISON.finditer(question))


def _asks_the_paper_to_do(question: str, named: list) -> bool:
    """"Can Mask2Alpha cut out the face?", "will CoF fix it?": a related paper asked to do something itself (not
    "does FeatSharp upscale images?", which asks what the paper does)."""
    return any(re.match(rf"^\W*(?:can|could|will|would)\s+(?:the\s+)?{re.escape(alias)}\b(?!\s+(?:paper|authors?))",
                        question, re.IGNORECASE) for paper in named for alias in aliases(paper))


def _text_words(question: str) -> str:
    """The user's own word for the text in the picture: signs, number plates or text."""
    lowered = question.lower()
    words = [word for word, pattern in (("text", r"\b(?:text|letters?|writing|words?|handwriting|document)\b"),
                                         ("signs", r"\bsign(?:s|age)?\b"), ("number plates", r"\bplates?\b"))
             if re.search(pattern, lowered)]
    return " and ".join(words) if words else "text"


class Wants(BaseModel):
    """The question's own requests, as fields (each from one pattern above, or a short rule over several)."""

    how: bool = Field(False, description="It asks how or why, not only for a result.")
    which_weights: bool = Field(False, description="A request that asks which weights or data suit it.")
    yes_no: bool = Field(False, description="It wants a yes or a no about a fix ('can it fix my photo?').")
    kind_of_network: str | None = Field(None, description="'cnn' or 'other' for 'is it a CNN / a GAN?'.")
    kind_of_network_words: bool = Field(False, description="It names a kind of network at all.")
    needs_a_gpu: bool = Field(False, description="'Does it need a GPU?' (not about training).")
    needs_a_gpu_words: bool = False
    expects_a_score: bool = Field(False, description="'Will I get 32.45 dB?'")
    asks_a_score: bool = Field(False, description="'What PSNR did I get?' or an expected score.")
    runs_without_a_gpu: bool = Field(False, description="'Can it run without a GPU?', 'on a CPU?'")
    gpu_is_faster: bool = Field(False, description="'Is a GPU faster?', 'is CUDA available?'")
    medical: bool = False
    training: bool = Field(False, description="Fine-tuning or training it.")
    region: bool = Field(False, description="A restoration of one area only ('only the runner').")
    run_time: bool = Field(False, description="'How long did that take?' about a run.")
    how_it_works: bool = Field(False, description="Only 'how does it work?'")
    which_models: bool = Field(False, description="'Which models can cnaps run?'")
    zoo_model: str | None = Field(None, description="The model asked about in 'is X available in cnaps?'")
    zoo_model_like: bool = Field(False, description="That name looks like a model's, not a format's or an OS's.")
    video: bool = False
    what_to_read: bool = Field(False, description="It asks what to read ('which paper should I read first?').")
    where_code: bool = False
    code: bool = False
    who_wrote: bool = False
    relevance: bool = False
    summarize: bool = False
    run_it: bool = Field(False, description="'Can I use CoF to deblur?', 'could I run it instead?'")
    paper_asked_to_act: bool = Field(False, description="'Can Mask2Alpha cut out the face?'")
    mentions_model: bool = Field(False, description="It names the recommended model ('MIMO-UNet', 'this model').")
    own: bool = Field(False, description="'my' or 'our': the user's own photo or case.")
    comparison: str | None = Field(None, description="'better', 'faster'... when it compares with another tool.")
    practical: bool = Field(False, description="A practical clause: time, memory, GPU, image size.")
    running: bool = Field(False, description="About running it here: time, hardware, memory, batches.")
    results: bool = Field(False, description="About how good the variants are.")
    light: bool = Field(False, description="About size or speed: the variants' parameters and runtimes.")
    later_question: str | None = Field(None, description="A clause after a request that asks about the model.")
    focus: str = Field("", description="What the focused answer should answer (a clause, or a rewritten query).")
    focus_running: bool = Field(False, description="That clause is about running it here (time, hardware).")
    zoo_model_paper: bool = Field(False, description="The model asked about is one of the card's related papers.")
    text_words: str = Field("text", description="The user's word for the text in the picture: signs, plates...")
    blur_word: bool = Field(False, description="The word blur appears.")


def read_wants(question: str, text: str, needs: list[str], papers: list, complaint: bool, compares: bool) -> Wants:
    """`question` as typed and `text` normalised (agent.reading.needs.normalise); `needs` the task's; `papers` those it
    names."""
    kind = KIND_OF_NETWORK.search(question)
    yes_no = _YES_NO.search(question)
    wants_yes_no = bool(yes_no)
    if yes_no and yes_no.start() > 0 and (_ASKS_TO_EXPLAIN.search(yes_no.group(0))
                                          or not _ASKS_FOR_A_FIX.search(yes_no.group(0))):
        wants_yes_no = False  # "my photo is blurry, can you explain how it works?", "deblur it, does it use attention?"
    tail = yes_no.group(0).partition(",")[2] if yes_no else ""
    if yes_no and yes_no.start() == 0 and tail and _ASKS_TO_EXPLAIN.search(tail) and not _ASKS_FOR_A_FIX.search(tail):
        wants_yes_no = False  # "upscale my photo, how long will it take?" asks how long, not whether
    available = _AVAILABLE.search(question)
    zoo_model = (available.group("model") or available.group("model2")) if available else None
    return Wants(
        how=bool(_ASKS_HOW.search(question)), which_weights=bool(_ASKS_WHICH.search(question)), yes_no=wants_yes_no,
        kind_of_network=(("cnn" if kind.group("cnn") else "other")
                         if kind and not re.search(r"\bor\b", question[kind.start():], re.IGNORECASE) else None),
        kind_of_network_words=bool(kind),
        needs_a_gpu=bool(_NEEDS_A_GPU.search(question) and not re.search(r"\btrain", question, re.IGNORECASE)),
        needs_a_gpu_words=bool(_NEEDS_A_GPU.search(question)),
        expects_a_score=bool(_EXPECTS_A_SCORE.search(question)), asks_a_score=bool(_ASKS_A_SCORE.search(question)),
        runs_without_a_gpu=bool(_RUNS_WITHOUT_A_GPU.search(question)), gpu_is_faster=bool(_GPU_IS_FASTER.search(question)),
        medical=bool(_MEDICAL.search(question)), training=bool(_TRAINING.search(question)),
        region=bool(_REGION.search(question)), run_time=bool(_ASKS_RUN_TIME.search(question)),
        how_it_works=bool(_HOW_IT_WORKS.search(text)), which_models=bool(_WHICH_MODELS.search(question)),
        zoo_model=zoo_model, zoo_model_like=bool(zoo_model and _LOOKS_LIKE_A_MODEL.search(zoo_model)),
        video=bool(_VIDEO.search(question)), what_to_read=bool(_WHAT_TO_READ.search(question)),
        where_code=bool(_WHERE_CODE.search(question)),
        code=bool(_CODE.search(question)), who_wrote=bool(_WHO_WROTE.search(question)),
        relevance=bool(_RELEVANCE.search(question)), summarize=bool(_SUMMARIZE.search(question)),
        run_it=bool(_RUN_IT.search(question)), paper_asked_to_act=_asks_the_paper_to_do(question, papers),
        mentions_model=bool(_MENTIONS_MODEL.search(question)), own=bool(re.search(r"\b(?:my|our)\b", question, re.I)),
        comparison=(_comparison_word(question) if compares else None),
        practical=bool(PRACTICAL.search(question)), running=bool(RUNNING.search(question)),
        results=bool(_RESULTS.search(question)), light=bool(_LIGHT.search(question.lower())),
        later_question=_model_question_after_request(question),
        focus=(focus := focus_question(text, request=bool(needs), complaint=complaint)),
        focus_running=bool(RUNNING.search(focus)),
        text_words=_text_words(question), blur_word=bool(re.search(r"blur", question, re.IGNORECASE)))


_COMPARATIVES = ("faster", "slower", "sharper", "worse")  # any other comparison is read as 'better'


def comparative(text: str) -> str:
    """The comparative a comparison uses anywhere in `text` ("is Topaz faster?" -> 'faster'), else 'better'."""
    match = re.search(r"\b(?:" + "|".join(_COMPARATIVES) + r")\b", text)
    return match.group(0) if match else "better"


def _comparison_word(question: str) -> str:
    word = _COMPARISON.search(question).group(0).split()[0].lower()
    return word if word in _COMPARATIVES else "better"

