"""`wsllm init`: write a starter promptfooconfig.yaml for a WebSocket endpoint that streams, with
the streamResponse that folds the seed protocol's frames."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from wsllm.commands import parser, path

if TYPE_CHECKING:
    from wsllm.commands import Subcommands

DEFAULT_URL = "ws://localhost:3300/ws-stream"

STARTER = """\
# A starter suite for a WebSocket endpoint that streams (the seed protocol: delta frames, then
# the full message). Start one with `wsllm serve --port 3300`, then run `wsllm eval` here.
description: My streaming endpoint

prompts:
  - '{{{{question}}}}'

providers:
  - id: '{url}'
    label: my-endpoint
    config:
      messageTemplate: '{{"input": {{{{prompt | dump}}}}}}'
      # Every frame goes to streamResponse until it returns true: the `message` frame ends it.
      streamResponse: |
        (accumulator, event, context) => {{
          const {{ message, type }} = JSON.parse(event.data);
          if (type === 'message') {{ return [{{ output: message }}, true]; }}
          if (type === 'error')   {{ return [{{ error: message }}, true]; }}
          return [{{ output: message }}, false];
        }}

tests:
  - description: answers the question
    vars:
      question: What is the capital of France?
    assert:
      - type: icontains
        value: France
      - type: ttft
        threshold: 2000
  - description: streams without long stalls
    vars:
      question: Explain WebSockets in one sentence.
    assert:
      - type: javascript
        value: output.split(' ').length > 5
      - type: max-gap
        threshold: 1000
"""


def add_parser(commands: Subcommands) -> None:
    """The `init` subcommand's flags."""
    p = parser(
        commands, "init", help="write a starter promptfooconfig.yaml for a WebSocket endpoint",
        description="Write promptfooconfig.yaml (in FOLDER, default here) for `wsllm eval`.",
    )  # fmt: skip
    p.add_argument("folder", nargs="?", type=path, help="where to write it (default: here)")
    p.add_argument("--url", default=DEFAULT_URL, help=f"the endpoint to test ({DEFAULT_URL})")
    p.add_argument("--force", action="store_true", help="replace a promptfooconfig.yaml there")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the starter config; refuse to overwrite one unless asked."""
    from pathlib import Path

    from wsllm.errors import ConfigError

    folder = Path(args.folder or ".")
    if not args.url.startswith(("ws://", "wss://")):
        raise ConfigError(f"--url {args.url}: expected a ws:// or wss:// URL")
    target = folder / "promptfooconfig.yaml"
    if target.exists() and not args.force:
        raise ConfigError(f"{target} already exists (--force replaces it)")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(STARTER.format(url=args.url), encoding="utf-8")
    print(f"Wrote {target}. Next: start an endpoint (wsllm serve --port 3300), then run: "
          f"wsllm eval -c {target}")  # fmt: skip
    return 0
