"""The viewer's API: what it answers, and 4xx (never 500) for bad ids and parameters."""

from __future__ import annotations

import csv
import io
from typing import Any

import aiohttp
import pytest


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_runs_matrix_result_and_compare(viewer: str, http: aiohttp.ClientSession) -> None:
    status, body = await get(http, f"{viewer}/api/runs")
    assert status == 200
    runs = body["runs"]
    assert [r["description"] for r in runs] == ["regressed", "baseline"]
    assert [(r["passed"], r["failed"], r["errors"]) for r in runs] == [(2, 2, 0), (4, 0, 0)]
    newest, oldest = runs[0]["id"], runs[1]["id"]
    _, matrix = await get(http, f"{viewer}/api/runs/{newest}/matrix?status=fail")
    assert [row["description"] for row in matrix["rows"]] == [
        "answers at length",
        "says a lot about latency",
    ]
    index = matrix["rows"][0]["cells"][0]["idx"]
    _, result = await get(http, f"{viewer}/api/runs/{newest}/results/{index}")
    assert result["status"] == "fail"
    assert len(result["frames_list"]) == result["frames"]
    assert "Custom function returned false" in result["grading"]["componentResults"][0]["reason"]
    _, comparison = await get(http, f"{viewer}/api/compare?a={oldest}&b={newest}")
    assert (comparison["changed"], comparison["regressions"], comparison["fixes"]) == (2, 2, 0)


async def test_search_and_paging(viewer: str, http: aiohttp.ClientSession) -> None:
    _, body = await get(http, f"{viewer}/api/runs?q=baseline")
    [run] = body["runs"]
    _, page = await get(http, f"{viewer}/api/runs/{run['id']}/matrix?q=France")
    assert page["total"] == 1
    _, page = await get(http, f"{viewer}/api/runs/{run['id']}/matrix?limit=3&offset=3")
    assert (page["total"], len(page["rows"])) == (4, 1)


async def test_exports(viewer: str, http: aiohttp.ClientSession) -> None:
    _, body = await get(http, f"{viewer}/api/runs")
    run_id = body["runs"][0]["id"]
    status, document = await get(http, f"{viewer}/api/runs/{run_id}/export.json")
    assert status == 200
    assert len(document["results"]) == 4
    async with http.get(f"{viewer}/api/runs/{run_id}/export.csv") as response:
        assert response.headers["Content-Disposition"] == f'attachment; filename="{run_id}.csv"'
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["status"] for r in rows] == ["pass", "fail", "fail", "pass"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/runs/eval-nope", 404),
        ("/api/runs/bad%20id!", 400),
        ("/api/runs/eval-nope/matrix", 404),
        ("/api/runs/{run}/matrix?status=maybe", 400),
        ("/api/runs/{run}/matrix?limit=abc", 400),
        ("/api/runs/{run}/matrix?limit=0", 400),
        ("/api/runs/{run}/matrix?offset=-1", 400),
        ("/api/runs/{run}/results/abc", 400),
        ("/api/runs/{run}/results/999", 404),
        ("/api/runs?limit=99999", 400),
        ("/api/compare?a={run}", 400),
        ("/api/compare?a={run}&b=eval-nope", 404),
        ("/api/runs/eval-nope/export.csv", 404),
        ("/api/nothing", 404),
    ],
)
async def test_bad_ids_and_parameters_are_4xx(
    viewer: str, http: aiohttp.ClientSession, path: str, status: int
) -> None:
    _, body = await get(http, f"{viewer}/api/runs")
    run_id = body["runs"][0]["id"]
    got, answer = await get(http, viewer + path.format(run=run_id))
    assert got == status
    if isinstance(answer, dict):
        assert answer["error"]
