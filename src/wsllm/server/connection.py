"""One seed-protocol connection as a state machine with no I/O: events in, actions out.

The adapter (`server/seed.py`) reads frames, passes them here with the time, and carries out the
actions it gets back: send a frame, start or stop a request, close. The text of a running request
streams in the adapter (the hot path); this core decides everything else: who may speak, what a
second request gets, what a cancel stops, what the conversation remembers, when to close.

    AUTHENTICATING --auth ok--> IDLE <--finished-- RUNNING
          |                      |  --request-->    |
          +-------> CLOSED <-----+---- DRAINING <---+
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

from wsllm import protocol
from wsllm.backends import Completion, CompletionRequest, Turn
from wsllm.codes import ErrorCode
from wsllm.errors import ProtocolError
from wsllm.server.auth import key_ok

MAX_QUEUED = 32
CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_POLICY = 1000, 1001, 1008
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


@dataclass(slots=True)
class Run:
    """One request being served."""

    request: protocol.Request
    backend_request: CompletionRequest
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


Action = Send | Admit | Start[Run] | Stop[Run] | Close


@dataclass(slots=True)
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


def _turn_bytes(turn: Turn) -> int:
    return len(turn.user.encode()) + len(turn.assistant.encode())


class Connection:
    """The protocol's decisions for one connection."""

    def __init__(self, policy: Policy, identity: str | None, now: float) -> None:
        self.policy = policy
        self.identity = identity
        self.state = State.AUTHENTICATING if identity is None else State.IDLE
        self.running: Run | None = None
        self.queue: deque[protocol.Request] = deque()
        self.conversation = Conversation()
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
            return [_error(ErrorCode.SHUTTING_DOWN, "The server is shutting down", message.id)]
        return [Admit(message)]

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
        self.identity = "key:" + control.token[-6:]
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
            run = self.running
            if run is not None and run.stop is None and control.id in (None, run.request.id):
                run.stop = StopReason.CANCELLED
                return [Stop(run)]
        elif control.type == "reset":
            self.conversation = Conversation()
        return []

    def on_admitted(self, request: protocol.Request, retry_after: float | None) -> list[Action]:
        """The rate limiter's answer about `request`: None to go ahead, else seconds to wait."""
        if self.state in (State.DRAINING, State.CLOSED):
            return [_error(ErrorCode.SHUTTING_DOWN, "The server is shutting down", request.id)]
        if retry_after is not None:
            text = f"Too many requests; retry in {retry_after:.1f} s"
            return [_error(ErrorCode.RATE_LIMITED, text, request.id)]
        if self.running is None:
            return [self._start(request)]
        if self.policy.queue and len(self.queue) < MAX_QUEUED:
            self.queue.append(request)
            return []
        text = "A request is already running on this connection"
        return [_error(ErrorCode.BUSY, text, request.id)]

    def _start(self, request: protocol.Request) -> Start[Run]:
        self.running = Run(request, self._backend_request(request))
        self._move(State.RUNNING)
        return Start(self.running)

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

    def on_finished(self, run: Run, text: str, completion: Completion, now: float
                    ) -> list[Action]:  # fmt: skip
        """`run` streamed its whole reply: close the request with `done` and remember the turn."""
        sent = run.backend_request
        memory = Conversation(sent.history, sent.previous_response_id)
        self.conversation = memory.after(
            Turn(sent.input, text), completion.response_id, self.policy.memory_bytes
        )
        done = Send(protocol.done_frame(run.request.id, completion.usage))
        return [done, *self._next(run, now)]

    def on_failed(self, run: Run, code: ErrorCode, message: str, now: float) -> list[Action]:
        """`run` ended with an error (or was stopped): tell the client why, then go on."""
        actions: list[Action] = []
        if run.stop is not StopReason.DISCONNECTED:
            actions.append(_error(code, message, run.request.id))
        return actions + self._next(run, now)

    def failure_of(self, run: Run) -> tuple[ErrorCode, str]:
        """The code and message a stopped run ends with."""
        if run.stop is StopReason.CANCELLED:
            return ErrorCode.CANCELLED, "Request cancelled"
        if run.stop is StopReason.SHUTDOWN:
            return ErrorCode.SHUTTING_DOWN, "The server shut down before this request finished"
        return ErrorCode.CANCELLED, "The client went away"

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
            return [self._start(self.queue.popleft())]
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
        """The server is shutting down: take nothing new; close once the running request ends."""
        if self.state is State.CLOSED:
            return []
        dropped: list[Action] = [
            _error(ErrorCode.SHUTTING_DOWN, "The server is shutting down", r.id) for r in self.queue
        ]
        self.queue.clear()
        self._move(State.DRAINING)
        if self.running is None:
            self._move(State.CLOSED)
            return [*dropped, Close(CLOSE_GOING_AWAY, "server shutting down")]
        return dropped

    def on_drain_timeout(self) -> list[Action]:
        """The drain took too long: stop the running request."""
        run = self.running
        if run is None or run.stop is not None:
            return []
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
