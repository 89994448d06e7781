"""Stable error codes carried by `error` frames; clients may switch on them."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code an `error` frame can carry."""

    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    MISSING_INPUT = "missing_input"
    BINARY_FRAME = "binary_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    UNKNOWN_TYPE = "unknown_type"
    BUSY = "busy"
    CANCELLED = "cancelled"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    SLOW_CONSUMER = "slow_consumer"
    SHUTTING_DOWN = "shutting_down"
    STREAM_NOT_FOUND = "stream_not_found"
    STREAM_LOST = "stream_lost"
    UPSTREAM_UNREACHABLE = "upstream_unreachable"
    UPSTREAM_AUTH = "upstream_auth"
    UPSTREAM_RATE_LIMITED = "upstream_rate_limited"
    UPSTREAM_REJECTED = "upstream_rejected"
    UPSTREAM_SERVER_ERROR = "upstream_server_error"
    UPSTREAM_FAILED = "upstream_failed"
    UPSTREAM_INTERRUPTED = "upstream_interrupted"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_PROTOCOL = "upstream_protocol"
    INTERNAL = "internal_error"
