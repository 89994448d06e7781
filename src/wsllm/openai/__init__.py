"""OpenAI-compatible servers: the one HTTP client, and pure codecs for each API it speaks."""
