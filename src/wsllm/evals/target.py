"""Call an eval target for one test: render its URL and request frame, call it on the client's
stream core, and turn what came back into a TargetResponse with the stream's figures."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from wsllm.client import call
from wsllm.client.fold import Fold, truthy
from wsllm.client.recorder import StreamRecorder
from wsllm.errors import TargetError, WsllmError
from wsllm.evals.results import TargetResponse
from wsllm.evals.schema import Target
from wsllm.evals.templates import render


async def call_target(
    target: Target,
    prompt: str,
    variables: dict[str, Any],
    timeout_ms: float,
    frame_limit: int,
    env: Mapping[str, str] | None = None,
) -> TargetResponse:
    """Send the rendered request frame, fold the frames, and return the response and figures."""
    scope = {**variables, "prompt": prompt}
    context = {"vars": variables, "prompt": {"raw": prompt, "label": prompt}}
    recorder = StreamRecorder(time.perf_counter(), frame_limit)
    response = TargetResponse()
    fold: Fold | None = None
    cut = True
    try:
        request = call.Request(
            url=render(target.url, scope, env=env),
            message=render(target.message_template, scope, env=env),
            headers=target.headers,
            protocols=target.protocols,
            timeout_s=timeout_ms / 1000,
        )
        fold = Fold(target.stream_response, target.transform_response, context)
        _apply(await call.call(request, fold, recorder), response)
        cut = False
    except (TimeoutError, TargetError) as exc:
        response.error = str(exc)
        response.unreachable = isinstance(exc.__cause__, ConnectionRefusedError)
    except WsllmError as exc:  # a template or function failed: data for the report
        response.error = str(exc)
    except Exception as exc:
        response.error = f"{type(exc).__name__}: {exc}"
    finally:
        if fold is not None:
            fold.close()
    response.metrics = recorder.finish(time.perf_counter(), cut)
    response.frames = recorder.kept
    response.frames_dropped = recorder.dropped
    return response


def _apply(result: dict[str, Any], response: TargetResponse) -> None:
    error = result.get("error")
    if truthy(error):
        response.error = str(error)
    else:
        response.output = result.get("output")
        response.details = {k: v for k, v in result.items() if k not in ("output", "error")}
