"""A built-in stand-in model: deterministic text derived from the input, with tunable pacing."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import time
from collections.abc import AsyncGenerator, Callable
from math import ceil

from wsllm.backends.base import BACKENDS, Completion, CompletionRequest, Reply
from wsllm.settings import Settings
from wsllm.timers import Ticks

_BURST = 64  # tokens handed out in one go, at most, before others have a turn

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
_WORDS_OF = {sentence: [" " + word for word in sentence.split()] for sentence in _SENTENCES}


def simulated_tokens(text: str, count: int, turn: int = 1) -> list[str]:
    """The reply to `text`: it quotes the input (and the turn, after the first), then sentences
    in an order seeded by both."""
    if count <= 0:
        return []
    quoted = " ".join(text.split())
    if len(quoted) > 60:
        quoted = quoted[:57] + "..."
    where = f' "{quoted}" (turn {turn}):' if turn > 1 else f' "{quoted}":'
    tokens = ["Simulated", " reply", " to", where]
    seed = hashlib.sha256(f"{turn}:{text}".encode()).digest()[:8]
    rng = random.Random(int.from_bytes(seed, "big"))
    order = list(_SENTENCES)
    while len(tokens) < count:
        rng.shuffle(order)
        for sentence in order:
            tokens += _WORDS_OF[sentence]
    tokens = tokens[:count]
    if not tokens[-1].endswith((".", ":")):
        tokens[-1] = tokens[-1].rstrip(",;") + "."
    return tokens


@BACKENDS.register("simulated")
class SimulatedBackend:
    """Not a real model: text and timing are synthetic, for offline runs, demos and load tests."""

    name = "simulated"

    def __init__(self, settings: Settings) -> None:
        self._ttft = settings.sim_ttft_ms / 1000
        self._itl = settings.sim_itl_ms / 1000
        self._tokens = settings.sim_tokens
        self._ids = itertools.count(1)
        self._clock = Ticks()  # every stream's pacing on one loop timer
        self.description = (
            f"simulated model (not a real model: deterministic text, {self._tokens} tokens, "
            f"first token after {settings.sim_ttft_ms:g} ms, "
            f"then one every {settings.sim_itl_ms:g} ms)"
        )

    def _tokens_for(self, request: CompletionRequest) -> list[str]:
        return simulated_tokens(request.input, self._tokens, len(request.history) + 1)

    def _completion(self, request: CompletionRequest, tokens: list[str]) -> Completion:
        prompt = sum(len((t.user + " " + t.assistant).split()) for t in request.history)
        prompt += len(request.input.split())
        usage = {
            "input_tokens": prompt,
            "output_tokens": len(tokens),
            "total_tokens": prompt + len(tokens),
        }
        return Completion(usage=usage, response_id=f"sim_{next(self._ids)}")

    def stream(self, request: CompletionRequest) -> Reply:
        """The deterministic reply, paced like a model."""
        return _PacedReply(self, request)

    async def _deltas(self, request: CompletionRequest, reply: Reply) -> AsyncGenerator[str, None]:
        # Token i is due at start + TTFT + i x ITL, on the model's own clock, as a real model's
        # tokens are: a server that falls behind finds them waiting, and does not push the
        # schedule back.
        tokens = self._tokens_for(request)
        due = time.monotonic() + self._ttft
        for index, token in enumerate(tokens):
            if due > time.monotonic():
                await self._clock.sleep_until(due)
            elif index % 64 == 63:
                await asyncio.sleep(0)  # behind, or at full speed: still let others have a turn
            due += self._itl
            yield token
        reply.completion = self._completion(request, tokens)

    async def aclose(self) -> None:
        """Nothing to release."""


class _PacedReply(Reply):
    """A simulated reply: iterated, each token is awaited; pumped, the model's clock hands
    the tokens out from its timer, with no task woken a token."""

    __slots__ = ("_model", "_request")

    def __init__(self, model: SimulatedBackend, request: CompletionRequest) -> None:
        super().__init__(_iterated)
        self._model, self._request = model, request

    async def pump(self, take: Callable[[str], object]) -> None:
        """Hand each token to `take` when it is due."""
        model, request = self._model, self._request
        tokens = model._tokens_for(request)
        ended = asyncio.get_running_loop().create_future()
        due = time.monotonic() + model._ttft
        pacer = _Pacer(tokens, due, model._itl, take, model._clock, ended)
        pacer.step(model._clock.now())
        try:
            await ended
        finally:
            pacer.stop()
        self.completion = model._completion(request, tokens)


def _iterated(reply: Reply) -> AsyncGenerator[str, None]:
    assert isinstance(reply, _PacedReply)
    return reply._model._deltas(reply._request, reply)


class _Pacer:
    """One reply's tokens, each handed to `take` in its millisecond (token i at `due` + i x
    `itl` seconds, on the model's own clock: behind, the tokens due go at once), then `ended`
    is set."""

    __slots__ = ("_clock", "_due_ms", "_ended", "_itl_ms", "_next", "_soon", "_stopped", "_take",
                 "_tokens")  # fmt: skip

    def __init__(self, tokens: list[str], due: float, itl: float, take: Callable[[str], object],
                 clock: Ticks, ended: asyncio.Future[None]) -> None:  # fmt: skip
        self._tokens, self._next = tokens, 0
        # In milliseconds: a token's tick (see `tick_of`) is then the ceiling of its time.
        self._due_ms, self._itl_ms = due * 1000, itl * 1000
        self._take, self._clock, self._ended = take, clock, ended
        self._soon: asyncio.Handle | None = None
        self._stopped = False

    def step(self, now: int) -> None:
        """Hand out the tokens due by millisecond `now` (a burst at most), and set the timer
        for the next."""
        if self._stopped:
            return
        self._soon = None
        tokens, at, take = self._tokens, self._next, self._take
        due, itl = self._due_ms, self._itl_ms
        last = min(len(tokens), at + _BURST)
        try:
            while at < last and ceil(due) <= now:
                take(tokens[at])
                at += 1
                due += itl
        except Exception as exc:  # the reader's failure ends the reply
            if not self._ended.done():
                self._ended.set_exception(exc)
            return
        finally:
            self._next, self._due_ms = at, due
        if at == len(tokens):
            if not self._ended.done():
                self._ended.set_result(None)
        elif ceil(due) <= now:  # a burst's worth went out and more are due: others first
            self._soon = self._ended.get_loop().call_soon(self.step, now)
        else:
            self._clock.at(ceil(due), self.step)

    def stop(self) -> None:
        """No more tokens (the reply ended, or its reader is gone)."""
        self._stopped = True
        if self._soon is not None:
            self._soon.cancel()
        self._soon = None
