"""The engine every node shares: Redis. Frames of every stream go to Redis Streams (batched: one
pipeline per event-loop turn, capped, with a TTL), so any node can replay a stream; the node that
makes a stream holds a lease on it, renewed while it runs, and writes only while its token holds
(a fencing token: a node that lost its stream cannot write into it); a cancel reaches the owner
by pub/sub; a stream whose owner's lease lapsed is lost (`stream_lost`), never waited on.

When Redis is down, plain streams go on as before; the server says so in `/health` and its log,
and a resume that needs Redis is answered `stream_lost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from redis import asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from wsllm.codes import ErrorCode
from wsllm.errors import StreamError
from wsllm.protocol import is_final

if TYPE_CHECKING:
    from wsllm.server.streams import LocalStream, StreamHub

log = logging.getLogger("wsllm.server")
CANCEL_CHANNEL = "wsllm:cancel"
LEASE_S = 3.0
MAX_FRAMES = 100_000
LIFETIME_S = 3600.0

# KEYS: frames, lease, meta. ARGV: lease token, final, ttl ms, max entries, last seq (0: no
# frames), the frames, '1' if the stream begins here, its owner, node, lifetime ms, lease ms.
_APPEND = """
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[3], 'who', ARGV[8], 'node', ARGV[9], 'state', 'running')
  redis.call('PEXPIRE', KEYS[3], ARGV[10])
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[11])
elseif redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if ARGV[5] ~= '0' then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '0-' .. ARGV[5], 'f', ARGV[6])
end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[3], 'state', 'finished')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
  redis.call('DEL', KEYS[2])
end
return 1
"""
# Sent by its SHA1 (EVALSHA): Redis need not read and hash the script for every write.
_APPEND_SHA = hashlib.sha1(_APPEND.encode()).hexdigest()
_BUCKET = """
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(held[1]) or capacity
local since = tonumber(held[2]) or ms
tokens = math.min(capacity, tokens + (ms - since) / 1000 * rate)
local wait = -1
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', ms)
redis.call('PEXPIRE', KEYS[1], 120000)
return wait
"""
_COUNT = """
local held = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #held, 2 do
  if redis.call('EXISTS', 'wsllm:node:' .. held[i]) == 1 then total = total + tonumber(held[i + 1])
  else redis.call('HDEL', KEYS[1], held[i]) end
end
return total
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def _keys(stream_id: str) -> tuple[str, str, str, str]:
    """The stream's frames, lease, meta and listener keys."""
    return (f"wsllm:st:{stream_id}", f"wsllm:sl:{stream_id}", f"wsllm:sm:{stream_id}",
            f"wsllm:sr:{stream_id}")  # fmt: skip


def _frames_after(entries: list[Any], after: int) -> list[bytes]:
    """The frames of stream entries (each holds frames up to the seq its id names), from seq
    `after` + 1 on: the first entry may begin before it."""
    frames: list[bytes] = []
    for entry_id, fields in entries:
        held = fields[b"f"].split(b"\n")
        first = int(entry_id.split(b"-")[1]) - len(held) + 1
        frames += held[max(0, after + 1 - first) :]
    return frames


def lost() -> StreamError:
    """The error for a stream whose node died (or that cannot be reached without Redis)."""
    return StreamError(ErrorCode.STREAM_LOST, "The stream was lost with the node that made it")


class SharedEngine:
    """This node's side of the shared engine."""

    def __init__(self, url: str, ttl: float, grace: float) -> None:
        self._redis = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.url = url
        self.node = secrets.token_hex(6)
        self._ttl_ms, self._grace_ms = int(ttl * 1000), int(grace * 1000)
        self._pending: dict[str, list[tuple[int, bytes]]] = {}
        self._opened: list[LocalStream] = []
        self._tokens: dict[str, str] = {}
        self._streams: dict[str, LocalStream] = {}
        self._flushing = False
        self._scheduled = False
        self.healthy = False
        self._tasks: list[asyncio.Task[None]] = []
        self._counting: set[asyncio.Task[None]] = set()
        self._hub: StreamHub | None = None

    async def start(self, hub: StreamHub) -> None:
        """Connect (a Redis that is down now is retried), listen for cancels, renew leases."""
        self._hub = hub
        await self._check()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.set(f"wsllm:node:{self.node}", b"1", px=int(LEASE_S * 1000))
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._keep())]

    async def stop(self) -> None:
        """Write what is left, then stop."""
        for _ in range(50):
            if not (self._pending or self._opened or self._flushing):
                break
            await self._flush() if not self._flushing else await asyncio.sleep(0.02)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose()

    async def _check(self) -> None:
        try:
            await self._redis.ping()
            if not self.healthy:
                log.info("redis at %s: connected; streams are shared with every node", self.url)
            self.healthy = True
        except (RedisError, OSError) as exc:
            if self.healthy or not self._tasks:
                log.warning(
                    "redis at %s is unreachable (%s): streams stay on this node", self.url, exc
                )
            self.healthy = False

    # The producer's side.

    def opened(self, stream: LocalStream) -> None:
        """A stream begins here: its meta and lease go with the next flush."""
        self._tokens[stream.id] = f"{self.node}:{secrets.token_hex(4)}"
        self._streams[stream.id] = stream
        self._opened.append(stream)
        self._schedule()

    def appended(self, stream: LocalStream, frame: bytes) -> None:
        """A frame of a stream made here: it goes with the next flush."""
        self._pending.setdefault(stream.id, []).append((len(stream.frames), frame))
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and not self._flushing:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        self._scheduled = False
        if not self._flushing:
            asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """One pipeline for everything written since the last one."""
        opened, self._opened = self._opened, []
        pending, self._pending = self._pending, {}
        if not self.healthy:
            self._forget_finished(pending)
            return
        self._flushing = True
        try:
            results = await self._write(opened, pending)
            self._fenced_out(pending, results)
        except (RedisError, OSError) as exc:
            log.warning("redis write failed (%s): streams stay on this node", exc)
            self.healthy = False
        finally:
            self._flushing = False
            self._forget_finished(pending)
        if self._pending or self._opened:
            self._schedule()

    async def _write(self, opened: list[LocalStream], pending: dict[str, list[tuple[int, bytes]]]
                     ) -> list[Any]:  # fmt: skip
        # One script call a stream: it begins the stream (owner, lease) if it is new here, and
        # adds the frames of this flush as one entry, named by the last frame's seq (the frames
        # a line each: a frame is JSON, which has no raw newline).
        pipe = self._redis.pipeline(transaction=False)
        new = {stream.id: stream.identity for stream in opened}
        for stream_id in [*pending, *(s for s in new if s not in pending)]:
            frames = pending.get(stream_id, [])
            final = "1" if frames and is_final(frames[-1][1]) else "0"
            last = frames[-1][0] if frames else 0
            blob = b"\n".join(frame for _, frame in frames)
            opening = ["1", new[stream_id], self.node] if stream_id in new else ["0", "", ""]
            args: list[str | int | bytes] = [
                self._tokens.get(stream_id, ""), final, self._ttl_ms, MAX_FRAMES, last, blob,
                *opening, int(LIFETIME_S * 1000), int(LEASE_S * 1000),
            ]  # fmt: skip
            pipe.evalsha(_APPEND_SHA, 3, *_keys(stream_id)[:3], *args)
        try:
            results: list[Any] = await pipe.execute()
        except NoScriptError:  # a new or flushed Redis: load the script, then write again
            await self._redis.script_load(_APPEND)
            return await self._write(opened, pending)
        return results[: len(pending)]

    def _fenced_out(self, pending: dict[str, list[tuple[int, bytes]]], results: list[Any]) -> None:
        for stream_id, written in zip(pending, results, strict=True):
            stream = self._streams.get(stream_id)
            if written == 0 and stream is not None and not stream.final:
                log.warning("stream %s was taken from this node; stopping it", stream_id)
                stream.stop("lost")

    def _forget_finished(self, pending: dict[str, list[tuple[int, bytes]]]) -> None:
        for stream_id, frames in pending.items():
            if frames and is_final(frames[-1][1]):
                self._tokens.pop(stream_id, None)
                self._streams.pop(stream_id, None)

    async def _keep(self) -> None:
        """Say this node lives; renew the leases of its running streams; watch Redis."""
        while True:
            await asyncio.sleep(LEASE_S / 3)
            await self._check()
            with contextlib.suppress(RedisError, OSError):
                if self.healthy:
                    await self._redis.set(f"wsllm:node:{self.node}", b"1", px=int(LEASE_S * 1000))
            running = [s for s in self._streams.values() if not s.final]
            if not running or not self.healthy:
                continue
            pipe = self._redis.pipeline(transaction=False)
            for stream in running:
                pipe.eval(_RENEW, 1, _keys(stream.id)[1], self._tokens[stream.id],
                          int(LEASE_S * 1000))  # fmt: skip
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                log.warning("redis lease renewal failed (%s)", exc)
                self.healthy = False

    # Any node's side.

    async def follow(self, stream_id: str, after: int, identity: str
                     ) -> AsyncIterator[list[bytes]]:  # fmt: skip
        """A stream made on another node: replayed, then live, from Redis."""
        frames_key, lease, meta, listener = _keys(stream_id)
        try:
            owner: Any = await self._redis.hget(meta, "who")
        except (RedisError, OSError):
            raise lost() from None
        if owner is None or owner.decode() != identity:
            from wsllm.server.streams import not_found

            raise not_found()
        last = f"0-{after}"
        while True:
            try:
                await self._redis.set(listener, b"1", px=self._grace_ms)
                answer: Any = await self._redis.xread({frames_key: last}, count=1000, block=1000)
            except (RedisError, OSError):
                raise lost() from None
            if answer:
                entries = answer[0][1]
                last = entries[-1][0].decode()
                batch = _frames_after(entries, after)
                after = int(last.split("-")[1])
                yield batch
                if is_final(batch[-1]):
                    return
            elif not await self._alive(lease, meta):
                raise lost()

    async def _alive(self, lease: str, meta: str) -> bool:
        """Whether a stream with nothing new still has a live owner (else it is marked lost)."""
        try:
            state: Any = await self._redis.hget(meta, "state")
            owned: Any = await self._redis.exists(lease)
        except (RedisError, OSError):
            return False
        if state == b"running" and not owned:
            await self._redis.hset(meta, "state", "lost")  # the owner's late writes are fenced out
            return False
        return state in (b"running", b"finished")

    async def cancel(self, stream_id: str, identity: str) -> bool:
        """Ask the stream's owner to stop it; False if it is not the caller's."""
        try:
            owner: Any = await self._redis.hget(_keys(stream_id)[2], "who")
            if owner is None or owner.decode() != identity:
                return False
            await self._redis.publish(CANCEL_CHANNEL, f"{stream_id} {identity}")
        except (RedisError, OSError):
            return False
        return True

    async def listened(self, stream_id: str) -> bool:
        """Whether a node follows this stream for a client now."""
        try:
            return bool(await self._redis.exists(_keys(stream_id)[3]))
        except (RedisError, OSError):
            return False

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CANCEL_CHANNEL)
                    async for message in pubsub.listen():
                        self._on_cancel(message)
            except (RedisError, OSError):
                await asyncio.sleep(1.0)

    def _on_cancel(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message" or self._hub is None:
            return
        stream_id, _, identity = message["data"].decode().partition(" ")
        stream = self._hub.find(stream_id, identity)
        if stream is not None:
            stream.stop("cancelled")

    # Limits every node shares.

    async def retry_after(self, who: str, per_minute: float) -> tuple[bool, float | None]:
        """(answered, wait): None if `who` may send a request now (and it is counted), else the
        seconds to wait; a token bucket in Redis, so N a minute is N across every node. Not
        answered when Redis cannot say (the caller counts on its own node then)."""
        try:
            wait: Any = await self._redis.eval(_BUCKET, 1, f"wsllm:rate:{who}", per_minute,
                                               per_minute / 60.0)  # fmt: skip
        except (RedisError, OSError):
            return False, None
        return True, None if int(wait) < 0 else int(wait) / 1000

    async def connections(self, client: str) -> int | None:
        """How many connections `client` holds on every live node (None: Redis cannot say)."""
        try:
            total: Any = await self._redis.eval(_COUNT, 1, f"wsllm:conn:{client}")
        except (RedisError, OSError):
            return None
        return int(total)

    def connection_changed(self, client: str, change: int) -> None:
        """Count a connection of `client` on this node opened (+1) or closed (-1)."""
        if self.healthy:
            task = asyncio.get_running_loop().create_task(self._count_connection(client, change))
            self._counting.add(task)
            task.add_done_callback(self._counting.discard)

    async def _count_connection(self, client: str, change: int) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._redis.hincrby(f"wsllm:conn:{client}", self.node, change)
