"""Streams that outlive their connection: each request's frames are kept, numbered, so a client
that lost its connection can resume them on a new one, replayed then live, with no gap and no
duplicate.

A stream is made on the node that runs the request (its producer keeps going when the client
drops, for the grace period) and kept for a while after it ends. On one node the hub holds them
in memory; with Redis (`server/shared.py`) every frame is also written there, so any node can
replay a stream, cancel it, or tell that its node died (`stream_lost`).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from wsllm.codes import ErrorCode
from wsllm.errors import StreamError
from wsllm.protocol import FINAL_STARTS

if TYPE_CHECKING:
    from wsllm.server.shared import SharedEngine

STREAM_PREFIX = "st_"


def not_found() -> StreamError:
    """The error for a stream that is unknown, expired, or someone else's."""
    return StreamError(ErrorCode.STREAM_NOT_FOUND, "No such stream (unknown, or it has expired)")


class Reader(Protocol):
    """A reader that has caught up with a stream: it is handed each frame as it is made."""

    def take(self, frame: bytes) -> bool:
        """Send `frame` on; False if it cannot now (the client is behind): nothing was sent."""
        ...

    def behind(self) -> None:
        """The stream has a frame this reader was not handed (the final one, or one it could not
        take): it is no longer the stream's reader, and goes on by itself from here."""
        ...


class LocalStream:
    """One request's frames, on the node that makes them."""

    __slots__ = ("_grace", "_task", "_waiter", "final", "frames", "id", "identity", "outcome",
                 "reader", "readers", "stop_reason")  # fmt: skip

    def __init__(self, stream_id: str, identity: str) -> None:
        self.id = stream_id
        self.identity = identity
        self.frames: list[bytes] = []
        self.final = False
        self.outcome: Any = None
        self.readers = 0
        self.stop_reason: str | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._grace: asyncio.TimerHandle | None = None
        # A reader that has caught up takes frames as they are made, with no task switch.
        self.reader: Reader | None = None

    def emit(self, frame: bytes) -> None:
        """Add the next frame (its `seq` is its place, from 1) and hand it to the readers."""
        self.frames.append(frame)
        final = frame.startswith(FINAL_STARTS)  # `is_final`, written out: the path of every frame
        if final:
            self.final = True
        reader = self.reader
        # The final frame goes through the reader itself, so the connection has moved on (it
        # takes a new request) by the time the client can see the request has ended.
        if reader is not None and (final or not reader.take(frame)):
            self.reader = None
            reader.behind()
        if self._waiter is not None:  # others follow it too (resumed from another connection)
            self.wake()

    def wake(self) -> None:
        """Wake the readers waiting for frames."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def more(self) -> None:
        """Until there is something new (a frame a sink refused, the end, a stop)."""
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._waiter)

    async def batches(self, after: int) -> AsyncIterator[list[bytes]]:
        """The frames after `after`, a batch at a time as they come, through the final one."""
        sent = after
        while True:
            if len(self.frames) > sent:
                batch = self.frames[sent:]
                sent = len(self.frames)
                yield batch
            if self.final and sent >= len(self.frames):
                return
            await self.more()

    def stop(self, reason: str) -> bool:
        """Stop the producer (its upstream call closes); False if it has already ended."""
        if self.final or self._task is None or self._task.done():
            return False
        self.stop_reason = self.stop_reason or reason
        self._task.cancel()
        return True


# A stream that has ended, kept until it expires: (its owner's identity, its frames joined by
# newlines (a JSON frame holds none), when it expires). A plain tuple of a string, bytes and a
# float, which the garbage collector stops tracking: the thousands kept cost it nothing.
Finished = tuple[str, bytes, float]


class StreamHub:
    """A node's streams: those it makes, and those that ended, kept `ttl` seconds (and within
    `max_bytes` in all: the oldest go first). With Redis, ended streams are kept there instead."""

    def __init__(self, ttl: float, grace: float, shared: SharedEngine | None = None,
                 max_bytes: int = 256 * 1024 * 1024) -> None:  # fmt: skip
        self._ttl = ttl
        self._grace = grace
        self._max_bytes = max_bytes
        self.shared = shared
        self._streams: dict[str, LocalStream] = {}
        # In the order they ended. An OrderedDict: a plain dict's first key takes longer to find
        # the more keys were deleted before it, and the oldest are deleted all the time.
        self._finished: OrderedDict[str, Finished] = OrderedDict()
        self._kept_bytes = 0

    def open(self, identity: str) -> LocalStream:
        """A new stream with an unguessable id."""
        stream = LocalStream(STREAM_PREFIX + secrets.token_urlsafe(18), identity)
        self._streams[stream.id] = stream
        if self.shared is not None:
            self.shared.opened(stream)
        return stream

    def start(self, stream: LocalStream, producer: Coroutine[Any, Any, None]) -> None:
        """Run the stream's producer; it belongs to the node, not to any one connection."""
        stream._task = asyncio.create_task(self._produce(stream, producer))

    async def _produce(self, stream: LocalStream, producer: Coroutine[Any, Any, None]) -> None:
        try:
            await producer
        finally:
            self._ended(stream)

    def emit(self, stream: LocalStream, frame: bytes) -> None:
        """A frame of `stream`: for its readers here, and for every node through Redis."""
        stream.emit(frame)
        if self.shared is not None:
            self.shared.appended(stream, frame)

    def emitter(self, stream: LocalStream) -> Callable[[bytes], None]:
        """`emit` for one stream's frames (on one node, straight to the stream)."""
        return stream.emit if self.shared is None else functools.partial(self.emit, stream)

    def _ended(self, stream: LocalStream) -> None:
        if stream._grace is not None:
            stream._grace.cancel()
        self._streams.pop(stream.id, None)  # its readers hold it till they are done
        now = asyncio.get_running_loop().time()
        self._expire(now)
        if self.shared is not None or not self._ttl:
            return
        blob = b"\n".join(stream.frames)
        self._finished[stream.id] = (stream.identity, blob, now + self._ttl)
        self._kept_bytes += len(blob)

    def _expire(self, now: float) -> None:
        """Forget ended streams past their time, and the oldest past the byte cap."""
        while self._finished:
            oldest_id, (_, blob, expires) = next(iter(self._finished.items()))
            if expires > now and self._kept_bytes <= self._max_bytes:
                return
            del self._finished[oldest_id]
            self._kept_bytes -= len(blob)

    def attach(self, stream: LocalStream) -> None:
        """A reader follows the stream: it will not be given up."""
        stream.readers += 1
        if stream._grace is not None:
            stream._grace.cancel()
            stream._grace = None

    def detach(self, stream: LocalStream) -> None:
        """A reader left; with none left, the producer goes on for the grace period only."""
        stream.readers -= 1
        if stream.readers <= 0 and not stream.final and stream._grace is None:
            loop = asyncio.get_running_loop()
            stream._grace = loop.call_later(self._grace, self._give_up, stream)

    def _give_up(self, stream: LocalStream) -> None:
        stream._grace = None
        if stream.readers > 0 or stream.final:
            return
        if self.shared is None:
            stream.stop("disconnected")
        else:  # a node elsewhere may follow it through Redis: ask before giving it up
            asyncio.get_running_loop().create_task(self._give_up_unless_followed(stream))

    async def _give_up_unless_followed(self, stream: LocalStream) -> None:
        assert self.shared is not None
        if stream.readers > 0 or stream.final:
            return
        if await self.shared.listened(stream.id):
            loop = asyncio.get_running_loop()
            stream._grace = loop.call_later(self._grace, self._give_up, stream)
        else:
            stream.stop("disconnected")

    def find(self, stream_id: str, identity: str) -> LocalStream | None:
        """This node's stream, if it is the caller's."""
        stream = self._streams.get(stream_id)
        return stream if stream is not None and stream.identity == identity else None

    async def follow(self, stream_id: str, after: int, identity: str
                     ) -> AsyncIterator[list[bytes]]:  # fmt: skip
        """A stream's frames after `after`, replayed then live; StreamError if it cannot be."""
        local = self.find(stream_id, identity)
        finished = self._finished.get(stream_id)
        if local is not None:
            self.attach(local)
            try:
                async for batch in local.batches(after):
                    yield batch
            finally:
                self.detach(local)
        elif finished is not None and finished[0] == identity:
            if finished[2] <= asyncio.get_running_loop().time():
                raise not_found()
            yield finished[1].split(b"\n")[after:]
        elif self.shared is not None:
            async for batch in self.shared.follow(stream_id, after, identity):
                yield batch
        else:
            raise not_found()

    async def cancel(self, stream_id: str, identity: str) -> bool:
        """Stop a stream wherever it runs; False if no such stream is the caller's."""
        local = self.find(stream_id, identity)
        if local is not None:
            local.stop("cancelled")
            return True
        if self.shared is not None:
            cancelled: bool = await self.shared.cancel(stream_id, identity)
            return cancelled
        return False

    def running(self) -> list[LocalStream]:
        """The streams this node is still making."""
        return [s for s in self._streams.values() if not s.final]

    async def finish(self, within: float) -> None:
        """Shutting down: let the streams still running end within `within` seconds, then stop
        them (their readers, here or elsewhere, are told why)."""
        tasks = [s._task for s in self.running() if s._task is not None]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=max(within, 0.0))
        for stream in self.running():
            stream.stop("shutdown")
        if late:
            await asyncio.wait(late, timeout=2.0)
