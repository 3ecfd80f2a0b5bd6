"""The words a question uses for what it needs: the phrase tables of each need (deblur, upscale, denoise, ...),
the content cues, negation ("without introducing blur"), the causes blur is blamed on, and the normalisation every
reading starts from (lower case, misspellings mended, a few other languages' words for blur and enlarging in
English). `agent.reading.task` applies them; see its docstring for how a task is decided."""

from __future__ import annotations

import re
from pathlib import Path


EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "task_examples.jsonl"
# Questions are a few sentences; only this many characters are read, so a pasted essay cannot stall the rules.
MAX_CHARS = 2000
# Below this cosine similarity the nearest prototype is not about the same thing; the vote would be noise. At 0.35
# "Is it worth buying a better camera?" (0.35) and "Would this model actually help me?" (0.37) were read as
# deblurring; between 0.35 and 0.40 the frozen questions held five such reads and no right one.
_MIN_SIMILARITY = 0.40

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

PICTURE_NOUNS_PATTERN = (r"(?:photo|image|picture|pic|shot|scan|frame|selfie|portrait|screenshot|still|footage|video|"
                         r"capture)")
# Blur of something that is no picture: one's own eyesight, a sound, a memory ("blurry vision, should I see a doctor?",
# "my eyes get blurry"), not "her eyes are blurry because she blinked" (a photo of her). Only a sentence that names no
# photo of its own.
_NOT_A_PICTURE = re.compile(r"\b(?:(?:my|our)\s+(?:own\s+)?(?:eyes?|glasses|spectacles|contacts|contact\s+lenses|head|"
                            r"hearing)|vision|eyesight|sight|sounds?|audio|voices?|music|memor(?:y|ies)|mind|"
                            r"thoughts?|thinking)\b")
_A_PICTURE = re.compile(rf"\b(?<!tv\s)(?<!television\s)(?<!monitor\s)(?<!screen\s){PICTURE_NOUNS_PATTERN}s?\b")

_BLUR_WORD = re.compile(r"\b(?:blur\w*|fuzz(?:y|iness)|smear\w*|smudg\w*)")
# A smudged lens or window veils the whole picture (haze), it does not blur it the way motion or focus does.
_DIRTY_LENS = re.compile(r"\b(?:lens|fingerprints?|glass|window|windscreen|windshield|filter)\b")

# Needs named by everyday words ("will it rain?", "my noisy neighbours", "a foggy morning", "too dark in here")
# count only in a question about a picture: one that names a picture, a restoration verb, or another image need.
# The technical verbs ("derain", "denoise", "inpaint", "colourise") need no such context.
EVERYDAY_NEEDS = ("denoise", "derain", "dehaze", "inpaint", "enhance-light")
_TECHNICAL_NEED_WORD = re.compile(r"^(?:de-?(?:nois|rain|haz)|in-?paint|high[- ]iso|low[- ]light)")
_PICTURE_CONTEXT = re.compile(
    r"\b(?:photo\w*|image\w*|pictures?|pics?|shots?|scan\w*|negatives|slides?|film|prints?|blur\w*|selfies?|"
    r"portraits?|screenshots?|footage|videos?|clips?|frames?|stills?|captures?|snaps?|camera\w*|lens\w*|"
    r"windscreen|windshield|dashcam|webcam|"
    r"remov\w*|get\s+rid|clean\w*|clear\w*|fix\w*|restor\w*|reduc\w*|repair\w*|streaks?|drops?\s+on)\b")

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
    r"coarse[- ]to[- ]fine|multi[- ]?scale|multi[- ]?input|multi[- ]?output|"
    r"why\s+(?:[\w-]+\s+){1,7}?(?:several|three|multiple|different)\s+(?:scales|sizes|resolutions)|"
    r"what\s+(?:does|can)\s+(?:this|the|that)\s+(?:model|network|tool)\s+do(?!\s+(?:to|for|with)\b)|"
    r"compar(?:e|ed|es|ing|ison)\s+(?:\w+\s+)?(?:to|with)|(?:better|worse)\s+than|versus|vs)\b")

# A photo's size in pixels ("an 8000x6000 image"): with no word for a task, a question about what the model takes.
PIXEL_SIZE = re.compile(r"\b\d{3,5}\s*[x\u00d7]\s*\d{3,5}\b")

# A request to work on a picture: "restore a batch of my old photos", "can you fix this picture of a fast car?".
_REQUEST = re.compile(r"\b(?:restore|fix|clean\s+up|repair|improve|enhance|sharpen|de-?blur|unblur|up-?scale|enlarge)\b")

# The user's own picture: "my photo", "this scan", "our old pictures". MY_IMAGE says whose it is ("my", "this");
# _OWN_IMAGE, for a request already found, also takes "the", a count ("fix 2000 images") and what a picture shows
# ("fix the text").
PICTURE_NOUNS = PICTURE_NOUNS_PATTERN
MY_IMAGE = re.compile(rf"\b(?:my|our|this|these)\s+(?:[\w-]+\s+){{0,2}}?{PICTURE_NOUNS}s?\b", re.IGNORECASE)
_OWN_IMAGE = re.compile(rf"\b(?:my|our|this|these|the|all|\d+)\s+(?:[\w-]+\s+){{0,2}}?"
                        rf"(?:{PICTURE_NOUNS}|text|plate)s?\b")

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
          "nework": "network", "netowrk": "network", "paramters": "parameters", "trianed": "trained",
          "worht": "worth", "wroth": "worth", "wirth": "worth", "diffrence": "difference", "diference": "difference",
          "differnce": "difference", "comparision": "comparison", "beter": "better", "shud": "should",
          "wat": "what", "whats": "what's"}
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


