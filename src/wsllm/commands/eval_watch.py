"""`wsllm eval --watch`: run, then run again whenever the config or a file it names changes."""

from __future__ import annotations

import argparse
import glob
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wsllm.errors import WsllmError
from wsllm.evals.config.loading import find_config, read_yaml


def watched_paths(config: Path) -> list[Path]:
    """The config and every file its `file://` references name (globs expanded)."""
    base = config.parent
    paths = {config.resolve()}
    try:
        raw = read_yaml(config, config.name)
    except WsllmError:
        raw = None
    for reference in _references(raw):
        text = reference[7:]
        colon = text.rfind(":")
        text = text[:colon] if colon > 1 else text
        paths.update(Path(p).resolve() for p in glob.glob(str(base / text)))
    return sorted(p for p in paths if p.is_file())


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("file://"):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _references(item)


def watch(args: argparse.Namespace) -> int:
    """Run the eval, then again after each change, until Ctrl-C."""
    from watchfiles import watch as changes

    from wsllm.commands.eval_job import run_eval

    try:
        while True:
            try:
                run_eval(args)
            except WsllmError as exc:
                print(f"wsllm: error: {exc}", file=sys.stderr)
            paths = watched_paths(find_config(args.config))
            print(f"Watching {len(paths)} file(s) for changes (Ctrl-C to stop)...", file=sys.stderr)
            next(iter(changes(*paths, raise_interrupt=True)))
    except KeyboardInterrupt:
        return 130
