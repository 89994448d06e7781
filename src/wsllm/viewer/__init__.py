"""`wsllm view`: the stored runs in a browser."""
