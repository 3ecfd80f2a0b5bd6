"""The enlargement factor a question names: "4x", "x4", "four times", "quadruple", "640x480 to 2560x1920",
"1080p to 4K", "300 dpi to 600 dpi", "12 MP to 48 MP", "undo a shrink to 25%"; and what the factor alone does not
say (a second factor, a factor applied twice, a fraction, a target of another shape, an order of steps)."""

from __future__ import annotations

import math
import re

from agent.reading.needs import _NUM, MAX_CHARS, _is_negated, _number, normalise
from tools.restoration.zoo import MAX_SCALE


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


# A smaller size that is where the photo came from or what was kept, not a size asked for: "I cropped it to 800x600"
_PAST_RESIZE = re.compile(r"\b(?:cropped|crop|resized|shr[au]nk|down-?scaled|down-?sized|down-?sampled|reduced|exported|"
                          r"saved|compressed|scaled\s+down|sized\s+down)\b")


def _asked_for(text: str, at: int) -> bool:
    """Whether the size at `at` in `text` is one asked for ("to 400x300", "into a 500 px"), not one the photo has
    ("a 400x300 face"), and the question names no resize already done ("I cropped it to 800x600")."""
    return bool(re.search(r"\b(?:to|into)\s+(?:a\s+|an\s+|just\s+|only\s+)?$", text[max(0, at - 12):at])
                and not _PAST_RESIZE.search(text))


def _size_ratio(found: list[tuple[float, str]], small: float, large: float, evidence: str,
                asked_for: bool = False) -> None:
    """Add the factor from size `small` to size `large` (the source's and the target's); one within a quarter of a
    whole number counts as that number ("480p -> 1080p" is 2.25x, read as 2x), and the evidence keeps the exact
    ratio. A target below the source is a factor below one when it is `asked_for` ("enlarge from 1000 to 500")."""
    if asked_for and 0 < large < small:
        found.append((large / small, evidence))
        return
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
        _size_ratio(found, small, large, f"{first.group(0)} -> {second.group(0)}",
                    asked_for=second.start() > first.start() and _asked_for(text, second.start()))
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
                    f"{pixels[0].group(0)} -> {pixels[1].group(0)}", asked_for=_asked_for(text, pixels[1].start()))
    # "upscale from 512 to 1024": two bare side lengths in a question about size
    bare = re.search(r"\bfrom\s+(\d{2,5})\s*(?:px|pixels?)?\s+(?:up\s+)?to\s+(\d{2,5})\b(?!\s*(?:%|percent|dpi|ppi|mp|x\b|by\b))",
                     text)
    if bare and not sizes and len(pixels) < 2 and _SCALE_CONTEXT.search(text):
        _size_ratio(found, float(bare.group(1)), float(bare.group(2)), f"{bare.group(1)} -> {bare.group(2)}",
                    asked_for=_asked_for(text, bare.start(2)))
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


# A factor the question takes back for another: "2x, no wait, 4x", "2x, actually make it 3x", "3x, I mean 4x".
_CORRECTED = re.compile(r"\b(\d+)\s?x\b(?:\s+(?:bigger|larger|wider|taller|the\s+size))?[,.;!]?\s+(?:no[,.!\s]+|oh[,.!\s]+|um+[,.!\s]+)*(?:wait|actually|sorry|i\s+mean|"
                        r"make\s+(?:that|it)|or\s+rather|rather|correction|scratch\s+that)\b[,.:!\s]+"
                        r"(?:\w+\s+){0,3}?(\d+)\s?x\b")
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
    candidates = _scale_candidates(text)
    found = [(factor, evidence) for factor, evidence in candidates if 1 < factor <= 64]
    whole = [(int(round(factor)), evidence) for factor, evidence in found if _whole(factor)]
    smaller = [(factor, evidence) for factor, evidence in candidates if 0 < factor < 1]
    if not found and smaller:  # "upscale it 0.5x", "from 1000 to 500 pixels": the picture would get smaller
        factor, evidence = smaller[0]
        named = f"{evidence} is {_factor_words(factor)}, which" if "->" in evidence else _factor_words(factor)
        return None, None, (f"{named} makes a picture smaller, not larger: that is plain resizing, "
                            f"which any image editor does and needs no model; cnaps enlarges by 2x to {MAX_SCALE}x.")
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
    corrected = _CORRECTED.search(text)
    if corrected and int(corrected.group(1)) == scale and int(corrected.group(2)) in others:
        # "upscale 2x, no wait, 4x": the factor the user settles on
        final = int(corrected.group(2))
        return final, corrected.group(0), f"You changed {scale}x to {final}x: this answer plans {final}x."
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


# A photo's size as a question names it: "an 8000x6000 image", "12000 x 9000 pixels", "a 50 megapixel photo".
_PIXEL_SIZE = re.compile(r"\b(\d{2,5})\s*[x\u00d7]\s*(\d{2,5})\b(?:\s*(?:px|pixels?)\b)?")
_MEGAPIXEL_SIZE = re.compile(r"\b(\d{1,3}(?:\.\d+)?)\s*-?\s*(?:mp|mpx|megapixels?)\b")


def photo_size(text: str) -> tuple[int, str] | None:
    """The pixel count of the first photo size a normalised question names, and the words that named it; None when
    it names none. "2x3" is a factor's neighbour, not a size: both sides need two digits."""
    size, megapixels = _PIXEL_SIZE.search(text), _MEGAPIXEL_SIZE.search(text)
    if size and (megapixels is None or size.start() < megapixels.start()):
        width, height = int(size.group(1)), int(size.group(2))
        return width * height, f"{width}x{height}"
    if megapixels:
        count = float(megapixels.group(1))
        return round(count * 1_000_000), f"{count:g}-megapixel"
    return None

