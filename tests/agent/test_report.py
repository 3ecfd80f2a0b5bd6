"""Reports: self-contained HTML, Markdown and PDF; crops where the change is largest; atomic, refusing writes."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from agent.cards import bundled_card
from agent.errors import OutputError, UsageError
from agent.report import check_output, render_report, safe_link, write_report
from agent.report_images import change_crops
from tests.web.scripted import ScriptedAsk, blurry_png

HOSTILE = 'Can I read <script>alert("x")</script> signs? [evil](javascript:alert(1)) ![x](http://evil.example/p.png)'


@pytest.fixture
def answer(tmp_path):
    """A scripted answer with a real input image, a restored image and a javascript: reference slipped in."""
    image = tmp_path / "photo.png"
    image.write_bytes(blurry_png((120, 80)))
    result = ScriptedAsk()(bundled_card(), question=HOSTILE, image=image, scale=2, output_dir=tmp_path)
    result.references[-1] = result.references[-1].model_copy(update={"url": "javascript:alert(1)"})
    return result


def asset_urls(html: str) -> list[str]:
    """Every src=, <link href=, url(...) and @import target: what a browser would fetch to show the page."""
    found = re.findall(r"""\bsrc\s*=\s*["']?([^"'\s>]+)""", html)
    found += re.findall(r"""<link[^>]*href\s*=\s*["']?([^"'\s>]+)""", html)
    found += re.findall(r"""url\(\s*["']?([^"')]+)""", html) + re.findall(r"""@import\s+["']([^"']+)""", html)
    return found


def test_html_is_self_contained_and_escaped(answer):
    html = render_report(answer, HOSTILE, "html", created=datetime(2026, 1, 2, tzinfo=timezone.utc))
    assets = asset_urls(html)
    assert assets and all(url.startswith("data:image/") for url in assets)
    assert "<script" not in html.lower().replace("&lt;script", "")
    assert 'href="javascript:' not in html
    links = re.findall(r'<a[^>]*href="([^"]+)"', html)
    external = [link for link in links if not link.startswith("#")]
    assert external and set(external) <= {ref.url for ref in answer.references}
    for heading in ("1</span>Task", "2</span>Workflow", "3</span>References"):
        assert heading in html
    assert "2026-01-02" in html and "cnaps 0.1.0" in html
    # The diagram carries the run's real sizes and time.
    assert "120 × 80 px" in html and "240 × 160 px" in html and f"{answer.restoration.seconds:.2f} s" in html


def test_markdown_has_sections_and_neutralises_markup(answer):
    text = render_report(answer, HOSTILE, "md")
    for heading in ("## 1 Task", "## 2 Workflow", "## 3 References"):
        assert heading in text
    assert "<script>" not in text
    assert "](javascript:" not in text and "](<javascript:" not in text
    assert "![x](http" not in text  # an image tag in user text does not become an image
    assert "data:image" not in text and "base64" not in text  # pictures are files beside it, not inline


def test_markdown_report_links_its_pictures_in_a_folder_beside_it(answer, tmp_path):
    target = tmp_path / "out" / "report.md"
    target.parent.mkdir()
    write_report(answer, HOSTILE, target)
    text = target.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 4  # before, after and a crop pair
    for link in links:
        assert not link.startswith(("/", "data:", "http")) and link.startswith("report_files/")
        with Image.open(target.parent / link) as picture:  # each link opens a real picture beside the report
            picture.load()
    assert sorted(p.name for p in (target.parent / "report_files").iterdir()) == sorted(
        link.removeprefix("report_files/") for link in links)
    assert target.stat().st_size < 20_000  # text only: no 800 KB of base64
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.md", "report_files"]  # no temp left

    with pytest.raises(OutputError, match="--overwrite"):  # an existing pictures folder counts as the report
        target.unlink()
        write_report(answer, HOSTILE, target)
    answer.restoration = None
    write_report(answer, HOSTILE, target, overwrite=True)  # no pictures now: the old folder goes with the old report
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.md"]


def test_markdown_report_into_an_existing_file_named_like_its_folder_is_refused_up_front(tmp_path):
    (tmp_path / "report_files").write_text("mine")
    with pytest.raises(OutputError, match="report_files"):
        check_output(tmp_path / "report.md")
    assert (tmp_path / "report_files").read_text() == "mine"


def test_change_crops_find_the_changed_region():
    before = Image.new("RGB", (200, 120), "gray")
    after = before.copy()
    ImageDraw.Draw(after).rectangle([150, 70, 170, 90], fill="white")
    first, second = change_crops(before, after, count=2)
    assert first.x <= 150 and first.x + first.size >= 170 and first.y <= 70 and first.y + first.size >= 90
    assert first.mean_change > second.mean_change
    # The two crops do not overlap.
    assert first.x + first.size <= second.x or second.x + second.size <= first.x \
        or first.y + first.size <= second.y or second.y + second.size <= first.y


def test_change_crops_at_different_sizes_and_tiny_images():
    small = Image.new("RGB", (30, 20), "black")
    big = Image.new("RGB", (90, 60), "black")
    ImageDraw.Draw(big).rectangle([0, 0, 20, 20], fill="white")
    crop = change_crops(small, big, count=1)[0]
    assert crop.x == 0 and crop.y == 0 and crop.x + crop.size <= 90
    one = change_crops(Image.new("RGB", (1, 1)), Image.new("RGB", (1, 1), "white"), count=3)
    assert one[0].size == 1 and len(one) == 1


def test_safe_link_only_http():
    assert safe_link("https://github.com/chosj95/MIMO-UNet")
    for bad in ("javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "//evil", "http://a b", None):
        assert safe_link(bad) is None


def test_write_is_atomic_and_refuses_existing(answer, tmp_path):
    target = tmp_path / "report.html"
    write_report(answer, "q", target)
    first = target.read_bytes()
    with pytest.raises(OutputError, match="--overwrite"):
        write_report(answer, "another question", target)
    assert target.read_bytes() == first
    write_report(answer, "another question", target, overwrite=True)
    assert b"another question" in target.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left
    with pytest.raises(UsageError, match=r"\.html, \.md or \.pdf"):
        check_output(tmp_path / "report.docx")
    with pytest.raises(OutputError, match="does not exist"):
        check_output(tmp_path / "missing" / "r.html")
    existing = tmp_path / "notes.md"
    existing.write_text("input")
    with pytest.raises(OutputError, match="input"):
        check_output(existing, overwrite=True, inputs=(existing,))
    assert existing.read_text() == "input"


def test_pdf_when_weasyprint_works(answer, tmp_path):
    pytest.importorskip("weasyprint")
    target = tmp_path / "report.pdf"
    try:
        write_report(answer, HOSTILE, target)
    except OutputError as error:
        if "pango" in str(error):
            pytest.skip(str(error))
        raise
    assert target.read_bytes().startswith(b"%PDF") and target.stat().st_size > 5000


def shared_card_text() -> str:
    from agent.cards import bundled_cards

    return bundled_cards()["mimo-unet"].read_text(encoding="utf-8")


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from agent import cli

    monkeypatch.setattr(sys, "argv", ["cnaps", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as stop:
        code = stop.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_report_writes_html_and_refuses_to_overwrite(monkeypatch, capsys, tmp_path):
    scripted = ScriptedAsk()
    monkeypatch.setattr("agent.ask.ask", scripted)
    image = tmp_path / "photo.png"
    image.write_bytes(blurry_png())
    target = tmp_path / "report.html"
    code, out, _ = run_cli(monkeypatch, capsys, "report", "--image", str(image), "--scale", "2", "-o", str(target))
    assert code == 0 and str(target) in out
    assert scripted.calls[0]["scale"] == 2 and scripted.calls[0]["image"] == image
    assert all(url.startswith("data:") for url in asset_urls(target.read_text()))

    before = target.read_bytes()
    code, _, err = run_cli(monkeypatch, capsys, "report", "--image", str(image), "-o", str(target))
    assert code == OutputError.exit_code and err.count("\n") == 1 and "--overwrite" in err
    assert target.read_bytes() == before and len(scripted.calls) == 1  # refused before any work

    card = tmp_path / "card.md"
    card.write_text(shared_card_text())
    code, _, err = run_cli(monkeypatch, capsys, "report", str(card), "-o", str(card), "--overwrite")
    assert code == OutputError.exit_code and "input" in err and card.read_text() == shared_card_text()
    code, _, err = run_cli(monkeypatch, capsys, "report", "-o", str(tmp_path / "r.txt"))
    assert code == UsageError.exit_code and len(scripted.calls) == 1


def test_a_pdf_report_without_weasyprint_is_refused_before_any_restoration(monkeypatch, capsys, tmp_path):
    scripted = ScriptedAsk()
    monkeypatch.setattr("agent.ask.ask", scripted)
    monkeypatch.setattr("agent.report.pdf_unavailable", lambda: "No module named 'weasyprint'")
    image = tmp_path / "photo.png"
    image.write_bytes(blurry_png())
    code, _, err = run_cli(monkeypatch, capsys, "report", "--image", str(image), "-o", str(tmp_path / "r.pdf"))
    assert code == OutputError.exit_code and err.count("\n") == 1 and "pip install 'cnaps[pdf]'" in err
    assert scripted.calls == [] and sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_report_without_an_image_still_has_the_three_sections():
    answer = ScriptedAsk()(bundled_card(), question="How does MIMO-UNet deblur?")
    html = render_report(answer, "How does MIMO-UNet deblur?", "html")
    assert "no image attached" in html and "Restoration record" not in html and "data:image" not in html
    markdown = render_report(answer, "How does MIMO-UNet deblur?", "md")
    assert markdown.count("\n## ") == 3 and "Restoration record" not in markdown


def test_open_image_shows_16_bit_and_rotated_images_as_a_viewer_would(tmp_path):
    import numpy as np

    from agent.report_images import open_image

    Image.fromarray(np.full((4, 6), 40000, np.uint16)).save(tmp_path / "deep.png")
    deep = open_image(tmp_path / "deep.png")
    assert deep.mode == "RGB" and deep.getpixel((0, 0)) == (155, 155, 155)  # 40000 / 257
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (40, 20), "red").save(tmp_path / "rotated.jpg", exif=exif)
    assert open_image(tmp_path / "rotated.jpg").size == (20, 40)


def test_a_link_the_answer_does_not_cite_is_removed_from_the_quoted_question(answer):
    question = "Why is it sharp? See https://evil.example.com/claims and www.evil.example.com/x."
    for fmt in ("html", "md"):
        assert "evil.example.com" not in render_report(answer, question, fmt)


def _pages_holding(document) -> dict[str, set[int]]:
    """Page numbers of the report parts that must not be split: headings, the record table, the first images."""
    found: dict[str, set[int]] = {}
    for number, page in enumerate(document.pages):
        for box in page._page_box.descendants():  # weasyprint's layout tree: the only element -> page mapping
            element = getattr(box, "element", None)
            if element is None or element.tag not in ("table", "h3", "img"):
                continue
            key = {"table": "record", "h3": "".join(element.itertext()), "img": element.get("alt")}[element.tag]
            found.setdefault(key, set()).add(number)
    return found


def test_pdf_keeps_headings_with_their_content_and_the_record_whole(tmp_path):
    weasyprint = pytest.importorskip("weasyprint")
    image = tmp_path / "photo.png"
    image.write_bytes(blurry_png((320, 200)))
    base = ScriptedAsk()(bundled_card(), question="q", image=image, scale=2, output_dir=tmp_path)
    for sentences in (6, 12, 18, 24, 30, 36, 42):  # moves the record, images and crops across a page break
        answer = base.model_copy(deep=True)
        answer.workflow.text = "A sentence that pushes the rest of the report down the page. " * sentences
        pages = _pages_holding(weasyprint.HTML(string=render_report(answer, "How?", "html")).render())
        assert len(pages["record"]) == 1 and pages["Restoration record"] == pages["record"], sentences
        assert pages["Before and after"] == pages["input image"], sentences
        assert pages["Where the restoration changed the image most"] == pages["input crop 1"], sentences


WORDS_SPLIT_ACROSS_LINES = """() => {
  const split = [];
  for (const box of document.querySelectorAll('.flow .box')) {
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[^\\s-]+/g)) {  // a break after a hyphen is a fine place
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        if (new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size > 1) split.push(match[0]);
      }
    }
  }
  return split;
}"""


@pytest.mark.browser
def test_diagram_boxes_never_break_a_word_on_a_narrow_screen(answer):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    html = render_report(answer, "How?", "html")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            for width in (360, 420, 560, 760, 1200):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.set_content(html)
                assert page.evaluate(WORDS_SPLIT_ACROSS_LINES) == [], width
        finally:
            browser.close()


def test_a_picture_beyond_pillows_bomb_limit_is_a_one_line_input_error(tmp_path, monkeypatch):
    from PIL import Image

    from agent.errors import InputFileError
    from agent.report_images import open_image

    path = tmp_path / "large.png"
    Image.new("RGB", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4,096 pixels is then more than twice the limit
    with pytest.raises(InputFileError, match="too large for a report's pictures"):
        open_image(path)


def _pdf_layout(html: str) -> tuple[list[list[str]], dict[str, float], float]:
    """The PDF's diagram boxes as their lines of text, each picture's laid-out width by alt text, and the width of
    the page's content."""
    weasyprint = pytest.importorskip("weasyprint")
    from weasyprint.formatting_structure import boxes

    diagram_lines, widths, content = [], {}, 0.0
    for page in weasyprint.HTML(string=html).render().pages:
        for box in page._page_box.descendants():
            element = getattr(box, "element", None)
            if element is None:
                continue
            if isinstance(box, boxes.BlockBox) and box.element_tag == "main":
                content = max(content, box.width)
            if isinstance(box, boxes.BlockBox) and box.element_tag == "div" and "box" in (element.get("class") or
                                                                                          "").split():
                diagram_lines.append([
                    "".join(t.text for t in line.descendants() if isinstance(t, boxes.TextBox)).replace("\u200b", "")
                    for line in box.descendants() if isinstance(line, boxes.LineBox)])
            if isinstance(box, (boxes.InlineReplacedBox, boxes.BlockReplacedBox)):
                widths[element.get("alt")] = box.width
    return diagram_lines, widths, content


def test_pdf_wraps_long_file_names_between_their_parts_and_shows_pictures_page_wide(tmp_path):
    from agent.report import diagram

    image = tmp_path / "holiday_photo-from-the-harbour_2026-07-14_final-version-edited-again.png"
    image.write_bytes(blurry_png((320, 200)))
    answer = ScriptedAsk()(bundled_card(), question="q", image=image, scale=2, output_dir=tmp_path)
    lines, widths, content = _pdf_layout(render_report(answer, "How?", "html"))

    texts = {box.title: [box.stage.upper(), box.title, *box.lines] for box in diagram(answer)}  # CSS upper-cases
    assert len(lines) == len(texts)
    for rendered, box in zip(lines, diagram(answer)):
        originals, offset, breaks = list(texts[box.title]), 0, 0
        for line in rendered:  # walk the box's texts along its laid-out lines
            text = originals[0]
            assert text.startswith(line.strip(), offset), (line, text)
            offset += len(line.strip())
            if offset < len(text):
                breaks += 1
                assert text[offset] == " " or text[offset - 1] in "-_./", (line, text)  # never inside a word
                offset = offset + 1 if text[offset] == " " else offset
            else:
                originals.pop(0)
                offset = 0
        assert not originals
        if box.stage == "input" and box.title == "Input":
            assert breaks >= 3  # the long name did wrap

    assert widths["input image"] >= 0.95 * content and widths["restored image"] >= 0.95 * content
    crops = [alt for alt in widths if alt.startswith("input crop")]
    assert crops  # a zoomed pair for each region where the change is largest
    for alt in crops:
        assert widths[alt] >= 0.45 * content and widths[alt.replace("input", "restored")] >= 0.45 * content


def test_markdown_report_parses_to_no_markup_from_user_or_document_text(answer):
    """A real CommonMark parser (markdown-it-py) reads the hostile report: the only links are the references'
    http(s) URLs, the only images the report's own pictures, and no raw HTML survives."""
    from markdown_it import MarkdownIt

    answer.task.text = "Sharp *now* <b>bold</b> [click](javascript:alert(1)) ![pixel](http://evil.example/p.png) `x`"
    tokens = MarkdownIt("commonmark").parse(render_report(answer, HOSTILE, "md"))
    inline = [child for token in tokens for child in (token.children or [])]
    assert not [t for t in tokens + inline if t.type in ("html_inline", "html_block")]
    links = [t.attrs["href"] for t in inline if t.type == "link_open"]
    assert links and set(links) <= {ref.url for ref in answer.references if safe_link(ref.url)}
    images = [t.attrs["src"] for t in inline if t.type == "image"]
    assert images and all(src.startswith("report_files/") for src in images)
    text = "".join(t.content for t in inline if t.type == "text")
    assert "<b>bold</b>" in text and "*now*" in text  # shown literally, as typed
