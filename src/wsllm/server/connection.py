"""One seed-protocol connection as a state machine with no I/O: events in, actions out.

The adapter (`server/seed.py`) reads frames, passes them here with the time, and carries out the
actions it gets back: send a frame, start or stop a request, follow a stream, close. The frames of
a running request are its stream's (made by its producer, numbered, resumable); this core decides
everything else: who may speak, what a second request gets, what a cancel stops, what the
conversation remembers, what a resume follows, when to close or hand clients to another node.

    AUTHENTICATING --auth ok--> IDLE <--finished-- RUNNING
          |                      |  --request-->    |
          +-------> CLOSED <-----+---- DRAINING <---+
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

from wsllm import protocol
from wsllm.backends import Completion, CompletionRequest, Turn
from wsllm.codes import ErrorCode
from wsllm.errors import ProtocolError
from wsllm.server.auth import identity_of, key_ok

MAX_QUEUED = 32
CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_INTERNAL_ERROR = 1000, 1001, 1008, 1011
_run_ids = itertools.count(1)


class State(Enum):
    """Where a connection is in its life."""

    AUTHENTICATING = "authenticating"
    IDLE = "idle"
    RUNNING = "running"
    DRAINING = "draining"
    CLOSED = "closed"


_NEXT: dict[State, frozenset[State]] = {
    State.AUTHENTICATING: frozenset({State.IDLE, State.DRAINING, State.CLOSED}),
    State.IDLE: frozenset({State.RUNNING, State.DRAINING, State.CLOSED}),
    State.RUNNING: frozenset({State.IDLE, State.DRAINING, State.CLOSED}),
    State.DRAINING: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


class Mode(Enum):
    """How a path answers: one `response` frame, or `delta` frames then the `message`."""

    WHOLE = "/ws"
    STREAM = "/ws-stream"


class StopReason(Enum):
    """Why a running request was stopped before it finished."""

    CANCELLED = "cancelled"
    DISCONNECTED = "disconnected"
    SHUTDOWN = "shutdown"


@dataclass(frozen=True, slots=True)
class Policy:
    """The settings a connection obeys."""

    mode: Mode
    max_frame_bytes: int = 1_048_576
    keys: frozenset[str] = frozenset()
    queue: bool = False
    continue_by_default: bool = False
    model: str = "model"
    instructions: str | None = None
    idle_timeout: float = 0.0
    memory_bytes: int = 262_144
    handoff: bool = False  # another node can resume streams: send `reconnect` on drain


@dataclass(frozen=True, slots=True)
class Resume:
    """Follow an existing stream from after `after`."""

    stream: str
    after: int


@dataclass(slots=True)
class Run:
    """One request being served: a new reply to stream, or a stream to follow (`resume`)."""

    request: protocol.Request
    backend_request: CompletionRequest | None
    resume: Resume | None = None
    id: int = field(default_factory=lambda: next(_run_ids))
    stop: StopReason | None = None


@dataclass(frozen=True, slots=True)
class Send:
    """Send this frame to the client."""

    frame: bytes


@dataclass(frozen=True, slots=True)
class Admit:
    """Ask the rate limiter about this request, then report with `on_admitted`."""

    request: protocol.Request


R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Start(Generic[R]):
    """Start serving this run; report its end with `on_finished` or `on_failed`."""

    run: R


@dataclass(frozen=True, slots=True)
class Stop(Generic[R]):
    """Stop this run (close its upstream call); its end is still reported."""

    run: R


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with this code and reason."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class CancelStream:
    """Stop a stream wherever it runs (a cancel naming it, from any connection)."""

    stream: str
    request_id: protocol.RequestId


@dataclass(frozen=True, slots=True)
class Handoff:
    """Tell this run's client to resume it elsewhere (`reconnect`), and close; it goes on here."""

    run: Run


Action = Send | Admit | Start[Run] | Stop[Run] | Close | CancelStream | Handoff


@dataclass(frozen=True, slots=True)
class Conversation:
    """What a connection remembers: earlier turns (bounded in bytes) and the last reply's id."""

    turns: tuple[Turn, ...] = ()
    last_response_id: str | None = None

    def after(self, turn: Turn, response_id: str | None, cap: int) -> Conversation:
        """The conversation with `turn` added, oldest turns dropped to stay within `cap` bytes."""
        turns = [*self.turns, turn]
        size = sum(_turn_bytes(t) for t in turns)
        while turns and size > cap:
            size -= _turn_bytes(turns.pop(0))
        return Conversation(tuple(turns), response_id)


_NO_CONVERSATION = Conversation()


def _turn_bytes(turn: Turn) -> int:
    return len(turn.user.encode()) + len(turn.assistant.encode())


class Connection:
    """The protocol's decisions for one connection."""

    __slots__ = ("conversation", "identity", "last_activity", "policy", "queue", "running",
                 "running_stream", "state")  # fmt: skip

    def __init__(self, policy: Policy, identity: str | None, now: float) -> None:
        self.policy = policy
        self.identity = identity
        self.state = State.AUTHENTICATING if identity is None else State.IDLE
        self.running: Run | None = None
        self.queue: list[Run] = []  # a few at most (MAX_QUEUED)
        self.running_stream: str | None = None
        self.conversation = _NO_CONVERSATION
        self.last_activity = now

    def _move(self, state: State) -> None:
        if state is not self.state and state not in _NEXT[self.state]:
            raise RuntimeError(f"connection cannot go from {self.state.value} to {state.value}")
        self.state = state

    @property
    def busy(self) -> bool:
        """Whether a request is running or waiting."""
        return self.running is not None or bool(self.queue)

    def opened(self) -> list[Action]:
        """The connection is open: greet it, unless it must authenticate first."""
        if self.state is State.AUTHENTICATING:
            return []
        return [Send(protocol.ready_frame(self.policy.mode.value))]

    def on_text(self, raw: str | bytes, now: float) -> list[Action]:
        """A text frame from the client."""
        self.last_activity = now
        if self.state is State.AUTHENTICATING:
            return self._authenticate(raw)
        try:
            message = protocol.parse_message(raw, self.policy.max_frame_bytes)
        except ProtocolError as exc:
            return [Send(protocol.error_frame(exc.code, exc.message))]
        if isinstance(message, protocol.Control):
            return self._on_control(message)
        if self.state is State.DRAINING:
            return [self._going_away(message.id)]
        return [Admit(message)]

    def _going_away(self, request_id: protocol.RequestId) -> Send:
        if self.policy.handoff:
            return Send(protocol.reconnect_frame(None, 0, request_id))
        return _error(ErrorCode.SHUTTING_DOWN, "The server is shutting down", request_id)

    def on_binary(self, now: float) -> list[Action]:
        """A binary frame: not part of the protocol."""
        self.last_activity = now
        if self.state is State.AUTHENTICATING:
            return self._refuse('The first message must be {"type": "auth", "token": KEY}')
        return [_error(ErrorCode.BINARY_FRAME, _BINARY_HINT, None)]

    def _authenticate(self, raw: str | bytes) -> list[Action]:
        try:
            control = protocol.parse_message(raw, self.policy.max_frame_bytes)
        except ProtocolError:
            control = None
        if not isinstance(control, protocol.Control) or control.type != "auth" or not control.token:
            return self._refuse('The first message must be {"type": "auth", "token": KEY}')
        if not key_ok(control.token, self.policy.keys):
            return self._refuse("The API key is not valid")
        self.identity = identity_of(control.token)
        self._move(State.IDLE)
        return self.opened()

    def on_auth_timeout(self) -> list[Action]:
        """No auth message arrived in time."""
        if self.state is not State.AUTHENTICATING:
            return []
        return self._refuse("No auth message arrived in time")

    def _refuse(self, message: str) -> list[Action]:
        self._move(State.CLOSED)
        return [
            Send(protocol.error_frame(ErrorCode.UNAUTHORIZED, message)),
            Close(CLOSE_POLICY, "unauthorized"),
        ]

    def _on_control(self, control: protocol.Control) -> list[Action]:
        if control.type == "ping":
            return [Send(protocol.pong_frame(control.id))]
        if control.type == "cancel":
            return self._cancel(control)
        if control.type == "resume":
            assert control.stream is not None  # checked by the parser
            request = protocol.Request("", control.id)
            return self._admit_run(Run(request, None, Resume(control.stream, control.after)))
        if control.type == "reset":
            self.conversation = Conversation()
        return []

    def _cancel(self, control: protocol.Control) -> list[Action]:
        run = self.running
        mine = run is not None and run.resume is None and run.stop is None
        if control.stream is not None and not (mine and control.stream == self.running_stream):
            return [CancelStream(control.stream, control.id)]
        if run is not None and mine and control.id in (None, run.request.id):
            run.stop = StopReason.CANCELLED
            return [Stop(run)]
        return []

    def on_admitted(self, request: protocol.Request, retry_after: float | None) -> list[Action]:
        """The rate limiter's answer about `request`: None to go ahead, else seconds to wait."""
        if self.state in (State.DRAINING, State.CLOSED):
            return [self._going_away(request.id)]
        if retry_after is not None:
            text = f"Too many requests; retry in {retry_after:.1f} s"
            return [_error(ErrorCode.RATE_LIMITED, text, request.id)]
        return self._admit_run(Run(request, self._backend_request(request)))

    def _admit_run(self, run: Run) -> list[Action]:
        if self.state is State.DRAINING:
            return [self._going_away(run.request.id)]
        if self.running is None:
            return [self._start(run)]
        if self.policy.queue and len(self.queue) < MAX_QUEUED:
            self.queue.append(run)
            return []
        text = "A request is already running on this connection"
        return [_error(ErrorCode.BUSY, text, run.request.id)]

    def _start(self, run: Run) -> Start[Run]:
        if run.backend_request is not None:  # built when it starts, so it sees the last turn
            run.backend_request = self._backend_request(run.request)
        self.running = run
        self.running_stream = None
        self._move(State.RUNNING)
        return Start(run)

    def streaming(self, run: Run, stream: str) -> None:
        """The stream `run` makes (so a cancel naming it stops it here)."""
        if run is self.running:
            self.running_stream = stream

    def _backend_request(self, request: protocol.Request) -> CompletionRequest:
        carry_on = request.continue_conversation
        if carry_on is None:
            carry_on = self.policy.continue_by_default
        memory = self.conversation if carry_on else Conversation()
        return CompletionRequest(
            input=request.input,
            model=self.policy.model,
            instructions=self.policy.instructions,
            history=memory.turns,
            previous_response_id=memory.last_response_id,
        )

    def on_finished(self, run: Run, text: str | None, completion: Completion, now: float
                    ) -> list[Action]:  # fmt: skip
        """`run`'s stream reached the client whole (its `done` included): remember the turn."""
        sent = run.backend_request
        if sent is not None and text is not None:
            memory = Conversation(sent.history, sent.previous_response_id)
            self.conversation = memory.after(
                Turn(sent.input, text), completion.response_id, self.policy.memory_bytes
            )
        return self._next(run, now)

    def on_failed(self, run: Run, now: float) -> list[Action]:
        """`run` ended with an error its stream told the client (or the client left): go on."""
        return self._next(run, now)

    def on_refused(self, run: Run, code: ErrorCode, message: str, now: float) -> list[Action]:
        """`run` could not follow its stream (unknown or lost): tell the client, go on."""
        return [_error(code, message, run.request.id), *self._next(run, now)]

    def _next(self, run: Run, now: float) -> list[Action]:
        if run is self.running:
            self.running = None
        self.last_activity = now
        if self.state is State.DRAINING:
            self._move(State.CLOSED)
            return [Close(CLOSE_GOING_AWAY, "server shutting down")]
        if self.state is State.CLOSED:
            return []
        if self.queue:
            return [self._start(self.queue.pop(0))]
        self.running_stream = None
        self._move(State.IDLE)
        return []

    def on_tick(self, now: float) -> list[Action]:
        """Time passed: close an idle connection whose idle timeout has run out."""
        timeout = self.policy.idle_timeout
        if self.state is State.IDLE and timeout and now - self.last_activity >= timeout:
            self._move(State.CLOSED)
            return [Close(CLOSE_NORMAL, "idle timeout")]
        return []

    def next_deadline(self) -> float | None:
        """When the idle timeout would close this connection, if it stays idle."""
        if self.state is not State.IDLE or not self.policy.idle_timeout:
            return None
        return self.last_activity + self.policy.idle_timeout

    def on_drain(self) -> list[Action]:
        """The server is shutting down: take nothing new; close once the running request ends
        (with another node to go to, idle clients are told to reconnect there at once)."""
        if self.state is State.CLOSED:
            return []
        dropped: list[Action] = [self._going_away(r.request.id) for r in self.queue]
        self.queue.clear()
        self._move(State.DRAINING)
        if self.running is None:
            self._move(State.CLOSED)
            if self.policy.handoff:
                dropped.append(Send(protocol.reconnect_frame(None, 0)))
            return [*dropped, Close(CLOSE_GOING_AWAY, "server shutting down")]
        return dropped

    def on_drain_timeout(self) -> list[Action]:
        """The drain is nearly over: hand the running request's client to another node (its
        stream goes on here), or, with none to go to, stop it."""
        run = self.running
        if run is None or run.stop is not None:
            return []
        if self.policy.handoff:
            self._move(State.CLOSED)
            return [Handoff(run)]
        run.stop = StopReason.SHUTDOWN
        return [Stop(run)]

    def on_disconnect(self) -> list[Action]:
        """The client is gone: stop what runs, forget what waits."""
        self.queue.clear()
        self._move(State.CLOSED)
        run = self.running
        if run is None or run.stop is not None:
            return []
        run.stop = StopReason.DISCONNECTED
        return [Stop(run)]


def _error(code: ErrorCode, message: str, request_id: protocol.RequestId) -> Send:
    return Send(protocol.error_frame(code, message, request_id))


_BINARY_HINT = 'Binary frames are not accepted; send JSON text like {"input": "..."}'
