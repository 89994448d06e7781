"""wsllm: stream LLM output over WebSockets, and test what streams."""

__version__ = "0.1.0"
