"""OpenAI's Responses API WebSocket mode as a state machine with no I/O: events in, actions out.

A `response.create` per turn, on the default lane or on a `stream_id` lane: first in, first out
within a lane, lanes in parallel (up to MAX_ACTIVE at once, the rest wait). `previous_response_id`
is served from this connection's memory, so it works with `store: false`; an id it no longer
holds is `previous_response_not_found`. `generate: false` prepares a response id without asking
the model. Bad events get an `error` event with a stable code; the connection stays usable. The
adapter (`server/responses_ws.py`) streams the text of each run.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from wsllm.backends import Completion, CompletionRequest, Turn
from wsllm.server.connection import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    Close,
    Conversation,
    Send,
    Start,
    State,
    Stop,
    StopReason,
)
from wsllm.server.responses_events import ResponseEvents, error_event

MAX_ACTIVE = 16
MAX_LANES = 32
MAX_QUEUED_PER_LANE = 32
MEMORY_RESPONSES = 64
_LANE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")


@dataclass(frozen=True, slots=True)
class ResponsesPolicy:
    """The settings a Responses-mode connection obeys."""

    model: str = "model"
    instructions: str | None = None
    max_frame_bytes: int = 1_048_576
    connection_limit_s: float = 3600.0
    memory_bytes: int = 262_144
    idle_timeout: float = 0.0


@dataclass(frozen=True, slots=True)
class Create:
    """One `response.create`, checked."""

    lane: str | None
    text: str
    history: tuple[Turn, ...]
    instructions: str | None
    previous: str | None
    generate: bool


@dataclass(slots=True)
class ResponseRun:
    """One response being made, with the events that tell it."""

    create: Create
    backend_request: CompletionRequest
    events: ResponseEvents
    id: int = 0
    stop: StopReason | None = None

    @property
    def request(self) -> Create:
        """What was asked (for logs)."""
        return self.create


Action = Send | Start[ResponseRun] | Stop[ResponseRun] | Close


@dataclass(slots=True)
class Lane:
    """A `stream_id` (or the default lane): what runs there now, and what waits."""

    running: ResponseRun | None = None
    waiting: deque[Create] = field(default_factory=deque)


class Refused(Exception):
    """A client event refused with an `error` event (internal to this module)."""

    def __init__(self, code: str, message: str, param: str | None = None, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.param, self.status = code, message, param, status


class ResponsesConnection:
    """The protocol's decisions for one connection."""

    def __init__(self, policy: ResponsesPolicy, now: float) -> None:
        self.policy = policy
        self.state = State.IDLE
        self.opened_at = now
        self.last_activity = now
        self.lanes: dict[str | None, Lane] = {}
        self.memory: OrderedDict[str, Conversation] = OrderedDict()
        self._runs = 0

    @property
    def busy(self) -> bool:
        """Whether a response is running or waiting."""
        return any(lane.running or lane.waiting for lane in self.lanes.values())

    def _active(self) -> int:
        return sum(lane.running is not None for lane in self.lanes.values())

    def on_text(self, raw: str | bytes, now: float) -> list[Action]:
        """A text frame from the client."""
        self.last_activity = now
        lane: str | None = None
        try:
            event = _event_object(raw, self.policy.max_frame_bytes)
            lane = _lane_of(event)
            return self._on_event(event, now)
        except Refused as exc:
            stream = lane if exc.code != "invalid_stream_id" else None
            return [Send(error_event(exc.code, exc.message, exc.status, exc.param, stream))]

    def on_binary(self, now: float) -> list[Action]:
        """A binary frame: not part of the protocol."""
        self.last_activity = now
        text = "Binary frames are not accepted; send JSON text events"
        return [Send(error_event("binary_frame", text))]

    def _on_event(self, event: dict[str, Any], now: float) -> list[Action]:
        kind = event.get("type")
        if kind == "response.create":
            return self._on_create(event, now)
        if kind == "response.cancel":
            return self._on_cancel(event)
        if kind == "response.steer":
            raise Refused("steering_not_supported", "This server does not steer responses")
        raise Refused("unknown_type", f"Unknown event type {kind!r}; send response.create", "type")

    def _on_create(self, event: dict[str, Any], now: float) -> list[Action]:
        if self.state in (State.DRAINING, State.CLOSED):
            raise Refused("shutting_down", "The server is shutting down", status=503)
        if now - self.opened_at >= self.policy.connection_limit_s:
            return self._connection_limit()
        create = self._check_create(event)
        lane = self.lanes.get(create.lane)
        if lane is None:
            if create.lane is not None and len(self.lanes) - (None in self.lanes) >= MAX_LANES:
                text = f"A connection may use at most {MAX_LANES} stream ids"
                raise Refused("websocket_stream_limit_reached", text, "stream_id")
            lane = self.lanes[create.lane] = Lane()
        if len(lane.waiting) >= MAX_QUEUED_PER_LANE:
            raise Refused("too_many_queued", "Too many responses wait on this stream", "stream_id")
        lane.waiting.append(create)
        return self._start_what_can_run()

    def _connection_limit(self) -> list[Action]:
        minutes = self.policy.connection_limit_s / 60
        text = f"This connection has reached its {minutes:g}-minute limit; open a new one"
        self.state = State.CLOSED
        return [Send(error_event("websocket_connection_limit_reached", text)),
                Close(CLOSE_NORMAL, "connection limit reached")]  # fmt: skip

    def _check_create(self, event: dict[str, Any]) -> Create:
        if event.get("background"):
            raise Refused("invalid_request", "background is not supported over WebSocket",
                          "background")  # fmt: skip
        previous = event.get("previous_response_id")
        if previous is not None and not isinstance(previous, str):
            raise Refused("invalid_request", "previous_response_id must be a string",
                          "previous_response_id")  # fmt: skip
        memory = self._recall(previous)
        generate = event.get("generate", True)
        if not isinstance(generate, bool):
            raise Refused("invalid_request", "generate must be true or false", "generate")
        text, turns = _input_of(event.get("input"), generate)
        instructions = event.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise Refused("invalid_request", "instructions must be a string", "instructions")
        return Create(_lane_of(event), text, memory.turns + turns,
                      instructions or self.policy.instructions, previous, generate)  # fmt: skip

    def _recall(self, previous: str | None) -> Conversation:
        if previous is None:
            return Conversation()
        memory = self.memory.get(previous)
        if memory is None:
            raise Refused("previous_response_not_found",
                          f"Previous response with id '{previous}' not found.",
                          "previous_response_id")  # fmt: skip
        self.memory.move_to_end(previous)
        return memory

    def _start_what_can_run(self) -> list[Action]:
        actions: list[Action] = []
        for lane in self.lanes.values():
            if lane.running is None and lane.waiting and self._active() < MAX_ACTIVE:
                actions.append(self._start(lane, lane.waiting.popleft()))
        if self._active() and self.state is State.IDLE:
            self.state = State.RUNNING
        return actions

    def _start(self, lane: Lane, create: Create) -> Start[ResponseRun]:
        self._runs += 1
        request = CompletionRequest(
            input=create.text, model=self.policy.model, instructions=create.instructions,
            history=create.history, previous_response_id=self._backend_id(create.previous),
        )  # fmt: skip
        events = ResponseEvents(self.policy.model, create.lane, create.previous,
                                create.instructions)  # fmt: skip
        lane.running = ResponseRun(create, request, events, self._runs)
        return Start(lane.running)

    def _backend_id(self, previous: str | None) -> str | None:
        memory = self.memory.get(previous) if previous else None
        return memory.last_response_id if memory else None

    def on_finished(self, run: ResponseRun, text: str | None, completion: Completion, now: float
                    ) -> list[Action]:  # fmt: skip
        """`run` is done: tell the client, remember it for `previous_response_id`, go on."""
        # A warm-up (`generate: false`) keeps its input as a turn with no reply yet.
        turn = Turn(run.create.text, text or "")
        turns = run.create.history
        if run.create.text:
            turns = Conversation(turns).after(turn, None, self.policy.memory_bytes).turns
        self._remember(run.events.response_id, Conversation(turns, completion.response_id))
        done = Send(run.events.completed(text, completion.usage))
        return [done, *self._next(run, now)]

    def _remember(self, response_id: str, memory: Conversation) -> None:
        self.memory[response_id] = memory
        while len(self.memory) > MEMORY_RESPONSES:
            self.memory.popitem(last=False)

    def on_failed(self, run: ResponseRun, code: str, message: str, now: float) -> list[Action]:
        """`run` ended with an error (or was stopped): a `response.failed`, then go on."""
        actions: list[Action] = []
        if run.stop is not StopReason.DISCONNECTED:
            status = "cancelled" if run.stop is StopReason.CANCELLED else "failed"
            actions.append(Send(run.events.failed(code, message, status)))
        return actions + self._next(run, now)

    def on_refused(self, run: ResponseRun, now: float) -> list[Action]:
        """`run` was refused before it began (an `error` event said why): go on."""
        return self._next(run, now)

    def failure_of(self, run: ResponseRun) -> tuple[str, str]:
        """The code and message a stopped run ends with."""
        if run.stop is StopReason.CANCELLED:
            return "cancelled", "Request cancelled"
        if run.stop is StopReason.SHUTDOWN:
            return "shutting_down", "The server shut down before this response finished"
        return "cancelled", "The client went away"

    def _next(self, run: ResponseRun, now: float) -> list[Action]:
        lane = self.lanes.get(run.create.lane)
        if lane is not None and lane.running is run:
            lane.running = None
        self.last_activity = now
        if self.state is State.CLOSED:
            return []
        if self.state is State.DRAINING:
            if self._active():
                return []
            self.state = State.CLOSED
            return [Close(CLOSE_GOING_AWAY, "server shutting down")]
        actions = self._start_what_can_run()
        if not self._active():
            self.state = State.IDLE
        return actions

    def _on_cancel(self, event: dict[str, Any]) -> list[Action]:
        wanted = event.get("response_id")
        actions: list[Action] = []
        for lane_id, lane in self.lanes.items():
            run = lane.running
            if run is None or run.stop is not None:
                continue
            lane_wanted = event.get("stream_id") in (None, lane_id)
            if wanted in (None, run.events.response_id) and lane_wanted:
                run.stop = StopReason.CANCELLED
                actions.append(Stop(run))
        return actions

    def on_tick(self, now: float) -> list[Action]:
        """Time passed: close at the connection limit, or after the idle timeout."""
        if self.state is not State.IDLE:
            return []
        if now - self.opened_at >= self.policy.connection_limit_s:
            return self._connection_limit()
        timeout = self.policy.idle_timeout
        if timeout and now - self.last_activity >= timeout:
            self.state = State.CLOSED
            return [Close(CLOSE_NORMAL, "idle timeout")]
        return []

    def next_deadline(self) -> float | None:
        """When `on_tick` may next have something to do."""
        if self.state is not State.IDLE:
            return None
        limit = self.opened_at + self.policy.connection_limit_s
        idle = self.last_activity + self.policy.idle_timeout if self.policy.idle_timeout else limit
        return min(limit, idle)

    def on_drain(self) -> list[Action]:
        """The server is shutting down: take nothing new; close once the running ones end."""
        if self.state is State.CLOSED:
            return []
        text = "The server is shutting down"
        dropped = [Send(error_event("shutting_down", text, 503, None, c.lane))
                   for lane in self.lanes.values() for c in lane.waiting]  # fmt: skip
        for lane in self.lanes.values():
            lane.waiting.clear()
        self.state = State.DRAINING
        if not self._active():
            self.state = State.CLOSED
            return [*dropped, Close(CLOSE_GOING_AWAY, "server shutting down")]
        return list(dropped)

    def on_drain_timeout(self) -> list[Action]:
        """The drain took too long: stop what runs."""
        return self._stop_all(StopReason.SHUTDOWN)

    def on_disconnect(self) -> list[Action]:
        """The client is gone: stop what runs (and close its upstream calls), forget the rest."""
        self.state = State.CLOSED
        for lane in self.lanes.values():
            lane.waiting.clear()
        return self._stop_all(StopReason.DISCONNECTED)

    def _stop_all(self, reason: StopReason) -> list[Action]:
        actions: list[Action] = []
        for lane in self.lanes.values():
            if lane.running is not None and lane.running.stop is None:
                lane.running.stop = reason
                actions.append(Stop(lane.running))
        return actions


def _event_object(raw: str | bytes, max_bytes: int) -> dict[str, Any]:
    if len(raw) > max_bytes:
        raise Refused(
            "frame_too_large", f"Event of {len(raw)} bytes is over the limit of {max_bytes}"
        )
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refused("invalid_json", "The event is not valid JSON") from None
    if not isinstance(event, dict):
        raise Refused("invalid_request", "An event must be a JSON object")
    return event


def _lane_of(event: dict[str, Any]) -> str | None:
    lane = event.get("stream_id")
    if lane is None:
        return None
    if not isinstance(lane, str) or not _LANE_ID.match(lane):
        raise Refused("invalid_stream_id", "stream_id must be 1 to 256 of A-Z a-z 0-9 _ . -",
                      "stream_id")  # fmt: skip
    return lane


def _input_of(value: Any, generate: bool) -> tuple[str, tuple[Turn, ...]]:
    """The new user text and any earlier turns of an `input` (a string or a list of items);
    system and developer messages are left to `instructions`."""
    if isinstance(value, str) and value.strip():
        return value, ()
    if isinstance(value, list):
        return _items_input(value, generate)
    if value is None and not generate:
        return "", ()
    raise Refused("missing_input", 'Missing "input": a non-empty string or a list of items',
                  "input")  # fmt: skip


def _items_input(items: list[Any], generate: bool) -> tuple[str, tuple[Turn, ...]]:
    messages = [(role, text) for item in items if (m := _message_text(item)) for role, text in [m]]
    users = [text for role, text in messages if role == "user"]
    if not users and generate:
        raise Refused("missing_input", "The input holds no user message with text", "input")
    turns, pending = [], None
    for role, text in messages[:-1] if messages and messages[-1][0] == "user" else messages:
        if role == "user":
            pending = text
        elif pending is not None:
            turns.append(Turn(pending, text))
            pending = None
    last = messages[-1][1] if messages and messages[-1][0] == "user" else ""
    return last, tuple(turns)


def _message_text(item: Any) -> tuple[str, str] | None:
    if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
        return None
    content = item.get("content")
    if isinstance(content, str):
        return item["role"], content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return item["role"], "".join(p for p in parts if isinstance(p, str))
    return None
