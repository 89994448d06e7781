"""The simulated model: deterministic, sized as asked, and honest about what it is."""

from __future__ import annotations

from wsllm.backends import CompletionRequest, create_backend
from wsllm.backends.simulated import simulated_tokens
from wsllm.settings import load_settings


def test_the_same_input_always_gets_the_same_reply() -> None:
    assert simulated_tokens("What is 2+2?", 40) == simulated_tokens("What is 2+2?", 40)
    assert simulated_tokens("What is 2+2?", 40) != simulated_tokens("What is 3+3?", 40)


def test_the_reply_quotes_the_input_and_has_the_length_asked() -> None:
    for count in (1, 4, 5, 48, 300):
        tokens = simulated_tokens("Hello   there\\nfriend", count)
        assert len(tokens) == count
    text = "".join(simulated_tokens("Hello there", 30))
    assert text.startswith('Simulated reply to "Hello there":')
    assert text.endswith(".")
    assert simulated_tokens("anything", 0) == []


def test_long_inputs_are_shortened_in_the_quote() -> None:
    text = "".join(simulated_tokens("word " * 100, 6))
    assert "..." in text
    assert len(text) < 200


async def test_the_backend_streams_the_reply_then_reports_its_usage() -> None:
    settings = load_settings({"sim_ttft_ms": "0", "sim_itl_ms": "0"}, environ={}, env_file=None)
    backend = create_backend(settings)
    assert backend.name == "simulated"
    assert "not a real model" in backend.description
    request = CompletionRequest(input="stream me", model="m")
    reply = backend.stream(request)
    assert reply.completion.usage is None  # known only once the stream has ended
    streamed = [delta async for delta in reply]
    assert streamed == simulated_tokens("stream me", settings.sim_tokens)
    assert reply.completion.usage == {"input_tokens": 2, "output_tokens": 48, "total_tokens": 50}
    assert await backend.stream(request).text() == "".join(streamed)


def test_later_turns_say_so() -> None:
    first = "".join(simulated_tokens("hi", 8))
    third = "".join(simulated_tokens("hi", 8, turn=3))
    assert '"hi":' in first
    assert '"hi" (turn 3):' in third
