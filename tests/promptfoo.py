"""promptfoo as a real client, installed from npm on first use into a cache outside the repo."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import orjson

PROMPTFOO_VERSION = "0.120.27"  # the newest release that runs on Node 20


def cache_dir() -> Path:
    """Where promptfoo is installed: $WSLLM_TEST_CACHE, else ~/.cache/wsllm-tests."""
    root = os.environ.get("WSLLM_TEST_CACHE") or Path.home() / ".cache" / "wsllm-tests"
    return Path(root) / f"promptfoo-{PROMPTFOO_VERSION}"


async def ensure_promptfoo() -> Path:
    """The promptfoo executable, installing it with npm if this machine has not yet."""
    home = cache_dir()
    binary = home / "node_modules" / ".bin" / "promptfoo"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install promptfoo for the compatibility tests")
    home.mkdir(parents=True, exist_ok=True)
    (home / "package.json").write_text('{"private": true}\n')
    process = await asyncio.create_subprocess_exec(
        npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
        f"promptfoo@{PROMPTFOO_VERSION}", cwd=home,
    )  # fmt: skip
    if await process.wait() != 0 or not binary.exists():
        raise RuntimeError(f"npm could not install promptfoo@{PROMPTFOO_VERSION} into {home}")
    return binary


async def promptfoo_eval(
    config: Path, output: Path, state: Path, *extra: str, extra_env: dict[str, str] | None = None
) -> dict[str, object]:
    """Run `promptfoo eval` on `config` (with `extra` flags); return the results JSON it writes."""
    binary = await ensure_promptfoo()
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(state),
        "CI": "true",
        **(extra_env or {}),
    }
    process = await asyncio.create_subprocess_exec(
        str(binary), "eval", "-c", str(config), "--no-cache", "--no-progress-bar",
        "-o", str(output), *extra,
        cwd=config.parent, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    log, _ = await process.communicate()
    if not output.exists():
        raise AssertionError(f"promptfoo wrote no results; its output:\n{log.decode()}")
    results: dict[str, object] = orjson.loads(output.read_bytes())
    return results
