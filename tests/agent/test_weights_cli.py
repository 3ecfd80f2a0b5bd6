"""`cnaps weights list / download / import`, run in-process against a loopback server (the download URLs are
settings: CNAPS_WEIGHTS__MIMO_UNET_URL)."""

from __future__ import annotations

import json
import socket

import pytest

from tests.tools.test_restore_cli import cnaps as run_cli
from tests.tools.weights_server import WeightsServer, official_checkpoint
from tools.restoration import zoo


@pytest.fixture(scope="module")
def official_mimo() -> bytes:
    return official_checkpoint("MIMO-UNet")


@pytest.fixture(autouse=True)
def _loopback(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("CNAPS_WEIGHTS__RETRIES", "0")
    monkeypatch.setenv("CNAPS_WEIGHTS__TIMEOUT", "10")


def cnaps(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    from agent.settings import get_settings

    get_settings.cache_clear()  # the settings these tests put in the environment
    return run_cli(monkeypatch, capsys, *args)


def _home(monkeypatch, tmp_path):
    monkeypatch.setenv("CNAPS_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "weights"


def test_download_says_where_files_come_from_installs_and_skips_a_second_time(tmp_path, monkeypatch, capsys,
                                                                              official_mimo):
    folder = _home(monkeypatch, tmp_path)
    with WeightsServer() as server:
        server.served.body = official_mimo
        monkeypatch.setenv("CNAPS_WEIGHTS__MIMO_UNET_URL", server.url("MIMO-UNet.pkl"))
        code, out, err = cnaps(monkeypatch, capsys, "weights", "download", "MIMO-UNet")
        assert code == 0, err
        assert zoo.OFFICIAL_PAGE in err and "license" in err  # said before anything is fetched
        assert (folder / "MIMO-UNet.pkl").read_bytes() == official_mimo
        requests_made = len(server.served.ranges)
        code, out, err = cnaps(monkeypatch, capsys, "weights", "download", "Deblur-MIMO-UNet")  # same checkpoint
        assert code == 0, err
        assert len(server.served.ranges) == requests_made  # verified on disk, not fetched again


def test_download_without_network_is_one_line_and_leaves_no_file(tmp_path, monkeypatch, capsys):
    folder = _home(monkeypatch, tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/MIMO-UNet.pkl"
    monkeypatch.setenv("CNAPS_WEIGHTS__MIMO_UNET_URL", url)
    code, out, err = cnaps(monkeypatch, capsys, "weights", "download", "MIMO-UNet")
    errors = [line for line in err.splitlines() if line.startswith("cnaps: error:")]
    assert code == 5 and len(errors) == 1 and "Traceback" not in err
    assert url in errors[0] and "cnaps weights import FILE --model MIMO-UNet" in errors[0]
    assert not (folder / "MIMO-UNet.pkl").exists()


def test_download_needs_names_or_all(monkeypatch, capsys):
    code, out, err = cnaps(monkeypatch, capsys, "weights", "download")
    assert code == 2 and "--all" in err
    code, out, err = cnaps(monkeypatch, capsys, "weights", "download", "Restormer")
    assert code == 2 and "MIMO-UNet+" in err


def test_import_then_list_shows_the_official_file_as_json(tmp_path, monkeypatch, capsys, official_mimo):
    folder = _home(monkeypatch, tmp_path)
    hand = tmp_path / "downloaded.pkl"
    hand.write_bytes(official_mimo)
    code, out, err = cnaps(monkeypatch, capsys, "weights", "import", hand, "--model", "MIMO-UNet")
    assert code == 0, err
    assert (folder / "MIMO-UNet.pkl").is_file()
    code, out, err = cnaps(monkeypatch, capsys, "weights", "list", "--format", "json")
    assert code == 0, err
    rows = {row["model"]: row for row in json.loads(out)}
    assert rows["MIMO-UNet"]["provenance"] == "official" and rows["MIMO-UNet"]["path"] == str(folder / "MIMO-UNet.pkl")
    assert rows["MIMO-UNet+"]["get"] == "cnaps weights download MIMO-UNet+"


def test_list_text_gives_the_command_for_what_is_missing(monkeypatch, capsys):
    code, out, err = cnaps(monkeypatch, capsys, "weights", "list")
    assert code == 0, err
    assert "cnaps weights download MIMO-UNet+" in out and "cnaps weights download RealBlur" in out


def test_import_of_a_wrong_layout_file_is_one_line(tmp_path, monkeypatch, capsys):
    folder = _home(monkeypatch, tmp_path)
    hand = tmp_path / "MIMO-UNet.pkl"
    hand.write_bytes(official_checkpoint("test-mimo-unet"))
    code, out, err = cnaps(monkeypatch, capsys, "weights", "import", hand)
    assert code == 5 and len(err.strip().splitlines()) == 1 and "MIMO-UNet" in err
    assert not (folder / "MIMO-UNet.pkl").exists()


def test_the_web_status_says_which_weights_are_installed(tmp_path, monkeypatch, capsys, official_mimo):
    from fastapi.testclient import TestClient

    from agent.settings import get_settings
    from agent.web.app import create_app
    from tests.web.scripted import ScriptedAsk

    _home(monkeypatch, tmp_path)
    hand = tmp_path / "MIMO-UNet.pkl"
    hand.write_bytes(official_mimo)
    assert cnaps(monkeypatch, capsys, "weights", "import", hand)[0] == 0
    get_settings.cache_clear()
    with TestClient(create_app(ask_fn=ScriptedAsk())) as client:
        weights = client.get("/healthz").json()["weights"]
    assert weights["MIMO-UNet"] == "official" and weights["MIMO-UNet+"] != "official"
