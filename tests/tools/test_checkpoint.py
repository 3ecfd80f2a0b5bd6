"""Checkpoints load safely and strictly; weights are found in zoo order and described honestly."""

from __future__ import annotations

import pickle

import pytest
import torch

from agent.errors import WeightsError
from tools.restoration import build_model, zoo
from tools.restoration.checkpoint import load_into, load_state, read_metadata, save_official, save_safetensors, sha256
from tools.restoration.engine import load_weights


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


def test_official_format_round_trip(tmp_path):
    model = build_model("MIMO-UNet")
    path = tmp_path / "MIMO-UNet.pkl"
    save_official(model, path)
    raw = torch.load(path, weights_only=True)
    assert list(raw) == ["model"] and list(raw["model"]) == list(model.state_dict())
    fresh = build_model("MIMO-UNet")
    load_into(fresh, load_state(path), strict=True)
    _assert_same_weights(model, fresh)


@pytest.mark.parametrize("wrap", ["bare", "state_dict", "module", "compiled"])
def test_wrappers_and_prefixes_are_unwrapped(tmp_path, wrap):
    model = build_model("test-mimo-unet")
    state = model.state_dict()
    payload = {
        "bare": state,
        "state_dict": {"state_dict": state, "epoch": 3},
        "module": {"model": {f"module.{k}": v for k, v in state.items()}},
        "compiled": {f"_orig_mod.module.{k}": v for k, v in state.items()},
    }[wrap]
    path = tmp_path / "weights.pth"
    torch.save(payload, path)
    fresh = build_model("test-mimo-unet")
    load_into(fresh, load_state(path))
    _assert_same_weights(model, fresh)


def test_safetensors_round_trip_fp16_with_metadata(tmp_path):
    model = build_model("test-mimo-unet")
    path = tmp_path / "w.safetensors"
    save_safetensors(model, path, {"cnaps_provenance": "project", "description": "d"})
    state = load_state(path)
    assert all(t.dtype == torch.float16 for t in state.values())
    assert read_metadata(path) == {"cnaps_provenance": "project", "description": "d"}
    fresh = build_model("test-mimo-unet")
    load_into(fresh, state)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value.half().float(), rtol=0, atol=0)


def test_mismatch_lists_missing_and_unexpected_keys():
    state = dict(build_model("test-mimo-unet").state_dict())
    del state["SCM1.conv.main.0.bias"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError) as caught:
        load_into(build_model("test-mimo-unet"), state)
    message = str(caught.value)
    assert "1 missing: SCM1.conv.main.0.bias" in message and "1 unexpected: extra.weight" in message
    assert "\n" not in message


def test_wrong_network_reports_counts_and_first_keys():
    with pytest.raises(WeightsError) as caught:
        load_into(build_model("MIMO-UNet"), build_model("MIMO-UNet+").state_dict())
    message = str(caught.value)
    assert "288 unexpected: Encoder.0.layers.8" in message and "(+283 more)" in message


class _Payload:
    ran = False

    def __reduce__(self):
        return (_mark_ran, ())


def _mark_ran():
    _Payload.ran = True
    return {}


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_arbitrary_pickles_are_refused_unexecuted(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"model": _Payload()}))
    with pytest.raises(WeightsError, match="holds Python objects besides tensors") as caught:
        load_state(path)
    assert _Payload.ran is False and "Weights only load failed" not in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint"])
def test_broken_files_give_one_line_errors(tmp_path, content):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as caught:
        load_state(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(WeightsError, match="does not exist"):
        load_state(tmp_path / "absent.pkl")


@pytest.mark.parametrize("name, content, reason", [
    ("text.pth", b"hello world\n", "it is not a PyTorch checkpoint"),
    ("zip.pth", b"PK\x03\x04" + bytes(100), "it is not a PyTorch checkpoint"),
    ("empty.pth", b"", "the file is empty"),
    ("cut.pth", b"\x80\x02}q\x00", "the file is cut short"),
    ("bad.safetensors", bytes(50), "not a valid .safetensors file"),
])
def test_bad_weights_say_what_is_wrong_in_words(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(WeightsError) as caught:
        load_state(tmp_path / name)
    message = str(caught.value)
    assert reason in message and "pass an official MIMO-UNet checkpoint" in message
    assert "(101)" not in message and "PytorchStreamReader" not in message and "deserializing" not in message


def test_official_file_in_weights_dir_is_official(tmp_path, monkeypatch):
    save_official(build_model("MIMO-UNet"), tmp_path / "MIMO-UNet.pkl")
    monkeypatch.setenv("CNAPS_WEIGHTS_DIR", str(tmp_path))
    from agent.settings import get_settings

    get_settings.cache_clear()
    loaded = load_weights(zoo.lookup("Deblur-MIMO-UNet"), None)
    assert loaded.record.provenance == "official"
    assert "GoPro" in loaded.record.description
    assert loaded.record.sha256 == sha256(tmp_path / "MIMO-UNet.pkl")


def test_official_name_on_wrong_network_fails_instead_of_claiming_official(tmp_path):
    fake = tmp_path / "MIMO-UNet.pkl"
    save_official(build_model("test-mimo-unet"), fake)
    with pytest.raises(WeightsError, match="does not match"):
        load_weights(zoo.lookup("MIMO-UNet"), fake)


def test_explicit_unknown_file_is_user_and_project_metadata_is_project(tmp_path, tiny_weights):
    assert load_weights(zoo.lookup("test-mimo-unet"), tiny_weights).record.provenance == "user"
    project = tmp_path / "mine.safetensors"
    save_safetensors(build_model("test-mimo-unet"), project,
                     {"cnaps_provenance": "project", "description": "Trained by cnaps on synthetic blur."})
    record = load_weights(zoo.lookup("test-mimo-unet"), project).record
    assert (record.provenance, record.description) == ("project", "Trained by cnaps on synthetic blur.")


def test_shipped_project_weights_are_found_last(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "PROJECT_WEIGHTS_DIR", tmp_path)
    save_safetensors(build_model("test-mimo-unet"), tmp_path / "test-mimo-unet.safetensors",
                     {"cnaps_provenance": "project", "description": "Shipped."})
    record = load_weights(zoo.lookup("test-mimo-unet"), None).record
    assert record.provenance == "project" and record.description == "Shipped."


def test_no_weights_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "PROJECT_WEIGHTS_DIR", tmp_path)
    with pytest.raises(WeightsError) as caught:
        load_weights(zoo.lookup("Deblur-MIMO-UNet-Plus"), None)
    message = str(caught.value)
    assert "MIMO-UNetPlus.pkl" in message and "CNAPS_WEIGHTS_DIR" in message and "--weights" in message


def test_an_unreadable_weights_file_says_it_cannot_be_read(tmp_path):
    from tools.restoration.checkpoint import load_failure

    path = tmp_path / "w.pkl"
    path.write_bytes(b"x" * 64)
    reason = load_failure(path, PermissionError(13, "Permission denied"))
    assert reason == "the file cannot be read (Permission denied)"  # not "it is not a PyTorch checkpoint"


def test_metadata_update_keeps_the_tensors_and_merges_the_keys(tmp_path):
    from tools.restoration.checkpoint import load_state, update_metadata

    path = tmp_path / "w.safetensors"
    model = build_model("test-mimo-unet")
    save_safetensors(model, path, {"cnaps_provenance": "project", "description": "d"})
    before = load_state(path)
    assert update_metadata(path, {"real_photo_gain_db": '{"x2": 0.5}'})["description"] == "d"
    assert read_metadata(path) == {"cnaps_provenance": "project", "description": "d",
                                   "real_photo_gain_db": '{"x2": 0.5}'}
    after = load_state(path)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(WeightsError, match="safetensors"):
        update_metadata(tmp_path / "w.pt", {})
