"""Build configs from YAML text and run them in-process."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

from wsllm.evals.config.loading import load_config
from wsllm.evals.results import TestResult
from wsllm.evals.runner import RunOptions, plan, run_context, run_jobs
from wsllm.evals.schema import EvalConfig

SEED_STREAM = """
(accumulator, event, context) => {
  const { message, type } = JSON.parse(event.data);
  if (type === 'message') { return [{ output: message }, true]; }
  if (type === 'error')   { return [{ error: message }, true]; }
  return [{output: message}, false];
}
"""


def write_config(folder: Path, text: str, name: str = "promptfooconfig.yaml") -> Path:
    """Write a config (dedented) into `folder`; return its path."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def load(folder: Path, text: str) -> EvalConfig:
    """Write and load a config."""
    return load_config(write_config(folder, text))


def target_config(url: str, stream: str | None = SEED_STREAM, extra: str = "") -> str:
    """A one-prompt config with one WebSocket target and one test."""
    stream_part = ""
    if stream is not None:
        body = textwrap.indent(textwrap.dedent(stream).strip(), " " * 12)
        stream_part = f"          streamResponse: |\n{body}\n"
    return (
        "prompts: ['{{question}}']\n"
        "providers:\n"
        f"  - id: '{url}'\n"
        "    config:\n"
        "          messageTemplate: '{\"input\": {{prompt | dump}}}'\n"
        f"{stream_part}{extra}"
        "tests:\n"
        "  - vars: {question: 'hello there'}\n"
    )


async def run(config: EvalConfig, **options: object) -> list[TestResult]:
    """Run every job of `config`; return the results in plan order."""
    run_options = RunOptions(**options)  # type: ignore[arg-type]
    context = run_context(config, run_options)
    results, _ = await run_jobs(
        plan(config, run_options), context, run_options, lambda i, r: None, asyncio.Event()
    )
    return results
