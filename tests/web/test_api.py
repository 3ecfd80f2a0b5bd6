"""The web API with a scripted answer engine: contract, uploads, bad uploads, path traversal, 429, escaping."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.web.scripted import blurry_png

CONTRACT = {"task", "workflow", "references", "notes", "sources", "restoration", "markdown", "engine"}


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def assert_one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert "\n" not in body["detail"] and "Traceback" not in body["detail"]
    return body["detail"]


def test_health_cards_docs_and_page(client):
    assert client.get("/healthz").json()["status"] == "ok"
    cards = client.get("/api/cards").json()
    assert any(card["default"] for card in cards) and all(card["question"] for card in cards)
    assert client.get(f"/api/cards/{cards[0]['name']}").json()["text"].strip()
    assert client.get("/docs").status_code == 200
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    # The page pulls nothing from another host.
    assert not re.search(r"""(src|href)=["']https?://""", page.text)
    assert client.get("/static/app.js").status_code == 200


def test_docs_work_offline_when_swagger_ui_is_installed(client):
    pytest.importorskip("swagger_ui")
    html = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_ask_without_image_returns_contract_and_session(client, scripted):
    response = client.post("/api/ask", data={"question": "How does MIMO-UNet deblur text?"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert CONTRACT <= data.keys()
    assert data["restoration"] is None
    assert data["report_url"].startswith("/api/runs/")
    assert scripted.calls[0]["question"] == "How does MIMO-UNet deblur text?"
    assert scripted.calls[0]["image"] is None

    follow = client.post("/api/ask", data={"question": "And at 4x?", "session_id": data["session_id"]})
    assert follow.status_code == 200
    assert follow.json()["session_id"] == data["session_id"]
    history = scripted.calls[1]["history"]
    assert history[0] == ("user", "How does MIMO-UNet deblur text?") and history[1][0] == "assistant"
    assert scripted.calls[1]["card"] is scripted.calls[0]["card"]


def test_bare_post_uses_the_default_card(client, scripted):
    response = client.post("/api/ask")
    assert response.status_code == 200, response.text
    assert scripted.calls[0]["question"] == response.json()["question"] == scripted.calls[0]["card"].question


def test_card_as_text_and_as_file(client, scripted, shared_cards):
    text = shared_cards[0].read_text(encoding="utf-8")
    as_text = client.post("/api/ask", data={"card": text})
    as_file = client.post("/api/ask", files={"card": ("card.txt", text.encode(), "text/plain")})
    assert as_text.status_code == as_file.status_code == 200
    assert scripted.calls[0]["card"].question == scripted.calls[1]["card"].question
    assert "upscaled" in scripted.calls[0]["card"].question
    urls = {ref["url"] for ref in as_file.json()["references"]}
    assert urls <= scripted.calls[1]["card"].provided_links


def test_ask_with_image_serves_restored_image_crops_and_reports(client, scripted):
    response = client.post("/api/ask", data={"question": "sharpen this", "scale": "2"},
                           files={"image": ("photo.png", blurry_png(), "image/png")})
    assert response.status_code == 200, response.text
    data = response.json()
    run = data["restoration"]
    assert scripted.calls[0]["scale"] == 2
    assert "/secret/" not in json.dumps(data)  # no server paths leak
    restored = client.get(run["image_url"])
    assert restored.status_code == 200 and restored.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(restored.content)).size == (192, 128)
    assert Image.open(io.BytesIO(client.get(run["input_url"]).content)).size == (96, 64)
    assert len(run["crops"]) >= 1
    for crop in run["crops"]:
        assert client.get(crop["before_url"]).status_code == client.get(crop["after_url"]).status_code == 200

    report = client.get(data["report_url"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "attachment" in report.headers["content-disposition"]
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert "data:image/png;base64," in report.text
    assert not re.search(r"""src=["']https?://""", report.text)
    bundle = client.get(data["report_urls"]["md"])
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
    markdown, pictures = markdown_bundle(bundle.content)
    assert "## 3 References" in markdown
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert links and set(links) == set(pictures)  # every linked picture is in the zip, beside report.md
    for link in links:
        assert Image.open(io.BytesIO(pictures[link])).size


def markdown_bundle(data: bytes) -> tuple[str, dict[str, bytes]]:
    """The web's Markdown report: report.md and the pictures under report_files/, from its zip."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    markdown = files.pop("report.md").decode("utf-8")
    assert all(name.startswith("report_files/") for name in files)
    return markdown, files


def test_markdown_names_files_and_links_the_image_but_shows_no_server_path(client, scripted):
    from agent.settings import get_settings

    response = client.post("/api/ask", data={"question": "sharpen this"},
                           files={"image": ("photo.png", blurry_png(), "image/png")})
    assert response.status_code == 200, response.text
    with client.stream("POST", "/api/ask/stream", data={"question": "sharpen this"},
                       files={"image": ("photo.png", blurry_png(), "image/png")}) as streamed:
        answer_event = [line for line in streamed.iter_lines() if line.startswith("data:")][-1]
    for data in (response.json(), json.loads(answer_event.removeprefix("data:"))):
        markdown = data["markdown"]
        assert "| what ran |" in markdown and "tiny.safetensors" in markdown
        assert data["restoration"]["image_url"] in markdown and data["restoration"]["image_path"] == "input-restored.png"
        for server_path in ("/secret/", str(get_settings().home)):
            assert server_path not in json.dumps(data)


def test_stream_sends_status_tokens_and_answer(client):
    with client.stream("POST", "/api/ask/stream", data={"question": "what is this?"},
                       files={"image": ("p.png", blurry_png(), "image/png")}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = [(m[1], json.loads(m[2])) for m in re.finditer(r"event: (\w+)\ndata: (.*)\n\n", body)]
    names = [name for name, _ in events]
    assert names[0] == "session" and names[-1] == "answer"
    assert "progress" in names and "token" in names
    assert "".join(data["text"] for name, data in events if name == "token") == "The task is deblurring."
    assert events[-1][1]["restoration"]["image_url"]


def test_a_quiet_stream_is_kept_open_with_comments_and_still_answers(client, scripted, monkeypatch):
    monkeypatch.setattr("agent.web.app.SSE_PING_SECONDS", 0.05)
    scripted.gate = threading.Event()
    threading.Timer(0.6, scripted.gate.set).start()  # a restoration that says nothing for a while
    with client.stream("POST", "/api/ask/stream", data={"question": "what is this?"},
                       files={"image": ("p.png", blurry_png(), "image/png")}) as response:
        body = "".join(response.iter_text())
    blocks = [block for block in body.split("\n\n") if block.strip()]
    assert any(block.startswith(":") for block in blocks)  # comment lines, which every SSE client ignores
    assert "\r" not in body  # one '\n' per line: the page's reader splits events on blank lines
    events = [re.match(r"event: (\w+)\ndata: (.*)$", block, re.S) for block in blocks if not block.startswith(":")]
    assert all(events) and events[-1][1] == "answer" and json.loads(events[-1][2])["restoration"]


@pytest.mark.parametrize("name, data, content_type, status", [
    ("not-image.png", b"this is plain text, not a PNG", "image/png", 415),
    ("empty.png", b"", "image/png", 422),
    ("truncated.png", blurry_png((120, 90))[:300], "image/png", 422),
    ("script.jpg", b"<script>alert(1)</script>", "image/jpeg", 415),
    ("zip.png", b"PK\x03\x04" + b"\x00" * 200, "application/zip", 415),
])
def test_bad_image_uploads_are_refused_and_leave_nothing(client, scripted, tmp_path, name, data, content_type,
                                                          status):
    from agent.settings import get_settings

    response = client.post("/api/ask", data={"question": "q"}, files={"image": (name, data, content_type)})
    assert_one_line_error(response, status)
    assert scripted.calls == []
    assert files_under(get_settings().output_dir) == []


def test_too_many_bytes_and_too_many_pixels(make_client, scripted):
    client = make_client(SERVER__MAX_UPLOAD_BYTES=2000, RESTORE__MAX_PIXELS=5000)
    big = io.BytesIO()
    Image.effect_noise((200, 200), 50).save(big, format="PNG")
    assert "limit" in assert_one_line_error(
        client.post("/api/ask", files={"image": ("big.png", big.getvalue(), "image/png")}), 413)
    wide = io.BytesIO()
    Image.new("L", (100, 100)).save(wide, format="PNG")  # 10,000 pixels, a few hundred bytes
    assert "pixels" in assert_one_line_error(
        client.post("/api/ask", files={"image": ("wide.png", wide.getvalue(), "image/png")}), 413)
    assert scripted.calls == []


def test_bad_cards_and_fields(client, scripted):
    assert_one_line_error(client.post("/api/ask", files={"card": ("c.txt", b"\x00\x01\x02binary", "text/plain")}),
                          415)
    assert_one_line_error(client.post("/api/ask", files={"card": ("c.txt", "\xff\xfe".encode("latin-1"),
                                                                  "text/plain")}), 415)
    assert_one_line_error(client.post("/api/ask", data={"card": "no question and no model here"}), 422)
    assert_one_line_error(client.post("/api/ask", data={"card_name": "../../etc/passwd"}), 422)
    assert_one_line_error(client.post("/api/ask", data={"scale": "0"}), 400)
    assert_one_line_error(client.post("/api/ask", data={"scale": "4; rm -rf /"}), 400)
    assert_one_line_error(client.post("/api/ask", data={"session_id": "../../x"}), 404)
    assert_one_line_error(client.post("/api/ask", json={"question": "q"}), 415)
    assert_one_line_error(client.post("/api/ask", data={"image": "not a file"}), 415)
    assert_one_line_error(client.post("/api/ask", data={"card": "x" * 300_000}), 413)
    assert scripted.calls == []


@pytest.mark.parametrize("url", [
    "/api/runs/..%2F..%2F..%2Fetc/passwd",
    "/api/runs/%2e%2e/secret.txt",
    "/api/runs/AAAAAAAAAAAAAAAAAAAAAA/input",
    "/api/runs/{run}/..%2Frun.json",
    "/api/runs/{run}/..%2F..%2Fsecret.txt",
    "/api/runs/{run}/run.json",
    "/api/runs/{run}/report.exe",
    "/api/runs/{run}/crop-0-before",
    "/api/runs/{run}/%2Fetc%2Fpasswd",
    "/api/runs/..%5C..%5Csecret.txt/input",
    "/static/..%2F..%2Fapp.py",
    "/static/%2e%2e/app.py",
    "/api/cards/..%2F..%2Fcards.py",
])
def test_path_traversal_is_refused(client, url):
    from agent.settings import get_settings

    run = client.post("/api/ask", data={"question": "q"}).json()["run_id"]
    secret = get_settings().output_dir / "web" / "secret.txt"
    secret.write_text("SECRET-CONTENT")
    response = client.get(url.replace("{run}", run))
    assert response.status_code in (400, 404, 405), (url, response.status_code)
    assert "SECRET-CONTENT" not in response.text and "def create_app" not in response.text
    assert "root:" not in response.text


def test_full_queue_answers_429_with_retry_after(make_client, scripted):
    client = make_client(SERVER__WORKERS=1, SERVER__QUEUE_SIZE=1)
    scripted.gate = threading.Event()
    results: list[int] = []

    def post() -> None:
        response = client.post("/api/ask", files={"image": ("p.png", blurry_png(), "image/png")})
        results.append(response.status_code)

    workers = [threading.Thread(target=post) for _ in range(2)]
    for worker in workers:
        worker.start()
    assert scripted.started.acquire(timeout=10)  # one job runs, the other waits in the queue
    server = client.app.state.server
    for _ in range(200):
        if server.restore_pool.pending == 2:
            break
        threading.Event().wait(0.05)
    busy = client.post("/api/ask", files={"image": ("p.png", blurry_png(), "image/png")})
    assert_one_line_error(busy, 429)
    assert int(busy.headers["retry-after"]) >= 1
    streamed = client.post("/api/ask/stream", files={"image": ("p.png", blurry_png(), "image/png")})
    assert_one_line_error(streamed, 429)  # refused before the event stream starts
    assert int(streamed.headers["retry-after"]) >= 1
    # Questions without an image use their own pool and still get answers while restorations wait.
    assert client.post("/api/ask", data={"question": "no image"}).status_code == 200
    scripted.gate.set()
    for worker in workers:
        worker.join(timeout=30)
    assert results == [200, 200]
    assert client.post("/api/ask", files={"image": ("p.png", blurry_png(), "image/png")}).status_code == 200


def test_script_question_is_escaped_in_report_and_page_uses_text_nodes(client):
    question = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    data = client.post("/api/ask", data={"question": question},
                       files={"image": ("p.png", blurry_png(), "image/png")}).json()
    assert data["question"] == question  # JSON carries the text as data
    report = client.get(data["report_url"]).text
    assert "<script>" not in report and "<img src=x" not in report
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in report
    markdown, _ = markdown_bundle(client.get(data["report_urls"]["md"]).content)
    assert "<script>" not in markdown
    script = client.get("/static/app.js").text
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def test_pdf_report_when_weasyprint_works(client):
    pytest.importorskip("weasyprint")
    data = client.post("/api/ask", data={"question": "q"}, files={"image": ("p.png", blurry_png(), "image/png")})
    response = client.get(data.json()["report_urls"]["pdf"])
    if response.status_code == 500 and "pango" in response.text:
        pytest.skip("weasyprint cannot load pango here")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


@pytest.mark.slow
def test_real_engine_with_the_tiny_network(tmp_path, shared_cards):
    """The whole path with the real answer engine and restoration (random tiny weights): upload, answer, image."""
    torch = pytest.importorskip("torch")
    from fastapi.testclient import TestClient

    from agent.cards import load_card
    from agent.web.app import create_app
    from tools.restoration import build_model
    from tools.restoration.checkpoint import save_safetensors

    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    save_safetensors(build_model("test-mimo-unet"), weights)
    app = create_app(ask_options={"model": "test-mimo-unet", "weights": weights, "llm": "none"})
    with TestClient(app) as client:
        response = client.post("/api/ask", files={"card": ("card.txt", shared_cards[0].read_bytes(), "text/plain"),
                                                  "image": ("photo.png", blurry_png((64, 48)), "image/png")},
                               data={"scale": "2"})
        assert response.status_code == 200, response.text
        data = response.json()
        assert CONTRACT <= data.keys() and data["task"]["mismatch"] is True
        links = {ref["url"] for ref in data["references"] if ref["role"] != "cnaps-notes"}
        assert links <= load_card(shared_cards[0]).provided_links
        run = data["restoration"]
        assert run["model_id"] == "test-mimo-unet" and run["output_size"] == [128, 96]
        restored = Image.open(io.BytesIO(client.get(run["image_url"]).content))
        assert restored.size == (128, 96)
        report = client.get(data["report_url"]).text
        assert "128 × 96 px" in report and all(url.startswith("data:") for url in
                                              re.findall(r"""\bsrc=["']([^"']+)""", report))


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    return _encoded(Image.new("RGB", (40, 20), "red"), "JPEG", exif=exif)


def _animated_gif() -> bytes:
    frames = [Image.new("P", (30, 30), i) for i in (1, 2, 3)]
    return _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])


@pytest.mark.parametrize("name, data, shown", [
    ("cmyk.jpg", _encoded(Image.new("CMYK", (30, 20), (0, 80, 80, 0)), "JPEG"), (30, 20)),
    ("deep.png", _encoded(Image.new("I;16", (30, 20), 40000), "PNG"), (30, 20)),
    ("palette.png", _encoded(Image.new("P", (30, 20), 3), "PNG"), (30, 20)),
    ("grey-alpha.png", _encoded(Image.new("LA", (30, 20), (90, 128)), "PNG"), (30, 20)),
    ("rotated.jpg", _rotated_jpeg(), (20, 40)),
    ("animated.gif", _animated_gif(), (30, 30)),
    ("tiny.png", _encoded(Image.new("RGB", (1, 1), "blue"), "PNG"), (1, 1)),
    ("photo.webp", _encoded(Image.new("RGB", (30, 20), "green"), "WEBP"), (30, 20)),
])
def test_every_image_layout_is_accepted_and_previewed(client, name, data, shown):
    response = client.post("/api/ask", files={"image": (name, data, "application/octet-stream")})
    assert response.status_code == 200, response.text
    preview = Image.open(io.BytesIO(client.get(response.json()["restoration"]["input_url"]).content))
    assert preview.format == "PNG" and preview.mode in ("RGB", "RGBA") and preview.size == shown


@pytest.mark.parametrize("samples", [np.full((20, 30), 0.5, np.float32), np.full((20, 30), 10**6, np.int32)])
def test_float_and_wide_integer_tiffs_are_refused_with_how_to_convert(client, scripted, samples):
    data = _encoded(Image.fromarray(samples), "TIFF")
    detail = assert_one_line_error(client.post("/api/ask", files={"image": ("deep.tif", data, "image/tiff")}), 422)
    assert "8- or 16-bit PNG or TIFF" in detail and "/" not in detail.split(":")[0] and scripted.calls == []


def test_decompression_bomb_header_is_refused_before_decoding(client, scripted):
    import struct
    import zlib

    data = bytearray(_encoded(Image.new("L", (1, 1)), "PNG"))
    ihdr = struct.pack(">II", 20000, 20000) + bytes(data[24:29])  # width, height, then depth/colour/etc.
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    detail = assert_one_line_error(client.post("/api/ask", files={"image": ("bomb.png", bytes(data), "image/png")}),
                                   413)
    assert "pixels" in detail and scripted.calls == []


def test_engine_errors_become_status_codes_and_leave_no_run(client, scripted, monkeypatch):
    from agent.errors import WeightsError
    from agent.settings import get_settings

    def broken(*args, **kwargs):
        raise WeightsError("no weights for MIMO-UNet: put MIMO-UNet.pkl in $CNAPS_WEIGHTS_DIR")

    server = client.app.state.server
    monkeypatch.setattr(server, "ask_fn", broken)
    upload = {"image": ("p.png", blurry_png(), "image/png")}
    assert "CNAPS_WEIGHTS_DIR" in assert_one_line_error(client.post("/api/ask", files=upload), 503)
    with client.stream("POST", "/api/ask/stream", files=upload) as response:
        body = "".join(response.iter_text())
    assert "event: error" in body and "CNAPS_WEIGHTS_DIR" in body and "event: answer" not in body

    monkeypatch.setattr(server, "ask_fn", lambda *a, **k: 1 / 0)
    response = client.post("/api/ask", files=upload)
    assert response.status_code == 500 and "Traceback" not in response.text and "ZeroDivision" not in response.text
    assert files_under(get_settings().output_dir) == []


def test_errors_show_their_web_wording(client, monkeypatch):
    from agent.errors import UsageError

    def too_large(*args, **kwargs):
        raise UsageError("x8 is too large: lower --scale", web="x8 is too large: pick a smaller Scale (form field scale)")

    monkeypatch.setattr(client.app.state.server, "ask_fn", too_large)
    detail = assert_one_line_error(client.post("/api/ask", data={"question": "q"}), 400)
    assert detail == "x8 is too large: pick a smaller Scale (form field scale)"
    with client.stream("POST", "/api/ask/stream", data={"question": "q"}) as response:
        body = "".join(response.iter_text())
    assert "form field scale" in body and "--scale" not in body


def test_truncated_upload_refused_even_after_a_pdf_report(client):
    """weasyprint flips PIL's LOAD_TRUNCATED_IMAGES on import; a PDF report must not weaken the upload check."""
    pytest.importorskip("weasyprint")
    from agent.report import html_to_pdf

    html_to_pdf("<p>warm up weasyprint</p>")
    assert_one_line_error(client.post("/api/ask", files={"image": ("t.png", blurry_png((120, 90))[:300],
                                                                   "image/png")}), 422)
