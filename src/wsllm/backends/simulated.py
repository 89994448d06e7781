"""A built-in stand-in model: deterministic text derived from the input, with tunable pacing."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncGenerator

from wsllm.backends.base import CompletionRequest
from wsllm.settings import Settings

_SENTENCES = (
    "This answer comes from the simulated model, so it works offline.",
    "Each word arrives in its own delta frame, just as a real model streams tokens.",
    "The pace of the stream is set by the server's settings, not by any model.",
    "Set OPENAI_API_KEY or pick another backend to hear from a real model.",
    "Streaming lets a reader start on the answer before it is finished.",
    "The same question always gets the same words, which keeps tests repeatable.",
    "Time to first token and the gaps between tokens are what users feel.",
    "A full message frame follows the last delta, then a done frame.",
)


def simulated_tokens(text: str, count: int) -> list[str]:
    """The reply to `text`: it quotes the input, then sentences in an order seeded by it."""
    if count <= 0:
        return []
    quoted = " ".join(text.split())
    if len(quoted) > 60:
        quoted = quoted[:57] + "..."
    tokens = ["Simulated", " reply", " to", f' "{quoted}":']
    rng = random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))
    order = list(_SENTENCES)
    while len(tokens) < count:
        rng.shuffle(order)
        tokens += [" " + word for sentence in order for word in sentence.split()]
    tokens = tokens[:count]
    if not tokens[-1].endswith((".", ":")):
        tokens[-1] += "."
    return tokens


class SimulatedBackend:
    """Not a real model: text and timing are synthetic, for offline runs, demos and load tests."""

    name = "simulated"

    def __init__(self, settings: Settings) -> None:
        self._ttft = settings.sim_ttft_ms / 1000
        self._itl = settings.sim_itl_ms / 1000
        self._tokens = settings.sim_tokens
        self.description = (
            f"simulated model (not a real model: deterministic text, {self._tokens} tokens, "
            f"first token after {settings.sim_ttft_ms:g} ms, "
            f"then one every {settings.sim_itl_ms:g} ms)"
        )

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[str, None]:
        """Yield the deterministic reply, paced like a model."""
        for index, token in enumerate(simulated_tokens(request.input, self._tokens)):
            delay = self._ttft if index == 0 else self._itl
            if delay > 0:
                await asyncio.sleep(delay)
            yield token

    async def complete(self, request: CompletionRequest) -> str:
        """The whole reply, after the time the stream would have taken."""
        tokens = simulated_tokens(request.input, self._tokens)
        delay = self._ttft + self._itl * max(0, len(tokens) - 1)
        if delay > 0:
            await asyncio.sleep(delay)
        return "".join(tokens)

    async def aclose(self) -> None:
        """Nothing to release."""
