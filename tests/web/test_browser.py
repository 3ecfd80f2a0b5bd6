"""The chat page in a real headless Chromium: upload, ask, watch the answer and the restored image, download the
report, follow up. Skips when /usr/bin/chromium or Playwright is missing (`.ci/run` installs both)."""

from __future__ import annotations

import base64
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.web.scripted import ScriptedAsk, blurry_png

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser

QUESTION = 'I upscaled this by 2x <script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2"> how?'


@pytest.fixture
def live_server():
    """The app on a free loopback port, in a thread, with the scripted answer engine."""
    uvicorn = pytest.importorskip("uvicorn")
    from agent.settings import get_settings
    from agent.web.app import create_app

    get_settings.cache_clear()
    scripted = ScriptedAsk()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(ask_fn=scripted), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", scripted
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        context = browser.new_context(viewport={"width": 1360, "height": 960}, accept_downloads=True)
        yield context.new_page()
        browser.close()


def test_upload_ask_restore_download_and_follow_up(live_server, page, tmp_path):
    base, scripted = live_server
    image = tmp_path / "blurry.png"
    image.write_bytes(blurry_png((180, 120)))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    failed: list[str] = []
    # Chromium sometimes reports a fully read streamed fetch as ERR_ABORTED; the page's own status (below)
    # tells whether the stream really broke.
    page.on("requestfailed", lambda request: None if request.url.endswith("/api/ask/stream")
            else failed.append(f"{request.url} {request.failure}"))

    page.goto(base + "/")
    page.wait_for_selector("#card-select option", state="attached")
    # Drop the file on the drop zone the way a browser does: a DataTransfer holding a File.
    page.evaluate("""([name, b64]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type: "image/png" }));
        const zone = document.querySelector("#drop");
        zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }""", [image.name, base64.b64encode(image.read_bytes()).decode()])
    page.wait_for_selector("#drop-full:not(.hidden)")
    assert "blurry.png" in page.inner_text("#drop-name")
    page.select_option("#scale", "2")
    page.fill("#question", QUESTION)
    page.click("#send")

    page.wait_for_selector(".msg.assistant .answer:not(.hidden)", timeout=60_000)
    page.wait_for_function("() => { const imgs = [...document.querySelectorAll('.compare img')];"
                           " return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0); }",
                           timeout=30_000)
    assert page.eval_on_selector(".compare img.after", "i => i.naturalWidth") == 360  # 180 px x 2
    assert page.locator(".msg.user").first.inner_text().startswith("I upscaled this by 2x <script>")
    assert page.evaluate("() => window.__pwned") is None and dialogs == []
    assert [" ".join(t.split()) for t in page.locator(".answer h3").all_inner_texts()] == [
        "1 Task", "2 Workflow", "3 References"]
    assert page.locator(".crop img").count() >= 2
    assert page.locator(".refs a").count() >= 1
    hrefs = page.eval_on_selector_all(".refs a", "links => links.map(a => a.href)")
    assert all(href.startswith(("http://", "https://")) for href in hrefs)

    page.locator(".compare input[type=range]").fill("20")
    assert page.eval_on_selector(".compare", "c => c.style.getPropertyValue('--pos')") == "20%"

    with page.expect_download() as download_info:
        page.click(".downloads a.main")
    report = tmp_path / "report.html"
    download_info.value.save_as(report)
    text = report.read_text(encoding="utf-8")
    assert "CNAPS report" in text and "data:image/png;base64," in text and "<script>window" not in text

    page.fill("#question", "And what data did its weights learn from?")
    page.click("#send")
    page.wait_for_function("() => document.querySelectorAll('.msg.assistant .answer:not(.hidden)').length === 2",
                           timeout=60_000)
    assert scripted.calls[1]["history"][0] == ("user", QUESTION)
    assert scripted.calls[1]["image"] is None

    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert failed == []
    statuses = page.locator(".msg.assistant .status-text").all_inner_texts()
    assert len(statuses) == 2 and all(status.startswith("Answered in") for status in statuses), statuses
    assert page.locator(".msg.error").count() == 0


DROP = """([name, b64, type]) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type }));
    const zone = document.querySelector("#drop");
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
}"""


def _drop(page, name: str, data: bytes, media_type: str = "image/png") -> None:
    page.evaluate(DROP, [name, base64.b64encode(data).decode(), media_type])


def test_a_file_that_is_not_an_image_is_refused_in_the_page_before_sending(live_server, page, tmp_path):
    base, scripted = live_server
    asks: list[str] = []
    page.on("request", lambda request: asks.append(request.url) if "/api/ask" in request.url else None)
    page.goto(base + "/")
    page.wait_for_selector("#card-select option", state="attached")

    _drop(page, "holiday.png", b"this is a text file, not a picture\n" * 20)  # a picture's name and type, no picture
    page.wait_for_selector("#drop-error:not(.hidden)")
    assert "holiday.png" in page.inner_text("#drop-error")
    assert page.locator("#drop-full.hidden").count() == 1  # nothing attached
    broken = "() => [...document.images].filter(i => i.getAttribute('src') && i.complete && !i.naturalWidth).length"
    assert page.evaluate(broken) == 0

    page.fill("#question", "How does it deblur?")
    page.click("#send")
    page.wait_for_selector(".msg.assistant .answer:not(.hidden)", timeout=60_000)
    assert scripted.calls[-1]["image"] is None  # the question went without the file
    assert page.evaluate(broken) == 0 and len(asks) == 1

    _drop(page, "real.png", blurry_png((90, 60)))  # a real picture clears the message and attaches
    page.wait_for_selector("#drop-full:not(.hidden)")
    assert page.locator("#drop-error.hidden").count() == 1
    assert page.eval_on_selector("#drop-thumb", "i => i.complete && i.naturalWidth") == 90


def test_the_queue_chip_is_refreshed_after_an_answer(live_server, page, tmp_path):
    base, scripted = live_server
    scripted.gate = threading.Event()  # holds the restoration, so the queue has a job in it
    page.goto(base + "/")
    page.wait_for_selector("#card-select option", state="attached")
    _drop(page, "blurry.png", blurry_png((90, 60)))
    page.wait_for_selector("#drop-full:not(.hidden)")
    page.fill("#question", "sharpen this")
    page.click("#send")
    assert scripted.started.acquire(timeout=30)
    page.evaluate("checkHealth()")  # the page's own poll, landing while the job runs
    page.wait_for_function("() => document.querySelector('#health').textContent.includes('queue 1/')")
    scripted.gate.set()
    page.wait_for_selector(".msg.assistant .answer:not(.hidden)", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#health').textContent.includes('queue 0/')",
                           timeout=5_000)  # well before the next 15 s poll
