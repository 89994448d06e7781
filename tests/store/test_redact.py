"""What redaction takes out of a config before it is stored, and what it leaves."""

from __future__ import annotations

from typing import Any

import pytest

from wsllm.store.redact import REDACTED, redact, redact_json


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"env": {"A": "x", "B": 3, "C": "{{ env.D }}"}},
            {"env": {"A": REDACTED, "B": REDACTED, "C": "{{ env.D }}"}},
        ),
        (
            {"headers": {"Authorization": "Bearer abc"}},
            {"headers": {"Authorization": f"Bearer {REDACTED}"}},
        ),
        (
            {"headers": {"authorization": "Basic dXNlcjpwYXNz"}},
            {"headers": {"authorization": f"Basic {REDACTED}"}},
        ),
        ({"headers": {"Cookie": "a=b"}}, {"headers": {"Cookie": REDACTED}}),
        ({"headers": {"X-Api-Key": "k1"}}, {"headers": {"X-Api-Key": REDACTED}}),
        ({"headers": {"X-Goog-Api-Key": "k1"}}, {"headers": {"X-Goog-Api-Key": REDACTED}}),
        (
            {"headers": {"Authorization": "Bearer {{ env.TOKEN }}"}},
            {"headers": {"Authorization": "Bearer {{ env.TOKEN }}"}},
        ),
        ({"headers": {"Accept": "text/plain"}}, {"headers": {"Accept": "text/plain"}}),
        ({"apiKey": "sk-abc"}, {"apiKey": REDACTED}),
        ({"apiKeyEnvar": "ANTHROPIC_API_KEY_NAME"}, {"apiKeyEnvar": "ANTHROPIC_API_KEY_NAME"}),
        ({"client_secret": "s"}, {"client_secret": REDACTED}),
        ({"password": 123456}, {"password": REDACTED}),
        ({"session_token": "abcdefghijklmnopqrstu"}, {"session_token": REDACTED}),
        ({"key": "question"}, {"key": "question"}),
        ({"vars": {"author": "Jane Doe"}}, {"vars": {"author": "Jane Doe"}}),
        ({"value": "use sk-proj-abcdefghijklmnop0123 here"}, {"value": f"use {REDACTED} here"}),
        (
            {"value": "curl -H 'Authorization: Bearer abcdefghijkl0123'"},
            {"value": f"curl -H 'Authorization: Bearer {REDACTED}'"},
        ),
        ({"id": "wss://u:pa55word@host/ws"}, {"id": f"wss://u:{REDACTED}@host/ws"}),
        (
            {"id": "wss://host:8443/ws?api_key=abc&x=1"},
            {"id": f"wss://host:8443/ws?api_key={REDACTED}&x=1"},
        ),
        ({"id": "ws://localhost:3300/ws-stream"}, {"id": "ws://localhost:3300/ws-stream"}),
        (
            {"tests": [{"vars": {"q": "AKIAABCDEFGHIJKLMNOP"}}]},
            {"tests": [{"vars": {"q": REDACTED}}]},
        ),
    ],
)
def test_redact(given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert redact(given) == expected


def test_redact_returns_a_copy_and_leaves_the_config_alone() -> None:
    config = {"env": {"KEY": "secret"}}
    redact(config)
    assert config == {"env": {"KEY": "secret"}}


def test_stored_text_that_is_not_json_is_left_as_it_is() -> None:
    assert redact_json("not json") == "not json"
    assert redact_json(None) is None
    assert redact_json('{"env": {"A": "b"}}') == '{"env": {"A": "[redacted]"}}'
