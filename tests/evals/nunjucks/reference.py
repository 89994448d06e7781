"""Nunjucks itself, as a reference: the copy that comes with the promptfoo the compatibility
tests install (tests/promptfoo.py), run with node over a whole corpus at once."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.promptfoo import cache_dir, ensure_promptfoo

NUNJUCKS_VERSION = "3.2.4"  # the one promptfoo 0.120.27 depends on
SCRIPT = Path(__file__).with_name("render_nunjucks.cjs")


def nunjucks_dir() -> Path:
    """The nunjucks package, installing promptfoo (and so nunjucks) on first use."""
    package = cache_dir() / "node_modules" / "nunjucks"
    if not package.exists():
        asyncio.run(ensure_promptfoo())
    version = json.loads((package / "package.json").read_text())["version"]
    assert version == NUNJUCKS_VERSION, f"{package} is nunjucks {version}"
    return package


def render_all(groups: list[dict[str, Any]], env: dict[str, str], workdir: Path) -> Any:
    """Each group's templates rendered with its context: [[{"text"} or {"error"}, ...], ...]."""
    node = shutil.which("node")
    assert node, "node is needed to run Nunjucks"
    corpus = workdir / "corpus.json"
    corpus.write_text(json.dumps({"env": env, "groups": groups}))
    done = subprocess.run([node, str(SCRIPT), str(nunjucks_dir()), str(corpus)],
                          capture_output=True, text=True, cwd=workdir, timeout=120, check=True)  # fmt: skip
    return json.loads(done.stdout)
