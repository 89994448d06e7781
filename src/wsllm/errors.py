"""The one exception root of wsllm.

WsllmError
 +-- ConfigError        bad settings or flags; raised before anything is served
 +-- ProtocolError      a client frame the protocol rejects; carries an ErrorCode
 +-- UpstreamError      the model backend failed; carries an ErrorCode and a readable message
"""

from __future__ import annotations

from wsllm.protocol_codes import ErrorCode


class WsllmError(Exception):
    """Root of every error wsllm raises on purpose."""


class ConfigError(WsllmError):
    """A setting, flag or file is wrong; the message says which and what was expected."""


class CodedError(WsllmError):
    """An error that reaches a client as an `error` frame with a stable code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ProtocolError(CodedError):
    """A client frame that the seed protocol rejects."""


class UpstreamError(CodedError):
    """The model backend failed: unreachable, refused, rate limited, broken stream."""

    def __init__(self, code: ErrorCode, message: str, status: int | None = None) -> None:
        super().__init__(code, message)
        self.status = status
