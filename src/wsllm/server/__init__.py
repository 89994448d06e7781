"""The WebSocket server: `/health`, the seed protocol on `/ws` and `/ws-stream`, one backend."""
