"""Corked frame writer: frames produced in one event-loop turn leave in one socket write.

A burst of upstream deltas would otherwise cost a system call per frame. Nothing is held back past
the turn that produced it, so corking adds no latency. The buffer is bounded: a client that stops
reading makes `write` wait, and `SlowConsumer` is raised if it stays full too long.
"""

from __future__ import annotations

import asyncio
import struct

from wsllm.errors import SlowConsumer
from wsllm.timers import running_loop

_LEN16 = struct.Struct("!BBH")
_LEN64 = struct.Struct("!BBQ")
_TEXT_FIN = 0x81
_SHORT_HEADERS = [bytes((_TEXT_FIN, length)) for length in range(126)]


def text_frame_header(length: int) -> bytes:
    """The RFC 6455 header of an unmasked, final text frame of `length` payload bytes."""
    if length < 126:
        return bytes((_TEXT_FIN, length))
    if length < 65536:
        return _LEN16.pack(_TEXT_FIN, 126, length)
    return _LEN64.pack(_TEXT_FIN, 127, length)


class Cork:
    """The writers holding frames this loop turn, written out together at its end: one callback
    a turn for all the process's connections, not one per connection."""

    __slots__ = ("_home", "_loop", "_writers")

    def __init__(self) -> None:
        self._writers: list[FrameWriter] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # set while a flush is scheduled
        self._home: asyncio.AbstractEventLoop | None = None

    def add(self, writer: FrameWriter) -> None:
        """Write `writer`'s frames at the end of this turn."""
        loop = self._loop
        if loop is None or not loop.is_running():  # nothing scheduled on the running loop yet
            loop = running_loop(self)
            self._writers = []
            self._loop = loop
            loop.call_soon(self._flush)
        self._writers.append(writer)

    def _flush(self) -> None:
        writers, self._writers, self._loop = self._writers, [], None
        for writer in writers:
            writer.flush()


class FrameWriter:
    """Writes whole text frames to a connection's transport, coalescing those of one loop turn."""

    __slots__ = ("_cork", "_gave_up", "_high_water", "_patience", "_pending", "_scheduled",
                 "_transport", "closed")  # fmt: skip

    def __init__(self, transport: asyncio.Transport, high_water: int = 1 << 20,
                 patience: float = 30.0, cork: Cork | None = None) -> None:  # fmt: skip
        self._transport = transport
        self._cork = cork or Cork()
        self._pending: list[bytes] = []
        self._scheduled = False
        self._high_water = high_water
        self._patience = patience
        self._gave_up = False
        self.closed = False  # set once a close frame has gone out: no data frame may follow

    def _open(self) -> bool:
        return not self.closed and not self._transport.is_closing()

    async def write(self, payload: bytes) -> None:
        """Queue one text frame; wait while the client is not keeping up."""
        if not self._open():
            raise ConnectionResetError("the connection is closed")
        self._queue(payload)
        if self._transport.get_write_buffer_size() > self._high_water and not self._gave_up:
            await self._wait_for_room()

    def write_nowait(self, payload: bytes) -> bool:
        """Queue one text frame if the client keeps up (False, and nothing queued, if not).
        The path of every frame a stream makes, so it asks the transport one thing: a frame
        queued as the transport closes is dropped by `flush`, as the client is gone."""
        if self.closed:
            return False
        if self._transport.get_write_buffer_size() > self._high_water and not self._gave_up:
            return False
        length, pending = len(payload), self._pending  # `_queue`, written out: the hot path
        pending.append(_SHORT_HEADERS[length] if length < 126 else text_frame_header(length))
        pending.append(payload)
        if not self._scheduled:
            self._scheduled = True
            self._cork.add(self)
        return True

    def send(self, payload: bytes) -> None:
        """Queue one frame whatever the buffer holds (short answers to what the client sent;
        reading pauses while the client does not read, so these stay few)."""
        if self._open():
            self._queue(payload)

    def _queue(self, payload: bytes) -> None:
        length = len(payload)
        self._pending.append(_SHORT_HEADERS[length] if length < 126 else text_frame_header(length))
        self._pending.append(payload)
        if not self._scheduled:
            self._scheduled = True
            self._cork.add(self)

    def give_up(self) -> None:
        """Stop waiting for a slow client: what is written now is its last word."""
        self._gave_up = True

    def flush(self) -> None:
        """Write everything queued now (before a control frame, say)."""
        self._scheduled = False
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if self.closed:
            return
        try:
            self._transport.write(data)
        except RuntimeError:  # closed under it: the client is gone, and so is what it missed
            if not self._transport.is_closing():
                raise

    async def _wait_for_room(self) -> None:
        waited = 0.0
        step = 0.005
        while self._transport.get_write_buffer_size() > self._high_water:
            if self._transport.is_closing():
                raise ConnectionResetError("the client connection is closed")
            if waited >= self._patience:
                raise SlowConsumer(f"the client read nothing for {self._patience:g} s")
            await asyncio.sleep(step)
            waited += step
            step = min(step * 2, 0.1)
