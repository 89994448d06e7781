"""Run a load from Python: a closed loop on a seed-protocol or Responses-mode endpoint."""

from __future__ import annotations

from typing import Any

from wsllm.bench.engine import Workload, run_load
from wsllm.bench.figures import figures
from wsllm.bench.workload import generated_prompts, protocol_of, seed_renderer


async def closed_loop(
    url: str, conns: int, reqs_per_conn: int, timeout_s: float = 60.0, protocol: str = "seed"
) -> dict[str, Any]:
    """`conns` clients each sending `reqs_per_conn` requests in turn; the run's figures, flattened
    to the fields the Node load generator prints (req_per_s, deltas_per_s, ttft/e2e p50 and p99)."""
    template, states = protocol_of(protocol)
    load = Workload(
        url=url,
        render=seed_renderer(template),
        prompts=generated_prompts(conns * reqs_per_conn, 6, 0),
        new_state=states,
        concurrency=conns,
        requests=conns * reqs_per_conn,
        timeout_s=timeout_s,
    )
    result = figures(await run_load(load, lambda record: None))
    return {
        **{
            k: result[k]
            for k in ("url", "completed", "errors", "wall_s", "req_per_s", "deltas_per_s")
        },
        "ttft_ms_p50": result["ttft_ms"]["p50"],
        "ttft_ms_p99": result["ttft_ms"]["p99"],
        "e2e_ms_p50": result["e2e_ms"]["p50"],
        "e2e_ms_p99": result["e2e_ms"]["p99"],
    }
