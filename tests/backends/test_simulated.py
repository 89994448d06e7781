"""The simulated model: deterministic, sized as asked, and honest about what it is."""

from __future__ import annotations

import asyncio
import time

import pytest

from wsllm.backends import Backend, CompletionRequest, create_backend
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


def _paced(ttft_ms: str, itl_ms: str, tokens: str) -> Backend:
    values = {"sim_ttft_ms": ttft_ms, "sim_itl_ms": itl_ms, "sim_tokens": tokens}
    return create_backend(load_settings(values, environ={}, env_file=None))


async def test_a_pumped_reply_is_the_same_reply_handed_out_on_the_models_clock() -> None:
    backend = _paced("30", "10", "8")
    request = CompletionRequest(input="pump me", model="m")
    start, seen = time.monotonic(), list[tuple[str, float]]()
    reply = backend.stream(request)
    await reply.pump(lambda delta: seen.append((delta, time.monotonic() - start)))
    assert [delta for delta, _ in seen] == simulated_tokens("pump me", 8)
    for index, (_, at) in enumerate(seen):  # token i is due at 30 + 10 i ms (a timer may be
        assert at >= 0.030 + 0.010 * index - 0.0011  # up to a millisecond early)
    assert reply.completion.usage == {"input_tokens": 2, "output_tokens": 8, "total_tokens": 10}


async def test_tokens_a_busy_server_could_not_take_on_time_come_at_once_and_keep_the_clock() -> (
    None
):
    backend = _paced("0", "10", "12")
    start, seen = time.monotonic(), list[float]()

    def take(delta: str) -> None:
        seen.append(time.monotonic() - start)
        if len(seen) == 2:
            time.sleep(0.05)  # the server is busy: tokens 2 to 6 fall due meanwhile

    await backend.stream(CompletionRequest(input="x", model="m")).pump(take)
    assert len(seen) == 12
    assert seen[6] - seen[2] < 0.005  # the overdue ones went together
    assert seen[11] < 0.110 + 0.030  # and the last kept its time: the schedule did not slip


async def test_a_full_speed_reply_lets_others_have_turns() -> None:
    backend = _paced("0", "0", "5000")
    turns = 0

    async def other() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    neighbour = asyncio.create_task(other())
    await asyncio.sleep(0)
    taken = turns_while = 0

    def take(delta: str) -> None:
        nonlocal taken, turns_while
        taken += 1
        turns_while = turns

    await backend.stream(CompletionRequest(input="fast", model="m")).pump(take)
    neighbour.cancel()
    assert taken == 5000
    assert turns_while > 10  # not one turn for 5000 tokens


async def test_a_stopped_pump_hands_out_nothing_more() -> None:
    backend = _paced("0", "5", "100")
    seen = list[str]()
    pump = asyncio.create_task(backend.stream(CompletionRequest(input="x", model="m")).pump(
        seen.append))  # fmt: skip
    await asyncio.sleep(0.03)
    pump.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pump
    stopped_at = len(seen)
    await asyncio.sleep(0.05)
    assert 0 < stopped_at < 100
    assert len(seen) == stopped_at


async def test_a_reader_that_fails_ends_the_reply_with_its_error() -> None:
    backend = _paced("0", "1", "50")
    seen = list[str]()

    def take(delta: str) -> None:
        seen.append(delta)
        if len(seen) == 3:
            raise ValueError("the reader broke")

    with pytest.raises(ValueError, match="the reader broke"):
        await backend.stream(CompletionRequest(input="x", model="m")).pump(take)
    await asyncio.sleep(0.02)
    assert len(seen) == 3
