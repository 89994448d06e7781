"""`wsllm bench` at work: build the workload, check that the endpoints answer, run it round by
round with a progress bar, print the figures and what limited them, and write the reports."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from wsllm.bench import output, workload
from wsllm.bench.engine import LoadRun, RequestRecord, Workload, run_load
from wsllm.bench.figures import error_examples, figures, rate_shortfall
from wsllm.client.transport import connect
from wsllm.errors import ConfigError, HandshakeError, TargetError
from wsllm.process import use_uvloop

PROBE_S = 5.0


def run_bench(args: argparse.Namespace) -> int:
    """Run the command; return the exit code."""
    base = _workload(args)
    for path in args.output:
        if not path.endswith((".json", ".html")):
            raise ConfigError(f"output {path}: use .json or .html")
    urls = [base.url, *([args.vs] if args.vs else [])]
    if args.vs:
        if not args.vs.startswith(("ws://", "wss://")):
            raise ConfigError(f"--vs {args.vs}: not a ws:// or wss:// URL")
        for url in urls:  # a comparison with a dead side is no comparison: say so before the load
            _probe(replace(base, url=url), "--vs " if url == args.vs and url != base.url else "")
    rounds = args.rounds or (3 if args.vs else 1)
    runs: dict[str, list[LoadRun]] = {url: [] for url in urls}
    console = Console(width=None if sys.stdout.isatty() else 140, highlight=False)
    for number in range(rounds):
        for url in urls:
            run = _run_one(replace(base, url=url), not args.no_progress, f"{number + 1}/{rounds}")
            runs[url].append(run)
    results = {url: [figures(r) for r in rs] for url, rs in runs.items()}
    output.print_summary(console, results, {u: error_examples(rs[-1]) for u, rs in runs.items()})
    _warn_about_limits(console, runs, base)
    for path in args.output:
        output.write(path, results, runs, vars(args))
        console.print(f"Wrote {path}", style="dim")
    return 0 if all(any(f["completed"] for f in fs) for fs in results.values()) else 1


def _warn_about_limits(console: Console, runs: dict[str, list[LoadRun]], load: Workload) -> None:
    """Say when the numbers do not mean what was asked: a --rate the connections could not carry."""
    if not load.rate:
        return
    for url, rounds in runs.items():
        shortfall = rate_shortfall(rounds[-1], load.rate, load.concurrency)
        if shortfall is not None:
            prefix = f"{url}: " if len(runs) > 1 else ""
            warning = output.shortfall_warning(shortfall, load.concurrency)
            console.print(Text(f"Warning: {prefix}{warning}", style="yellow"))


def _probe(load: Workload, flag: str) -> None:
    """Open and close one connection to the endpoint; a ConfigError saying why when it cannot."""

    async def attempt() -> None:
        ws = await asyncio.wait_for(
            connect(load.url, lambda data, size, now: None, load.headers, load.subprotocols),
            min(PROBE_S, load.timeout_s),
        )
        ws.close()

    try:
        asyncio.run(attempt())
    except (TimeoutError, OSError, HandshakeError, TargetError) as exc:
        reason, hint = _reason(exc, min(PROBE_S, load.timeout_s))
        raise ConfigError(
            f"{flag}{load.url}: cannot reach it ({reason}); nothing was measured. {hint}"
        ) from exc


def _reason(exc: BaseException, waited: float) -> tuple[str, str]:
    """Why the endpoint did not answer, and what to check."""
    if isinstance(exc, HandshakeError):
        return str(exc), "A server answers there, but not with a WebSocket: check the path."
    running = "Is the server running? (`wsllm serve` starts one)"
    if isinstance(exc, TimeoutError):
        return f"no answer within {waited:g} s", running
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__, running
    return str(exc), running


def _workload(args: argparse.Namespace) -> Workload:
    if (args.url is None) == (args.config is None):
        raise ConfigError("give an endpoint URL or -c CONFIG (one of them)")
    if args.requests is not None and args.duration is not None:
        raise ConfigError("give --requests or --duration, not both")
    for name in ("concurrency", "requests", "duration", "rate", "timeout"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ConfigError(f"--{name} must be more than 0")
    headers = dict(_header(h) for h in args.header)
    if args.config is not None:
        config, target = workload.from_config(args.config, args.target)
        url, render = target.url, workload.seed_renderer(target.message_template)
        new_state = (
            workload.fold_states(config, target)
            if target.stream_response
            else workload.seed_states()
        )
        prompts = workload.config_prompts(config)
        headers = {**target.headers, **headers}
        subprotocols = target.protocols
    else:
        if not args.url.startswith(("ws://", "wss://")):
            raise ConfigError(f"{args.url}: not a ws:// or wss:// URL")
        template, new_state = workload.protocol_of(args.protocol)
        url = args.url
        render = workload.seed_renderer(args.message_template or template, args.model)
        prompts, subprotocols = (), ()
    if args.prompts is not None:
        prompts = workload.prompts_from_file(args.prompts)
    if not prompts:
        count = args.requests or 100
        prompts = workload.generated_prompts(min(count, 1000), args.prompt_words, args.seed)
    requests = None if args.duration else (args.requests or 100)
    return Workload(
        url=url, render=render, prompts=prompts, new_state=new_state,
        concurrency=args.concurrency, requests=requests, duration_s=args.duration, rate=args.rate,
        keep_connection=not args.new_connection, warmup=args.warmup, timeout_s=args.timeout,
        headers=headers, subprotocols=subprotocols, seed=args.seed, resume=args.resume,
    )  # fmt: skip


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ConfigError(f"--header {text!r}: expected NAME: VALUE")
    return name.strip(), value.strip()


def _run_one(load: Workload, progress: bool, label: str) -> LoadRun:
    use_uvloop()
    show = progress and sys.stderr.isatty()

    async def main() -> LoadRun:
        with _progress(load, show, label) as on_record:
            return await run_load(load, on_record)

    return asyncio.run(main())


@contextmanager
def _progress(load: Workload, show: bool, label: str) -> Iterator[Callable[[RequestRecord], None]]:
    if not show:
        yield lambda record: None
        return
    total = load.requests if load.requests else None
    columns = (
        TextColumn(f"[bold]bench {label}[/] {load.url}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[red]{task.fields[errors]} errors"), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("bench", total=total, errors=0)
        errors = 0

        def on_record(record: RequestRecord) -> None:
            nonlocal errors
            errors += record.error is not None
            bar.update(task, advance=1, errors=errors)

        yield on_record
