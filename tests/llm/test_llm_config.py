"""Endpoint configuration from Settings: which endpoint, how bounded, and the key kept out of sight."""

from __future__ import annotations

import pytest
from conftest import SECRET
from fake_openai import Reply

from agent.errors import LLMError
from agent.llm import PLACEHOLDER_KEY, cap_field, chat_model, describe_failure, redact
from agent.llm import endpoint as configured_endpoint
from agent.settings import get_settings


def test_no_endpoint_is_an_error_with_the_fix():
    with pytest.raises(LLMError, match="set OPENAI_API_KEY .* or OPENAI_BASE_URL"):
        configured_endpoint()


def test_settings_reach_the_chat_model(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("CNAPS_LLM_MODEL", "gpt-test")
    monkeypatch.setenv("CNAPS_LLM__TIMEOUT", "12.5")
    monkeypatch.setenv("CNAPS_LLM__RETRIES", "3")
    monkeypatch.setenv("CNAPS_LLM__MAX_TOKENS", "77")
    get_settings.cache_clear()
    model = chat_model()
    assert model.model_name == "gpt-test" and model.request_timeout == 12.5 and model.max_retries == 3
    assert model.extra_body == {"max_tokens": 77} and model.max_tokens is None  # not max_completion_tokens
    point = configured_endpoint()
    assert point.describe() == "model gpt-test at api.openai.com"
    for text in (repr(model), str(model), repr(point), repr(get_settings())):
        assert SECRET not in text


@pytest.mark.parametrize("url", ["http://[::1", "https://[zz]/v1", "http://]/", "not a url", "localhost:8000/v1"])
def test_a_malformed_base_url_is_named_not_a_crash(monkeypatch, url):
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    get_settings.cache_clear()
    with pytest.raises(LLMError, match=r"OPENAI_BASE_URL is not an http\(s\) URL: set it to the endpoint.s address "
                                       r"\(http or https, host, port and the /v1 path\)"):
        configured_endpoint()


def test_reasoning_models_get_the_field_they_accept():
    assert cap_field("gpt-4o-mini") == cap_field("gemma-3-270m") == cap_field("llama3.1") == "max_tokens"
    assert cap_field("o3-mini") == cap_field("gpt-5") == "max_completion_tokens"


def test_defaults_match_the_issue():
    llm = get_settings().llm
    assert (llm.timeout, llm.retries) == (60.0, 2)


def test_local_server_needs_no_key(endpoint, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    get_settings.cache_clear()
    endpoint.add(Reply.text("hello"))
    assert "".join(str(c.content) for c in chat_model().stream("hi")) == "hello"
    assert endpoint.headers[0]["authorization"] == f"Bearer {PLACEHOLDER_KEY}"
    assert endpoint.requests[0]["max_tokens"] == 321


def test_redact_and_describe_never_show_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    get_settings.cache_clear()
    assert redact(f"bad key {SECRET}!") == "bad key ***!"
    assert redact("Authorization: Bearer sk-other") == "Authorization: Bearer ***"
    assert SECRET not in describe_failure(RuntimeError(f"echo {SECRET}"))
