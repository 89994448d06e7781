"""Every exception wsllm raises on purpose, under one root.

WsllmError
 +-- ConfigError          a setting, flag or config file is wrong; raised before anything runs
 +-- CodedError           reaches a client as an `error` frame or event with a stable code
 |    +-- ProtocolError   a client frame the protocol rejects
 |    +-- UpstreamError   the model server failed: unreachable, refused, broken stream
 |    +-- StreamError     a resumable stream cannot be found, or was lost with its node
 +-- SlowConsumer         a client stopped reading and its send buffer stayed full
 +-- TargetError          a call to an eval or bench target failed; the message says why
 |    +-- HandshakeError  the target answered the WebSocket upgrade with another status
 |    +-- ConnectionClosed the target closed the connection
 +-- ScriptError          a config's JavaScript or Python function failed or timed out
 |    +-- HookError       an extension hook threw or returned what it may not: the run stops
 +-- GradingFault         an assertion could not be run at all: that test is an error
 +-- GraderError          a grading model could not be asked, or kept failing
 |    +-- GraderAnswerError  the grader answered, but not in the form asked for
 +-- EmbeddingError       embeddings could not be computed
 +-- StoreError           the results database cannot be used; the message says what to do
"""

from __future__ import annotations

from wsllm.codes import ErrorCode


class WsllmError(Exception):
    """Root of every error wsllm raises on purpose."""


class ConfigError(WsllmError):
    """A setting, flag or file is wrong; the message says which and what was expected."""


class CodedError(WsllmError):
    """An error that reaches a client with a stable code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ProtocolError(CodedError):
    """A client frame that the protocol rejects."""


class UpstreamError(CodedError):
    """The model backend failed: unreachable, refused, rate limited, broken stream."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message)
        self.status = status
        self.retry_after = retry_after


class StreamError(CodedError):
    """A stream a client asked to resume or cancel is unknown, expired or lost."""


class SlowConsumer(WsllmError):
    """The client stopped reading and its send buffer stayed full."""


class TargetError(WsllmError):
    """A call to a target could not produce a response; the message says why."""


class HandshakeError(TargetError):
    """The server answered the WebSocket upgrade with something other than 101."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"handshake rejected: HTTP {status} {reason}".strip())
        self.status = status


class ConnectionClosed(TargetError):
    """The connection closed; `code` is the close code, if the server sent one."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"connection closed (code {code})" if code else "connection lost")
        self.code = code


class ScriptError(WsllmError):
    """A JavaScript or Python function from a config threw, timed out, or returned garbage."""


class HookError(ScriptError):
    """An extension hook threw, or returned something it may not; the run stops."""


class GradingFault(WsllmError):
    """An assertion could not be run at all (a bad value, a value function that threw): that
    test is an error, as in promptfoo."""


class GraderError(WsllmError):
    """The grader could not be reached or kept failing."""


class GraderAnswerError(GraderError):
    """The grader's answer is not in the form asked for."""


class EmbeddingError(WsllmError):
    """Embeddings could not be computed."""


class StoreError(WsllmError):
    """The results database cannot be used; the message says why and what to do."""
