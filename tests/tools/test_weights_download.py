"""Downloading and importing the official checkpoints, offline: a loopback server serves a checkpoint generated with
the official key layout ({'model': state_dict} of the zoo's MIMO-UNet), a corrupted file, a transfer cut off and
resumed, a 500, and a wrong-layout file."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from agent.errors import UsageError, WeightsError
from tests.conftest import DATA
from tests.tools.weights_server import WeightsServer, official_checkpoint
from tools.restoration import zoo
from tools.restoration.download import WeightsDownloadError, download, import_file
from tools.restoration.installed import MANIFEST, read_manifest, weights_table

MIMO = zoo.OFFICIAL_DOWNLOADS["MIMO-UNet"]


@pytest.fixture(scope="module")
def official_mimo() -> bytes:
    """A generated MIMO-UNet checkpoint in the authors' layout: the very keys and shapes of their file."""
    import torch

    data = official_checkpoint("MIMO-UNet")
    state = torch.load(io.BytesIO(data), weights_only=True)["model"]
    listed = [line.split(" (")[0] for line in (DATA / "official_keys_mimo_unet.txt").read_text().splitlines()]
    assert sorted(state) == sorted(listed)
    return data


@pytest.fixture
def server():
    with WeightsServer() as running:
        yield running


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "weights"


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _fetch(server, folder, **options):
    return download(MIMO, server.url("MIMO-UNet.pkl"), folder, timeout=10, **{"retries": 0, **options})


def _names(folder) -> set[str]:
    return {path.name for path in folder.iterdir()} if folder.is_dir() else set()


def test_a_download_is_verified_recorded_and_found_as_official(server, folder, official_mimo, monkeypatch):
    server.served.body = official_mimo
    seen = []
    installed = _fetch(server, folder, progress=lambda done, total: seen.append((done, total)))
    assert _names(folder) == {"MIMO-UNet.pkl", MANIFEST}  # no partial or staging file left
    assert installed.sha256 == hashlib.sha256(official_mimo).hexdigest() == read_manifest(folder)["MIMO-UNet.pkl"].sha256
    assert seen[-1] == (len(official_mimo), len(official_mimo))

    from agent.settings import get_settings
    from tools.restoration.engine import load_weights

    monkeypatch.setenv("CNAPS_HOME", str(folder.parent))
    get_settings.cache_clear()
    record = load_weights(zoo.lookup("Deblur-MIMO-UNet"), None).record
    assert record.provenance == "official" and record.file == str(folder / "MIMO-UNet.pkl")


def test_a_changed_file_is_refused_with_the_fix(server, folder, official_mimo, monkeypatch):
    server.served.body = official_mimo
    _fetch(server, folder)
    path = folder / "MIMO-UNet.pkl"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))  # same size, one byte different
    monkeypatch.setenv("CNAPS_HOME", str(folder.parent))
    from agent.settings import get_settings

    get_settings.cache_clear()
    with pytest.raises(WeightsError) as caught:
        zoo.locate_weights(zoo.lookup("MIMO-UNet"))
    assert "cnaps weights download MIMO-UNet" in str(caught.value) and "\n" not in str(caught.value)
    [row] = [row for row in weights_table(None) if row.model == "MIMO-UNet"]
    assert row.problem and row.path == str(path) and row.get == "cnaps weights download MIMO-UNet"


def test_a_corrupted_download_is_deleted_and_never_installed(server, folder, official_mimo):
    server.served.body = official_mimo[: len(official_mimo) // 3] + bytes(100)
    with pytest.raises(WeightsError) as caught:
        _fetch(server, folder)
    assert "cnaps weights import" in str(caught.value)
    assert _names(folder) == set()


def test_a_cut_transfer_keeps_only_a_partial_and_resumes(server, folder, official_mimo):
    cut = len(official_mimo) // 2
    server.served.body, server.served.cut_first_at = official_mimo, cut
    with pytest.raises(WeightsDownloadError) as caught:
        _fetch(server, folder)
    assert "cnaps weights import" in str(caught.value) and server.url("MIMO-UNet.pkl") in str(caught.value)
    [partial] = _names(folder)  # never the final name, nor the name lookup loads
    assert partial.startswith("MIMO-UNet.pkl.download") and partial.endswith(".part")
    kept = (folder / partial).stat().st_size
    assert 0 < kept <= cut  # whole 512 KiB chunks: the one the cut split is dropped
    installed = _fetch(server, folder)
    assert f"bytes={kept}-" in server.served.ranges  # the second run asked only for the rest
    assert installed.sha256 == hashlib.sha256(official_mimo).hexdigest()
    assert _names(folder) == {"MIMO-UNet.pkl", MANIFEST}


def test_a_server_error_names_the_browser_route_and_leaves_nothing(server, folder):
    server.served.status = 500
    with pytest.raises(WeightsDownloadError) as caught:
        _fetch(server, folder)
    message = str(caught.value)
    assert "500" in message and server.url("MIMO-UNet.pkl") in message
    assert "cnaps weights import FILE --model MIMO-UNet" in message
    assert not (folder / "MIMO-UNet.pkl").exists() and not list(folder.glob("*.part"))


def test_no_network_is_one_line_naming_the_url_and_the_import(folder):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/MIMO-UNet.pkl"
    with pytest.raises(WeightsDownloadError) as caught:
        download(MIMO, url, folder, timeout=5, retries=0)
    message = str(caught.value)
    assert url in message and "cnaps weights import" in message and "\n" not in message
    assert not (folder / "MIMO-UNet.pkl").exists()


def test_a_wrong_layout_file_is_refused(server, folder):
    server.served.body = official_checkpoint("test-mimo-unet")
    with pytest.raises(WeightsError) as caught:
        _fetch(server, folder)
    assert "missing" in str(caught.value) or "unexpected" in str(caught.value)
    assert _names(folder) == set()


def test_realblur_without_a_link_says_where_to_get_it(folder):
    with pytest.raises(WeightsDownloadError) as caught:
        download(zoo.OFFICIAL_DOWNLOADS["RealBlur"], None, folder)
    assert zoo.OFFICIAL_PAGE in str(caught.value) and "--model RealBlur" in str(caught.value)


def test_import_checks_the_file_and_keeps_the_original(tmp_path, folder, official_mimo):
    hand = tmp_path / "MIMO-UNet (1).pkl"  # a browser's name for a second copy: recognised by its network
    hand.write_bytes(official_mimo)
    installed = import_file(hand, folder)
    assert installed.download == "MIMO-UNet" and installed.how == "import" and hand.is_file()
    assert (folder / "MIMO-UNet.pkl").read_bytes() == official_mimo

    wrong = tmp_path / "MIMO-UNetPlus.pkl"
    wrong.write_bytes(official_mimo)  # MIMO-UNet's keys under MIMO-UNet+'s name
    with pytest.raises(WeightsError):
        import_file(wrong, folder)
    assert not (folder / "MIMO-UNetPlus.pkl").exists() and not list(folder.glob("*.import"))


def test_import_asks_which_checkpoint_when_two_share_a_network(tmp_path, folder, monkeypatch):
    downloads = {name: zoo.OfficialDownload(name=name, model_id="test-mimo-unet", file=f"{name}.pkl",
                                            trained_on="nothing") for name in ("TinyA", "TinyB")}
    monkeypatch.setattr(zoo, "OFFICIAL_DOWNLOADS", downloads)
    hand = tmp_path / "checkpoint.pkl"
    hand.write_bytes(official_checkpoint("test-mimo-unet"))
    with pytest.raises(UsageError) as caught:
        import_file(hand, folder)
    assert "--model TinyA" in str(caught.value) and "--model TinyB" in str(caught.value)
    assert import_file(hand, folder, "TinyB").file == "TinyB.pkl"


def test_lookup_order_weights_dir_then_installed_then_project(tmp_path, folder, official_mimo, monkeypatch):
    monkeypatch.setenv("CNAPS_HOME", str(folder.parent))
    from agent.settings import get_settings

    get_settings.cache_clear()
    entry = zoo.lookup("MIMO-UNet")
    assert zoo.locate_weights(entry).found_by == "project"
    hand = tmp_path / "MIMO-UNet.pkl"
    hand.write_bytes(official_mimo)
    import_file(hand, folder)
    assert zoo.locate_weights(entry).found_by == "installed"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "MIMO-UNet.pkl").write_bytes(official_mimo)
    assert zoo.locate_weights(entry, weights_dir=mine).found_by == "weights_dir"
    assert zoo.locate_weights(entry, hand, weights_dir=mine).found_by == "argument"


def test_listing_names_what_runs_and_how_to_get_the_official(tmp_path, folder, official_mimo, monkeypatch):
    monkeypatch.setenv("CNAPS_HOME", str(folder.parent))
    from agent.settings import get_settings

    get_settings.cache_clear()
    hand = tmp_path / "MIMO-UNet.pkl"
    hand.write_bytes(official_mimo)
    import_file(hand, folder)
    rows = {row.model: row for row in weights_table(None)}
    assert set(rows) == {entry.id for entry in zoo.user_models()}
    mimo = rows["MIMO-UNet"]
    assert (mimo.provenance, mimo.found_by, mimo.get) == ("official", "installed", None)
    assert mimo.sha256 == hashlib.sha256(official_mimo).hexdigest() and mimo.size == len(official_mimo)
    plus = rows["MIMO-UNet+"]
    assert plus.get == "cnaps weights download MIMO-UNet+" and plus.provenance != "official"
    assert json.loads(plus.model_dump_json())["model"] == "MIMO-UNet+"


@pytest.mark.parametrize("model, command", [
    ("Deblur-MIMO-UNet-Plus", "cnaps weights download MIMO-UNet+"),
    ("MIMO-UNet++", "cnaps weights download MIMO-UNet+"),
    ("deblur mimo unet", "cnaps weights download MIMO-UNet"),
    ("Deblur-MIMO-UNet-RealBlur", "cnaps weights download RealBlur"),
    ("test-mimo-unet", None),
    ("Restormer", None),
])
def test_install_command_names_the_download_for_each_model(model, command):
    assert zoo.install_command(model) == command


def test_the_summary_follows_what_is_installed(tmp_path, folder, official_mimo, monkeypatch):
    from tools.restoration.installed import installed_summary

    monkeypatch.setenv("CNAPS_HOME", str(folder.parent))
    monkeypatch.setattr(zoo, "PROJECT_WEIGHTS_DIR", tmp_path / "no-project-weights")
    from agent.settings import get_settings

    get_settings.cache_clear()
    assert installed_summary(None) == {"MIMO-UNet": "none", "MIMO-UNet+": "none", "RealBlur": "none"}
    hand = tmp_path / "MIMO-UNet.pkl"
    hand.write_bytes(official_mimo)
    import_file(hand, folder)
    assert installed_summary(None)["MIMO-UNet"] == "official"


def test_a_file_passed_with_weights_is_user_unless_it_bears_an_official_name(tmp_path, official_mimo):
    mine = tmp_path / "finetuned.pkl"
    mine.write_bytes(official_mimo)
    [row] = [row for row in weights_table(None, mine) if row.model == "MIMO-UNet"]
    assert (row.provenance, row.found_by, row.get) == ("user", "argument", "cnaps weights download MIMO-UNet")
    named = tmp_path / "MIMO-UNet.pkl"
    named.write_bytes(official_mimo)
    [row] = [row for row in weights_table(None, named) if row.model == "MIMO-UNet"]
    assert row.provenance == "official" and row.sha256 == hashlib.sha256(official_mimo).hexdigest()
    with pytest.raises(UsageError):
        weights_table(None, tmp_path / "absent.pkl")
