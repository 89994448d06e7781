"""A lean seed-protocol load client for benchmarks that measure the server, not the client: one
epoll loop over raw sockets, frames told apart by their first bytes, no JSON parsed but errors.

`wsllm bench` (the full client: fold, recorder, resume) spends about as much CPU a delta as the
server it measures; on a machine with two cores that CPU is taken from the server, and the client's
own loop falls behind and adds its lateness to what it measures. This one spends a few
microseconds a delta, so what it sees late the server made late.

Arrival times are the kernel's (SO_TIMESTAMPNS: when the bytes reached the client's socket), so
the client may read late without making what it measures late: it reads every `batch_s`, which
spares the machine a wakeup a delta (costly on a virtual machine) and leaves the CPU to the server.

It speaks just enough of RFC 6455: a fixed-key handshake, masked text frames with the zero mask
(legal, and no bytes to flip), whole unmasked frames from the server, pings answered.
"""

from __future__ import annotations

import itertools
import random
import select
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson

from wsllm.bench.engine import LoadRun, RequestRecord

_HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: bGVhbi1jbGllbnQta2V5IQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
_DELTA = b'{"type":"delta"'
_DONE = b'{"type":"done"'
_ERROR = b'{"type":"error"'
_SO_TIMESTAMPNS = 35  # Linux; the socket module does not name it
_TIMESPEC = struct.Struct("qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)


def masked_text(payload: bytes, opcode: int = 0x1) -> bytes:
    """A final client frame with the zero mask key (so the payload goes as it is)."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return header + b"\0\0\0\0" + payload


@dataclass(slots=True)
class _Conn:
    sock: socket.socket
    buffer: bytes = b""
    sent_at: float = 0.0
    arrivals: list[float] = field(default_factory=list)
    dead: bool = False


def _open(host: str, port: int, path: str) -> _Conn:
    sock = socket.create_connection((host, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(_HANDSHAKE.format(path=path, host=f"{host}:{port}").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the connection during the handshake")
        head += chunk
    status, _, rest = head.partition(b"\r\n\r\n")
    if not status.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"handshake refused: {status.splitlines()[0].decode()}")
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    return _Conn(sock, rest)


def _arrived(ancillary: list[tuple[int, int, bytes]]) -> float:
    """When the bytes just read reached the socket (wall clock), or now if the kernel did not
    say."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
            seconds, nanoseconds = _TIMESPEC.unpack(data)
            return float(seconds + nanoseconds / 1e9)
    return time.time()


class LeanLoad:
    """`conns` connections; `requests` requests, Poisson-timed at `per_s` a second or (None)
    each connection's next as soon as its last ends."""

    def __init__(self, url: str, conns: int, requests: int, per_s: float | None,
                 prompts: tuple[str, ...], seed: int, timeout_s: float = 120.0,
                 batch_s: float = 0.002) -> None:  # fmt: skip
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self._conns = {c.sock.fileno(): c for c in (_open(host, port, parts.path)
                                                    for _ in range(conns))}  # fmt: skip
        self._idle = deque(self._conns.values())
        self._frames = [masked_text(orjson.dumps({"input": p})) for p in prompts]
        self._left, self._per_s, self._timeout_s = requests, per_s, timeout_s
        self._batch_s = batch_s
        self._rng = random.Random(seed)
        self._busy = 0
        self.run = LoadRun(url=url)

    def go(self) -> LoadRun:
        """Run the load to its end; the records of every request."""
        poller = select.epoll()
        for fd in self._conns:
            poller.register(fd, select.EPOLLIN)
        space = bytearray(262144)
        view = memoryview(space)
        started = time.time()
        self.run.started_at, deadline = started, started + self._timeout_s
        next_at = started
        for conn in self._conns.values():
            if conn.buffer:
                self._received(conn, b"", started)
        while (self._left or self._busy) and time.time() < deadline:
            now = time.time()
            if self._per_s is None:
                while self._left and self._idle:
                    self._send(self._idle.popleft(), now)
            else:
                while self._left and next_at <= now and self._idle:
                    self._send(self._idle.popleft(), now)
                    next_at += self._rng.expovariate(self._per_s)
            wait = max(0.0, min(next_at - now, 0.05)) if self._left and self._idle else 0.05
            ready = poller.poll(wait)
            for fd, _ in ready:
                conn = self._conns[fd]
                try:  # into one buffer: a fresh one a call would be mapped and unmapped each time
                    size, ancillary, _, _ = conn.sock.recvmsg_into([space], _ANCILLARY)
                except BlockingIOError:
                    continue
                except OSError:
                    size, ancillary = 0, []
                data = bytes(view[:size])
                if data:
                    self._received(conn, data, _arrived(ancillary))
                else:
                    poller.unregister(fd)
                    self._closed(conn)
            if ready:
                time.sleep(self._batch_s)  # let the next deltas gather: one wakeup for many
        self.run.wall_s = time.time() - started
        for conn in self._conns.values():
            self._end(conn, "timeout")
            conn.sock.close()
        poller.close()
        return self.run

    def _send(self, conn: _Conn, now: float) -> None:
        self._left -= 1
        self._busy += 1
        conn.sent_at, conn.arrivals = now, []
        conn.sock.send(self._frames[self._left % len(self._frames)])

    def _closed(self, conn: _Conn) -> None:
        conn.dead = True
        if conn in self._idle:
            self._idle.remove(conn)
        self._end(conn, "closed")

    def _received(self, conn: _Conn, data: bytes, now: float) -> None:
        buffer = conn.buffer + data if conn.buffer else data
        at, size = 0, len(buffer)
        while size - at >= 2:
            length, head = buffer[at + 1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
            elif length == 127:
                length, head = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
            if size - at < head + length:
                break
            self._frame(conn, buffer[at] & 0x0F, buffer, at + head, at + head + length, now)
            at += head + length
        conn.buffer = buffer[at:]

    def _frame(self, conn: _Conn, opcode: int, buffer: bytes, start: int, end: int,
               now: float) -> None:  # fmt: skip
        if opcode == 0x9:  # ping
            conn.sock.send(masked_text(buffer[start:end], 0xA))
        elif opcode == 0x8:
            self._closed(conn)
        elif not conn.sent_at:
            return  # `ready`, before any request
        elif buffer.startswith(_DELTA, start):
            conn.arrivals.append(now)
        elif buffer.startswith(_DONE, start):
            self._end(conn, None, now)
        elif buffer.startswith(_ERROR, start):
            self._end(conn, str(orjson.loads(buffer[start:end]).get("code")), now)

    def _end(self, conn: _Conn, error: str | None, now: float | None = None) -> None:
        if not conn.sent_at:
            return
        sent, times = conn.sent_at, conn.arrivals
        record = RequestRecord(started_s=sent, error=error, deltas=len(times))
        if times:
            record.ttft_ms = (times[0] - sent) * 1000
            record.gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
        if now is not None:
            record.e2e_ms = (now - sent) * 1000
        self.run.records.append(record)
        conn.sent_at = 0.0
        self._busy -= 1
        if not conn.dead:
            self._idle.append(conn)
