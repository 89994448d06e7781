"""The WebSocket server: `/health`, `/ws` and `/ws-stream` over one backend."""

from wsllm.server.app import create_app

__all__ = ["create_app"]
