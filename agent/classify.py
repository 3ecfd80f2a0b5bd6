"""What task a question asks for: deblurring, super-resolution, both, or other; the scale; content cues; needs.

Rules decide first. Each need (deblur, upscale, denoise, ...) has phrases that signal it; a phrase is ignored when a
negation governs it ("without introducing blur", "I don't want to upscale"), and blur is not a deblurring need when
the question says the blur came from enlarging ("it got blurry when I enlarged it": that asks for better upscaling).
Blur blamed on haze, rain or noise, or on the image being tiny, is not a deblurring need either.
A blurred input that is also enlarged is "both". Needs that are neither deblurring nor upscaling (noise, rain,
haze, ...) make the label "other" unless blur or upscaling is asked for too; they stay in `needs`.

Questions the rules leave open (no need named, or only vague words such as "crisp") go to embedding similarity
with the labelled prototypes in agent/data/task_examples.jsonl, when `knowledge.embed` is importable; prototype
embeddings are cached under `Settings.home`. Without the embedder the rules' weak cues decide, at low confidence.
This module never imports torch or sentence-transformers.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from agent.errors import UsageError
from agent.schemas import Classification, TaskLabel
from tools.restoration.zoo import MAX_SCALE

EXAMPLES = Path(__file__).resolve().parent / "data" / "task_examples.jsonl"
# Questions are a few sentences; only this many characters are read, so a pasted essay cannot stall the rules.
MAX_CHARS = 2000
# Below this cosine similarity the nearest prototype is not about the same thing; the vote would be noise.
_MIN_SIMILARITY = 0.35

_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "ten": 10,
                 "twelve": 12, "sixteen": 16}
_NUMBER_WORDS.update({f"{word} and a half": value + 0.5 for word, value in list(_NUMBER_WORDS.items())})
_NUMBER_WORDS["one and a half"] = 1.5
# Longest first, so that "two and a half" is read whole rather than as "two".
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"

# A negator governs a phrase when at most two words separate them ("without introducing blur", "no motion blur"),
# never across "and", "then", "but" or "just"; "keep the ...", "preserve the ..." refuse only the next word or two
# ("keep the film grain"), not "keep the size and deblur it" or "preserve old photos by sharpening them".
_NEGATOR = re.compile(
    r"\b(?:(?:without|no(?!\s+longer)|not|never|avoid\w*|instead\s+of|rather\s+than|free\s+of|w/o|"
    r"(?:do|does|did|is|was|are|were|wo|would|could|should)n't|(?:do|does|did)\s+not)"
    r"(?:\s+(?!(?:and|then|but|just|while)\b)[\w'-]+){0,2}"
    r"|(?:keep(?:ing)?|preserv\w*|retain\w*)\s+(?:the|my|its|some|all|any)(?:\s+(?!(?:and|then|but)\b)[\w'-]+)?)"
    r"\s+$"
)

# Enlarging words; "downscaled" is not one ("scal" must not start inside it).
_RESIZE = r"(?<!down)(?<!down-)(?:up-?scal|up-?sampl|enlarg|zoom|resiz|blow|blew|stretch|interpolat|bicubic|bilinear|magnif|scal)"
# Blur that the question blames on enlarging, e.g. "bicubic makes it blurry", "it got blurry when I upscaled".
_BLUR_FROM_RESIZE_BEFORE = re.compile(
    _RESIZE + r"\w*\b[^.;!?]{0,60}?\b(?:make|makes|made|making|turn|turns|turned|become|becomes|became|get|gets|"
    r"got|getting|look|looks|looked|go|goes|went|come|comes|came|end\w*|introduc\w*|add\w*|caus\w*|leav\w*|left)"
    r"\b[^.;!?]{0,25}$"
)
_BLUR_FROM_RESIZE_AFTER = re.compile(
    r"^\w*\s+(?:\w+\s+){0,2}(?:when|after|once|if|whenever)\s+(?:i\s+|you\s+|we\s+|it\s+is\s+|it's\s+)?"
    r"(?:\w+\s+)?" + _RESIZE
)
_RESIZE_BLUR = re.compile(r"\b(?:bicubic|bilinear|interpolation|upscaling|resizing|enlargement|zooming)\s+"
                          r"(?:blur|softness)")
# Blur the question blames on another degradation: "blurry because of haze" asks for dehazing.
_BLUR_FROM_OTHER = re.compile(
    r"^\w*\s+(?:\w+\s+){0,3}(?:because\s+of|due\s+to|from|caused\s+by|through)\s+(?:the\s+|a\s+|some\s+)?(?:\w+\s+)?"
    r"(?:haze|fog|mist|smog|smoke|rain|raindrops|water|condensation|noise|grain|compression)\b"
)
# Blur the question blames on the image being small: "blurry because it's tiny" asks for upscaling.
_BLUR_FROM_SMALLNESS = re.compile(
    r"^\w*,?\s+(?:[\w,']+\s+){0,6}?(?:because|due\s+to|since|as)\s+(?:of\s+)?(?:it's\s+|it\s+is\s+|it\s+was\s+|the\s+)?"
    r"(?:\w+\s+)?(?:tiny|small|low[- ]?res\w*|pixel+ated|thumbnail|few\s+pixels)\b"
)
# Blur as an edit the user wants to apply, not remove.
_BLUR_AS_EDIT = re.compile(r"\b(?:blur|blurring)\s+(?:out\s+)?(?:the\s+|my\s+|their\s+|all\s+)?"
                           r"(?:background|faces?|plates?|license|number|people|names?|text)\b|\bbokeh\b")

_BLUR_WORD = re.compile(r"\b(?:blur\w*|fuzz(?:y|iness)|smear\w*|smudg\w*)")
# A smudged lens or window veils the whole picture (haze), it does not blur it the way motion or focus does.
_DIRTY_LENS = re.compile(r"\b(?:lens|fingerprints?|glass|window|windscreen|windshield|filter)\b")

# A question that asks for no task but names a part or property of the model asks about the model ("what is the
# FAM module?", "what loss does it use?", "why must sizes be multiples of 4?").
ABOUT_MODEL = re.compile(
    r"\b(?:loss(?:es)?|loss\s+function|parameters?|params|layers?|modules?|fam|scm|aff|encoder|decoder|architecture|"
    r"residual\s+blocks?|checkpoints?|pretrained|dataset|gopro|realblur|paper|authors?|licen[cs]e|runtime|"
    r"inference\s+time|psnr|ssim|multiples?\s+of|divisible|flops|install\w*|download\w*|benchmark\w*|variants?|"
    r"model\s+size|how\s+(?:big|large|heavy|fast|slow|deep)\s+(?:is|are)\s+(?:the|this|these|it)\b|"
    r"convolution\w*|cnns?|(?:image\s+|file\s+)?formats?|file\s+types?|jpe?gs?|pngs?|tiffs?|webp|heic|neural\s+net\w*|networks?|(?:ai|deep[- ]learning)\s+model|mimo(?:-?unet)?\S*|stand\s+for|acronym|code|open[- ]source|github|repo\w*|optimi[sz]er|"
    r"learning\s+rate|epochs?|batch\s+size|train|trained|training|u-?net\w*|stack\w*|gpus?|cpus?|vram|memory|ram|"
    r"hardware|requirements?|light-?weight|(?:on|to)\s+(?:a\s+|my\s+)?(?:phone|smartphone|mobile)|hallucinat\w*|invent\w*|fine-?tun\w*|"
    r"re-?train\w*|weights|(?:maximum|max|largest|biggest)\s+(?:image\s+|photo\s+|file\s+)?(?:size|resolution)|"
    r"pixel\s+limit|will\s+it\s+work|does\s+it\s+work|same\s+(?:size|resolution|dimensions)|real[- ]?time|"
    r"(?:largest|biggest|maximum|max)\s+(?:photo|image|picture|file)|how\s+(?:long|fast|quick\w*)|speed|slow(?:er)?|"
    r"fast(?:er)?|gan|adversarial|transformers?|attention|diffusion|batch\w*|megapixels?|mp|"
    r"compar(?:e|ed|es|ing|ison)\s+(?:\w+\s+)?(?:to|with)|(?:better|worse)\s+than|versus|vs)\b")

# A request to work on a picture: "restore a batch of my old photos", "can you fix this picture of a fast car?".
_REQUEST = re.compile(r"\b(?:restore|fix|clean\s+up|repair|improve|enhance|sharpen|de-?blur|unblur|up-?scale|enlarge)\b")

# The user's own picture: "my photo", "this scan", "our old pictures".
_OWN_IMAGE = re.compile(r"\b(?:my|our|this|these|the)\s+(?:[\w-]+\s+){0,2}?(?:photo|image|picture|pic|shot|scan|"
                        r"frame|text|selfie|portrait|screenshot|still|footage|video|capture|plate)s?\b")

# need -> (strong phrases, weak phrases). Strong phrases decide; weak ones only when nothing strong is found.
_NEEDS: dict[str, tuple[list[str], list[str]]] = {
    "deblur": (
        [
            # "deblur", but not the model names "DeblurGAN", "DeblurNet"
            r"\bde-?blur(?!-?gan|-?net|-?diff)\w*", r"\bun-?blur\w*", r"\bmotion[- ]?blur\w*", r"\bcamera[- ]shake\b",
            r"\bhand[- ]?shake\b", r"\bshak(?:y|e|es|ing|en|iness)\b", r"\bshook\b", r"\bjitter\w*", r"\bunsteady\b",
            r"\btremor\w*", r"\bout[- ]of[- ]focus\b", r"\bdefocus\w*", r"\bunfocus\w*", r"\bmis-?focus\w*",
            r"\bmissed\s+(?:the\s+)?focus\b",
            r"\b(?:auto-?)?focus\s+(?:failed|missed|hunted|was\s+off)\b", r"\bfocus\s+(?:was|is)\s+(?:off|wrong|soft|missed)\b",
            r"\blost\s+focus\b", r"\btrailing\b", r"\b(?:didn't|did\s+not|failed\s+to)\s+track\b", r"\bstreak(?:s|ed|y)?\b", r"\bghosting\b", r"\bnot\s+(?:sharp|in\s+focus|crisp)\b",
            r"\b(?:is|was|are|were)n't\s+(?:sharp|in\s+focus)\b", r"\blong\s+exposure\b",
            r"\bmov(?:ing|ed)\s+(?:subject|car|train|bus|vehicle)\b",
        ],
        [
            r"\bsharpen\w*", r"\bunsharp\b", r"\bsoft\b", r"\bcrisp(?:er)?\b", r"\bclearer\b",
            r"\bsharp(?:er|ness)\b", r"\bclarity\b", r"\brefocus\w*", r"\bhandheld\b",
            r"\bmake\s+(?:it|them|this|the\s+\w+)\s+(?:look\s+)?(?:sharp|clear)\b",
            r"\b(?:unreadable|illegible)\b", r"\b(?:can't|cannot|can\s+not|couldn't)\s+read\b",
        ],
    ),
    "upscale": (
        [
            r"\bup-?scal\w*", r"\bup-?sampl\w*", r"\bup-?res\w*", r"\bsuper[- ]?res\w*", r"\bsr\b", r"\benlarg\w*",
            r"\bmagnif\w*", r"\bblow(?:n|ing|s)?\s+(?:\w+\s+){0,3}?up\b", r"\bblew\s+(?:\w+\s+){0,3}?up\b",
            r"\b(?:higher|increas\w*|boost\w*|more|double|doubl\w*|tripl\w*|quadrupl\w*)\s+"
            r"(?:the\s+|its\s+)?resolution\b",
            r"\bresolution\s+(?:\w+\s+){0,2}(?:increas\w*|boost\w*|enhanc\w*)", r"\benhance\s+the\s+resolution\b",
            r"\blow[- ]?(?:res|resolution)\b",
            r"\b(?:high|higher|hi)[- ]?res(?:olution)?\s+(?:version|copy|image|output|print)\b",
            r"\b(?:get|gets|got|getting|become|becomes|became|make|makes|made|be|is|was|came\s+out)\s+"
            r"(?:any\s+|much\s+)?(?:bigger|larger)\b",
            r"\b(?:more|increas\w*)\s+(?:the\s+)?megapixels?\b",
            r"\b\d+(?:\.\d+)?\s*(?:mp|megapixels?)\b.{0,20}?\bto\s+\d+(?:\.\d+)?\s*(?:mp|megapixels?)\b", r"\bmegapixels?\s+count\b", r"\bpixel+ated\b",
            r"\bdigital(?:ly)?\s+zoom\w*",
            r"\bzoom\w*\s+(?:in\s+)?(?:on|into)\s+(?:the|a|my|this|that)\s+(?:\w+\s+)?"
            r"(?:photo|image|picture|screenshot|frame|scan|reflection|region|area|face|plate)",
            r"\b(?:bigger|larger)\s+(?:size|version|print|poster|image|photo|picture)",
            r"\bmake\s+(?:\w+\s+){1,3}?(?:bigger|larger)\b",
            r"\bresiz\w*\s+(?:\w+\s+){0,4}?(?:up|larger|bigger|wider)\b", r"\bscal\w*\s+(?:\w+\s+)?up\b",
            r"\b(?:twice|three\s+times|four\s+times)\s+(?:as\s+)?(?:big|large|wide)\b", r"\bbig(?:ger)?\s+poster\b",
            r"\bprint\w*\s+(?:\w+\s+){0,4}?(?:large|big|bigger|larger|poster|billboard|a3|a2)\b",
            # A video resolution is a need only as a target ("go to 4K", "a 4K version", "for my 8K TV"); "a 4K
            # frame" describes the input.
            r"\b(?:to|into|as|at)\s+(?:a\s+|an\s+|full\s+|true\s+|native\s+)?(?:4k|8k|1080p|uhd)\b",
            r"\b(?:4k|8k|1080p|uhd)\s+(?:version|output|copy|quality|upscal\w*)",
            r"\b(?:make|turn|convert)\s+(?:it|this|that|the|my)\b(?:\s+[\w-]+){0,2}?\s+(?:(?:in)?to\s+)?(?:full[- ])?hd\b"
            r"(?!\s+(?!(?:and|or|then|please|too|for|with)\b)[a-z])",  # not "make the hd photo sharper"
            r"\b(?:up\s*)?(?:to|into)\s+(?:full[- ])?hd\b", r"\bhd\s+(?:version|copy)\b",
            r"\b(?:for|on)\s+(?:a\s+|an\s+|my\s+|the\s+|our\s+)?(?:4k|8k|uhd)\s+(?:tv|screen|display|monitor|projector)",
            r"\bstretch\w*\s+(?:\w+\s+){0,6}?to\s+\d+\s*(?:px|pixels?)",
        ],
        [
            r"\bthumbnail\w*", r"\btiny\b", r"\bsmall\s+(?:image|photo|picture|input)", r"\bzoom\w*",
        ],
    ),
    "downscale": (
        [
            r"\bshrink\w*", r"\bshr[au]nk\b", r"\bdown-?scal\w*", r"\bdown-?siz\w*", r"\bdown-?sampl\w*",
            r"\b(?:make|makes|making|made)\s+(?:\w+\s+){0,3}?smaller\b", r"\b\d+(?:\.\d+)?\s*x\s+smaller\b",
            r"\breduc\w*\s+(?:the\s+|its\s+)?(?:size|resolution|dimensions|file\s+size)\b",
            r"\b(?:by\s+half|half\s+(?:the\s+|its\s+)?size)\b", r"\blower\s+(?:the\s+|its\s+)?resolution\b",
        ],
        [],
    ),
    "denoise": (
        [
            r"\bde-?nois\w*", r"\bnois(?:e|y|ier)\b", r"\bgrain(?:y|iness)?\b", r"\bspeckl\w*", r"\bhigh[- ]iso\b",
        ],
        [],
    ),
    "derain": (
        [
            r"\bde-?rain\w*", r"\brain(?:y|drops?|streaks?|fall)?\b", r"\bwet\s+(?:lens|window|windscreen)",
        ],
        [],
    ),
    "dehaze": (
        [
            r"\bde-?haz\w*", r"\bhaz(?:e|y)\b", r"\bfog(?:gy)?\b", r"\bsmog\w*", r"\bmist(?:y)?\b",
        ],
        [],
    ),
    "inpaint": (
        [
            r"\bin-?paint\w*", r"\bscratch\w*", r"\btorn\b", r"\bripped\b",
            r"\bmissing\s+(?:part|piece|region|area)s?\b", r"\bfill\s+in\b", r"\berase\w*",
            r"\bremove\s+(?:the\s+|a\s+|an\s+)?(?:unwanted\s+)?"
            r"(?:object|person|people|watermark|logo|photobomber|power\s+lines?|text)",
            r"\bcracks?\b", r"\bcreases?\b", r"\bdamaged?\b", r"\bholes?\b",
        ],
        [],
    ),
    "colorize": (
        [
            r"\bcolou?ri[sz]\w*", r"\badd\s+colou?r",
            r"\b(?:turn|convert|make|bring)\w*\s+(?:\w+\s+){0,3}?(?:in|into|to)\s+colou?r\b",
        ],
        # A black-and-white photo is what the user has; colour is a need only when asked for.
        [r"\bblack[- ]and[- ]white\b", r"\bb&w\b", r"\bgr[ae]yscale\b", r"\bmonochrome\b"],
    ),
    "enhance-light": (
        [
            r"\blow[- ]light\s+enhance\w*", r"\b(?:too|very|so)\s+dark\b", r"\bunderexpos\w*", r"\bbrighten\w*",
            r"\bdark\s+(?:photo|image|picture)",
        ],
        [],
    ),
    "tone": (
        [
            r"\b(?:photo|print|picture|image|scan|polaroid|slide|colou?r)s?\s+(?:\w+\s+)?(?:is\s+|are\s+|has\s+|have\s+|got\s+|"
            r"looks?\s+)?(?:faded|fading|washed[- ]out|yellowed|discolou?red)\b",
            r"\b(?:faded|washed[- ]out|yellowed|discolou?red)\s+(?:old\s+|family\s+)?(?:photo|print|picture|image|scan|polaroid|"
            r"slide|colou?r)s?\b", r"\b(?:it|this)\s+(?:is|has|looks?)\s+(?:\w+\s+)?(?:faded|washed[- ]out|yellowed)\b",
            r"\bcolou?r\s+casts?\b", r"\bwhite\s+balance\s+(?:is\s+)?(?:off|wrong|bad)\b",
            r"\b(?:fix|correct|adjust)\w*\s+(?:the\s+)?white\s+balance\b", r"\boverexpos\w*",
            r"\bblown[- ](?:out\b|highlights?\b)",
            r"\bcolou?rs?\s+(?:look\s+|are\s+|is\s+)?(?:off|wrong|dull|faded)\b",
        ],
        [],
    ),
    "optics": (
        [
            r"\bchromatic\s+aberration\w*", r"\blens\s+distortion\w*", r"\bbarrel\s+distortion\w*",
            r"\bpincushion\b", r"\bvignetting\b", r"\bdark\s+corners\b", r"\bpurple\s+fring\w*",
            r"\bcolou?r\s+fring\w*", r"\brolling[- ]shutter\b", r"\bmoir[eé]\s+(?:pattern|effect|artefact|artifact)s?\b",
            r"\b(?:has|have|with|shows?|got)\s+(?:some\s+|a\s+)?moir[eé]\b",
        ],
        [],
    ),
    "deartifact": (
        [
            r"\bjpe?g\s+(?:compression\s+)?artifacts?", r"\bcompression\s+artifacts?", r"\bblock(?:y|iness|ing)\b",
            r"\bjpe?g\s+(?:blocks|squares|noise)\b", r"\b(?:heavily|badly|over)[- ]?compressed\b",
            r"\bde-?block\w*",
        ],
        [],
    ),
    "recognize": (
        [
            r"\b(?:can|could|will|would)\s+(?:it|this|the\s+model|mimo\S*|cnaps)\s+(?:read|recogni[sz]e|identify)\b"
            r"(?!\s+(?:\d+[- ]bit\b|raw\b|tiff?s?\b|png|jpe?gs?\b|heic|dng|cr2|nef|webp|gif|bmp|files?\b|formats?\b|images?\b|"
            r"photos?\b|grayscale|greyscale))",
            r"\bwhat\s+does\s+(?:the\s+|this\s+|that\s+)?(?:[\w-]+\s+){0,3}?(?:sign|text|plate|label|note|writing|"
            r"board|screen)\s+(?:\w+\s+){0,4}?say\b",
            r"\bocr\b", r"\btranscrib\w*", r"\bextract\w*\s+(?:the\s+)?text\b", r"\bobject\s+detection\b",
            r"\bdetect\w*\s+(?:the\s+)?(?:objects?|faces|people|cars)\b", r"\bsegment\w*", r"\bclassif\w*",
            r"\bcaption\w*", r"\bwhat\s+is\s+(?:shown\s+)?in\s+(?:this|the)\s+(?:picture|photo|image)",
        ],
        [],
    ),
    "edit": (
        [
            r"\bstyle\s+transfer\b", r"\bin\s+the\s+style\s+of\b", r"\bcartoon\w*",
            r"\bremove\s+(?:the\s+)?background\b", r"\bbackground\s+removal\b",
            r"\bgenerat(?:e|ing)\s+(?:a\s+|an\s+)?(?:new\s+)?(?:image|picture|photo)", r"\banimat\w*",
            r"\bface[- ]?swap\w*", r"\bswap\w*\s+(?:\w+\s+){0,2}?faces?\b", r"\bdeep-?fakes?\b",
        ],
        [],
    ),
}
_COMPILED = {need: ([re.compile(p) for p in strong], [re.compile(p) for p in weak])
             for need, (strong, weak) in _NEEDS.items()}

_CUES: dict[str, str] = {
    "text/signs": r"\b(?:text|signs?|signage|letters?|writing|words?|license\s+plate|number\s+plate|plates?|readable|"
                  r"legible|read|document|receipt|handwriting|numbers|street\s+names?|page|logo|banner|whiteboard)\b",
    "faces": r"\b(?:faces?|portrait|selfie|eyes|mugshot|avatar|bride|person|people)\b",
    "edges": r"\b(?:edges?|lines?|contours?|outlines?|structure|jagged)\b",
    # not "fast", "quickly", "running" or "train": "is it fast?", "running on a laptop", "how do I train it?"
    "motion": r"\b(?:motion|moving|moved|shak\w*|shook|handheld|hand[- ]held|panning|runners?|speeding|bus|car|"
              r"sports?|unsteady|jitter\w*|tremor)\b",
    "focus": r"\b(?:focus\w*|defocus\w*|unfocus\w*|out[- ]of[- ]focus|bokeh|depth\s+of\s+field)\b",
    "low-light": r"\b(?:night|dark|dim|dusk|low[- ]light|underexpos\w*|concert|bars?)\b",
    "noise": r"\b(?:nois\w*|grain\w*|high[- ]iso)\b",
    "texture": r"\b(?:texture|hair|fur|feathers?|fabric|foliage|petals?|details?|detailed)\b",
    "small-source": r"\b(?:thumbnail\w*|tiny|small|low[- ]?res\w*|icon|sprite|pixel+ated)\b",
    "compression": r"\b(?:jpe?g|compress\w*|artifacts?|block\w*)\b",
}
_CUES_COMPILED = {cue: re.compile(pattern) for cue, pattern in _CUES.items()}


# Common misspellings of the words the rules read, and the same requests in a few other languages, as English.
_TYPOS = {"blury": "blurry", "blurr": "blur", "blured": "blurred", "burry": "blurry",
          "biger": "bigger", "bigegr": "bigger", "lager": "larger", "tims": "times", "tiems": "times",
          "foto": "photo", "fotos": "photos", "pic": "picture", "imgae": "image", "iamge": "image",
          "upscle": "upscale", "upsacle": "upscale", "enlrage": "enlarge", "sharpn": "sharpen", "shakey": "shaky",
          "hw": "how", "dose": "does", "wrok": "work", "waht": "what", "teh": "the", "modle": "model",
          "nework": "network", "netowrk": "network", "paramters": "parameters", "trianed": "trained"}
_TYPO = re.compile(r"\b(?:" + "|".join(_TYPOS) + r")\b")
_FOREIGN: tuple[tuple[str, str], ...] = (
    (r"\b(?:desenfoque|le\s+flou|sfocatura|unsch(?:ä|ae)rfe)\b", " blur "),
    (r"\b(?:floue?s?|borros[ao]s?|borrad[ao]s?|desfocad[ao]s?|verschwommen\w*|unscharf\w*|verwackelt\w*|"
     r"sfocat\w*|mosso|mossa)\b", " blurry "),
    (r"\b(?:agrandi\w*|ampli(?:ar|a|e|í)\w*|agrandar\w*|vergr(?:ö|o|oe)(?:ß|ss)er\w*|ingrandi\w*)", " enlarge "),
    (r"\b(\d+)\s*(?:fois|veces|vezes|volte|mal)\b", r" \1 times "), (r"\b(\d+)[- ]?fach\w*", r" \1x "),
    (r"模糊|ぼやけ|ぼけ|糊", " blurry "), (r"放大|拡大|变大|變大", " enlarge "),
    (r"(?<!\d)(\d+)倍", r" \1x "), (r"(?:两|二)倍", " 2x "), (r"三倍", " 3x "), (r"四倍", " 4x "), (r"八倍", " 8x "),
)
_FOREIGN_COMPILED = tuple((re.compile(pattern), english) for pattern, english in _FOREIGN)


def normalise(question: str) -> str:
    """Lower case, plain quotes and dashes, '×' as 'x', common misspellings and a few other languages' words for
    blur, enlarging and "N times" in English, single spaces."""
    text = question.lower().replace("\u00d7", "x").replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u201c", '"').replace("\u201d", '"')
    text = _TYPO.sub(lambda match: _TYPOS[match.group(0)], text)
    for pattern, english in _FOREIGN_COMPILED:
        text = pattern.sub(english, text)
    return " ".join(text.split())


def _number(token: str) -> float:
    return float(_NUMBER_WORDS.get(token, token))


def _clause(text: str, start: int) -> str:
    """The clause that ends at `start` (at most 200 characters of it)."""
    return re.split(r"[.;!?,:]|\bbut\b", text[max(0, start - 200):start])[-1]


def _is_negated(text: str, start: int) -> bool:
    return bool(_NEGATOR.search(_clause(text, start)))


# --- scale ----------------------------------------------------------------------------------------------------------

_SCALE_CONTEXT = re.compile(r"\b(?:up-?scal|up-?sampl|enlarg|magnif|scal|resiz|zoom|increas|blow|blew|boost|grow|"
                            r"stretch|print|bigger|larger|resolution|size|wider|taller|upsiz)\w*")
_NOT_A_SCALE_AFTER = re.compile(r"^\s*(?:longer|faster|slower|more|less|cheaper|quicker|smaller|sharper|clearer|brighter|"
                                r"darker|better|worse|blurr\w*|softer|crisper|noisier|stronger|weaker|"
                                r"the\s+(?:time|speed|price)|"
                                r"(?:optical\s+|telephoto\s+)?(?:telephoto|lens|optical))\b")
_SHRINK_BEFORE = re.compile(r"\b(?:down-?scal|down-?siz|down-?sampl|shrunk|shrank|shrink|reduc)\w*\s+(?:\w+\s+)?(?:by\s+)?$")
_UNDO = re.compile(r"\b(?:undo|reverse|revert|back\s+to|original\s+size|restore\s+(?:the|its)\s+size|enlarg\w*|"
                   r"upscal\w*|bigger|larger|blow\s+it\s+up)\b")
_MEGAPIXELS = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:mp|megapixels?)\b.{0,20}?\bto\s+(\d+(?:\.\d+)?)\s*(?:mp|megapixels?)\b")


def _ratio(small: float, large: float) -> float | None:
    return large / small if small > 0 and large > small else None


def _size_ratio(found: list[tuple[float, str]], small: float, large: float, evidence: str) -> None:
    """Add the factor between two sizes; one within a quarter of a whole number counts as that number
    ("480p -> 1080p" is 2.25x, read as 2x), and the evidence keeps the exact ratio."""
    ratio = _ratio(small, large)
    if not ratio:
        return
    whole = round(ratio)
    if abs(ratio - whole) > 1e-6 and abs(ratio - whole) <= 0.25 and whole >= 2:
        found.append((float(whole), f"{evidence} ({ratio:.2f}x, nearest whole factor {whole}x)"))
    else:
        found.append((ratio, evidence))


_VIDEO_FORMAT = re.compile(r"\b(?:(?:240|360|480|540|720|1080|1440|2160|4320)p|4k|uhd|8k)\b")


def _video_height(name: str) -> int:
    return {"4k": 2160, "uhd": 2160, "8k": 4320}.get(name) or int(name[:-1])


# A past shrink to a share of the size: "I shrank it to 25%", "downscaled by 50%", "resized it down to a quarter".
_SHRUNK_TO = re.compile(r"\b(?:shr[iau]nk\w*|down-?scal\w*|down-?siz\w*|down-?sampl\w*|reduc\w*|resiz\w*|scaled\s+down|"
                        r"sized\s+down)\s+(?:\w+\s+){0,3}?(?:down\s+)?(?:(to|by)\s+(\d{1,2}(?:\.\d+)?)\s*(?:%|percent)|"
                        r"to\s+(?:a\s+|one\s+)?(half|third|quarter|fourth|eighth)\b)")
_SHARES = {"half": 50.0, "third": 100 / 3, "quarter": 25.0, "fourth": 25.0, "eighth": 12.5}


def _scale_candidates(text: str) -> list[tuple[float, str]]:
    """(factor, evidence) pairs in order of how plainly the question states them."""
    found: list[tuple[float, str]] = []
    if _UNDO.search(text):  # "I shrank it to 25%, enlarge it back": undoing the shrink enlarges 4x
        for match in _SHRUNK_TO.finditer(text):
            share = _SHARES[match.group(3)] if match.group(3) else float(match.group(2))
            if match.group(1) == "by":
                share = 100 - share  # "reduced by 75%" leaves a quarter
            _size_ratio(found, share, 100.0, f"undo '{match.group(0)}'")
    # "640x480 to 2560x1920", "256 by 256 ... into a 1024 by 1024", "300 pixel wide ... to 900 pixels"
    sizes = list(re.finditer(r"\b(\d{2,5})\s*(?:x|by)\s*(\d{2,5})\b", text))
    if len(sizes) >= 2:
        first, second = _source_and_target(sizes, text)
        (w0, h0), (w1, h1) = ((float(m.group(1)), float(m.group(2))) for m in (first, second))
        # A target of another shape ("640x480 to 1920x1080"): the side that grows more sets the factor, so the
        # enlarged image covers the target and is cropped to it.
        small, large = (h0, h1) if h0 > 0 and w0 > 0 and h1 / h0 > w1 / w0 else (w0, w1)
        _size_ratio(found, small, large, f"{first.group(0)} -> {second.group(0)}")
    if len(sizes) == 1:
        width, height = float(sizes[0].group(1)), float(sizes[0].group(2))
        after = text[sizes[0].end():]
        # "to 4K" after the size, or "making it 4K ... the original is 960x540" before it
        target = re.search(r"\b(?:to|into|as|at|making\s+it|make\s+it|want|need|get)\s+(?:a\s+|an\s+|full\s+|true\s+|"
                           r"native\s+|it\s+(?:in\s+|at\s+)?)?"
                           r"((?:240|360|480|540|720|1080|1440|2160|4320)p|4k|uhd|8k)\b", text)
        side = re.search(r"\b(\d{2,5})\s*(?:px|pixels?)\s+(wide|across|tall|high)\b", after)
        if target:
            _size_ratio(found, height, float(_video_height(target.group(1))),
                        f"{sizes[0].group(0)} -> {target.group(1)}")
        elif side:
            base = width if side.group(2) in ("wide", "across") else height
            _size_ratio(found, base, float(side.group(1)), f"{sizes[0].group(0)} -> {side.group(0)}")
    pixels = list(re.finditer(r"\b(\d{2,5})\s*(?:px|pixels?)\b", text))
    if len(pixels) >= 2 and not sizes:
        _size_ratio(found, float(pixels[0].group(1)), float(pixels[1].group(1)),
                    f"{pixels[0].group(0)} -> {pixels[1].group(0)}")
    # "1080p to 4K": video formats by their height; "300 dpi to 600 dpi": scan resolutions
    formats = list(_VIDEO_FORMAT.finditer(text))
    if len(formats) >= 2:
        first, second = formats[0], formats[1]
        if re.search(r"\bfrom\s+(?:my\s+|the\s+|a\s+|an\s+)?$", text[max(0, second.start() - 10):second.start()]):
            first, second = second, first  # "1080p from my 480p clip": the source is named second
        _size_ratio(found, float(_video_height(first.group(0))), float(_video_height(second.group(0))),
                    f"{first.group(0)} -> {second.group(0)}")
    dpi = list(re.finditer(r"\b(\d{2,4})\s*(?:dpi|ppi)\b", text))
    if len(dpi) >= 2:
        _size_ratio(found, float(dpi[0].group(1)), float(dpi[1].group(1)), f"{dpi[0].group(0)} -> {dpi[1].group(0)}")
    megapixels = _MEGAPIXELS.search(text)
    if megapixels:
        area = _ratio(float(megapixels.group(1)), float(megapixels.group(2)))
        if area:  # pixel count grows with the square of the linear factor
            found.append((area ** 0.5, megapixels.group(0)))
    text_wo_sizes = re.sub(r"\b\d{2,5}\s*(?:x|by)\s*\d{2,5}\b", " ", text)
    for match in re.finditer(r"(?<![\w.])(\d+(?:\.\d+)?)\s?x(?![\w]|\s*\d)", text_wo_sizes):
        shrink = _SHRINK_BEFORE.search(text_wo_sizes[max(0, match.start() - 20):match.start()])
        if shrink and not _UNDO.search(text):
            continue  # "it was downscaled by 4x ... just deblur it": the factor of a past shrink
        if not _NOT_A_SCALE_AFTER.match(text_wo_sizes[match.end():]) and not _is_negated(text_wo_sizes, match.start()):
            found.append((float(match.group(1)), match.group(0)))
    for match in re.finditer(r"(?<![\w])x(\d+(?:\.\d+)?)\b", text_wo_sizes):
        if not _is_negated(text_wo_sizes, match.start()):
            found.append((float(match.group(1)), match.group(0)))
    for match in re.finditer(_NUM + r"[- ]?fold\b", text):
        if not _is_negated(text, match.start()):
            found.append((_number(match.group(1)), match.group(0)))
    words = {r"\bquadrupl\w*": 4, r"\btripl(?:e|ed|es|ing)\b": 3, r"\bthrice\b": 3, r"\btwice\s+(?:as\s+(?:big|large|wide|tall|high|long)|the\s+(?:size|resolution|width|height)|"
             r"its\s+(?:size|resolution|width|height))\b": 2,
             r"\bdoubl(?:e|ed|es|ing)\b(?![- ](?:check|exposure|click|tap))": 2}
    for pattern, factor in words.items():
        for match in re.finditer(pattern, text):
            found.append((float(factor), match.group(0)))
    for match in re.finditer(r"\b(\d{3,4})\s*(?:%|percent)", text):
        made = re.search(r"\b(?:make|makes|made|making|turn)\s+(?:it|this|that|(?:the|my)\s+(?:image|photo|picture|scan|"
                         r"size|resolution))\s+(?:to\s+|into\s+)?$", text[max(0, match.start() - 30):match.start()])
        if made and _NOT_A_SCALE_AFTER.match(text[match.end():]):
            made = None  # "make it 300% sharper"
        if _SCALE_CONTEXT.search(text) or made:
            found.append((int(match.group(1)) / 100, match.group(0)))
    for match in re.finditer(r"\b" + _NUM + r"\s+times\b", text):
        after = text[match.end():match.end() + 40]
        before = text[max(0, match.start() - 60):match.start()]
        if re.match(r"\s+(?:as\s+)?(?:larger|bigger|wider|taller|large|big|wide|the\s+(?:size|resolution|width)|"
                    r"(?:higher|more|the)\s+resolution)", after) or _SCALE_CONTEXT.search(before):
            found.append((_number(match.group(1)), match.group(0)))
    by_factor = re.compile(r"\b(?:by|factor\s+of|scale\s+(?:factor\s+)?(?:of\s+)?)\s*(?:a\s+factor\s+of\s+)?" + _NUM
                           + r"\b(?!\.\d|\s*(?:%|percent|px|pixels?|mm|cm|inch\w*|mp|megapixels?|k\b|by\b|x\b))")
    for match in by_factor.finditer(text):
        before = text[max(0, match.start() - 80):match.start()]
        if "factor" in match.group(0) or _SCALE_CONTEXT.search(before):
            found.append((_number(match.group(1)), match.group(0)))
    return found


def find_scale(question: str) -> tuple[int | None, str | None]:
    """The enlargement factor the question names, as a whole number >= 2, and the phrase that gave it."""
    scale, evidence, _ = read_scale(question)
    return scale, evidence


def _whole(factor: float) -> bool:
    return abs(factor - round(factor)) < 1e-6


def _factor_words(factor: float) -> str:
    return f"{factor:.3g}x"


_SIZES = re.compile(r"\b(\d{2,5})\s*(?:x|by)\s*(\d{2,5})\b")
_AGAIN = re.compile(r"\b(?:then|and)\b.{0,30}\b(?:again|a\s+second\s+time|twice)\b")


def _source_and_target(sizes: list[re.Match], text: str) -> tuple[re.Match, re.Match]:
    """The first two sizes named, source first: "I need 2560x1920 from my 640x480 photo" names the target first."""
    first, second = sizes[:2]
    if re.search(r"\bfrom\s+(?:my\s+|the\s+|a\s+|an\s+|its\s+)?$", text[max(0, second.start() - 10):second.start()]):
        return second, first
    return first, second


def _shape_note(text: str, scale: int) -> str | None:
    """What a target size of another shape means: "640x480 to 1920x1080" is 3x wide but 2.25x tall."""
    sizes = list(_SIZES.finditer(text))
    if len(sizes) < 2:
        return None
    (w0, h0), (w1, h1) = ((int(m.group(1)), int(m.group(2))) for m in _source_and_target(sizes, text))
    if min(w0, h0, w1, h1) == 0 or abs((w1 / w0) / (h1 / h0) - 1) <= 0.02:
        return None
    return (f"{w0}x{h0} to {w1}x{h1} changes the picture's shape: the width grows {w1 / w0:.3g}x and the height "
            f"{h1 / h0:.3g}x. cnaps enlarges both sides by the same factor, {scale}x (to {w0 * scale}x{h0 * scale}); "
            f"crop that to {w1}x{h1} afterwards (resizing it instead would stretch the picture).")


def read_scale(question: str) -> tuple[int | None, str | None, str | None]:
    """The enlargement factor (a whole number >= 2), the phrase that gave it, and a note for the user when the
    question names more than that factor says: a second factor, a factor applied twice, a fractional factor, or a
    target size of another shape."""
    text = normalise(question)[:MAX_CHARS]
    found = [(factor, evidence) for factor, evidence in _scale_candidates(text) if 1 < factor <= 64]
    whole = [(int(round(factor)), evidence) for factor, evidence in found if _whole(factor)]
    if not whole:
        if found:  # "1.5x", "720p to 1080p": cnaps cannot plan it, but can say how to get there
            factor = found[0][0]
            up = math.ceil(factor)
            return None, None, (f"{_factor_words(factor)} is not a whole factor, and cnaps enlarges by whole factors "
                                f"(2x to {MAX_SCALE}x): enlarge {up}x (--scale {up}) and resize the result down to "
                                f"{factor / up:.0%} of that for {_factor_words(factor)}.")
        return None, None, None
    scale, evidence = whole[0]
    percent = re.search(r"\bby\s+(\d{3,4})\s*(?:%|percent)|\b(\d{3,4})\s*(?:%|percent)\s+(?:bigger|larger|more|wider)\b",
                        text)
    if percent and (percent.group(1) or percent.group(2)) in evidence:
        share = int(percent.group(1) or percent.group(2))
        return scale, evidence, (f"\"{percent.group(0)}\" can mean {share / 100:g}x or {share / 100 + 1:g}x (the size plus "
                                 f"{share} %); cnaps reads it as {scale}x: ask for {int(share / 100 + 1)}x if you meant "
                                 "the other." if (share / 100 + 1) == int(share / 100 + 1) else
                                 f"\"{percent.group(0)}\" can also mean the size plus {share} %; cnaps reads it as "
                                 f"{scale}x.")
    others = list(dict.fromkeys(factor for factor, _ in whole[1:] if factor != scale))
    repeats = sum(1 for factor, _ in whole if factor == scale)
    chained = re.search(r"(\d+)\s?x\b,?\s+(?:and\s+)?then\s+(?:by\s+|another\s+)?(\d+)\s?x\b", text)
    if chained and int(chained.group(1)) == scale and int(chained.group(2)) in others:
        total = scale * int(chained.group(2))
        if total <= 64:
            return total, chained.group(0), _in_all(f"{scale}x and then {chained.group(2)}x", total)
    if others:
        named = " and ".join(f"{factor}x" for factor in [scale, *others])
        other = others[0]
        ask = (f"ask again about {other}x (or pass --scale {other}) for the other" if other <= MAX_SCALE else
               f"{other}x is more than the {MAX_SCALE}x cnaps enlarges")
        return scale, evidence, f"You name {named}: this answer plans {scale}x, the first; {ask}."
    if repeats >= 2 and _AGAIN.search(text) and scale * scale <= 64:
        return scale * scale, f"{evidence}, twice", _in_all(f"{scale}x and {scale}x again", scale * scale)
    rounded = re.search(r"\((\d+\.\d+)x, nearest whole factor", evidence)
    if rounded:  # "480p -> 1080p" is 2.25x: planned as 2x, and the answer says how to get the exact size
        exact = float(rounded.group(1))
        up = math.ceil(exact)
        if scale > MAX_SCALE:  # the plan says what cnaps does instead; "enlarge 17x" would be no advice
            return scale, evidence, f"{evidence.split(' (')[0]} is {exact:g}x."
        return scale, evidence, (f"{evidence.split(' (')[0]} is {exact:g}x, not a whole factor: cnaps plans {scale}x, the "
                                 f"nearest; for exactly {exact:g}x, enlarge {up}x (--scale {up}) and resize the result "
                                 f"down to {exact / up:.0%} of that.")
    return scale, evidence, _shape_note(text, scale)


def _in_all(steps: str, total: int) -> str:
    if total <= MAX_SCALE:
        return f"{steps} is {total}x in all: cnaps plans one {total}x enlargement."
    return f"{steps} is {total}x in all, more than the {MAX_SCALE}x cnaps enlarges."


_DEBLUR_FIRST = re.compile(
    r"\b(?:de-?blur|sharpen|unblur)\w*\s+(?:it\s+|this\s+|the\s+photo\s+|the\s+image\s+)?(?:first\b(?=\s*(?:[,.;]|and\b|then\b|$))|"
    r"(?:and\s+)?then\s+(?:\w+\s+){0,2}?(?:enlarg|upscal|resiz|scal|make\s+it\s+(?:\d+x\s+)?(?:bigger|larger))\w*|"
    r"before\s+(?:\w+\s+){0,2}?(?:enlarg|upscal|resiz|scal)\w*)"
    r"|\b(?:enlarg|upscal)\w*\s+(?:\w+\s+){0,4}?after\s+(?:de-?blur|sharpen|unblur|remov\w+\s+the\s+blur|fix\w*\s+the\s+blur)")


def _order_note(text: str) -> str | None:
    """"Deblur it first and then make it 2x bigger": cnaps works the other way round, and says how to do it."""
    if not _DEBLUR_FIRST.search(text):
        return None
    return ("You ask to deblur first and enlarge after; cnaps does it the other way round: it enlarges, then deblurs "
            "the enlarged image. To deblur first, run cnaps restore at --scale 1 and enlarge its result in an image "
            "editor.")


# --- needs --------------------------------------------------------------------------------------------------------


@dataclass
class _Reading:
    strong: dict[str, list[str]]
    weak: dict[str, list[str]]
    ignored: list[str]
    refused: set[str] = field(default_factory=set)  # needs the question negates ("without upscaling")


def _blur_is_a_need(text: str, match: re.Match) -> str | None:
    """Why a blur word is not a deblurring need (avoided, caused by enlarging, an edit), or None when it is one."""
    if _is_negated(text, match.start()):
        return "avoided"
    sentence_start = max(text.rfind(mark, 0, match.start()) for mark in ".;!?") + 1
    before = text[sentence_start:match.start()]
    sentence_end = min([i for i in (text.find(m, match.end()) for m in ".;!?") if i >= 0] or [len(text)])
    after = text[match.start():sentence_end]
    if _BLUR_FROM_RESIZE_BEFORE.search(before) or _BLUR_FROM_RESIZE_AFTER.search(after):
        return "caused by enlarging"
    if _RESIZE_BLUR.search(text[max(0, match.start() - 20):match.end()]):
        return "caused by enlarging"
    if _BLUR_FROM_OTHER.search(after):
        return "caused by another degradation"
    if _BLUR_FROM_SMALLNESS.search(after):
        return "caused by low resolution"
    sentence = text[sentence_start:sentence_end]
    if match.group(0).startswith("smudg") and _DIRTY_LENS.search(sentence):
        return "dirt on the lens"
    if _BLUR_AS_EDIT.match(text, match.start()):
        return "an edit to apply"
    return None


_KEEP_SIZE = re.compile(r"\b(?:at|keep|keeping|kept)\s+(?:the\s+|its\s+|this\s+|my\s+)?(?:same|current|own)?\s*"
                        r"(?:size|dimensions)\b(?!\s+(?:of|as|high|large|big)\b)|\bat\s+this\s+size\b")
_WAS_SHRUNK = re.compile(r"\b(?:(?:was|were|got|been)\s+(?:\w+\s+)?|(?:i|we|they|someone|you)\s+(?:already\s+|had\s+|have\s+)?)"
                         r"(?:down-?scaled|down-?sized|down-?sampled|shrunk|shrank|reduced)\b")


def _read(text: str) -> _Reading:
    reading = _Reading(strong={}, weak={}, ignored=[])
    for match in _BLUR_WORD.finditer(text):
        why = _blur_is_a_need(text, match)
        if why:
            reading.ignored.append(f"'{match.group(0)}' ({why})")
            if why == "an edit to apply":
                reading.strong.setdefault("edit", []).append(match.group(0))
            elif why == "caused by low resolution":
                reading.strong.setdefault("upscale", []).append(f"{match.group(0)} (low resolution)")
        else:
            reading.strong.setdefault("deblur", []).append(match.group(0))
    for need, (strong, weak) in _COMPILED.items():
        for kind, patterns in (("strong", strong), ("weak", weak)):
            for pattern in patterns:
                for match in pattern.finditer(text):
                    # "Why didn't it get bigger?" expects an enlargement; it does not refuse one.
                    expected = need == "upscale" and re.search(r"\bwhy\b", _clause(text, match.start()))
                    if _is_negated(text, match.start()) and not expected:
                        reading.ignored.append(f"'{match.group(0)}' (negated)")
                        reading.refused.add(need)
                        continue
                    getattr(reading, kind).setdefault(need, []).append(match.group(0))
    # "It was downscaled by 4x, can you undo that?": a shrink that already happened is history, not a need; undoing
    # it is an enlargement.
    if "downscale" in reading.strong and _WAS_SHRUNK.search(text):
        del reading.strong["downscale"]
        if _UNDO.search(text):
            reading.ignored.append("'downscale' (already done: undo it)")
            reading.strong.setdefault("upscale", []).append("undo a downscale")
        else:
            reading.ignored.append("'downscale' (already done)")
    if _KEEP_SIZE.search(text):  # "restore my photo at the same size", "just deblur it at this size"
        reading.refused.add("upscale")
    # Rain streaks are rain, not motion; "streak" alone stays a motion cue.
    if "derain" in reading.strong and "deblur" in reading.strong:
        reading.strong["deblur"] = [e for e in reading.strong["deblur"] if not e.startswith("streak")]
        if not reading.strong["deblur"]:
            del reading.strong["deblur"]
    return reading


# --- embedding fallback --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _examples() -> tuple[tuple[str, str], ...]:
    rows = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tuple((row["text"], row["label"]) for row in rows)


@lru_cache(maxsize=1)
def _embedder():
    try:
        from knowledge.embed import shared_embedder
    except ImportError:
        return None
    return shared_embedder()


def _nearest_label(question: str) -> tuple[str, float, str] | None:
    """(label, confidence, evidence) from the nearest prototypes; None without an embedder or a close prototype."""
    from agent.reading.router import nearest, vote_confidence
    from agent.settings import get_settings

    embedder = _embedder()
    if embedder is None:
        return None
    found = nearest(question, _examples(), "task_examples", get_settings().home, _MIN_SIMILARITY, model=embedder)
    if found is None:
        return None
    label, share, example, similarity = found
    return label, vote_confidence(share, similarity), f"similar to: '{example}' ({similarity:.2f})"


# --- classify ------------------------------------------------------------------------------------------------------

_NEED_ORDER = ["upscale", "deblur", "downscale", "denoise", "derain", "dehaze", "inpaint", "colorize", "enhance-light",
               "tone", "optics", "deartifact", "recognize", "edit"]


def _ordered(needs: set[str]) -> list[str]:
    return [need for need in _NEED_ORDER if need in needs] + sorted(needs - set(_NEED_ORDER))


_NEEDS_OF = {"both": frozenset({"upscale", "deblur"}), "super-resolution": frozenset({"upscale"}),
             "deblurring": frozenset({"deblur"}), "other": frozenset()}


def _label_for(needs: set[str]) -> TaskLabel:
    if {"upscale", "deblur"} <= needs:
        return TaskLabel.both
    if "upscale" in needs:
        return TaskLabel.super_resolution
    if "deblur" in needs:
        return TaskLabel.deblurring
    return TaskLabel.other


def classify(question: str) -> Classification:
    """Classify a question: label, scale, cues, needs, confidence and the phrases that decided it."""
    text = normalise(question)[:MAX_CHARS]
    if not text:
        raise UsageError("the question is empty: pass the question text to classify")
    scale, scale_evidence, scale_note = read_scale(text)
    reading = _read(text)
    evidence: list[str] = []
    needs = set(reading.strong)
    if scale:
        needs.add("upscale")
        evidence.append(f"scale: {scale_evidence}")
    for need in _NEED_ORDER:
        if need in reading.strong:
            evidence.append(f"{need}: " + ", ".join(dict.fromkeys(reading.strong[need])))
    evidence += [f"ignored {item}" for item in dict.fromkeys(reading.ignored)]

    # A weak restoration word still counts beside needs that are not restorations ("sharpen my faded photo"), and
    # a request to sharpen beside an enlargement makes it both ("make it HD and sharper").
    restoring = {"upscale", "deblur"} & needs
    if needs and not restoring:
        for need in ("deblur", "upscale"):
            if need in reading.weak and need not in reading.refused:
                needs.add(need)
                evidence.append(f"{need} (weak, beside the others): " + ", ".join(dict.fromkeys(reading.weak[need])))
    elif needs == {"upscale"} and "deblur" not in reading.refused and any(
            re.match(r"(?:sharpen|sharper|crisp|clearer|make\s)", cue) for cue in reading.weak.get("deblur", [])):
        needs.add("deblur")
        evidence.append("deblur: " + ", ".join(dict.fromkeys(reading.weak["deblur"])) + " (asked beside the enlargement)")
    if scale_note is None and {"deblur", "upscale"} <= needs:
        scale_note = _order_note(text)

    about: list[str] = []
    if needs:
        label = _label_for(needs)
        restoration = {"upscale", "deblur"} & needs
        confidence = 0.9 if restoration or len(needs) == 1 else 0.8
    else:
        about = ABOUT_MODEL.findall(text)
        own = _OWN_IMAGE.search(text)
        requested = _REQUEST.search(text) if own else None  # the request verb ("fix"), said of the user's picture
        if (reading.weak or requested) and own:
            about = []  # "can MIMO-UNet make my text crisper?", "restore a batch of my photos" ask for a restoration
        if requested and not reading.weak:
            # "fix my photo, does it need a gpu?": a request with no word for enlarging is a deblurring request, not
            # whatever the nearest example guesses.
            reading.weak["deblur"] = [requested.group(0)]
        nearest = None if about or requested else _nearest_label(text)
        weak = {need for need in reading.weak}
        if about:
            # No task is asked for, and the question names a part or property of the model: it asks about the model.
            label, confidence = TaskLabel.other, 0.8
            evidence.append("about the model: " + ", ".join(dict.fromkeys(about)))
        elif nearest is not None:
            label, confidence, why = TaskLabel(nearest[0]), nearest[1], nearest[2]
            evidence.append(why)
            kept = _NEEDS_OF[label.value] & weak
            if kept and kept != _NEEDS_OF[label.value]:
                # "make it 2x sharper": the neighbour may guess both, but no word asks for the other need
                label = _label_for(kept)
                evidence.append(f"kept only what the question has a word for: {', '.join(_ordered(kept))}")
        elif weak:
            label, confidence = _label_for(weak), 0.5
        else:
            label, confidence = TaskLabel.other, 0.3
        for need in _NEED_ORDER:
            if need in reading.weak:
                evidence.append(f"weak {need}: " + ", ".join(dict.fromkeys(reading.weak[need])))
        # An open question labelled "other" names no need: it asks about the model, not for a task.
        needs = set(_NEEDS_OF[label.value])
        if needs & reading.refused:
            # A neighbour's label never brings back what the question refuses ("without enlarging it").
            needs -= reading.refused
            label = _label_for(needs)
    cues = [cue for cue, pattern in _CUES_COMPILED.items() if pattern.search(text)]
    return Classification(label=label, scale=scale, cues=cues, confidence=confidence, needs=_ordered(needs),
                          evidence=evidence, refused=_ordered(reading.refused - needs),
                          about_model=not needs and bool(about), scale_note=scale_note)


# --- follow-ups ----------------------------------------------------------------------------------------------------

# A turn that leans on the one before: "what about 3x instead?", "and for faces?", "can it remove noise as well?".
_FOLLOW_UP = re.compile(r"^(?:and|but|also|then|now|what\s+about|how\s+about|what\s+if|same)\b|"
                        r"\b(?:instead|as\s+well|too|the\s+same)\W*$")
# A turn with nothing of its own: it asks to go on about the turn before.
_CONTENTLESS = re.compile(r"^(?:why(?:\s+not)?|how|really|so|and|ok(?:ay)?|go\s+on|more|tell\s+me\s+more|"
                          r"what\s+do\s+you\s+mean|"
                          r"(?:can\s+you\s+|please\s+)?(?:explain|elaborate)(?:\s+(?:more|further|that|it|this))?"
                          r"(?:\s+please)?)\W*$")


# "what about just deblurring it?": only that need, the others dropped; not "just remove the noise too".
_ONLY = re.compile(r"\b(?:just|only|simply|merely)\s+(?:\w+\s+)?(?:de-?blur|sharpen|unblur|enlarg|upscal|denois|remov|"
                   r"fix|restor|brighten|clean)\w*")
_TOO = re.compile(r"\b(?:too|also|as\s+well|in\s+addition)\b")


# "wait, why does it need interpolation?": a why-question about what the answer before said.
_WHY_ABOUT_THAT = re.compile(r"^(?:(?:wait|hmm+|ok(?:ay)?|so|and|but|sorry)[,.!\s]+)*why\b")


def is_follow_up_text(text: str) -> bool:
    """Whether a normalised turn says it leans on the one before ("what about 3x?", "why?", "tell me more")."""
    return bool(_CONTENTLESS.match(text) or _FOLLOW_UP.search(text) or _WHY_ABOUT_THAT.match(text))


def _is_follow_up(text: str, own: Classification, reading: _Reading) -> bool:
    """Whether a turn leans on the one before: it says so ("what about ...", "... instead") and changes the task
    (a scale, a need, a refusal) or is only a few words; it has no content of its own ("why?"); or it asks why,
    naming no task of its own ("wait, why does it need interpolation?")."""
    if _CONTENTLESS.match(text):
        return True
    if _WHY_ABOUT_THAT.match(text) and not reading.strong and not own.scale and not own.about_model:
        return True
    if own.about_model or not _FOLLOW_UP.search(text):
        return False  # "and how big is it?" asks about the model; a full question stands on its own
    return bool(own.scale or reading.strong or reading.refused or len(text.split()) <= 4)


def classify_turns(questions: list[str]) -> Classification:
    """Classify the last of a chat's questions, reading an elliptical follow-up against the turns before it.

    "What about 3x instead?" after "I upscaled a blurry photo by 4x" keeps the deblurring need and takes the new
    scale; needs the follow-up refuses ("what about without enlarging?") are dropped. Each earlier turn is read the
    same way, so a chain of follow-ups accumulates.
    """
    current: Classification | None = None
    previous = ""
    # The last turn that asked for a task: a question about the model in between ("and how big is it?") does not
    # end it, so "and without enlarging it?" afterwards still refers to the photo.
    task: tuple[Classification, str] | None = None
    for question in questions:
        own = classify(question)
        text = normalise(question)[:MAX_CHARS]
        reading = _read(text)
        if current is None or not _is_follow_up(text, own, reading):
            if (own.needs and "upscale" in own.needs and not own.scale and not own.scale_note and task is not None
                    and task[0].scale):  # not over a scale the turn states itself ("1.5x", "720p to 1080p")
                # "can it make my thumbnail sharper?" after "enlarge my photo 3x": the enlargement is still 3x
                own = own.model_copy(update={
                    "scale": task[0].scale, "scale_note": task[0].scale_note,
                    "evidence": own.evidence + [f"scale {task[0].scale}x from the earlier turn"]})
            current, previous = own, question
            if own.needs:
                task = (own, question)
            continue
        if not current.needs and task is not None and (reading.refused or own.needs or own.scale):
            current, previous = task  # it changes the task, not the question about the model ("why?" stays)
        needs = (set(current.needs) - reading.refused) | set(own.needs)  # "and why?" adds nothing: the task stays
        if _WHY_ABOUT_THAT.match(text) and not reading.strong:
            needs = set(current.needs)  # "wait, why is it not bigger?" asks about the task; it does not change it
        if own.needs and _ONLY.search(text) and not _TOO.search(text):
            needs = set(own.needs)  # "what about just deblurring it?": only that, the enlargement is dropped
        scale = own.scale or (current.scale if "upscale" in needs else None)
        scale_note = own.scale_note if own.scale or own.scale_note else (
            current.scale_note if "upscale" in needs else None)
        current = Classification(
            label=_label_for(needs), scale=scale, cues=list(dict.fromkeys(current.cues + own.cues)),
            confidence=max(own.confidence, min(current.confidence, 0.8)), needs=_ordered(needs),
            evidence=own.evidence + [f"follow-up of: '{' '.join(previous.split())[:80]}'"],
            refused=_ordered((set(current.refused) | reading.refused) - needs), scale_note=scale_note)
        if needs:
            task = (current, previous)
    if current is None:
        raise UsageError("the question is empty: pass the question text to classify")
    return current
