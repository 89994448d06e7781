"""Load generation for WebSocket streaming endpoints."""
