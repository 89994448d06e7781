"""`wsllm eval`: promptfoo-style test suites against WebSocket LLM endpoints."""
