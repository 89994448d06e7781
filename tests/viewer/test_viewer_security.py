"""Who the viewer answers: only requests naming it by its own names (DNS rebinding), only with the
token when one is set, never the network without one; bad input is 400; stored secrets never show."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.cli_process import clean_env, run_wsllm
from tests.store.test_truth import CONFIG_WITH_SECRETS, SECRETS, run_record
from tests.viewer.conftest import viewing
from wsllm.store import ResultStore

TOKEN = "a-long-random-secret-for-tests-0123"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store with one run whose config held secrets."""
    path = tmp_path / "r.db"
    store = ResultStore(path)
    store.begin_run(run_record("eval-keys", config=CONFIG_WITH_SECRETS))
    store.close()
    return path


async def status_of(http: aiohttp.ClientSession, url: str, **headers: str) -> int:
    async with http.get(url, headers=headers, allow_redirects=False) as response:
        return response.status


async def test_a_page_from_another_site_cannot_read_the_viewer(
    db: Path, http: aiohttp.ClientSession
) -> None:
    async with viewing(db) as base:
        port = base.rsplit(":", 1)[1]
        assert await status_of(http, f"{base}/api/runs", Host=f"attacker.example:{port}") == 403
        assert await status_of(http, f"{base}/", Host="attacker.example") == 403
        async with http.get(
            f"{base}/api/runs", headers={"Host": "rebind.attacker.example"}
        ) as response:
            assert "attacker" in (await response.json())["error"]
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]", socket.gethostname()):
            assert await status_of(http, f"{base}/api/runs", Host=host) == 200, host


async def test_allow_host_adds_a_name(db: Path, http: aiohttp.ClientSession) -> None:
    async with viewing(db, "--allow-host", "results.lan") as base:
        assert await status_of(http, f"{base}/api/runs", Host="results.lan") == 200
        assert await status_of(http, f"{base}/api/runs", Host="other.lan") == 403


async def test_with_a_token_every_request_needs_it(db: Path, http: aiohttp.ClientSession) -> None:
    async with viewing(db, WSLLM_VIEW_TOKEN=TOKEN) as base:
        assert await status_of(http, f"{base}/api/runs") == 401
        assert await status_of(http, f"{base}/") == 401
        assert await status_of(http, f"{base}/api/runs?token=wrong") == 401
        assert await status_of(http, f"{base}/api/runs", Authorization="Bearer wrong") == 401
        assert await status_of(http, f"{base}/api/runs", Authorization=f"Bearer {TOKEN}") == 200
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(f"{base}/?token={TOKEN}", allow_redirects=False) as first:
                assert first.status == 302
                assert "token" not in first.headers["Location"]  # dropped from the address bar
            assert await status_of(browser, f"{base}/api/runs") == 200  # the cookie carries it
            async with browser.get(f"{base}/") as page:
                assert page.status == 200
                assert "wsllm view" in await page.text()


async def test_beyond_loopback_without_a_token_it_refuses_to_start(
    db: Path, tmp_path: Path
) -> None:
    code, _, err = await run_wsllm("view", "--db", str(db), "--host", "0.0.0.0", "--port", "0",
                                     cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 1
    assert "WSLLM_VIEW_TOKEN" in err
    assert "--host 0.0.0.0 serves the stored runs beyond this machine" in err
    assert "Traceback" not in err


async def test_beyond_loopback_with_a_token_it_serves_and_asks_for_it(
    db: Path, http: aiohttp.ClientSession
) -> None:
    async with viewing(db, "--host", "0.0.0.0", WSLLM_VIEW_TOKEN=TOKEN) as base:
        url = base.replace("0.0.0.0", "127.0.0.1")
        assert await status_of(http, f"{url}/api/runs") == 401
        assert await status_of(http, f"{url}/api/runs", Authorization=f"Bearer {TOKEN}") == 200


async def test_a_taken_port_says_how_to_pick_another(db: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await run_wsllm("view", "--db", str(db), "--port", str(port),
                                       cwd=tmp_path, env=clean_env())  # fmt: skip
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}: " in err
    assert "; the port is taken: pick another with --port, or --port 0 for a free one" in err


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/eval-keys/results/²",
        "/api/runs/eval-keys/results/١",
        "/api/runs/eval-keys/results/" + "9" * 5000,
        "/api/runs/eval-keys/results/99999999999999999999",
        "/api/runs?limit=²",
        "/api/runs?offset=" + "1" * 5000,
        "/api/runs/eval-keys/matrix?limit=³",
    ],
)
async def test_bad_numbers_are_400_not_500(
    db: Path, http: aiohttp.ClientSession, path: str
) -> None:
    async with viewing(db) as base, http.get(base + path) as response:
        assert response.status == 400
        assert "whole number" in (await response.json())["error"]


async def test_stored_secrets_never_come_back(db: Path, http: aiohttp.ClientSession) -> None:
    async with viewing(db) as base:
        for path in ("/api/runs/eval-keys", "/api/runs/eval-keys/export.json", "/api/runs"):
            async with http.get(base + path) as response:
                body = await response.text()
            assert [s for s in SECRETS if s in body] == [], path
        async with http.get(base + "/api/runs/eval-keys") as response:
            config = (await response.json())["config"]
    assert config["env"]["OPENAI_API_KEY"] == "[redacted]"
    assert json.dumps(config).count("[redacted]") == 7
