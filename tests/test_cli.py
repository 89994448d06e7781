"""`wsllm serve` as a user runs it: a subprocess, its environment, its .env, its flags."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp

from tests.cli_process import ServeProcess, clean_env, run_wsllm
from tests.conftest import ask, receive, ws_url
from tests.fakes.openai_upstream import FakeOpenAI, reply_tokens


async def test_serve_on_the_embedded_backend(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    server = await ServeProcess.start("--port", "0", cwd=tmp_path, env=clean_env())
    base = await server.base_url()
    assert "simulated model" in await server.line_matching("backend:")
    await server.line_matching("not a real model")
    async with http.get(f"{base}/health") as response:
        health = await response.json()
    assert (health["status"], health["backend"]) == ("ok", "simulated")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        frames = await ask(ws, {"input": "hi"})
    assert frames[-1]["type"] == "done"
    assert await server.stop() == 0


async def test_settings_come_from_dotenv_then_environment_then_flags(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=0\nCHATBOT_MODEL=model-from-dotenv\n")
    server = await ServeProcess.start(cwd=tmp_path, env=clean_env())
    assert "model-from-dotenv" in await server.line_matching("model:")
    await server.stop()
    server = await ServeProcess.start(cwd=tmp_path, env=clean_env(CHATBOT_MODEL="model-from-env"))
    assert "model-from-env" in await server.line_matching("model:")
    await server.stop()
    server = await ServeProcess.start(
        "--model", "model-from-flag", cwd=tmp_path, env=clean_env(CHATBOT_MODEL="model-from-env")
    )
    assert "model-from-flag" in await server.line_matching("model:")
    await server.stop()


async def test_an_api_key_serves_the_responses_api(
    tmp_path: Path, fake_openai: FakeOpenAI, http: aiohttp.ClientSession
) -> None:
    env = clean_env(OPENAI_API_KEY="sk-env", OPENAI_BASE_URL=fake_openai.base_url, PORT="0")
    server = await ServeProcess.start(cwd=tmp_path, env=env)
    base = await server.base_url()
    assert "Responses API" in await server.line_matching("backend:")
    async with http.ws_connect(ws_url(base, "/ws-stream")) as ws:
        await receive(ws)
        frames = await ask(ws, {"input": "via the CLI"})
    assert frames[-2]["message"] == "".join(reply_tokens("via the CLI", fake_openai.tokens))
    assert fake_openai.requests[-1].headers["Authorization"] == "Bearer sk-env"
    assert fake_openai.requests[-1].body["model"] == "gpt-4.1-mini"
    await server.stop()


async def test_a_bad_setting_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = await run_wsllm("serve", cwd=tmp_path, env=clean_env(PORT="abc"))
    assert code == 1
    assert "wsllm: error: PORT='abc'" in err
    assert "Traceback" not in err


async def test_redis_without_its_package_is_a_clear_error(tmp_path: Path) -> None:
    # A redis package that cannot be imported, first on the path: as if it were not installed.
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "__init__.py").write_text("raise ImportError('no redis here')\n")
    env = clean_env(PYTHONPATH=str(tmp_path))
    code, _, err = await run_wsllm("serve", "--redis-url", "redis://127.0.0.1:1", cwd=tmp_path,
                                   env=env)  # fmt: skip
    assert code == 1
    assert "needs the redis package: pip install 'wsllm[redis]'" in err
    assert "Traceback" not in err


async def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code, _, err = await run_wsllm("serve", "--port", port, cwd=tmp_path, env=clean_env())
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


async def test_usage_and_version(tmp_path: Path) -> None:
    code, out, _ = await run_wsllm("--version", cwd=tmp_path, env=clean_env())
    assert (code, out.split()[0]) == (0, "wsllm")
    code, _, err = await run_wsllm(cwd=tmp_path, env=clean_env())
    assert code == 2
    assert "serve" in err  # the help lists the commands


async def test_reload_restarts_on_a_code_change(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    code_dir = tmp_path / "app"
    code_dir.mkdir()
    (code_dir / "hooks.py").write_text("X = 1\n")
    server = await ServeProcess.start(
        "--port", "0", "--reload", "--reload-dir", str(code_dir), cwd=tmp_path, env=clean_env()
    )
    await server.base_url()
    await asyncio.sleep(0.5)  # let the watcher settle before the change
    (code_dir / "hooks.py").write_text("X = 2\n")
    await server.line_matching("restarting: .*hooks.py")
    restarted = await server.base_url()
    async with http.get(f"{restarted}/health") as response:
        assert response.status == 200
    assert await server.stop() == 0
