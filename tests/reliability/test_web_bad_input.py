"""The web API against the generated corpus: a 4xx with a one-line JSON error, and nothing written anywhere but
the server's output folder.

Uploads are checked before the answer engine runs, so most cases use the web tests' scripted engine; the cases
that must see real answers (escaping, real restorations of odd images) run the real `agent.ask.ask` with the
card-text store stand-in and the tiny network.
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest
from PIL import Image

from tests.reliability.corpus import (
    BAD_IMAGES,
    EVIL,
    ODD_IMAGES,
    SCRIPT,
    card_text,
    digest_tree,
    files_under,
    has_fix,
    links_in,
    rgb_png,
)
from tests.web.scripted import ScriptedAsk

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_client(monkeypatch, _isolated_home):
    """TestClient around the real app; keyword arguments become CNAPS_ settings; `ask` replaces the engine."""
    from fastapi.testclient import TestClient

    from agent.settings import get_settings
    from agent.web.app import create_app

    clients = []

    def build(ask=None, ask_options=None, **env: object) -> TestClient:
        for key, value in env.items():
            monkeypatch.setenv(f"CNAPS_{key}", str(value))
        get_settings.cache_clear()
        client = TestClient(create_app(ask_fn=ask, ask_options=ask_options))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def scripted() -> ScriptedAsk:
    return ScriptedAsk()


@pytest.fixture
def home(_isolated_home) -> Path:
    return _isolated_home


def output_dir() -> Path:
    from agent.settings import get_settings

    return get_settings().output_dir


def outside_outputs(home: Path) -> dict[str, str]:
    """Every file under the server's home except its output folder (the only place it may write)."""
    return {name: digest for name, digest in digest_tree(home).items() if not name.startswith("outputs")}


def assert_json_error(response, statuses: tuple[int, ...]) -> str:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    detail = body["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail and "Traceback" not in detail
    assert has_fix(detail), detail
    return detail


# --- images -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/api/ask", "/api/ask/stream"])
def test_bad_images_are_refused_before_any_work(route, corpus, make_client, scripted, home):
    client = make_client(ask=scripted)
    before = outside_outputs(home)
    for case in BAD_IMAGES:
        path = corpus.images[case.name]
        response = client.post(route, data={"question": "sharpen this"},
                               files={"image": (path.name, path.read_bytes(), "image/png")})
        assert_json_error(response, (413, 415, 422))
    assert scripted.calls == []
    assert files_under(output_dir()) == []
    assert outside_outputs(home) == before


def test_odd_images_restore_for_real_through_the_api(corpus, make_client, home, tiny_weights, offline_store):
    client = make_client(ask_options={"model": "test-mimo-unet", "weights": tiny_weights, "device": "cpu",
                                      "llm": "none"})
    before = outside_outputs(home)
    for case in ODD_IMAGES:
        path = corpus.images[case.name]
        response = client.post("/api/ask", data={"question": "Please deblur this photo."},
                               files={"image": (path.name, path.read_bytes(), "application/octet-stream")})
        assert response.status_code == 200, (case.name, response.text[:300])
        run = response.json()["restoration"]
        assert tuple(run["output_size"]) == case.size, case.name
        restored = client.get(run["image_url"])
        assert restored.status_code == 200
        assert Image.open(io.BytesIO(restored.content)).size == case.size
        assert "/" not in (run["image_path"] or "") and "/" not in run["weights"]["file"]  # no server paths
    assert outside_outputs(home) == before
    assert not [p for p in files_under(output_dir()) if p.name.endswith((".partial", ".tmp"))]


# --- size and type ----------------------------------------------------------------------------------------------


def test_oversized_uploads_are_413(make_client, scripted):
    client = make_client(ask=scripted, SERVER__MAX_UPLOAD_BYTES=4096, SERVER__MAX_CARD_BYTES=2048)
    big = rgb_png(120, 90)  # ~32 KB of noise
    assert len(big) > 4096 * 2
    assert_json_error(client.post("/api/ask", files={"image": ("big.png", big, "image/png")}), (413,))
    assert_json_error(client.post("/api/ask", data={"card": card_text() + "x" * 3000}), (413,))
    assert_json_error(client.post("/api/ask", files={"card": ("card.txt", (card_text() + "y" * 3000).encode(),
                                                             "text/plain")}), (413,))
    assert_json_error(client.post("/api/ask", content=b"z" * 200_000,
                                  headers={"content-type": "multipart/form-data; boundary=x"}), (413,))
    assert scripted.calls == [] and files_under(output_dir()) == []


@pytest.mark.parametrize("kwargs", [
    {"json": {"question": "q"}},
    {"content": b"question=q", "headers": {"content-type": "text/plain"}},
    {"content": b"\x89PNG\r\n\x1a\n", "headers": {"content-type": "image/png"}},
    {"content": b"<q>hi</q>", "headers": {"content-type": "application/xml"}},
    {"data": {"image": "this is text, not a file"}},
])
def test_wrong_content_type_is_415(kwargs, make_client, scripted):
    client = make_client(ask=scripted)
    assert_json_error(client.post("/api/ask", **kwargs), (415,))
    assert scripted.calls == []


def test_declared_type_and_name_are_ignored_the_bytes_decide(make_client, scripted):
    client = make_client(ask=scripted)
    gif = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(gif, format="GIF")
    response = client.post("/api/ask", files={"image": ("photo.exe", gif.getvalue(), "application/x-msdownload")})
    assert response.status_code == 200, response.text
    assert Path(scripted.calls[0]["image"]).name == "input.gif"


# --- path traversal ---------------------------------------------------------------------------------------------


def test_traversal_in_file_names_and_ids_writes_nothing_outside(make_client, scripted, home, tmp_path):
    client = make_client(ask=scripted)
    marker = f"pwned-{uuid.uuid4().hex[:8]}"
    before = outside_outputs(home)
    names = [f"../../../../{marker}.png", f"..\\..\\..\\{marker}.png", f"/tmp/{marker}.png",
             f"%2e%2e%2f%2e%2e%2f{marker}.png", f"{marker}\x00.png", f"./././{marker}.png"]
    for name in names:
        response = client.post("/api/ask", files={"image": (name, rgb_png(), "image/png"),
                                                  "card": (f"../../{marker}.txt", card_text().encode(), "text/plain")})
        assert response.status_code in (200, 400, 415, 422), (name, response.status_code)
    for field, value in (("session_id", f"../../{marker}"), ("card_name", f"../../../{marker}"),
                         ("card_name", "../../agent/cards.py"), ("session_id", "A" * 22)):
        response = client.post("/api/ask", data={field: value})
        assert_json_error(response, (404, 422))
    for url in (f"/api/runs/..%2F..%2F{marker}/input", f"/api/runs/{'B' * 22}/..%2F..%2Frun.json",
                f"/api/runs/{'C' * 22}/report.html", "/api/cards/..%2F..%2Fsettings", f"/api/cards/{marker}"):
        response = client.get(url)
        assert response.status_code in (404, 400, 405), url
    assert outside_outputs(home) == before
    for root in (home.parent, tmp_path.parent, REPO, Path("/tmp"), REPO.parent):
        assert not list(root.glob(f"*{marker}*")), root
    stored = {p.name for p in files_under(output_dir())}
    assert not any(marker in name for name in stored), stored


# --- script in every text field ---------------------------------------------------------------------------------


def test_script_in_every_text_field_is_escaped(make_client, offline_store, home):
    client = make_client(ask_options={"llm": "none"})
    card = card_text(question=f"{SCRIPT} how does it deblur my 2x photo?", model=f"Deblur-MIMO-UNet {SCRIPT}",
                     related=f"Paper {SCRIPT}", summary=f"Summary {SCRIPT} cites {EVIL}")
    response = client.post("/api/ask", data={"question": f"{SCRIPT} 2x sharper please?", "card": card})
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert EVIL not in response.text
    links = links_in(response.text)
    assert all(link.startswith(("https://", "http://")) for link in links), links
    from tests.web.test_api import markdown_bundle

    html_report = client.get(data["report_urls"]["html"])
    bundle = client.get(data["report_urls"]["md"])
    assert html_report.status_code == bundle.status_code == 200
    markdown, _ = markdown_bundle(bundle.content)
    assert EVIL not in html_report.text and EVIL not in markdown
    assert "<script>alert" not in html_report.text
    raw_tags = re.findall(r"(?<!\\)<(?!https?://)[A-Za-z/!]", markdown)  # Markdown escapes '<' as '\<'
    assert raw_tags == [], raw_tags
    html = client.get(data["report_urls"]["html"])
    assert "&lt;script&gt;" in html.text
    assert "script-src" not in html.headers.get("content-security-policy", "default-src 'none'")
    hrefs = re.findall(r'href="([^"]*)"', html.text)
    assert all(h.startswith(("https://", "http://", "#")) for h in hrefs), hrefs
    # Text fields that are refused must come back as JSON, never as an HTML page that echoes them.
    for fields in ({"session_id": SCRIPT}, {"card_name": SCRIPT}, {"scale": SCRIPT},
                   {"card": SCRIPT}):
        assert_json_error(client.post("/api/ask", data=fields), (400, 404, 422))
    upload = client.post("/api/ask", files={"card": (f"{SCRIPT}.txt", card.encode(), "text/plain")})
    assert upload.status_code == 200 and upload.headers["content-type"].startswith("application/json")
    missing = client.get(f"/api/cards/{SCRIPT}")
    assert missing.status_code == 404 and not missing.headers["content-type"].startswith("text/html")


def test_answer_markdown_field_carries_no_raw_html(make_client, offline_store):
    client = make_client(ask_options={"llm": "none"})
    card = card_text(question=f"{SCRIPT} deblur?", model=f"Deblur-MIMO-UNet {SCRIPT}", related=f"Paper {SCRIPT}")
    markdown = client.post("/api/ask", data={"card": card}).json()["markdown"]
    assert re.findall(r"(?<!\\)<(?!https?://)[A-Za-z/!]", markdown) == []


def test_a_cut_short_form_or_a_repeated_field_is_400_not_a_silently_dropped_question(make_client, scripted):
    client = make_client(ask=scripted)
    cut = (b"--XYZ\r\nContent-Disposition: form-data; name=\"question\"\r\n\r\nWhat is FAM?\r\n")  # no "--XYZ--"
    response = client.post("/api/ask", content=cut, headers={"content-type": "multipart/form-data; boundary=XYZ"})
    assert "cut short" in assert_json_error(response, (400,))
    twice = client.post("/api/ask", files=[("question", (None, "What is FAM?")), ("question", (None, "What is AFF?"))])
    assert "2 'question' fields" in assert_json_error(twice, (400,))
    assert scripted.calls == []
    whole = client.post("/api/ask", files=[("question", (None, "What is FAM?"))])
    assert whole.status_code == 200 and scripted.calls  # a well-formed form still goes through
