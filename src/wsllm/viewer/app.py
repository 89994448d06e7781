"""The viewer's web application: a JSON API over the results database, and one page.

Bad ids and parameters get 4xx answers with a message; a damaged database gets 503 with the
reason; nothing answers with a stack trace. Who may ask is `viewer/access.py`'s business.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from wsllm.store import ResultStore
from wsllm.viewer.access import Access, guard

STORE: web.AppKey[ResultStore] = web.AppKey("store")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATUSES = ("pass", "fail", "error")
_RUN_ID = re.compile(r"^[\w.-]{1,100}$")
_WHOLE_NUMBER = re.compile(r"^[0-9]{1,12}$")  # ASCII digits only: `²` is a digit to str.isdigit
log = logging.getLogger("wsllm.viewer")


class BadRequest(web.HTTPBadRequest):
    """A 400 with a JSON body."""

    def __init__(self, message: str) -> None:
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


class NotFound(web.HTTPNotFound):
    """A 404 with a JSON body."""

    def __init__(self, message: str) -> None:
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


def create_viewer(store: ResultStore, access: Access | None = None) -> web.Application:
    """The viewer application over an open store, answering as `access` allows."""
    app = web.Application(middlewares=[guard(access or Access.of(None)), _errors])
    app[STORE] = store
    app.router.add_get("/", index)
    app.router.add_get("/viewer.js", static_file)
    app.router.add_get("/viewer.css", static_file)
    app.router.add_get("/api/runs", list_runs)
    app.router.add_get("/api/runs/{run}", get_run)
    app.router.add_get("/api/runs/{run}/matrix", get_matrix)
    app.router.add_get("/api/runs/{run}/results/{index}", get_result)
    app.router.add_get("/api/runs/{run}/export.json", export_json)
    app.router.add_get("/api/runs/{run}/export.csv", export_csv)
    app.router.add_get("/api/compare", compare)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except sqlite3.DatabaseError as exc:
        log.error("database error: %s", exc)
        body = {"error": f"the results database cannot be read ({exc})"}
        return web.json_response(body, status=503)
    except Exception:
        log.exception("unexpected error on %s", request.path)
        return web.json_response({"error": "internal error (see the viewer's log)"}, status=500)


async def index(request: web.Request) -> web.Response:
    """The single page."""
    page = resources.files("wsllm.viewer").joinpath("index.html").read_text()
    return web.Response(text=page, content_type="text/html", headers=_SECURITY_HEADERS)


_STATIC_TYPES = {"/viewer.js": "text/javascript", "/viewer.css": "text/css"}


async def static_file(request: web.Request) -> web.Response:
    """The page's script and style sheet."""
    body = resources.files("wsllm.viewer").joinpath(request.path.lstrip("/")).read_text()
    return web.Response(
        text=body, content_type=_STATIC_TYPES[request.path], headers=_SECURITY_HEADERS
    )


_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _WHOLE_NUMBER.match(raw) or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _run_id(request: web.Request) -> str:
    run_id = request.match_info["run"]
    if not _RUN_ID.match(run_id):
        raise BadRequest("not a run id")
    return run_id


def _existing_run(request: web.Request, run_id: str) -> dict[str, Any]:
    run = request.app[STORE].run(run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


async def list_runs(request: web.Request) -> web.Response:
    """`GET /api/runs?limit&offset&q`: runs, newest first."""
    limit = _int(request, "limit", 1000, 1, 5000)
    offset = _int(request, "offset", 0, 0, 10**9)
    runs, total = request.app[STORE].runs(limit, offset, request.query.get("q") or None)
    return web.json_response({"runs": runs, "total": total})


async def get_run(request: web.Request) -> web.Response:
    """`GET /api/runs/{id}`: a run's record."""
    return web.json_response(_existing_run(request, _run_id(request)))


async def get_matrix(request: web.Request) -> web.Response:
    """`GET /api/runs/{id}/matrix?status&q&limit&offset`: a page of test rows."""
    run_id = _run_id(request)
    _existing_run(request, run_id)
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    limit = _int(request, "limit", 100, 1, 1000)
    offset = _int(request, "offset", 0, 0, 10**9)
    rows, total = request.app[STORE].matrix(
        run_id, status, request.query.get("q") or None, limit, offset
    )
    return web.json_response({"rows": rows, "total": total, "offset": offset, "limit": limit})


async def get_result(request: web.Request) -> web.Response:
    """`GET /api/runs/{id}/results/{index}`: one result with its frames."""
    run_id = _run_id(request)
    raw = request.match_info["index"]
    if not _WHOLE_NUMBER.match(raw) or int(raw) >= 2**63:
        raise BadRequest("a result index is a whole number (0, 1, 2, ...)")
    result = request.app[STORE].result(run_id, int(raw))
    if result is None:
        raise NotFound(f"no result {raw} in run {run_id}")
    return web.json_response(result)


async def export_json(request: web.Request) -> web.Response:
    """The run and all its results as JSON."""
    run_id = _run_id(request)
    run = _existing_run(request, run_id)
    body = {"run": run, "results": list(request.app[STORE].all_results(run_id))}
    return web.json_response(body, headers=_attachment(f"{run_id}.json"))


async def export_csv(request: web.Request) -> web.Response:
    """The run's results as CSV."""
    run_id = _run_id(request)
    _existing_run(request, run_id)
    buffer = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    for record in request.app[STORE].all_results(run_id):
        record["vars"] = json.dumps(record["vars"], ensure_ascii=False)
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(record))
            writer.writeheader()
        writer.writerow(record)
    return web.Response(
        text=buffer.getvalue(), content_type="text/csv", headers=_attachment(f"{run_id}.csv")
    )


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def compare(request: web.Request) -> web.Response:
    """`GET /api/compare?a=ID&b=ID`: two runs' results side by side, with what changed."""
    first, second = request.query.get("a", ""), request.query.get("b", "")
    if not _RUN_ID.match(first) or not _RUN_ID.match(second):
        raise BadRequest("give two run ids as a and b")
    runs = [_existing_run(request, first), _existing_run(request, second)]
    pairs = request.app[STORE].compare(first, second)
    changed = sum(p["a_status"] != p["b_status"] for p in pairs)
    regressions = sum(p["a_status"] == "pass" and p["b_status"] != "pass" for p in pairs)
    fixes = sum(p["a_status"] != "pass" and p["b_status"] == "pass" for p in pairs)
    return web.json_response({"runs": runs, "pairs": pairs, "changed": changed,
                              "regressions": regressions, "fixes": fixes})  # fmt: skip
